"""MUL: int8 element-wise multiplication with broadcasting up to 4-D and a fused activation.

Parameters follow TFLite-Micro's CalculateOpDataMul (mul_common.cc): one multiplier,
input1 scale * input2 scale / output scale computed in double and quantized with
QuantizeMultiplier (it may exceed 1: a left shift). The kernel multiplies the two offset
inputs and requantizes once (reference_integer_ops::MulElementwise).
"""

from __future__ import annotations

from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, lowering
from tinyedge.ops._binary import binary_kernel_call, binary_operands
from tinyedge.ops._quant import fused_activation_range, quantize_multiplier


@lowering("MUL")
def lower_mul(graph: Graph, op: Operator) -> KernelCall:
    operands = binary_operands(graph, op)
    in1, in2, output = operands.input1, operands.input2, operands.output
    # Scales are float32 in the model; TFLite-Micro widens each to double before multiplying.
    multiplier, shift = quantize_multiplier(float(in1.scale) * float(in2.scale) / float(output.scale))
    act_min, act_max = fused_activation_range(graph, op, output)
    params: dict[str, ParamValue] = {
        "input1_offset": -in1.zero_point, "input2_offset": -in2.zero_point,
        "output_multiplier": multiplier, "output_shift": shift, "output_offset": output.zero_point,
        "activation_min": act_min, "activation_max": act_max,
    }
    return binary_kernel_call(graph, op, operands, "te_mul_s8", "te_mul_params", params)
