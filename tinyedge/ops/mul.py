"""MUL: int8 element-wise multiplication with broadcasting and a fused activation.

Parameters follow TFLite-Micro's CalculateOpDataMul (mul_common.cc): one multiplier,
input1 scale * input2 scale / output scale computed in double and quantized with
QuantizeMultiplier (it may exceed 1: a left shift). The kernel multiplies the two offset
inputs and requantizes once (reference_integer_ops::MulElementwise).

te_mul_rounding_s8 gives the same bytes with the output offset folded into the rounding
term of a single multiply-high and shift, for every multiplier (output_rescale picks the form:
a right shift in FAST_RIGHT_SHIFTS, or a left shift, since the products of two offset int8
values, |p| <= 255 * 255, stay below 2^30 shifted left by up to 14; the reference arithmetic
beyond). Only reference_kernels() keeps te_mul_s8.

With int16 activations (16x8 mode) te_mul_s16 runs the reference arithmetic: TFLite-Micro
requires zero point 0 on both inputs and the output there, so the product fits int32.
"""

from __future__ import annotations

from dataclasses import replace

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, lowering
from tinyedge.ops._binary import binary_kernel_call, binary_operands, output_rescale
from tinyedge.ops._quant import QUANTIZED, fused_activation_range, quantize_multiplier
from tinyedge.ops.conv import requested_fallback

MUL_ROUNDING = "te_mul_rounding_s8"
PRODUCT_BOUND = 255 * 255  # |(input1 + offset1) * (input2 + offset2)| for int8 inputs


def _lower_mul_int16(graph: Graph, op: Operator) -> KernelCall:
    """te_mul_s16: the reference arithmetic with TFLite-Micro's zero-point-0 requirement."""
    operands = binary_operands(graph, op, dtypes=("int16",))
    in1, in2, output = operands.input1, operands.input2, operands.output
    if (in1.zero_point, in2.zero_point, output.zero_point) != (0, 0, 0):
        raise UnsupportedOpError(f"{graph.describe(op)}: an int16 MUL needs zero point 0 on its inputs and output "
                                 "(TFLite-Micro refuses others)")
    multiplier, shift = quantize_multiplier(float(in1.scale) * float(in2.scale) / float(output.scale))
    act_min, act_max = fused_activation_range(graph, op, output)
    params: dict[str, ParamValue] = {"input1_offset": 0, "input2_offset": 0, "output_multiplier": multiplier,
                                     "output_shift": shift, "output_offset": 0, "activation_min": act_min,
                                     "activation_max": act_max}
    return binary_kernel_call(graph, op, operands, "te_mul_s16", "te_mul_params", params)


@lowering("MUL", activations=QUANTIZED)
def lower_mul(graph: Graph, op: Operator) -> KernelCall:
    if graph.tensor(op.outputs[0]).dtype == "int16":
        return _lower_mul_int16(graph, op)
    operands = binary_operands(graph, op)
    in1, in2, output = operands.input1, operands.input2, operands.output
    # Scales are float32 in the model; TFLite-Micro widens each to double before multiplying.
    multiplier, shift = quantize_multiplier(float(in1.scale) * float(in2.scale) / float(output.scale))
    act_min, act_max = fused_activation_range(graph, op, output)
    params: dict[str, ParamValue] = {"input1_offset": -in1.zero_point, "input2_offset": -in2.zero_point}
    clamp: dict[str, ParamValue] = {"activation_min": act_min, "activation_max": act_max}
    fallback = requested_fallback()
    if fallback is None:
        rescale = output_rescale(multiplier, shift, output.zero_point, PRODUCT_BOUND)
        params |= {"output_multiplier": multiplier, **rescale, **clamp}
        return binary_kernel_call(graph, op, operands, MUL_ROUNDING, "te_mul_rounding_params", params, "te_mul_s8.h")
    params |= {"output_multiplier": multiplier, "output_shift": shift, "output_offset": output.zero_point, **clamp}
    return replace(binary_kernel_call(graph, op, operands, "te_mul_s8", "te_mul_params", params), fallback=fallback)
