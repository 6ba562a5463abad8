"""16x8 mode of the MAC-carrying ops: int16 activations, int8 weights (TensorFlow's
EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8), as TFLite-Micro's reference kernels
compute them.

The int8 lowerings (conv.py, fully_connected.py, transpose_conv.py, batch_matmul.py) hand an op
here when its input is int16. What differs from int8, from TFLite-Micro's Eval and the reference
integer_ops kernels:

- CONV_2D and FULLY_CONNECTED sum in the bias's type: int64 (the converter's default) with the
  64-bit requantization (MultiplyByQuantizedMultiplier(int64_t): the multiplier rounded to 16
  bits, one rounding shift), or int32 for an int32 bias (the sum wraps; the 32-bit, double
  rounding requantization). With no bias, the op's quantized_bias_type option decides.
- DEPTHWISE_CONV_2D and TRANSPOSE_CONV always sum in int64 and read the bias as int64 (an int32
  bias would be misread, so it is refused; TRANSPOSE_CONV widens an int16 bias, as TFLite-Micro does).
- CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV apply no zero points (the spec's are 0; the
  reference ignores them); FULLY_CONNECTED applies its offsets like the int8 kernel.
- BATCH_MATMUL takes int16 operands (no int8 weights), zero points 0 (TFLite-Micro refuses
  others), an int64 sum, clamped to the int16 range.

Every bias is passed to the kernels as an int64 array (the same integers), so one kernel
serves each accumulator width.

Fast variants (same bytes) for CONV_2D (te_conv2d_1x1_s16, te_conv2d_im2col_s16),
DEPTHWISE_CONV_2D (te_depthwise_conv2d_ch4_s16), FULLY_CONNECTED (te_fully_connected_packed_s16) and
TRANSPOSE_CONV (te_transpose_conv_im2col_s16, by output phases as the int8 variant):
SMLAD on int16 activation pairs as they lie in memory, int8 weights widened in pairs by SXTB16
(layout: firmware/include/te_nn_dot_s16.h, written by `pack_blocks`; requantization constants:
te_nn_s16.h, written by `requant_words`). They sum in 32-bit chunks
that cannot overflow and requantize every channel as the reference does, so any channel runs on
them; only what they do not take (a grouped convolution, a depth multiplier, more than 511
depthwise taps, a fully connected zero point) keeps the reference kernel, with the reason in the
KernelCall's fallback. BATCH_MATMUL (int16 x int16) runs te_batch_matmul_packed_s16: SMLALD on pairs
of both operands, 64-bit sums.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import ConstArg, KernelCall, ParamValue, ScratchArg, TensorArg
from tinyedge.ops._mac_shapes import (
    BATCH_DIMS,
    BIAS_INPUT,
    DATA_INPUT,
    FILTER_INPUT,
    batch_strides,
    check_bias_scale,
    check_transpose_conv_scales,
    fully_connected_dims,
    matmul_dims,
    padded_batch,
    shape4,
    transpose_conv_shapes,
    transpose_conv_window,
)
from tinyedge.ops._quant import (
    activation_range,
    fused_activation,
    out_size,
    padding_before,
    per_channel_multipliers,
    quantize_multiplier,
    require_dtype,
)

# This module sits below the int8 op modules, which import it (one direction: no import cycle), so
# it takes what they know as arguments: `reference` is conv.requested_fallback(), the reason the
# caller wants reference kernels only (None: the fast variants may run).

CONV2D_S16 = "te_conv2d_s16"
CONV2D_1X1_S16 = "te_conv2d_1x1_s16"
CONV2D_IM2COL_S16 = "te_conv2d_im2col_s16"
DEPTHWISE_S16 = "te_depthwise_conv2d_s16"
DEPTHWISE_CH4_S16 = "te_depthwise_conv2d_ch4_s16"
DEPTHWISE_CH4_S16_MAX_TAPS = 511  # TE_DEPTHWISE_CONV2D_CH4_S16_MAX_TAPS: 32-bit sums of |x * w| <= 2^22
FULLY_CONNECTED_S16 = "te_fully_connected_s16"
FULLY_CONNECTED_PACKED_S16 = "te_fully_connected_packed_s16"
TRANSPOSE_CONV_S16 = "te_transpose_conv_s16"
TRANSPOSE_CONV_IM2COL_S16 = "te_transpose_conv_im2col_s16"
BATCH_MATMUL_S16 = "te_batch_matmul_s16"
BATCH_MATMUL_PACKED_S16 = "te_batch_matmul_packed_s16"

# te_nn_requantize_i64 shifts right by 15 - shift: a left shift past 14 is undefined in the reference too.
MAX_LEFT_SHIFT_64 = 14
_INT32_TYPES = (2, "INT32")  # the schema's TensorType.INT32, as the importer may give it


def _window(graph: Graph, op: Operator, input_hw: tuple[int, int], filter_hw: tuple[int, int]) -> dict[str, int]:
    """Strides, dilations and padding of a convolution, as ComputePaddingHeightWidth gives them."""
    padding = str(op.options.get("padding", "SAME"))
    if padding not in ("SAME", "VALID"):
        raise UnsupportedOpError(f"{graph.describe(op)}: padding {padding} is not supported")
    stride = int(op.options.get("strideH", 1)), int(op.options.get("strideW", 1))
    dilation = int(op.options.get("dilationHFactor", 1)), int(op.options.get("dilationWFactor", 1))
    if min(*stride, *dilation) < 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: stride {stride} and dilation {dilation} must be at least 1")
    pads = [padding_before(s, d, size, taps, out_size(padding, size, taps, s, d))
            for s, d, size, taps in zip(stride, dilation, input_hw, filter_hw)]
    return {"stride_height": stride[0], "stride_width": stride[1], "dilation_height": dilation[0],
            "dilation_width": dilation[1], "pad_height": pads[0], "pad_width": pads[1]}


def _multipliers(graph: Graph, op: Operator, input_: Tensor, filter_: Tensor, output: Tensor,
                 channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel (multiplier, shift), PopulateConvolutionQuantizationParams's (one filter scale
    is broadcast to every channel)."""
    if input_.quant is None or output.quant is None or filter_.quant is None:
        raise UnsupportedOpError(f"{graph.describe(op)}: input, filter and output must be quantized")
    if len(filter_.quant.scale) not in (1, channels):
        raise UnsupportedOpError(f"{graph.describe(op)}: filter '{filter_.name}' has {len(filter_.quant.scale)} "
                                 f"scales for {channels} output channels")
    return per_channel_multipliers(input_.scale, filter_.quant.scale, output.scale, channels)


def pack_blocks(weights: np.ndarray, rows: int) -> np.ndarray:
    """Weights [channels, k] as te_nn_dot_s16.h reads them: channels padded with zero rows to whole
    blocks of `rows`; per block, per group of four weights, each row's group stored [w0, w2, w1, w3]
    (the rows one after the other), then each row's last k % 4 weights as they are."""
    channels, k = weights.shape
    if k == 0:  # a transposed convolution's phase that no tap lands on
        return np.zeros(0, dtype=np.int8)
    padded = np.zeros((-(-channels // rows) * rows, k), dtype=np.int8)
    padded[:channels] = weights
    whole = k // 4 * 4
    blocks = padded.reshape(-1, rows, k)
    quads = blocks[:, :, :whole].reshape(len(blocks), rows, whole // 4, 4)[..., [0, 2, 1, 3]]
    words = quads.transpose(0, 2, 1, 3).reshape(len(blocks), -1)
    return np.concatenate([words, blocks[:, :, whole:].reshape(len(blocks), -1)], axis=1).reshape(-1)


def requant_words(multipliers: np.ndarray, shifts: np.ndarray, accumulator_bits: int) -> ConstArg:
    """te_nn_requantize_s16_fast's constants (te_nn_s16.h), per channel {r, round_lo, round_hi, s,
    multiplier, shift}: MultiplyByQuantizedMultiplier(int64_t)'s 16-bit multiplier and rounding scaled
    by 2^k so that its shift t + k is 32 or more (one SMLAL's high word shifted by s), s = -1 where
    t < 16 (the general form then); the multiplier and shift as they are for the general form and
    for 32-bit sums."""
    multipliers, shifts = multipliers.astype(np.int64), shifts.astype(np.int64)
    reduced = np.where(multipliers < 0x7FFF0000, (multipliers + (1 << 15)) >> 16, 0x7FFF)
    t = 15 - shifts
    k = np.clip(32 - t, 0, None)
    general = (t < 16) | (accumulator_bits == 32)
    r = np.where(general, 0, reduced << np.where(general, 0, k))
    round_ = np.where(general, 0, np.left_shift(np.int64(1), np.clip(t - 1 + k, 0, 62))).astype(np.uint64)
    s = np.where(general, -1, t + k - 32)
    low, high = (round_ & 0xFFFFFFFF).astype(np.uint32).view(np.int32), (round_ >> 32).astype(np.int32)
    words = np.stack([r, low, high, s, multipliers, shifts], axis=1)
    return ConstArg("requant", "int32_t", words.astype(np.int32))


def _require_16x8(graph: Graph, op: Operator, input_index: int, filter_index: int, output_index: int) -> None:
    require_dtype(graph, op, ("int16",), input_index, output_index)
    require_dtype(graph, op, ("int8",), filter_index)
    if not graph.tensor(filter_index).is_constant:
        raise UnsupportedOpError(f"{graph.describe(op)}: the filter must be a constant tensor")


def _bias(graph: Graph, op: Operator, bias_index: int, channels: int, dtypes: tuple[str, ...]) -> Tensor | None:
    """The bias tensor (constant, `channels` values of one of `dtypes`), or None when the op has none."""
    if bias_index < 0:
        return None
    bias = graph.tensor(bias_index)
    if bias.dtype not in dtypes or bias.size != channels or bias.data is None:
        raise UnsupportedOpError(f"{graph.describe(op)}: bias '{bias.name}' must be a constant {' or '.join(dtypes)} "
                                 f"tensor of {channels} values in 16x8 mode (it is {bias.dtype}{list(bias.shape)}"
                                 f"{'' if bias.data is not None else ', not constant'})")
    return bias


def _accumulator_bits(op: Operator, bias: Tensor | None) -> int:
    """32 where TFLite-Micro sums in int32 (an int32 bias, or none and quantized_bias_type INT32), else 64."""
    if bias is not None:
        return 32 if bias.dtype == "int32" else 64
    return 32 if op.options.get("quantizedBiasType") in _INT32_TYPES else 64


def _bias_arg(bias: Tensor | None) -> TensorArg | ConstArg:
    """The bias as the kernels take it: int64 values (the same integers), or NULL."""
    if bias is None:
        return TensorArg(-1)
    assert bias.data is not None
    return ConstArg("bias", "int64_t", bias.data.astype(np.int64).reshape(-1))


def _check_shifts(graph: Graph, op: Operator, shifts: np.ndarray, accumulator_bits: int) -> None:
    if accumulator_bits == 64 and len(shifts) and int(shifts.max()) > MAX_LEFT_SHIFT_64:
        raise UnsupportedOpError(f"{graph.describe(op)}: a channel's scale ratio needs a left shift of "
                                 f"{int(shifts.max())}; the 64-bit requantization takes at most {MAX_LEFT_SHIFT_64}")


def _multiplier_constants(multipliers: np.ndarray, shifts: np.ndarray) -> tuple[ConstArg, ConstArg]:
    return ConstArg("multiplier", "int32_t", multipliers), ConstArg("shift", "int32_t", shifts)


def _operands(graph: Graph, op: Operator) -> tuple[int, int, int, int]:
    if len(op.inputs) not in (2, 3) or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected input, filter, optional bias and one output")
    input_index, filter_index, output_index = op.inputs[0], op.inputs[1], op.outputs[0]
    _require_16x8(graph, op, input_index, filter_index, output_index)
    return input_index, filter_index, op.inputs[2] if len(op.inputs) == 3 else -1, output_index


def lower_conv2d_16x8(graph: Graph, op: Operator, reference: str | None) -> KernelCall:
    """CONV_2D with int16 activations: te_conv2d_1x1_s16 or te_conv2d_im2col_s16, else te_conv2d_s16."""
    input_index, filter_index, bias_index, output_index = _operands(graph, op)
    input_, filter_, output = graph.tensor(input_index), graph.tensor(filter_index), graph.tensor(output_index)
    batches, in_h, in_w, in_c = shape4(graph, op, input_index, "input")
    out_c, filter_h, filter_w, filter_in_c = shape4(graph, op, filter_index, "filter")
    out_batches, out_h, out_w, output_depth = shape4(graph, op, output_index, "output")
    if (output_depth != out_c or out_batches != batches or filter_in_c < 1 or in_c % filter_in_c
            or out_c % (in_c // filter_in_c)):
        raise UnsupportedOpError(f"{graph.describe(op)}: filter {list(filter_.shape)} does not fit input "
                                 f"{list(input_.shape)} and output {list(output.shape)}")
    bias = _bias(graph, op, bias_index, out_c, ("int64", "int32"))
    bits = _accumulator_bits(op, bias)
    window = _window(graph, op, (in_h, in_w), (filter_h, filter_w))
    multipliers, shifts = _multipliers(graph, op, input_, filter_, output, out_c)
    _check_shifts(graph, op, shifts, bits)
    act_min, act_max = activation_range(fused_activation(op), output)
    groups = in_c // filter_in_c
    macs = batches * out_h * out_w * out_c * filter_h * filter_w * filter_in_c
    limits: dict[str, ParamValue] = {"activation_min": act_min, "activation_max": act_max, "accumulator_bits": bits}
    quant: dict[str, ParamValue] = {**limits, "output_multiplier": "@multiplier", "output_shift": "@shift"}
    if reference is None and groups == 1:
        assert filter_.data is not None
        packed = ConstArg("filter", "int8_t", pack_blocks(filter_.data.reshape(out_c, -1), 2))
        shape: dict[str, ParamValue] = {"batches": batches, "input_height": in_h, "input_width": in_w,
                                        "input_depth": in_c}
        strides: dict[str, ParamValue] = {"stride_height": window["stride_height"],
                                          "stride_width": window["stride_width"]}
        if (filter_h, filter_w) == (1, 1) and window["pad_height"] == window["pad_width"] == 0:
            function, scratch = CONV2D_1X1_S16, ()
            params_fast = {**shape, "output_height": out_h, "output_width": out_w, "output_depth": out_c,
                           **strides, **limits, "requant": "@requant"}
        else:
            k = filter_h * filter_w * in_c
            function, scratch = CONV2D_IM2COL_S16, (ScratchArg(4 * k, "int16_t"),)  # two columns
            params_fast = {**shape, "filter_height": filter_h, "filter_width": filter_w, "output_height": out_h,
                           "output_width": out_w, "output_depth": out_c, **window, **limits,
                           "requant": "@requant"}
        return KernelCall(
            function=function, header=f"{function}.h", params_type=f"{function}_params", params=params_fast,
            args=(TensorArg(input_index), packed, _bias_arg(bias), *scratch, TensorArg(output_index)),
            macs=macs, constants=(requant_words(multipliers, shifts, bits),),
        )
    params: dict[str, ParamValue] = {
        "batches": batches, "input_height": in_h, "input_width": in_w, "input_depth": in_c,
        "filter_height": filter_h, "filter_width": filter_w, "filter_input_depth": filter_in_c,
        "filters_per_group": out_c // groups,
        "output_height": out_h, "output_width": out_w, "output_depth": out_c, **window, **quant,
    }
    return KernelCall(
        function=CONV2D_S16, header=f"{CONV2D_S16}.h", params_type="te_conv2d_s16_params", params=params,
        args=(TensorArg(input_index), TensorArg(filter_index), _bias_arg(bias), TensorArg(output_index)),
        macs=macs, constants=_multiplier_constants(multipliers, shifts),
        fallback=reference or f"{groups} groups (the fast kernels take 1)",
    )


def lower_depthwise_conv2d_16x8(graph: Graph, op: Operator, reference: str | None) -> KernelCall:
    """DEPTHWISE_CONV_2D with int16 activations: te_depthwise_conv2d_ch4_s16, else te_depthwise_conv2d_s16."""
    input_index, filter_index, bias_index, output_index = _operands(graph, op)
    input_, filter_, output = graph.tensor(input_index), graph.tensor(filter_index), graph.tensor(output_index)
    batches, in_h, in_w, in_c = shape4(graph, op, input_index, "input")
    one, filter_h, filter_w, out_c = shape4(graph, op, filter_index, "filter")
    out_batches, out_h, out_w, output_depth = shape4(graph, op, output_index, "output")
    multiplier = int(op.options.get("depthMultiplier", 1))
    if one != 1 or output_depth != out_c or out_batches != batches or multiplier < 1 or out_c != in_c * multiplier:
        raise UnsupportedOpError(f"{graph.describe(op)}: filter {list(filter_.shape)} and depth multiplier "
                                 f"{multiplier} do not fit input {list(input_.shape)} and output "
                                 f"{list(output.shape)}")
    bias = _bias(graph, op, bias_index, out_c, ("int64",))
    window = _window(graph, op, (in_h, in_w), (filter_h, filter_w))
    multipliers, shifts = _multipliers(graph, op, input_, filter_, output, out_c)
    _check_shifts(graph, op, shifts, 64)
    act_min, act_max = activation_range(fused_activation(op), output)
    macs = batches * out_h * out_w * out_c * filter_h * filter_w
    quant: dict[str, ParamValue] = {"activation_min": act_min, "activation_max": act_max,
                                    "output_multiplier": "@multiplier", "output_shift": "@shift"}
    fallback = reference or (
        f"depth multiplier {multiplier} (the fast kernel takes 1)" if multiplier != 1 else
        f"{filter_h * filter_w} taps, above the fast kernel's {DEPTHWISE_CH4_S16_MAX_TAPS}"
        if filter_h * filter_w > DEPTHWISE_CH4_S16_MAX_TAPS else None)
    if fallback is None:
        assert filter_.data is not None
        params_fast: dict[str, ParamValue] = {
            "batches": batches, "input_height": in_h, "input_width": in_w, "depth": out_c,
            "filter_height": filter_h, "filter_width": filter_w, "output_height": out_h, "output_width": out_w,
            **window, "activation_min": act_min, "activation_max": act_max, "requant": "@requant"}
        return KernelCall(
            function=DEPTHWISE_CH4_S16, header=f"{DEPTHWISE_CH4_S16}.h",
            params_type=f"{DEPTHWISE_CH4_S16}_params", params=params_fast,
            args=(TensorArg(input_index),
                  ConstArg("filter", "int8_t", pack_blocks(filter_.data.reshape(filter_h * filter_w, out_c), 1)),
                  _bias_arg(bias), TensorArg(output_index)),
            macs=macs, constants=(requant_words(multipliers, shifts, 64),),
        )
    params: dict[str, ParamValue] = {
        "batches": batches, "input_height": in_h, "input_width": in_w, "input_depth": in_c,
        "depth_multiplier": multiplier, "filter_height": filter_h, "filter_width": filter_w,
        "output_height": out_h, "output_width": out_w, "output_depth": out_c, **window, **quant,
    }
    return KernelCall(
        function=DEPTHWISE_S16, header=f"{DEPTHWISE_S16}.h", params_type="te_depthwise_conv2d_s16_params",
        params=params,
        args=(TensorArg(input_index), TensorArg(filter_index), _bias_arg(bias), TensorArg(output_index)),
        macs=macs, constants=_multiplier_constants(multipliers, shifts), fallback=fallback,
    )


def lower_fully_connected_16x8(graph: Graph, op: Operator, reference: str | None) -> KernelCall:
    """FULLY_CONNECTED with int16 activations: te_fully_connected_packed_s16, else te_fully_connected_s16."""
    input_index, filter_index, bias_index, output_index = _operands(graph, op)
    input_, filter_, output = graph.tensor(input_index), graph.tensor(filter_index), graph.tensor(output_index)
    accum_depth, output_depth, rows = fully_connected_dims(graph, op, input_, filter_, output)
    bias = _bias(graph, op, bias_index, output_depth, ("int64", "int32"))
    bits = _accumulator_bits(op, bias)
    if filter_.quant.per_channel:
        if len(filter_.quant.scale) != filter_.shape[filter_.quant.axis]:
            raise UnsupportedOpError(f"{graph.describe(op)}: weights '{filter_.name}' have "
                                     f"{len(filter_.quant.scale)} scales along dimension {filter_.quant.axis}")
        multipliers, shifts = per_channel_multipliers(input_.scale, filter_.quant.scale, output.scale,
                                                      len(filter_.quant.scale))
        filter_offset = 0  # the per-channel reference ignores the weights' zero point
    else:
        check_bias_scale(graph, op, input_, filter_, bias, output)
        multipliers, shifts = per_channel_multipliers(input_.scale, filter_.quant.scale, output.scale, 1)
        filter_offset = -filter_.zero_point
    multipliers = np.resize(multipliers, output_depth).astype(np.int32)
    shifts = np.resize(shifts, output_depth).astype(np.int32)
    _check_shifts(graph, op, shifts, bits)
    act_min, act_max = activation_range(fused_activation(op), output)
    macs = rows * output_depth * accum_depth
    fallback = reference or (
        f"input zero point {input_.zero_point} (the fast kernel takes 0)" if input_.zero_point else
        f"weights zero point {filter_.zero_point} (the fast kernel takes 0)" if filter_offset else None)
    if fallback is None:
        assert filter_.data is not None
        weights = filter_.data.reshape(-1, accum_depth)[:output_depth]
        return KernelCall(
            function=FULLY_CONNECTED_PACKED_S16, header=f"{FULLY_CONNECTED_PACKED_S16}.h",
            params_type=f"{FULLY_CONNECTED_PACKED_S16}_params",
            params={"rows": rows, "accum_depth": accum_depth, "output_depth": output_depth,
                    "output_offset": output.zero_point, "activation_min": act_min, "activation_max": act_max,
                    "accumulator_bits": bits, "requant": "@requant"},
            args=(TensorArg(input_index), ConstArg("filter", "int8_t", pack_blocks(weights, 4)), _bias_arg(bias),
                  TensorArg(output_index)),
            macs=macs, constants=(requant_words(multipliers, shifts, bits),),
        )
    params: dict[str, ParamValue] = {
        "rows": rows, "accum_depth": accum_depth, "output_depth": output_depth,
        "input_offset": -input_.zero_point, "filter_offset": filter_offset, "output_offset": output.zero_point,
        "activation_min": act_min, "activation_max": act_max, "accumulator_bits": bits,
        "output_multiplier": "@multiplier", "output_shift": "@shift",
    }
    return KernelCall(
        function=FULLY_CONNECTED_S16, header=f"{FULLY_CONNECTED_S16}.h", params_type="te_fully_connected_s16_params",
        params=params,
        args=(TensorArg(input_index), TensorArg(filter_index), _bias_arg(bias), TensorArg(output_index)),
        macs=macs, constants=_multiplier_constants(multipliers, shifts), fallback=fallback,
    )


def pack_phases(weights: np.ndarray, stride_h: int, stride_w: int) -> tuple[np.ndarray, np.ndarray]:
    """te_transpose_conv_im2col_s16's filter and phase table from weights [out, h, w, in]: per phase
    (py, px), row phases outer, the taps py, py + stride_h, ... by px, px + stride_w, ... of every output
    channel as rows packed by pack_blocks in pairs; the table holds each phase's (byte offset, k)."""
    out_c, in_c = weights.shape[0], weights.shape[3]
    filters, phases, offset = [], [], 0
    for py in range(stride_h):
        for px in range(stride_w):
            rows = weights[:, py::stride_h, px::stride_w, :].reshape(out_c, -1)
            packed = pack_blocks(rows, 2)
            phases.append((offset, rows.shape[1]))
            filters.append(packed)
            offset += packed.size
    assert phases[0][1] >= in_c  # phase 0 holds tap 0: the scratch's size
    return np.concatenate(filters), np.array(phases, dtype=np.int32)


def lower_transpose_conv_16x8(graph: Graph, op: Operator, reference: str | None) -> KernelCall:
    """TRANSPOSE_CONV with int16 activations: te_transpose_conv_s16. The output_shape input (which may
    be a model input) is not read: TFLite-Micro takes the output tensor's shape."""
    if len(op.inputs) not in (3, 4) or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected output shape, filter, input, optional bias "
                                 "and one output")
    filter_index, input_index, output_index = op.inputs[FILTER_INPUT], op.inputs[DATA_INPUT], op.outputs[0]
    _require_16x8(graph, op, input_index, filter_index, output_index)
    input_, filter_, output = graph.tensor(input_index), graph.tensor(filter_index), graph.tensor(output_index)
    shapes = transpose_conv_shapes(graph, op, input_index, filter_index, output_index)
    out_c = shapes[2][2]
    bias = _bias(graph, op, op.inputs[BIAS_INPUT] if len(op.inputs) == 4 else -1, out_c, ("int64", "int16"))
    scales = check_transpose_conv_scales(graph, op, input_, filter_, output, out_c)
    window = transpose_conv_window(graph, op, *shapes)
    geometry, macs = window.params(), window.macs()
    multipliers, shifts = per_channel_multipliers(input_.scale, scales, output.scale, out_c)
    _check_shifts(graph, op, shifts, 64)
    act_min, act_max = activation_range(fused_activation(op), output)
    if reference is None:
        assert filter_.data is not None
        packed, phases = pack_phases(filter_.data, window.stride_height, window.stride_width)
        return KernelCall(
            function=TRANSPOSE_CONV_IM2COL_S16, header=f"{TRANSPOSE_CONV_IM2COL_S16}.h",
            params_type=f"{TRANSPOSE_CONV_IM2COL_S16}_params",
            params={**geometry, "activation_min": act_min, "activation_max": act_max, "requant": "@requant",
                    "phases": "@phases"},
            # TE_TRANSPOSE_CONV_IM2COL_S16_SCRATCH_BYTES of the largest phase (phase 0 sees the most taps)
            args=(TensorArg(input_index), ConstArg("filter", "int8_t", packed), _bias_arg(bias),
                  ScratchArg(4 * int(phases[:, 1].max()), "int16_t"), TensorArg(output_index)),
            macs=macs, constants=(requant_words(multipliers, shifts, 64), ConstArg("phases", "int32_t", phases)),
        )
    return KernelCall(
        function=TRANSPOSE_CONV_S16, header=f"{TRANSPOSE_CONV_S16}.h", params_type="te_transpose_conv_s16_params",
        params={**geometry, "activation_min": act_min, "activation_max": act_max,
                "output_multiplier": "@multiplier", "output_shift": "@shift"},
        args=(TensorArg(input_index), TensorArg(filter_index), _bias_arg(bias), TensorArg(output_index)),
        macs=macs, constants=_multiplier_constants(multipliers, shifts), fallback=reference,
    )


def lower_batch_matmul_16x8(graph: Graph, op: Operator, reference: str | None) -> KernelCall:
    """BATCH_MATMUL with int16 operands: te_batch_matmul_s16 (TFLite-Micro's checks of batch_matmul.cc)."""
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected two inputs and one output")
    lhs_index, rhs_index, output_index = op.inputs[0], op.inputs[1], op.outputs[0]
    require_dtype(graph, op, ("int16",), lhs_index, rhs_index, output_index)
    lhs, rhs, output = graph.tensor(lhs_index), graph.tensor(rhs_index), graph.tensor(output_index)
    for tensor in (lhs, rhs, output):
        if tensor.quant is None or tensor.quant.per_channel or tensor.zero_point != 0:
            raise UnsupportedOpError(f"{graph.describe(op)}: tensor '{tensor.name}' must be quantized per tensor "
                                     "with zero point 0 (TFLite-Micro's int16 BATCH_MATMUL requires it)")
    adj_x, adj_y, rows, depth, rhs_depth, cols = matmul_dims(graph, op, lhs, rhs)
    lhs_batch, rhs_batch = padded_batch(lhs.shape), padded_batch(rhs.shape)
    if depth != rhs_depth or any(a != b and 1 not in (a, b) for a, b in zip(lhs_batch, rhs_batch)):
        raise UnsupportedOpError(f"{graph.describe(op)}: lhs {list(lhs.shape)} (adj_x {adj_x}) and rhs "
                                 f"{list(rhs.shape)} (adj_y {adj_y}) do not multiply")
    out_batches = tuple(max(a, b) for a, b in zip(lhs_batch, rhs_batch))
    elements = int(np.prod(out_batches, dtype=np.int64)) * rows * cols
    if output.size != elements or len(output.shape) < max(len(lhs.shape), len(rhs.shape)):
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} does not hold the product")
    # In double, as batch_matmul.matmul_multiplier takes it (the installed tflite_micro's bytes follow it).
    multiplier, shift = quantize_multiplier(float(lhs.scale) * float(rhs.scale) / float(output.scale))
    _check_shifts(graph, op, np.array([shift]), 64)
    lhs_strides, rhs_strides = batch_strides(lhs.shape, out_batches), batch_strides(rhs.shape, out_batches)
    params: dict[str, ParamValue] = {
        **{f"batches{d}": out_batches[d] for d in range(BATCH_DIMS)},
        **{f"lhs_batch_stride{d}": lhs_strides[d] for d in range(BATCH_DIMS)},
        **{f"rhs_batch_stride{d}": rhs_strides[d] for d in range(BATCH_DIMS)},
        "rows": rows, "cols": cols, "depth": depth,
        "lhs_row_stride": 1 if adj_x else depth, "lhs_depth_stride": rows if adj_x else 1,
        "rhs_depth_stride": 1 if adj_y else cols, "rhs_col_stride": depth if adj_y else 1,
        "lhs_offset": 0, "rhs_offset": 0, "output_offset": 0,
        "output_multiplier": multiplier, "output_shift": shift,
    }
    if reference is None:
        # TE_BATCH_MATMUL_PACKED_S16_SCRATCH_BYTES: an rhs column, and a transposed lhs as rows.
        scratch = ScratchArg(2 * depth * (1 + (rows if adj_x else 0)), "int16_t")
        return KernelCall(
            function=BATCH_MATMUL_PACKED_S16, header=f"{BATCH_MATMUL_PACKED_S16}.h",
            params_type="te_batch_matmul_params", params=params,
            args=(requant_words(np.array([multiplier]), np.array([shift]), 64), TensorArg(lhs_index),
                  TensorArg(rhs_index), scratch, TensorArg(output_index)),
            macs=elements * depth,
        )
    return KernelCall(
        function=BATCH_MATMUL_S16, header=f"{BATCH_MATMUL_S16}.h", params_type="te_batch_matmul_params",
        params=params, args=(TensorArg(lhs_index), TensorArg(rhs_index), TensorArg(output_index)),
        macs=elements * depth, fallback=reference,
    )
