"""CONCATENATION: int8 tensors joined along one axis.

TFLite-Micro (concatenation.cc) copies int8 bytes unchanged, whatever the inputs'
quantization: it neither requantizes nor refuses differing scales (the converter gives
every input the output's scale and zero point). We copy the same bytes. It refuses a
fused activation, more than 10 inputs and more than 5 dimensions; so do we. int16 tensors
(16x8 mode) are joined as bytes, every copy size doubled; TFLite-Micro requires zero point 0
on each of them.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import ConstArg, KernelCall, ParamValue, TensorArg, TensorListArg, lowering
from tinyedge.ops._quant import QUANTIZED, fused_activation, require_dtype

MAX_INPUTS = 10
MAX_RANK = 5


@lowering("CONCATENATION", activations=QUANTIZED)
def lower_concatenation(graph: Graph, op: Operator) -> KernelCall:
    if not 1 <= len(op.inputs) <= MAX_INPUTS or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: {len(op.inputs)} inputs; TFLite-Micro concatenates "
                                 f"1 to {MAX_INPUTS}")
    require_dtype(graph, op, QUANTIZED, *op.inputs, op.outputs[0])
    if fused_activation(op) != "NONE":
        raise UnsupportedOpError(f"{graph.describe(op)}: fused activation {fused_activation(op)} is not "
                                 "supported on CONCATENATION")
    inputs = [graph.tensor(i) for i in op.inputs]
    output = graph.tensor(op.outputs[0])
    if output.dtype == "int16" and any(t.quant is not None and t.zero_point != 0 for t in (*inputs, output)):
        raise UnsupportedOpError(f"{graph.describe(op)}: int16 CONCATENATION needs zero point 0 on every input and "
                                 "the output (TFLite-Micro refuses others)")
    rank = len(output.shape)
    if not 1 <= rank <= MAX_RANK:
        raise UnsupportedOpError(f"{graph.describe(op)}: tensors of 1 to {MAX_RANK} dimensions are supported, "
                                 f"not {list(output.shape)}")
    axis = int(op.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank:
        raise UnsupportedOpError(f"{graph.describe(op)}: axis {op.options.get('axis')} is out of range")
    for tensor in inputs:
        others_match = all(tensor.shape[d] == output.shape[d] for d in range(rank) if d != axis) \
            if len(tensor.shape) == rank else False
        if not others_match:
            raise UnsupportedOpError(f"{graph.describe(op)}: input '{tensor.name}' {list(tensor.shape)} does not "
                                     f"fit output {list(output.shape)} along axis {axis}")
    if sum(t.shape[axis] for t in inputs) != output.shape[axis]:
        raise UnsupportedOpError(f"{graph.describe(op)}: the inputs do not add up to output "
                                 f"{list(output.shape)} along axis {axis}")
    outer_size = int(np.prod(output.shape[:axis], dtype=np.int64))
    inner_size = int(np.prod(output.shape[axis + 1:], dtype=np.int64))
    itemsize = np.dtype(output.dtype).itemsize
    copy_sizes = np.array([t.shape[axis] * inner_size * itemsize for t in inputs], dtype=np.int32)
    params: dict[str, ParamValue] = {"num_inputs": len(inputs), "outer_size": outer_size,
                                     "copy_sizes": "@copy_sizes"}
    return KernelCall(function="te_concatenation_s8", header="te_concatenation_s8.h",
                      params_type="te_concatenation_params", params=params,
                      args=(TensorListArg(tuple(op.inputs), view="int8_t"), TensorArg(output.index, view="int8_t")),
                      macs=0,
                      constants=(ConstArg("copy_sizes", "int32_t", copy_sizes),))
