"""GATHER_ND: slices of the input picked by int32 multi-dimensional positions (tf.gather_nd).

As TFLite-Micro's GatherNdPrepare and GatherNd: int32 positions of rank 1 or more whose last
dimension (the index depth) is at most the input's rank and at most 5; the output shape is
positions.shape[:-1] + input.shape[depth:]. Each position row gives a flat start
sum(index[j] * stride[j]) and slice_size bytes are copied unchanged from there. TFLite-Micro
checks only that the whole slice lies inside the input (one index may run past its own
dimension into the next), and fails otherwise: constant positions are checked the same way
here; positions computed at run time must pass it too. An index depth of 0 (every slice the
whole input) is not taken.
"""

from __future__ import annotations

import math

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import ConstArg, KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import require_int8

MAX_INDEX_DEPTH = 5  # TFLite-Micro's MAX_INDICES_ND


@lowering("GATHER_ND")
def lower_gather_nd(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input, positions and one output")
    require_int8(graph, op, op.inputs[0], op.outputs[0])
    input_, positions, output = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    if positions.dtype != "int32":
        raise UnsupportedOpError(f"{graph.describe(op)}: positions '{positions.name}' are {positions.dtype}; "
                                 "TFLite-Micro gathers with int32 positions only")
    rank = len(input_.shape)
    if rank < 1 or len(positions.shape) < 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: input {list(input_.shape)} and positions "
                                 f"{list(positions.shape)} must be at least vectors (TFLite-Micro refuses them)")
    depth = positions.shape[-1]
    if depth > rank or depth > MAX_INDEX_DEPTH:
        raise UnsupportedOpError(f"{graph.describe(op)}: positions of depth {depth} for an input of rank {rank} "
                                 f"(TFLite-Micro takes at most the rank and at most {MAX_INDEX_DEPTH})")
    if depth == 0:
        raise UnsupportedOpError(f"{graph.describe(op)}: positions of depth 0 (whole-input slices) are not "
                                 "supported by tinyedge")
    expected = (*positions.shape[:-1], *input_.shape[depth:])
    if output.shape != expected:
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} is not the gathered "
                                 f"{list(expected)}")
    slice_size = math.prod(input_.shape[depth:])
    strides = np.array([math.prod(input_.shape[j + 1:]) for j in range(depth)], dtype=np.int64)
    if positions.data is not None:
        starts = np.asarray(positions.data, dtype=np.int64).reshape(-1, depth) @ strides
        bad = (starts < 0) | (starts + slice_size > input_.size)
        if bad.any():
            row = np.asarray(positions.data).reshape(-1, depth)[int(np.argmax(bad))].tolist()
            raise UnsupportedOpError(f"{graph.describe(op)}: position {row} reaches outside input "
                                     f"{list(input_.shape)} (TFLite-Micro fails the inference on it)")
    params: dict[str, ParamValue] = {
        "num_slices": math.prod(positions.shape[:-1]), "index_depth": depth, "slice_size": slice_size,
        "input_size": input_.size, "strides": "@strides",
    }
    return KernelCall(function="te_gather_nd_s8", header="te_gather_nd_s8.h", params_type="te_gather_nd_params",
                      params=params, args=(TensorArg(input_.index), TensorArg(positions.index),
                                           TensorArg(output.index)),
                      macs=0, constants=(ConstArg("strides", "int32_t", strides.astype(np.int32)),))
