"""EQUAL, NOT_EQUAL, GREATER, GREATER_EQUAL, LESS and LESS_EQUAL: two int8 tensors in, one bool
tensor (one byte, 0 or 1) out, with broadcasting.

TFLite-Micro (comparisons.cc) brings both inputs to one scale before it compares, so inputs of
different quantizations compare as the real numbers they stand for. Its Prepare turns each
input's scale, on its own, into a multiplier below one (QuantizeMultiplierSmallerThanOneExp of
the scale, not of a ratio of scales), and the kernel compares
    ((x + input_offset) << 8) * multiplier * 2^shift
for the two inputs, rounded as every requantization is. The scales must therefore lie in
(0, 1): TFLite-Micro aborts on any other, and tinyedge refuses the op.

The six ops share one kernel, te_comparison_s8, which takes the comparison as a parameter: the
rescaling and the broadcast loop are the whole kernel, and six copies of them would differ in
one operator only.
"""

from __future__ import annotations

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, lowering
from tinyedge.ops._binary import BinaryOperands, binary_kernel_call, multiplier_smaller_than_one
from tinyedge.ops._quant import require_int8

# TFLite-Micro's kLeftShift: each offset input is scaled up by 2^8 before its multiplier.
LEFT_SHIFT = 8
COMPARISONS = {"EQUAL": "TE_COMPARISON_EQUAL", "NOT_EQUAL": "TE_COMPARISON_NOT_EQUAL",
               "GREATER": "TE_COMPARISON_GREATER", "GREATER_EQUAL": "TE_COMPARISON_GREATER_EQUAL",
               "LESS": "TE_COMPARISON_LESS", "LESS_EQUAL": "TE_COMPARISON_LESS_EQUAL"}


@lowering(*COMPARISONS)
def lower_comparison(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected two inputs and one output")
    require_int8(graph, op, *op.inputs)
    in1, in2, output = (graph.tensor(i) for i in (*op.inputs, op.outputs[0]))
    if output.dtype != "bool":
        raise UnsupportedOpError(f"{graph.describe(op)}: output '{output.name}' is {output.dtype}; a comparison "
                                 "gives bool")
    params: dict[str, int | str] = {"comparison": COMPARISONS[op.opcode], "left_shift": LEFT_SHIFT}
    for number, tensor in enumerate((in1, in2), start=1):
        if tensor.quant is None or tensor.quant.per_channel:
            raise UnsupportedOpError(f"{graph.describe(op)}: tensor '{tensor.name}' must be quantized per tensor")
        multiplier, shift = multiplier_smaller_than_one(graph, op, tensor.scale, f"input {number}")
        params |= {f"input{number}_offset": -tensor.zero_point, f"input{number}_multiplier": multiplier,
                   f"input{number}_shift": shift}
    return binary_kernel_call(graph, op, BinaryOperands(in1, in2, output), "te_comparison_s8",
                              "te_comparison_params", params)
