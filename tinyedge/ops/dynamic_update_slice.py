"""DYNAMIC_UPDATE_SLICE: the operand with a box of it overwritten by the update, int8 bytes
copied unchanged (TFLite-Micro requantizes nothing and checks no quantization).

TFLite-Micro (dynamic_update_slice.cc) checks in Prepare what tinyedge refuses alike: three
inputs, operand and update of one type and rank, the update no larger than the operand in any
dimension, start indices int32 or int64, 1-D, one per dimension. Its Eval clamps each start
index into [0, operand dim - update dim], so the box always lies inside. tinyedge takes the
start indices constant (an int8 model has no int32 tensor an earlier op would compute them
in) and clamps them here; up to 6-D, TFLite-Micro's limit. int16 tensors (16x8 mode) are copied as
bytes, each element an innermost axis of two (_strided.in_bytes).
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import ConstArg, KernelCall, TensorArg, lowering
from tinyedge.ops._quant import QUANTIZED, require_dtype
from tinyedge.ops._strided import in_bytes

RANK = 6


@lowering("DYNAMIC_UPDATE_SLICE", activations=QUANTIZED)
def lower_dynamic_update_slice(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 3 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected operand, update and start indices, one output")
    require_dtype(graph, op, QUANTIZED, op.inputs[0], op.inputs[1], op.outputs[0])
    operand, update, starts = (graph.tensor(i) for i in op.inputs)
    output = graph.tensor(op.outputs[0])
    rank = len(operand.shape)
    if starts.dtype not in ("int32", "int64") or len(starts.shape) != 1 or starts.shape[0] != rank:
        raise UnsupportedOpError(f"{graph.describe(op)}: start indices must be int32 or int64, 1-D, one per "
                                 f"operand dimension ({rank}), as TFLite-Micro requires")
    if len(update.shape) != rank or any(u > d for u, d in zip(update.shape, operand.shape)):
        raise UnsupportedOpError(f"{graph.describe(op)}: update {list(update.shape)} must have the operand's rank "
                                 f"and fit inside it ({list(operand.shape)}), as TFLite-Micro requires")
    if starts.data is None:
        raise UnsupportedOpError(f"{graph.describe(op)}: tinyedge needs constant start indices")
    if rank > RANK or output.size != operand.size:
        raise UnsupportedOpError(f"{graph.describe(op)}: up to {RANK}-D, the output the operand's size")
    # TFLite-Micro's CalculateClampedStartIndices.
    clamped = [min(max(0, int(i)), d - u) for i, d, u in zip(np.asarray(starts.data).reshape(-1), operand.shape,
                                                              update.shape)]
    shape = [1] * (RANK - rank) + list(operand.shape)
    update_shape = [1] * (RANK - rank) + list(update.shape)
    strides = [int(np.prod(shape[axis + 1:], dtype=np.int64)) for axis in range(RANK)]
    start = sum(s * i for s, i in zip(strides[RANK - rank:], clamped))
    size, itemsize = operand.size, np.dtype(operand.dtype).itemsize
    if itemsize > 1:  # the box in bytes: its rows stay contiguous (the byte axis merges into the last)
        geometry = in_bytes(start, update_shape, strides, itemsize, RANK)
        if geometry is None:
            raise UnsupportedOpError(f"{graph.describe(op)}: this {operand.dtype} update needs more than {RANK} axes "
                                     "as bytes")
        start, counts, steps = geometry
        update_shape, strides, size = [1] * (RANK - len(counts)) + counts, [0] * (RANK - len(steps)) + steps, \
            size * itemsize
    constants = (ConstArg("update_shape", "int32_t", np.array(update_shape, dtype=np.int32)),
                 ConstArg("output_strides", "int32_t", np.array(strides, dtype=np.int32)))
    return KernelCall(function="te_dynamic_update_slice_s8", header="te_dynamic_update_slice_s8.h",
                      params_type="te_dynamic_update_slice_params",
                      params={"size": size, "start": start, "update_shape": "@update_shape",
                              "output_strides": "@output_strides"},
                      args=(TensorArg(operand.index, view="int8_t"), TensorArg(update.index, view="int8_t"),
                            TensorArg(output.index, view="int8_t")),
                      in_place=True, constants=constants)
