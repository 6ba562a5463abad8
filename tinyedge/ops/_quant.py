"""Quantization arithmetic shared by the lowerings, as TFLite-Micro's Prepare steps compute it.

Every function here reproduces a TFLite(-Micro) helper bit for bit (double precision
where TFLite uses double, float32 where it uses float), because a multiplier one unit
off changes output bytes.
"""

from __future__ import annotations

import math

import numpy as np

from tinyedge.errors import TinyEdgeError, UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor

INT8_MIN, INT8_MAX = -128, 127
INT16_MIN, INT16_MAX = -32768, 32767
QUANTIZED = ("int8", "int16")  # the activation dtypes: int8, and int16 in 16x8 mode


def dtype_range(dtype: str) -> tuple[int, int]:
    """The integer range of an activation dtype ("int8" -> (-128, 127))."""
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def round_half_away(x: float) -> int:
    """C's round(): halves go away from zero (Python's round() goes to even)."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """A real multiplier as (Q31 significand, power-of-two exponent); TFLite's QuantizeMultiplier."""
    if real == 0.0:
        return 0, 0
    if not math.isfinite(real) or real < 0:
        raise TinyEdgeError(f"a requantization multiplier works out to {real:g}: the tensors' scales are damaged")
    mantissa, shift = math.frexp(real)
    q = round_half_away(mantissa * (1 << 31))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q, shift


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    assert real > 1.0, real
    q, shift = quantize_multiplier(real)
    assert shift >= 0
    return q, shift


def per_channel_multipliers(input_scale: float, filter_scales: tuple[float, ...], output_scale: float,
                            channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel (multiplier, shift) for conv/depthwise/FC, in double as TFLite does."""
    scales = filter_scales if len(filter_scales) > 1 else filter_scales * channels
    mults, shifts = zip(*(quantize_multiplier(float(input_scale) * float(s) / float(output_scale))
                          for s in scales))
    return np.array(mults, dtype=np.int32), np.array(shifts, dtype=np.int32)


def activation_range(activation: str, out: Tensor) -> tuple[int, int]:
    """Clamp bounds of a fused activation in the output's domain, int8 or int16
    (CalculateActivationRangeQuantized)."""
    scale = np.float32(out.scale)
    zero_point = out.zero_point
    low, high = dtype_range(out.dtype) if out.dtype in QUANTIZED else (INT8_MIN, INT8_MAX)

    def quantize(real: float) -> int:
        return zero_point + round_half_away(float(np.float32(real) / scale))

    if activation == "NONE":
        return low, high
    if activation == "RELU":
        return max(low, quantize(0.0)), high
    if activation == "RELU6":
        return max(low, quantize(0.0)), min(high, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(low, quantize(-1.0)), min(high, quantize(1.0))
    raise UnsupportedOpError(f"fused activation {activation} is not supported")


def fused_activation_range(graph: Graph, op: Operator, out: Tensor) -> tuple[int, int]:
    """Clamp bounds of the op's fused activation; an unsupported one names the layer."""
    try:
        return activation_range(fused_activation(op), out)
    except UnsupportedOpError as exc:
        raise UnsupportedOpError(f"{graph.describe(op)}: {exc}") from None


def out_size(padding: str, image: int, filt: int, stride: int, dilation: int) -> int:
    effective = (filt - 1) * dilation + 1
    if padding == "SAME":
        return (image + stride - 1) // stride
    return (image + stride - effective) // stride


def padding_before(stride: int, dilation: int, image: int, filt: int, out: int) -> int:
    """Padding on the top/left side; TFLite puts the odd extra pixel on the bottom/right."""
    effective = (filt - 1) * dilation + 1
    total = max((out - 1) * stride + effective - image, 0)
    return total // 2


def require_int8(graph: Graph, op: Operator, *tensor_indices: int) -> None:
    for index in tensor_indices:
        tensor = graph.tensor(index)
        if tensor.dtype != "int8":
            raise UnsupportedOpError(
                f"{graph.describe(op)}: tensor '{tensor.name}' is {tensor.dtype}; only int8 is supported "
                "(quantize the model to full int8 with `tinyedge quantize`)")


def require_dtype(graph: Graph, op: Operator, dtypes: tuple[str, ...], *tensor_indices: int) -> str:
    """The one dtype the tensors share, from `dtypes` (int8, or int16 in 16x8 mode); raises naming the tensor."""
    first = graph.tensor(tensor_indices[0]).dtype
    for index in tensor_indices:
        tensor = graph.tensor(index)
        if tensor.dtype not in dtypes or tensor.dtype != first:
            raise UnsupportedOpError(
                f"{graph.describe(op)}: tensor '{tensor.name}' is {tensor.dtype}; this op takes "
                f"{' or '.join(dtypes)} tensors, all of one type")
    return first


def fused_activation(op: Operator) -> str:
    return str(op.options.get("fusedActivationFunction", "NONE"))


def nhwc(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A 4-D activation shape as (batches, height, width, channels)."""
    if len(shape) != 4:
        raise TinyEdgeError(f"a 4-D (NHWC) tensor is needed, not one of shape {list(shape)}")
    return shape[0], shape[1], shape[2], shape[3]
