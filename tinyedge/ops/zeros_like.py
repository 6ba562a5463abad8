"""ZEROS_LIKE: an int8 tensor of the input's shape, every byte 0.

TFLite-Micro (zeros_like.cc) writes the integer 0, not the zero point: the output stands for
(0 - zero_point) * scale, whatever its quantization. tinyedge writes the same bytes. The input
is only read for its shape.
"""

from __future__ import annotations

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, TensorArg, lowering
from tinyedge.ops._quant import require_int8


@lowering("ZEROS_LIKE")
def lower_zeros_like(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected one input and one output")
    require_int8(graph, op, op.inputs[0], op.outputs[0])
    input_, output = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if input_.size != output.size:
        raise UnsupportedOpError(f"{graph.describe(op)}: input {list(input_.shape)} and output "
                                 f"{list(output.shape)} hold different numbers of elements")
    return KernelCall(function="te_zeros_like_s8", header="te_zeros_like_s8.h", params_type="te_zeros_like_params",
                      params={"size": output.size}, args=(TensorArg(output.index),))
