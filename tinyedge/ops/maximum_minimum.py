"""MAXIMUM and MINIMUM: int8 element-wise larger / smaller value, with broadcasting up to 4-D.

TFLite-Micro's kernel (maximum_minimum.cc) has no Prepare and compares the raw int8 values:
it takes the scales and zero points to be equal, as the converter makes them, and does not
check. tinyedge does the same, so the bytes match whatever the quantization. int16 tensors
(16x8 mode) run te_maximum_s16 / te_minimum_s16.
"""

from __future__ import annotations

from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, lowering
from tinyedge.ops._binary import binary_kernel_call, binary_operands
from tinyedge.ops._quant import QUANTIZED

_KERNELS = {"MAXIMUM": "te_maximum", "MINIMUM": "te_minimum"}


@lowering("MAXIMUM", "MINIMUM", activations=QUANTIZED)
def lower_maximum_minimum(graph: Graph, op: Operator) -> KernelCall:
    operands = binary_operands(graph, op, per_tensor=False, dtypes=QUANTIZED)
    kernel = _KERNELS[op.opcode]
    suffix = "s16" if operands.output.dtype == "int16" else "s8"
    return binary_kernel_call(graph, op, operands, f"{kernel}_{suffix}", f"{kernel}_params", {})
