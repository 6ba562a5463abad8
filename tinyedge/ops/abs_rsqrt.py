"""ABS and RSQRT: int8 element-wise |x| and 1/sqrt(x) (TFLite-Micro's elementwise.cc).

Prepare (PrepareAbsRsqrt) reads the first scale and zero point of input and output:

- ABS: when the two float32 scales differ, QuantizeMultiplier(double(input_scale) /
  double(output_scale)), the division in double as the installed tflite_micro does it (a float32
  division moves some int16 results by one: tests/ops/test_elementwise_16x8.py); when they are
  equal, no requantization (the identity multiplier here, which gives the same bytes).
  keras.ops.abs gives it.
- RSQRT: QuantizeMultiplier(1 / double(sqrtf(input_scale) * output_scale)), the square
  root and product in float32. Each element's 1/sqrt is computed in fixed point
  (GetInvSqrtQuantizedMultiplierExp) in the kernel. Keras LayerNormalization and
  UnitNormalization produce it.

Either output byte depends on the input byte alone. From TABLE_MIN_ELEMENTS elements on (and
unless reference_kernels() is in force) the lowering tabulates the kernel's arithmetic for all
256 inputs (tinyedge.ops._fixedpoint, the same integer steps in Python) and te_lookup_s8 looks
the bytes up: the same bytes for 256 bytes of flash, ~4 instructions an element instead of
~12 (ABS) or ~400 (RSQRT's Newton-Raphson, nrf52840). Inputs below RSQRT's zero point, on which
TFLite-Micro's Invoke fails, give 127 in both.

int16 tensors (16x8 mode) run te_abs_s16 / te_rsqrt_s16, the same arithmetic clamped to int16 (no
table); TFLite-Micro requires zero point 0 on both, and so does tinyedge.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._fixedpoint import inv_sqrt_multiplier, requantize
from tinyedge.ops._lut import lookup_call
from tinyedge.ops._quant import INT8_MAX, INT8_MIN, QUANTIZED, quantize_multiplier, require_dtype
from tinyedge.ops.activations import IDENTITY_MULTIPLIER, IDENTITY_SHIFT
from tinyedge.ops.conv import requested_fallback, variants_enabled

RSQRT_SHIFT = 20  # kShift of RsqrtEvalQuantized: 1/sqrt(v) carried in units of 2^-20
TABLE_MIN_ELEMENTS = {"abs": 256, "rsqrt": 4}  # where the 256-byte table pays for its flash


def _first(tensor: Tensor) -> tuple[np.float32, int]:
    """The first scale and zero point (TFLite-Micro reads scale->data[0] and zero_point->data[0])."""
    if tensor.quant is None:
        return np.float32(tensor.scale), tensor.zero_point  # raises, naming the unquantized tensor
    return np.float32(tensor.quant.scale[0]), int(tensor.quant.zero_point[0])


def _unary(graph: Graph, op: Operator) -> tuple[Tensor, Tensor]:
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected one input and one output")
    require_dtype(graph, op, QUANTIZED, op.inputs[0], op.outputs[0])
    input_, output = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if input_.dtype == "int16" and (_first(input_)[1], _first(output)[1]) != (0, 0):
        raise UnsupportedOpError(f"{graph.describe(op)}: an int16 {op.opcode} needs zero point 0 on its input and "
                                 "output (TFLite-Micro refuses others)")
    if input_.size != output.size:
        raise UnsupportedOpError(f"{graph.describe(op)}: input {list(input_.shape)} and output "
                                 f"{list(output.shape)} differ in size")
    return input_, output


def abs_byte(value: int, zero_points: tuple[int, int], scaling: tuple[int, int]) -> int:
    """te_abs_s8's output for one input byte."""
    out = requantize(abs(value - zero_points[0]), *scaling) + zero_points[1]
    return min(INT8_MAX, max(INT8_MIN, out))


def rsqrt_byte(value: int, zero_points: tuple[int, int], scaling: tuple[int, int]) -> int:
    """te_rsqrt_s8's output for one input byte."""
    v = value - zero_points[0]
    if v <= 0:
        return INT8_MAX
    inv_sqrt = inv_sqrt_multiplier(v)
    r = requantize(1, inv_sqrt[0], inv_sqrt[1] + RSQRT_SHIFT)
    out = requantize(r, scaling[0], scaling[1] - RSQRT_SHIFT) + zero_points[1]
    return min(INT8_MAX, max(INT8_MIN, out))


_BYTE_FUNCTIONS = {"abs": abs_byte, "rsqrt": rsqrt_byte}


def _call(op: Operator, name: str, size: int, zero_points: tuple[int, int], scaling: tuple[int, int],
          dtype: str = "int8") -> KernelCall:
    if dtype == "int16":
        params16: dict[str, ParamValue] = {"size": size, "input_zero_point": 0, "output_zero_point": 0,
                                           "multiplier": scaling[0], "shift": scaling[1]}
        return KernelCall(function=f"te_{name}_s16", header=f"te_{name}_s16.h", params_type=f"te_{name}_params",
                          params=params16, args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])), in_place=True)
    if variants_enabled() and size >= TABLE_MIN_ELEMENTS[name]:
        table = np.array([_BYTE_FUNCTIONS[name](value - 256 * (value > 127), zero_points, scaling)
                          for value in range(256)], dtype=np.int8)  # indexed by the byte as unsigned
        return lookup_call(op, size, table)
    params: dict[str, ParamValue] = {"size": size, "input_zero_point": zero_points[0],
                                     "output_zero_point": zero_points[1], "multiplier": scaling[0],
                                     "shift": scaling[1]}
    return KernelCall(function=f"te_{name}_s8", header=f"te_{name}_s8.h", params_type=f"te_{name}_params",
                      params=params, args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])), in_place=True,
                      fallback=requested_fallback() if size >= TABLE_MIN_ELEMENTS[name] else None)


@lowering("ABS", activations=QUANTIZED)
def lower_abs(graph: Graph, op: Operator) -> KernelCall:
    input_, output = _unary(graph, op)
    (input_scale, input_zp), (output_scale, output_zp) = _first(input_), _first(output)
    if input_scale == output_scale:
        scaling = (IDENTITY_MULTIPLIER, IDENTITY_SHIFT)
    else:
        scaling = quantize_multiplier(float(input_scale) / float(output_scale))
    return _call(op, "abs", input_.size, (input_zp, output_zp), scaling, input_.dtype)


@lowering("RSQRT", activations=QUANTIZED)
def lower_rsqrt(graph: Graph, op: Operator) -> KernelCall:
    input_, output = _unary(graph, op)
    (input_scale, input_zp), (output_scale, output_zp) = _first(input_), _first(output)
    multiplier, shift = quantize_multiplier(1.0 / float(np.float32(np.sqrt(input_scale) * output_scale)))
    if not -31 <= shift - RSQRT_SHIFT <= 30:
        raise UnsupportedOpError(f"{graph.describe(op)}: input scale {input_scale} and output scale {output_scale} "
                                 "put the rsqrt's rescaling out of TFLite-Micro's range")
    return _call(op, "rsqrt", input_.size, (input_zp, output_zp), (multiplier, shift), input_.dtype)
