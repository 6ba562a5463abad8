"""MUL: int8 element-wise multiplication with broadcasting and a fused activation.

Parameters follow TFLite-Micro's CalculateOpDataMul (mul_common.cc): one multiplier,
input1 scale * input2 scale / output scale computed in double and quantized with
QuantizeMultiplier (it may exceed 1: a left shift). The kernel multiplies the two offset
inputs and requantizes once (reference_integer_ops::MulElementwise).

te_mul_rounding_s8 gives the same bytes with the output offset folded into the rounding
term of a single multiply-high and shift; it runs whenever the shift is a right shift in
FAST_RIGHT_SHIFTS (the range te_nn_requantize_rounding is proven for; the products of two
offset int8 values, |p| <= 2^16, are far inside its |acc| < 2^30). Other multipliers keep
te_mul_s8.
"""

from __future__ import annotations

from dataclasses import replace

from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, lowering
from tinyedge.ops._binary import binary_kernel_call, binary_operands
from tinyedge.ops._quant import fused_activation_range, quantize_multiplier
from tinyedge.ops.conv import requested_fallback, right_shift_fallback

MUL_ROUNDING = "te_mul_rounding_s8"


@lowering("MUL")
def lower_mul(graph: Graph, op: Operator) -> KernelCall:
    operands = binary_operands(graph, op)
    in1, in2, output = operands.input1, operands.input2, operands.output
    # Scales are float32 in the model; TFLite-Micro widens each to double before multiplying.
    multiplier, shift = quantize_multiplier(float(in1.scale) * float(in2.scale) / float(output.scale))
    act_min, act_max = fused_activation_range(graph, op, output)
    params: dict[str, ParamValue] = {"input1_offset": -in1.zero_point, "input2_offset": -in2.zero_point}
    clamp: dict[str, ParamValue] = {"activation_min": act_min, "activation_max": act_max}
    fallback = requested_fallback() or right_shift_fallback(-shift, "the output rescale")
    if fallback is None:
        right = -shift
        rounding = (1 << (right - 1)) + output.zero_point * (1 << right)
        params |= {"output_multiplier": multiplier, "output_rounding": rounding, "right_shift": right, **clamp}
        return binary_kernel_call(graph, op, operands, MUL_ROUNDING, "te_mul_rounding_params", params, "te_mul_s8.h")
    params |= {"output_multiplier": multiplier, "output_shift": shift, "output_offset": output.zero_point, **clamp}
    return replace(binary_kernel_call(graph, op, operands, "te_mul_s8", "te_mul_params", params), fallback=fallback)
