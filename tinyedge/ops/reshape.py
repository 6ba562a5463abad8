"""RESHAPE, SQUEEZE and EXPAND_DIMS: the same bytes under another shape.

Keras Flatten and Reshape give RESHAPE. TFLite-Micro copies the data unchanged (its
quantization is the input's); the shape operand, if any, is only read by the converter.
The copy may run in place, so the planner can give the output the input's buffer. The kernel
moves bytes, so it serves int16 tensors (16x8 mode) as they are.
"""

from __future__ import annotations

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, TensorArg, lowering
from tinyedge.ops._quant import QUANTIZED, require_dtype


@lowering("RESHAPE", "SQUEEZE", "EXPAND_DIMS", activations=QUANTIZED)
def lower_reshape(graph: Graph, op: Operator) -> KernelCall:
    if not op.inputs or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input and one output")
    require_dtype(graph, op, QUANTIZED, op.inputs[0], op.outputs[0])
    input_, output = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if input_.nbytes != output.nbytes:
        raise UnsupportedOpError(f"{graph.describe(op)}: input {list(input_.shape)} and output "
                                 f"{list(output.shape)} hold different numbers of elements")
    return KernelCall(function="te_reshape_s8", header="te_reshape_s8.h", params_type="te_reshape_params",
                      params={"size": output.nbytes},
                      args=(TensorArg(input_.index, view="int8_t"), TensorArg(output.index, view="int8_t")),
                      macs=0, in_place=True)
