"""Standalone int8 activations: LOGISTIC, TANH, RELU, RELU6, LEAKY_RELU, HARD_SWISH.

These appear as their own ops when the converter cannot fuse them into the op before
(after an ADD whose output is also used elsewhere, at a model's input, ...). Parameters
are computed as TFLite-Micro's Prepare steps compute them:

- LOGISTIC, TANH (logistic_common.cc, tanh.cc): the input is scaled into Q4.27 with
  (q, shift) = frexp(double(input_scale) * 2^27), multiplier = round(q * 2^31) (no
  QuantizeMultiplier here), and inputs with |x - zero point| >= CalculateInputRadius(4,
  shift) = floor(15 * 2^27 / 2^shift) saturate. LOGISTIC writes units of 1/256 with zero
  point -128 (TFLite-Micro requires that output zero point); TANH writes units of 1/128
  with no output offset, whatever the output tensor says, as the reference does.
- RELU (activations_common.cc, CalculateReluOpData): requantizes with
  QuantizeMultiplier(double(input_scale) / double(output_scale)) and clamps to
  [max(-128, output zero point), 127].
- RELU6 (Relu6Prepare): no requantization. It clamps the input bytes to
  [input zero point, clamp(round(6.0f / input_scale) + input zero point)], the division
  in float32, even when the output tensor has another scale.
- LEAKY_RELU (CalculateOpDataLeakyRelu): QuantizeMultiplier(double(input_scale) /
  double(output_scale)) for x >= 0 and QuantizeMultiplier(double(input_scale) *
  double(alpha) / double(output_scale)) for x < 0, clamped to [-128, 127].
- HARD_SWISH (HardSwishPrepare): hires_input_scale = input_scale / 128 in float32; the
  output multiplier QuantizeMultiplier(double(hires) / double(output_scale)) and the
  "relu-ish" multiplier QuantizeMultiplier(double(hires) / (3 / 32768)), both rounded to
  Q15 significands (DownScaleInt32ToInt16Multiplier).

RELU, RELU6 and LEAKY_RELU share te_relu_s8: one requantization pair per sign of
input - zero point, then a clamp. With int16 activations (16x8 mode) te_relu_s16 does the same
with int16 clamp bounds; TFLite-Micro's int16 RELU requires zero point 0 on input and output.

With int16 activations LOGISTIC and TANH lower in tinyedge.ops._activations_16x8 (TFLite-Micro's
int16 sigmoid-table kernels, te_logistic_s16 and te_tanh_s16).

LOGISTIC and TANH outputs depend on the input byte alone. From Q4_TABLE_MIN_ELEMENTS elements
on (and unless reference_kernels() is in force) the lowering runs the kernels' integer
arithmetic for all 256 inputs in Python (logistic_byte, tanh_byte: te_nn_requantize and
te_fixedpoint.h step for step, tinyedge.ops._fixedpoint_exp) and te_lookup_s8 looks the bytes
up: the same bytes for 256 bytes of flash per distinct quantization (codegen stores identical
tables once), 5 instructions an element on nrf52840 instead of about 360.
"""

from __future__ import annotations

import math

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._activations_16x8 import lower_logistic_s16, lower_tanh_s16
from tinyedge.ops._fixedpoint import requantize, rounding_divide_by_pot
from tinyedge.ops._fixedpoint_exp import logistic, tanh
from tinyedge.ops._lut import lookup_call
from tinyedge.ops._quant import (
    INT8_MAX,
    INT8_MIN,
    QUANTIZED,
    dtype_range,
    quantize_multiplier,
    require_dtype,
    round_half_away,
)
from tinyedge.ops.conv import requested_fallback, variants_enabled

INPUT_INTEGER_BITS = 4  # Q4.27 input of the fixed-point logistic and tanh
LOGISTIC_OUTPUT_ZERO_POINT = -128
IDENTITY_MULTIPLIER, IDENTITY_SHIFT = 1 << 30, 1  # QuantizeMultiplier(1.0): x * 2^30 * 2^1 / 2^31 == x
# The table wins from one element on nrf52840: 29 instructions against te_logistic_s8's 377 (tanh
# 400) for one element, 104 against 5,752 for 16; and a model whose logistics all use tables
# links no te_logistic_s8 (about 1 KB of code), so its first table even saves flash.
Q4_TABLE_MIN_ELEMENTS = 1
_SUFFIX = {"int8": "s8", "int16": "s16"}  # kernel name suffix per activation dtype


def _unary_int8(graph: Graph, op: Operator, dtypes: tuple[str, ...] = ("int8",)) -> tuple[Tensor, Tensor]:
    """Input and output of one dtype from `dtypes`, quantized per tensor, of one size."""
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected one input and one output")
    require_dtype(graph, op, dtypes, op.inputs[0], op.outputs[0])
    input_, output = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if input_.quant is None or output.quant is None or input_.quant.per_channel or output.quant.per_channel:
        raise UnsupportedOpError(f"{graph.describe(op)}: input and output must be quantized per tensor")
    if input_.size != output.size:
        raise UnsupportedOpError(f"{graph.describe(op)}: input {list(input_.shape)} and output "
                                 f"{list(output.shape)} differ in size")
    return input_, output


def q4_input_scaling(graph: Graph, op: Operator, input_scale: float) -> tuple[int, int, int]:
    """(multiplier, left_shift, range_radius) of LOGISTIC/TANH's Prepare."""
    mantissa, left_shift = math.frexp(float(input_scale) * float(1 << (31 - INPUT_INTEGER_BITS)))
    if left_shift < 0:
        raise UnsupportedOpError(f"{graph.describe(op)}: input scale {input_scale} is too small for "
                                 "TFLite-Micro's int8 logistic/tanh")
    multiplier = round_half_away(mantissa * float(1 << 31))  # exact: a float32 scale has 24 significant bits
    # CalculateInputRadius(4, shift, 31) = floor((2^4 - 1) * 2^27 / 2^shift): exact in integers.
    radius = (((1 << INPUT_INTEGER_BITS) - 1) << (31 - INPUT_INTEGER_BITS)) >> left_shift
    return multiplier, left_shift, radius


def logistic_byte(value: int, input_zero_point: int, scaling: tuple[int, int, int]) -> int:
    """te_logistic_s8's output for one input byte; scaling is q4_input_scaling's triple."""
    multiplier, left_shift, radius = scaling
    x = value - input_zero_point
    if x <= -radius:
        return INT8_MIN
    if x >= radius:
        return INT8_MAX
    y_q0 = logistic(requantize(x, multiplier, left_shift), INPUT_INTEGER_BITS)
    return min(INT8_MAX, max(INT8_MIN, rounding_divide_by_pot(y_q0, 31 - 8) + INT8_MIN))  # units of 1/256


def tanh_byte(value: int, input_zero_point: int, scaling: tuple[int, int, int]) -> int:
    """te_tanh_s8's output for one input byte; scaling is q4_input_scaling's triple."""
    multiplier, left_shift, radius = scaling
    x = value - input_zero_point
    if x <= -radius:
        return INT8_MIN
    if x >= radius:
        return INT8_MAX
    y_q0 = tanh(requantize(x, multiplier, left_shift), INPUT_INTEGER_BITS)
    return min(INT8_MAX, max(INT8_MIN, rounding_divide_by_pot(y_q0, 31 - 7)))  # units of 1/128


_Q4_BYTE_FUNCTIONS = {"logistic": logistic_byte, "tanh": tanh_byte}


def _lower_q4_activation(graph: Graph, op: Operator, name: str) -> KernelCall:
    input_, output = _unary_int8(graph, op)
    multiplier, left_shift, radius = q4_input_scaling(graph, op, input_.scale)
    if variants_enabled() and input_.size >= Q4_TABLE_MIN_ELEMENTS:
        byte = _Q4_BYTE_FUNCTIONS[name]
        table = np.array([byte(value - 256 * (value > 127), input_.zero_point, (multiplier, left_shift, radius))
                          for value in range(256)], dtype=np.int8)  # indexed by the byte as unsigned
        return lookup_call(op, input_.size, table)
    params: dict[str, ParamValue] = {
        "size": input_.size, "input_zero_point": input_.zero_point, "input_range_radius": radius,
        "input_multiplier": multiplier, "input_left_shift": left_shift,
    }
    return KernelCall(
        function=f"te_{name}_s8", header=f"te_{name}_s8.h", params_type=f"te_{name}_params", params=params,
        args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])), in_place=True,
        fallback=requested_fallback() if input_.size >= Q4_TABLE_MIN_ELEMENTS else None,
    )


@lowering("LOGISTIC", activations=QUANTIZED)
def lower_logistic(graph: Graph, op: Operator) -> KernelCall:
    if op.inputs and graph.tensor(op.inputs[0]).dtype == "int16":
        return lower_logistic_s16(graph, op)
    _input, output = _unary_int8(graph, op)
    if output.zero_point != LOGISTIC_OUTPUT_ZERO_POINT:
        raise UnsupportedOpError(f"{graph.describe(op)}: an int8 logistic output must have zero point -128 "
                                 f"(it has {output.zero_point}); TFLite-Micro refuses this layer too")
    return _lower_q4_activation(graph, op, "logistic")


@lowering("TANH", activations=QUANTIZED)
def lower_tanh(graph: Graph, op: Operator) -> KernelCall:
    if op.inputs and graph.tensor(op.inputs[0]).dtype == "int16":
        return lower_tanh_s16(graph, op)
    return _lower_q4_activation(graph, op, "tanh")


def _relu_call(op: Operator, size: int, offsets: tuple[int, int], positive: tuple[int, int],
               negative: tuple[int, int], act_range: tuple[int, int], dtype: str = "int8") -> KernelCall:
    """te_relu_s8 (te_relu_s16 for int16) with (input, output) offsets, (multiplier, shift) per sign,
    and clamp bounds."""
    params: dict[str, ParamValue] = {
        "size": size, "input_offset": offsets[0], "output_offset": offsets[1],
        "positive_multiplier": positive[0], "positive_shift": positive[1],
        "negative_multiplier": negative[0], "negative_shift": negative[1],
        "act_min": act_range[0], "act_max": act_range[1],
    }
    return KernelCall(
        function=f"te_relu_{_SUFFIX[dtype]}", header=f"te_relu_{_SUFFIX[dtype]}.h", params_type="te_relu_params",
        params=params,
        args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])), in_place=True,
    )


@lowering("RELU", activations=QUANTIZED)
def lower_relu(graph: Graph, op: Operator) -> KernelCall:
    input_, output = _unary_int8(graph, op, QUANTIZED)
    if input_.dtype == "int16" and (input_.zero_point, output.zero_point) != (0, 0):
        raise UnsupportedOpError(f"{graph.describe(op)}: an int16 RELU needs zero point 0 on its input and output "
                                 f"(they are {input_.zero_point} and {output.zero_point}); TFLite-Micro refuses "
                                 "this layer too")
    low, high = dtype_range(input_.dtype)
    scaling = quantize_multiplier(float(input_.scale) / float(output.scale))
    return _relu_call(op, input_.size, (input_.zero_point, output.zero_point), scaling, scaling,
                      (max(low, output.zero_point), high), input_.dtype)


@lowering("RELU6", activations=QUANTIZED)
def lower_relu6(graph: Graph, op: Operator) -> KernelCall:
    input_, _output = _unary_int8(graph, op, QUANTIZED)
    # FloatToQuantizedType<T>(6.0f, scale, zero_point), clamped to T's range; the quotient is capped
    # only so that absurdly small scales cannot overflow Python's rounding (the clamp gives the maximum).
    low, high = dtype_range(input_.dtype)
    six = round_half_away(min(float(np.float32(6.0) / np.float32(input_.scale)), 1e6)) + input_.zero_point
    identity = (IDENTITY_MULTIPLIER, IDENTITY_SHIFT)
    return _relu_call(op, input_.size, (0, 0), identity, identity,
                      (input_.zero_point, min(high, max(low, six))), input_.dtype)


@lowering("LEAKY_RELU", activations=QUANTIZED)
def lower_leaky_relu(graph: Graph, op: Operator) -> KernelCall:
    input_, output = _unary_int8(graph, op, QUANTIZED)
    alpha = float(op.options.get("alpha", 0.0))
    if alpha < 0.0:
        raise UnsupportedOpError(f"{graph.describe(op)}: LEAKY_RELU with a negative alpha ({alpha}) is not supported")
    identity = quantize_multiplier(float(input_.scale) / float(output.scale))
    negative = quantize_multiplier(float(input_.scale) * alpha / float(output.scale))
    return _relu_call(op, input_.size, (input_.zero_point, output.zero_point), identity, negative,
                      dtype_range(input_.dtype), input_.dtype)


def downscale_multiplier_to_int16(multiplier: int) -> int:
    """A Q31 significand rounded to Q15 (DownScaleInt32ToInt16Multiplier)."""
    rounding = 1 << 15
    return 0x7FFF if multiplier >= 0x7FFFFFFF - rounding else (multiplier + rounding) >> 16


@lowering("HARD_SWISH")
def lower_hard_swish(graph: Graph, op: Operator) -> KernelCall:
    input_, output = _unary_int8(graph, op)
    hires_input_scale = float(np.float32(1.0 / 128.0) * np.float32(input_.scale))
    output_multiplier, output_exponent = quantize_multiplier(hires_input_scale / float(output.scale))
    reluish_multiplier, reluish_exponent = quantize_multiplier(hires_input_scale / (3.0 / 32768.0))
    if not (-15 <= output_exponent <= 0 and -15 <= reluish_exponent <= 15):
        raise UnsupportedOpError(f"{graph.describe(op)}: input scale {input_.scale} and output scale {output.scale} "
                                 "are too far apart for the 16-bit fixed-point hard-swish")
    params: dict[str, ParamValue] = {
        "size": input_.size, "input_zero_point": input_.zero_point, "output_zero_point": output.zero_point,
        "output_multiplier": downscale_multiplier_to_int16(output_multiplier), "output_exponent": output_exponent,
        "reluish_multiplier": downscale_multiplier_to_int16(reluish_multiplier), "reluish_exponent": reluish_exponent,
    }
    return KernelCall(
        function="te_hard_swish_s8", header="te_hard_swish_s8.h", params_type="te_hard_swish_params", params=params,
        args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])), in_place=True,
    )
