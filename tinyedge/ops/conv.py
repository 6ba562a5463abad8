"""CONV_2D and DEPTHWISE_CONV_2D: int8 convolutions with per-output-channel requantization.

Parameters follow TFLite-Micro's Prepare (conv_common.cc, depthwise_conv_common.cc):
padding from ComputePaddingHeightWidth, one (multiplier, shift) per output channel from
PopulateConvolutionQuantizationParams (a per-tensor filter scale is broadcast to every
channel), clamp bounds from the fused activation. Filter zero points are ignored, as the
reference per-channel kernels ignore them (int8 weights are symmetric).

Each op has a plain kernel with the reference arithmetic (te_conv2d_s8,
te_depthwise_conv2d_s8) and faster variants that give the same bytes (firmware/include/
te_nn_dsp.h describes their data layouts); `conv2d_variant` and `depthwise_variant` choose
from the shapes. The variants take constants prepared here: weights packed for 32-bit
loads, the input offset folded into the bias (acc = bias + input_offset * sum(filter) +
sum(filter * input), the same integer), and the output offset folded into a per-channel
rounding term. A channel outside that rounding form's proven range (`general_channels`: a
left shift, a right shift past 22 from a dead channel's tiny scale, an accumulator that may
reach 2^30) keeps the reference requantization inside the fast kernel, chosen per channel
here; only a geometry a variant does not take keeps the plain kernel, and its KernelCall's
`fallback` says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import ConstArg, KernelCall, ParamValue, ScratchArg, TensorArg, lowering
from tinyedge.ops._fixedpoint import requantize, wrap32
from tinyedge.ops._quant import (
    activation_range,
    fused_activation,
    nhwc,
    out_size,
    padding_before,
    per_channel_multipliers,
    require_int8,
)

# Range of te_nn_requantize_rounding (te_nn_dsp.h): right shifts 1..22 and |acc| < 2^30.
FAST_RIGHT_SHIFTS = range(1, 23)
FAST_ACC_LIMIT = 1 << 30
INPUT_ABS_MAX = 128  # |int8|

_reference_only: ContextVar[bool] = ContextVar("tinyedge_reference_kernels", default=False)


@contextmanager
def reference_kernels() -> Iterator[None]:
    """Lower convolutions and fully connected layers to the plain reference kernels only.

    For benchmarks and for bisecting a suspected kernel bug; the output bytes are the same.
    """
    token = _reference_only.set(True)
    try:
        yield
    finally:
        _reference_only.reset(token)


def variants_enabled() -> bool:
    return not _reference_only.get()


_constants_copied: ContextVar[bool] = ContextVar("tinyedge_constants_copied", default=True)


@contextmanager
def constants_read_in_place() -> Iterator[None]:
    """Lower for a core without the DSP extension: the fast convolutions copy their constants into
    the scratch only under TE_NN_DSP (reading flash behind a read buffer costs wait states there, on
    the cores that have one), so elsewhere no scratch is reserved for the copy: it would be arena
    bytes no kernel writes."""
    token = _constants_copied.set(False)
    try:
        yield
    finally:
        _constants_copied.reset(token)


REFERENCE_REQUESTED = "reference kernels requested"


def requested_fallback() -> str | None:
    """A lowering's fallback where only reference_kernels() keeps it from its fast variant."""
    return None if variants_enabled() else REFERENCE_REQUESTED


@dataclass(frozen=True)
class NoFastKernel:
    """Why a lowering keeps the reference kernel: `reason` is its KernelCall's fallback, or None
    where the reference kernel is a choice (a size below which it is the faster one)."""

    reason: str | None = None


@dataclass(frozen=True)
class FastRequantization:
    """Per output channel, the (multiplier, rounding, shift) of te_nn_requantize_rounding (te_nn_dsp.h), or
    for a general channel (multiplier, output offset, TFLite's shift) of the reference requantization, and
    the first channels of the kernel's general units (te_nn_dsp.h: 'General channels')."""

    multiplier: np.ndarray
    rounding: np.ndarray
    shift: np.ndarray
    general_units: tuple[int, ...] = ()

    def general_list(self) -> np.ndarray:
        """The list the kernels read after the per-channel constants: general_units, then the channel count."""
        return np.array([*self.general_units, len(self.multiplier)], dtype=np.int32)

    def with_bias(self, folded_bias: np.ndarray) -> np.ndarray:
        """te_nn_mat_mult_s8's constants: per channel (bias, multiplier, rounding, shift), then general_list()."""
        per_channel = np.stack([folded_bias, self.multiplier, self.rounding, self.shift], axis=1).astype(np.int32)
        return np.concatenate([per_channel.reshape(-1), self.general_list()])


def fold_input_offset(bias: np.ndarray | None, weights: np.ndarray, input_offset: int) -> np.ndarray:
    """bias + input_offset * (sum of each output channel's weights), exact (int64); weights [channels, depth]."""
    folded = weights.astype(np.int64).sum(axis=1) * input_offset
    return folded if bias is None else folded + bias.astype(np.int64).reshape(-1)


def general_channels(multipliers: np.ndarray, shifts: np.ndarray, folded_bias: np.ndarray,
                     weights: np.ndarray) -> np.ndarray:
    """Which channels te_nn_requantize_rounding cannot take: a right shift outside FAST_RIGHT_SHIFTS
    (a multiplier of 0 takes any shift: its output is the offset) or an accumulator, bounded by
    |folded bias| + 128 * sum |weights| over any int8 input, that may reach 2^30."""
    multipliers = multipliers.astype(np.int64)
    right = np.where(multipliers == 0, 1, -shifts.astype(np.int64))
    bound = np.abs(folded_bias) + INPUT_ABS_MAX * np.abs(weights.astype(np.int64)).sum(axis=1)
    return (right < FAST_RIGHT_SHIFTS.start) | (right >= FAST_RIGHT_SHIFTS.stop) | (bound >= FAST_ACC_LIMIT)


def fast_requantization(multipliers: np.ndarray, shifts: np.ndarray, output_offset: int, folded_bias: np.ndarray,
                        weights: np.ndarray, unit: int) -> FastRequantization:
    """The fast kernels' requantization constants for every channel the reference kernel takes.

    Channels inside te_nn_requantize_rounding's range get its (multiplier, rounding, shift), and
    so do channels whose weights are all zero (their constant output: constant_output); the
    others (general_channels) keep the reference arithmetic inside the fast kernel, chosen
    per unit of the kernel's loop: `unit` channels at a time (2 for te_nn_mat_mult_s8, 4 for the
    fully connected and depthwise kernels), the last channels % unit one by one.
    """
    channels, multipliers_in = len(multipliers), multipliers
    # A channel whose weights are all zero (a dead channel: BatchNorm's gamma 0, a filter pruned or
    # decayed to nothing) has its folded bias for accumulator whatever the input: its output is
    # a constant, which the rounding form gives with a zero multiplier at any shift or bias.
    zero = ~weights.astype(bool).any(axis=1)
    general = general_channels(multipliers, shifts, folded_bias, weights) & ~zero
    whole = channels // unit * unit
    general[:whole] = np.repeat(general[:whole].reshape(-1, unit).any(axis=1), unit)
    starts = [c for c in range(0, whole, unit) if general[c]] + [c for c in range(whole, channels) if general[c]]
    constant = zero & ~general
    multipliers = np.where(constant, 0, multipliers.astype(np.int64))
    right = np.where(general | (multipliers == 0), 1, -shifts.astype(np.int64))
    rounding = np.where(general, output_offset, (1 << (right - 1)) + output_offset * (1 << right))
    for c in np.flatnonzero(constant):
        rounding[c] = 2 * constant_output(int(folded_bias[c]), int(multipliers_in[c]), int(shifts[c]),
                                          output_offset) + 1
    shift = np.where(general, shifts, right)
    return FastRequantization(multipliers.astype(np.int32), rounding.astype(np.int32), shift.astype(np.int32),
                              tuple(starts))


def constant_output(accumulator: int, multiplier: int, shift: int, output_offset: int) -> int:
    """The reference output of an accumulator before the clamp, held within [-129, 128] (the clamp to
    int8 and any activation range gives the same byte): te_nn_requantize_rounding with a zero
    multiplier, rounding 2 * this + 1 and shift 1 returns it for either sign of the accumulator."""
    value = requantize(wrap32(accumulator), multiplier, shift) + output_offset
    return min(max(value, -129), 128)


def depth4(depth: int) -> int:
    return (depth + 3) // 4 * 4


def pack_rows(weights: np.ndarray) -> np.ndarray:
    """Weights [channels, depth] as te_nn_dot_* reads them: rows zero-padded to depth4, pairs interleaved by word."""
    channels, depth = weights.shape
    padded = np.zeros((channels, depth4(depth)), dtype=np.int8)
    padded[:, :depth] = weights
    pairs = channels // 2 * 2
    words = padded[:pairs].reshape(pairs // 2, 2, depth4(depth) // 4, 4).transpose(0, 2, 1, 3)  # no pair: empty
    return np.concatenate([words.reshape(-1), padded[pairs:].reshape(-1)])


def pack_depthwise(weights: np.ndarray, folded_bias: np.ndarray, fast: FastRequantization) -> np.ndarray:
    """te_depthwise_conv2d_ch4_s8's constants from weights [taps, channels]: per group of 4 channels,
    the 4 folded biases, per tap the int16 lane pairs (c0, c2), (c1, c3) as words, and the
    4 (multiplier, rounding, shift) triples; then the general list (FastRequantization.general_list)."""
    taps, channels = weights.shape
    groups = channels // 4
    lanes = weights.astype(np.int16).reshape(taps, groups, 4)[:, :, [0, 2, 1, 3]].transpose(1, 0, 2)
    tap_words = lanes.reshape(groups, taps * 2, 2).view(np.uint32).reshape(groups, taps * 2).view(np.int32)
    triples = np.stack([fast.multiplier, fast.rounding, fast.shift], axis=1).astype(np.int32).reshape(groups, 12)
    per_group = np.concatenate([folded_bias.astype(np.int32).reshape(groups, 4), tap_words, triples], axis=1)
    return np.concatenate([per_group.reshape(-1), fast.general_list()])



def pack_depthwise_3x3(weights: np.ndarray, folded_bias: np.ndarray, fast: FastRequantization) -> np.ndarray:
    """te_depthwise_conv2d_3x3_s8's constants from weights [9 taps, channels] (fast: one channel per
    unit): per channel the folded bias, per filter row the int16 lane pairs (w0, w1) and (w1, w2) as
    words (low lane first), the (multiplier, rounding, shift) triple and 1 for a general channel."""
    taps, channels = weights.shape
    rows = weights.astype(np.int16).T.reshape(channels, 3, 3)
    lanes = np.stack([rows[:, :, 0], rows[:, :, 1], rows[:, :, 1], rows[:, :, 2]], axis=2)  # [c, row, 4]
    tap_words = np.ascontiguousarray(lanes).view(np.uint32).reshape(channels, 6).view(np.int32)
    general = np.zeros(channels, dtype=np.int32)
    general[list(fast.general_units)] = 1
    per_channel = np.concatenate([folded_bias.astype(np.int32).reshape(channels, 1), tap_words,
                                  np.stack([fast.multiplier, fast.rounding, fast.shift, general], axis=1)
                                  .astype(np.int32)], axis=1)
    assert per_channel.shape[1] == DEPTHWISE_3X3_CHANNEL_WORDS and taps == 9
    return per_channel.reshape(-1)


def depthwise_3x3_scratch_bytes(output_width: int, stride_width: int, depth: int, constants_words: int = 0) -> int:
    """TE_DEPTHWISE_CONV2D_3X3_SCRATCH_BYTES: 3 channel-major widened rows of whole 4-pixel blocks, then
    the RAM copy of the constants (constants_words, 0 for none)."""
    return 2 * 3 * depth * (stride_width * ((output_width + 3) // 4 * 4) + 2) + 4 * constants_words


def depthwise_constants_words(packed: np.ndarray) -> int:
    """The constants_words param of the depthwise variants: all of `packed` copied into the scratch once
    per call on DSP cores (constants_read_in_place) when it is at most DEPTHWISE_CONSTANTS_COPY_MAX_BYTES,
    else 0 (read in place).

    Each output pixel (ch4) or block of pixels (3x3) reads its channels' constants again; from flash
    behind a one-word read buffer (nrf52840) every such word costs wait states, from RAM none. The
    copy costs a word's load and store once per call, and RAM only where the scratch lies at the
    arena's peak (the planner overlaps it with dead tensors)."""
    copied = _constants_copied.get() and 4 * len(packed) <= DEPTHWISE_CONSTANTS_COPY_MAX_BYTES
    return len(packed) if copied else 0

CONV2D_REFERENCE = "te_conv2d_s8"
CONV2D_1X1 = "te_conv2d_1x1_s8"
CONV2D_IM2COL = "te_conv2d_im2col_s8"
DEPTHWISE_REFERENCE = "te_depthwise_conv2d_s8"
DEPTHWISE_CH4 = "te_depthwise_conv2d_ch4_s8"
DEPTHWISE_3X3 = "te_depthwise_conv2d_3x3_s8"
DEPTHWISE_3X3_CHANNEL_WORDS = 11  # TE_DEPTHWISE_CONV2D_3X3_CHANNEL_WORDS
# Below this output width te_depthwise_conv2d_3x3_s8's per-row costs (the channel-major widening, the
# 1-3 pixels past its 4-pixel blocks, in C) outweigh its cheaper blocks. nrf52840, estimated cycles per
# MAC, 3x3 variant / ch4 (constants in RAM, ch4 by pixel pairs; vww_96_int8 and kws_ref_model layers,
# benchmarks/depthwise_m4.py): stride 1 width 48 3.17 / 4.42, 24 3.29 / 3.86, 12 3.69 / 3.84,
# 6 6.08 / 4.00, 5 6.65 / 4.13; stride 2 width 24 4.73 / 5.61, 12 5.30 / 5.21, 6 8.75 / 5.18.
DEPTHWISE_3X3_MIN_OUTPUT_WIDTH = 12
DEPTHWISE_CH4_MAX_FILTER_HEIGHT = 8  # TE_DEPTHWISE_CONV2D_CH4_MAX_FILTER_HEIGHT
# The depthwise variants copy their constants (weights, biases, requantization) into RAM scratch up to
# this size (depthwise_constants_words): 3x3x256 channels is 8.5 KiB (ch4) or 11 KiB (3x3).
DEPTHWISE_CONSTANTS_COPY_MAX_BYTES = 16 * 1024
# te_conv2d_1x1_s8 and te_conv2d_im2col_s8 copy their packed weights and constants into RAM scratch up to
# this size (conv2d_constants_bytes) where a layer has CONV2D_CONSTANTS_COPY_MIN_PIXELS output pixels or
# more: each block of three (or two) pixels reads every weight word again, and on a board whose flash
# stalls each word read (nrf52840's read buffer) the RAM copy, paid once per call, saves those stalls.
CONV2D_CONSTANTS_COPY_MAX_BYTES = 20 * 1024
CONV2D_CONSTANTS_COPY_MIN_PIXELS = 12
# Channels per unit of general requantization (te_nn_dsp.h, 'General channels').
MAT_MULT_UNIT = 2  # te_nn_mat_mult_s8: te_conv2d_1x1_s8, te_conv2d_im2col_s8, te_transpose_conv_im2col_s8
DEPTHWISE_CH4_UNIT = 4


# The params struct fields of each convolution variant, in struct order.
PARAM_FIELDS = {
    CONV2D_1X1: ("batches", "input_height", "input_width", "input_depth", "output_height", "output_width",
                 "output_depth", "stride_height", "stride_width", "activation_min", "activation_max",
                 "constants_bytes"),
    CONV2D_IM2COL: ("batches", "input_height", "input_width", "input_depth", "filter_height", "filter_width",
                    "output_height", "output_width", "output_depth", "stride_height", "stride_width",
                    "dilation_height", "dilation_width", "pad_height", "pad_width", "input_offset",
                    "activation_min", "activation_max", "constants_bytes"),
}


# Widened columns (output pixels) te_conv2d_1x1_s8 and te_conv2d_im2col_s8 multiply at a time: three
# (te_nn_mat_mult3_s8) where the core has the DSP extension, two on the others and in the last pixels.
MAT_MULT_COLUMNS = 3


def conv2d_scratch_bytes(function: str, depth: int, columns: int = 2, constants_bytes: int = 0) -> int:
    """TE_CONV2D_1X1_SCRATCH_BYTES / TE_CONV2D_IM2COL_SCRATCH_BYTES with columns=MAT_MULT_COLUMNS (depth:
    values in one window): `columns` widened columns, for im2col one int8 column to gather in, then the
    RAM copy of the weights and constants (constants_bytes, 0 for none). te_transpose_conv_im2col_s8
    takes the im2col scratch of two columns."""
    return (2 * columns + {CONV2D_1X1: 0, CONV2D_IM2COL: 1}[function]) * depth4(depth) + constants_bytes


def conv2d_constants_bytes(filter_bytes: int, quant_words: int, pixels: int) -> int:
    """The constants_bytes param of te_conv2d_1x1_s8 and te_conv2d_im2col_s8: the packed filter and the
    quant words, copied into the scratch once per call on DSP cores (constants_read_in_place), where they fit in
    CONV2D_CONSTANTS_COPY_MAX_BYTES and the layer has CONV2D_CONSTANTS_COPY_MIN_PIXELS output pixels
    (fewer blocks of pixels read each word too few times to repay its copy); else 0 (read in place)."""
    size = filter_bytes + 4 * quant_words
    copied = (_constants_copied.get() and size <= CONV2D_CONSTANTS_COPY_MAX_BYTES
              and pixels >= CONV2D_CONSTANTS_COPY_MIN_PIXELS)
    return size if copied else 0


def depthwise_scratch_bytes(filter_height: int, span_width: int, depth: int, constants_words: int = 0) -> int:
    """TE_DEPTHWISE_CONV2D_CH4_SCRATCH_BYTES: the ring of widened input rows, then the RAM copy of the
    constants (constants_words, 0 for none)."""
    return 2 * filter_height * span_width * depth + 4 * constants_words


@dataclass(frozen=True)
class _Window:
    """The sliding-window geometry shared by both convolutions."""

    stride_height: int
    stride_width: int
    dilation_height: int
    dilation_width: int
    pad_height: int
    pad_width: int

    def params(self) -> dict[str, ParamValue]:
        return {"stride_height": self.stride_height, "stride_width": self.stride_width,
                "dilation_height": self.dilation_height, "dilation_width": self.dilation_width,
                "pad_height": self.pad_height, "pad_width": self.pad_width}


def _window(graph: Graph, op: Operator, input_hw: tuple[int, int], filter_hw: tuple[int, int]) -> _Window:
    options = op.options
    padding = str(options.get("padding", "SAME"))
    if padding not in ("SAME", "VALID"):
        raise UnsupportedOpError(f"{graph.describe(op)}: padding {padding} is not supported")
    stride_h, stride_w = int(options.get("strideH", 1)), int(options.get("strideW", 1))
    dilation_h, dilation_w = int(options.get("dilationHFactor", 1)), int(options.get("dilationWFactor", 1))
    if min(stride_h, stride_w, dilation_h, dilation_w) < 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: stride {stride_h}x{stride_w} and dilation "
                                 f"{dilation_h}x{dilation_w} must be at least 1")
    (in_h, in_w), (filter_h, filter_w) = input_hw, filter_hw
    # TFLite-Micro derives the padding from the output size it computes itself.
    out_h = out_size(padding, in_h, filter_h, stride_h, dilation_h)
    out_w = out_size(padding, in_w, filter_w, stride_w, dilation_w)
    return _Window(stride_h, stride_w, dilation_h, dilation_w,
                   padding_before(stride_h, dilation_h, in_h, filter_h, out_h),
                   padding_before(stride_w, dilation_w, in_w, filter_w, out_w))


@dataclass(frozen=True)
class _Requantization:
    """Offsets, clamp bounds and per-channel (multiplier, shift) of a convolution."""

    input_offset: int
    output_offset: int
    activation_min: int
    activation_max: int
    multipliers: np.ndarray
    shifts: np.ndarray

    def reference_params(self) -> dict[str, ParamValue]:
        return {"input_offset": self.input_offset, "output_offset": self.output_offset,
                "activation_min": self.activation_min, "activation_max": self.activation_max,
                "output_multiplier": "@multiplier", "output_shift": "@shift"}

    def reference_constants(self) -> tuple[ConstArg, ...]:
        return ConstArg("multiplier", "int32_t", self.multipliers), ConstArg("shift", "int32_t", self.shifts)

    def fast(self, folded_bias: np.ndarray, weights: np.ndarray, unit: int) -> FastRequantization:
        return fast_requantization(self.multipliers, self.shifts, self.output_offset, folded_bias, weights, unit)


def _requantization(graph: Graph, op: Operator, input_: Tensor, filter_: Tensor, output: Tensor,
                    channels: int) -> _Requantization:
    if input_.quant is None or output.quant is None or filter_.quant is None:
        raise UnsupportedOpError(f"{graph.describe(op)}: input, filter and output must be quantized")
    scales = filter_.quant.scale
    if len(scales) not in (1, channels):
        raise UnsupportedOpError(f"{graph.describe(op)}: filter '{filter_.name}' has {len(scales)} scales "
                                 f"for {channels} output channels")
    multipliers, shifts = per_channel_multipliers(input_.scale, scales, output.scale, channels)
    act_min, act_max = activation_range(fused_activation(op), output)
    return _Requantization(-input_.zero_point, output.zero_point, act_min, act_max, multipliers, shifts)


def conv2d_variant(filter_hw: tuple[int, int], groups: int, window: _Window) -> str:
    """The kernel for a CONV_2D of this geometry."""
    if not variants_enabled() or groups != 1:
        return CONV2D_REFERENCE
    if filter_hw == (1, 1) and window.pad_height == window.pad_width == 0:
        return CONV2D_1X1
    return CONV2D_IM2COL


def im2col_in_place_shift(batches: int, input_hwc: tuple[int, int, int], output_hwc: tuple[int, int, int],
                          filter_hw: tuple[int, int], window: _Window) -> int | None:
    """Bytes te_conv2d_im2col_s8's output must start below its input to write over it.

    The kernel reads the windows of a block of output pixels (in row-major order: three at a
    time, then pairs, on a core with the DSP extension; pairs on the others) before it writes
    that block, so the writes of every block must stay below the lowest input byte any later
    pixel reads: the shift takes both blockings. One batch only (None otherwise).
    """
    if batches != 1:
        return None
    in_h, in_w, in_c = input_hwc
    out_h, out_w, out_c = output_hwc

    def first_inside(outputs: int, stride: int, pad: int, dilation: int, taps: int, size: int) -> np.ndarray:
        """Per output row (column): the first input row (column) its window reads, or a huge number."""
        positions = (np.arange(outputs)[:, None] * stride - pad + dilation * np.arange(taps)[None, :])
        inside = np.where((positions >= 0) & (positions < size), positions, np.iinfo(np.int64).max // 4)
        return inside.min(axis=1)

    rows = first_inside(out_h, window.stride_height, window.pad_height, window.dilation_height, filter_hw[0], in_h)
    cols = first_inside(out_w, window.stride_width, window.pad_width, window.dilation_width, filter_hw[1], in_w)
    lowest_read = ((rows[:, None] * in_w + cols[None, :]) * in_c).reshape(-1)  # per output pixel
    later_lowest = np.minimum.accumulate(lowest_read[::-1])[::-1]  # over this pixel and every later one
    pixels = out_h * out_w
    triples_end = pixels // MAT_MULT_COLUMNS * MAT_MULT_COLUMNS
    block_ends = np.concatenate([np.arange(2, pixels, 2),  # pairs from the first pixel
                                 np.arange(MAT_MULT_COLUMNS, triples_end + 1, MAT_MULT_COLUMNS),  # triples,
                                 np.arange(triples_end + 2, pixels, 2)])  # then pairs
    followed = block_ends[block_ends < pixels]
    if not len(followed):
        return 0
    return max(0, int((followed * out_c - later_lowest[followed]).max()))


def depthwise_variant(channels: int, depth_multiplier: int, filter_height: int, window: _Window,
                      filter_width: int = 0, output_width: int = 0) -> str:
    """The kernel for a DEPTHWISE_CONV_2D of this geometry."""
    if variants_enabled() and depthwise_3x3_takes(channels, depth_multiplier, (filter_height, filter_width),
                                                  window, output_width):
        return DEPTHWISE_3X3
    if variants_enabled() and depthwise_geometry_fallback(channels, depth_multiplier, filter_height, window) is None:
        return DEPTHWISE_CH4
    return DEPTHWISE_REFERENCE


_without_3x3: ContextVar[bool] = ContextVar("tinyedge_without_depthwise_3x3", default=False)


@contextmanager
def without_depthwise_3x3() -> Iterator[None]:
    """Lower 3x3 depthwise layers as before te_depthwise_conv2d_3x3_s8 (te_depthwise_conv2d_ch4_s8 where
    it applies): for the tests and benchmarks of that kernel; the output bytes are the same."""
    token = _without_3x3.set(True)
    try:
        yield
    finally:
        _without_3x3.reset(token)


def depthwise_3x3_takes(channels: int, depth_multiplier: int, filter_hw: tuple[int, int], window: _Window,
                        output_width: int) -> bool:
    """te_depthwise_conv2d_3x3_s8's condition: depth multiplier 1, a 3x3 filter, stride 1 or 2 each way,
    no dilation, and an output DEPTHWISE_3X3_MIN_OUTPUT_WIDTH pixels wide or wider or channels that
    te_depthwise_conv2d_ch4_s8 does not take (not a multiple of 4). The kernel takes any width and
    channel count; narrower rows of whole channel groups are faster on te_depthwise_conv2d_ch4_s8."""
    return (not _without_3x3.get() and depth_multiplier == 1 and filter_hw == (3, 3)
            and (output_width >= DEPTHWISE_3X3_MIN_OUTPUT_WIDTH or channels % 4 != 0)
            and window.stride_height in (1, 2) and window.stride_width in (1, 2)
            and window.dilation_height == window.dilation_width == 1)


def depthwise_geometry_fallback(channels: int, depth_multiplier: int, filter_height: int,
                                window: _Window) -> str | None:
    """Why te_depthwise_conv2d_ch4_s8 cannot take this geometry, or None when it can."""
    if depth_multiplier != 1:
        return f"depth multiplier {depth_multiplier} (the fast kernel takes 1)"
    if channels % 4:
        return f"{channels} channels, not a multiple of 4"
    if filter_height > DEPTHWISE_CH4_MAX_FILTER_HEIGHT:
        return f"filter height {filter_height}, above the fast kernel's {DEPTHWISE_CH4_MAX_FILTER_HEIGHT}"
    if not window.dilation_height == window.dilation_width == 1:
        return f"dilation {window.dilation_height}x{window.dilation_width} (the fast kernel takes 1x1)"
    return None


def _bias_data(graph: Graph, bias_index: int) -> np.ndarray | None:
    return graph.tensor(bias_index).data if bias_index >= 0 else None


def _check_bias(graph: Graph, op: Operator, bias_index: int, channels: int) -> None:
    if bias_index < 0:
        return
    bias = graph.tensor(bias_index)
    if bias.dtype != "int32" or bias.size != channels:
        raise UnsupportedOpError(f"{graph.describe(op)}: bias '{bias.name}' must be int32 with {channels} "
                                 f"values (it is {bias.dtype}{list(bias.shape)})")


def _operands(graph: Graph, op: Operator) -> tuple[int, int, int, int]:
    if len(op.inputs) not in (2, 3) or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected input, filter, optional bias and one output")
    input_index, filter_index = op.inputs[0], op.inputs[1]
    bias_index = op.inputs[2] if len(op.inputs) == 3 else -1
    require_int8(graph, op, input_index, filter_index, op.outputs[0])
    if not graph.tensor(filter_index).is_constant:
        raise UnsupportedOpError(f"{graph.describe(op)}: the filter must be a constant tensor")
    return input_index, filter_index, bias_index, op.outputs[0]


@lowering("CONV_2D", activations=("int8", "int16"))
def lower_conv2d(graph: Graph, op: Operator) -> KernelCall:
    if op.inputs and graph.tensor(op.inputs[0]).dtype == "int16":  # 16x8 mode
        from tinyedge.ops._mac_16x8 import lower_conv2d_16x8
        return lower_conv2d_16x8(graph, op, requested_fallback())
    input_index, filter_index, bias_index, output_index = _operands(graph, op)
    input_, filter_, output = graph.tensor(input_index), graph.tensor(filter_index), graph.tensor(output_index)
    batches, in_h, in_w, in_c = nhwc(input_.shape)
    out_c, filter_h, filter_w, filter_in_c = nhwc(filter_.shape)
    _, out_h, out_w, output_depth = nhwc(output.shape)
    if output_depth != out_c or filter_in_c < 1 or in_c % filter_in_c or out_c % (in_c // filter_in_c):
        raise UnsupportedOpError(f"{graph.describe(op)}: filter {list(filter_.shape)} does not fit input "
                                 f"{list(input_.shape)} and output {list(output.shape)}")
    _check_bias(graph, op, bias_index, out_c)
    groups = in_c // filter_in_c
    window = _window(graph, op, (in_h, in_w), (filter_h, filter_w))
    requant = _requantization(graph, op, input_, filter_, output, out_c)
    macs = batches * out_h * out_w * out_c * filter_h * filter_w * filter_in_c
    function = conv2d_variant((filter_h, filter_w), groups, window)
    fallback = requested_fallback() or (f"{groups} groups (the fast kernels take 1)" if groups != 1 else None)
    if function != CONV2D_REFERENCE:
        assert filter_.data is not None
        weights = filter_.data.reshape(out_c, -1)
        folded = fold_input_offset(_bias_data(graph, bias_index), weights, requant.input_offset)
        fast = requant.fast(folded, weights, MAT_MULT_UNIT)
        packed, quant = pack_rows(weights), fast.with_bias(folded)
        copied = conv2d_constants_bytes(packed.size, quant.size, batches * out_h * out_w)
        geometry: dict[str, ParamValue] = {
            "batches": batches, "input_height": in_h, "input_width": in_w, "input_depth": in_c,
            "filter_height": filter_h, "filter_width": filter_w,
            "output_height": out_h, "output_width": out_w, "output_depth": out_c,
            **window.params(), "input_offset": requant.input_offset,
            "activation_min": requant.activation_min, "activation_max": requant.activation_max,
            "constants_bytes": copied,
        }
        # te_conv2d_1x1_s8 widens each pixel before writing the output pixel it gives: with
        # stride 1 and no more output than input channels, the output may overwrite the input.
        if function == CONV2D_1X1:
            shift = 0 if window.stride_height == window.stride_width == 1 and out_c <= in_c else None
        else:
            shift = im2col_in_place_shift(batches, (in_h, in_w, in_c), (out_h, out_w, out_c),
                                          (filter_h, filter_w), window)
        return KernelCall(
            function=function, header=f"{function}.h",
            params_type=f"te_conv2d_{function.removeprefix('te_conv2d_').removesuffix('_s8')}_params",
            params={field: geometry[field] for field in PARAM_FIELDS[function]},
            args=(TensorArg(input_index), ConstArg("filter", "int8_t", packed), ConstArg("quant", "int32_t", quant),
                  ScratchArg(conv2d_scratch_bytes(function, weights.shape[1], MAT_MULT_COLUMNS, copied), "int16_t"),
                  TensorArg(output_index)),
            macs=macs, in_place_shift=shift,
        )
    params: dict[str, ParamValue] = {
        "batches": batches, "input_height": in_h, "input_width": in_w, "input_depth": in_c,
        "filter_height": filter_h, "filter_width": filter_w, "filter_input_depth": filter_in_c,
        "filters_per_group": out_c // groups,
        "output_height": out_h, "output_width": out_w, "output_depth": out_c,
        **window.params(), **requant.reference_params(),
    }
    return KernelCall(
        function=CONV2D_REFERENCE, header="te_conv2d_s8.h", params_type="te_conv2d_params", params=params,
        args=(TensorArg(input_index), TensorArg(filter_index), TensorArg(bias_index), TensorArg(output_index)),
        macs=macs, constants=requant.reference_constants(), fallback=fallback,
    )


@lowering("DEPTHWISE_CONV_2D", activations=("int8", "int16"))
def lower_depthwise_conv2d(graph: Graph, op: Operator) -> KernelCall:
    if op.inputs and graph.tensor(op.inputs[0]).dtype == "int16":  # 16x8 mode
        from tinyedge.ops._mac_16x8 import lower_depthwise_conv2d_16x8
        return lower_depthwise_conv2d_16x8(graph, op, requested_fallback())
    input_index, filter_index, bias_index, output_index = _operands(graph, op)
    input_, filter_, output = graph.tensor(input_index), graph.tensor(filter_index), graph.tensor(output_index)
    batches, in_h, in_w, in_c = nhwc(input_.shape)
    one, filter_h, filter_w, out_c = nhwc(filter_.shape)
    _, out_h, out_w, output_depth = nhwc(output.shape)
    multiplier = int(op.options.get("depthMultiplier", 1))
    # The reference kernel loops over the depth_multiplier option; one that disagrees
    # with the shapes would read past the filter, so it is refused here.
    if one != 1 or output_depth != out_c or multiplier < 1 or out_c != in_c * multiplier:
        raise UnsupportedOpError(f"{graph.describe(op)}: filter {list(filter_.shape)} and depth multiplier "
                                 f"{multiplier} do not fit input {list(input_.shape)} and output "
                                 f"{list(output.shape)}")
    _check_bias(graph, op, bias_index, out_c)
    window = _window(graph, op, (in_h, in_w), (filter_h, filter_w))
    requant = _requantization(graph, op, input_, filter_, output, out_c)
    macs = batches * out_h * out_w * out_c * filter_h * filter_w
    fallback = requested_fallback() or depthwise_geometry_fallback(out_c, multiplier, filter_h, window)
    function = depthwise_variant(out_c, multiplier, filter_h, window, filter_w, out_w)
    if function == DEPTHWISE_3X3:
        assert filter_.data is not None
        taps = filter_.data.reshape(9, out_c)
        folded = fold_input_offset(_bias_data(graph, bias_index), taps.T, requant.input_offset)
        fast = requant.fast(folded, taps.T, 1)
        params_3x3: dict[str, ParamValue] = {
            "batches": batches, "input_height": in_h, "input_width": in_w, "depth": out_c,
            "output_height": out_h, "output_width": out_w,
            "stride_height": window.stride_height, "stride_width": window.stride_width,
            "pad_height": window.pad_height, "pad_width": window.pad_width,
            "input_offset": requant.input_offset,
            "activation_min": requant.activation_min, "activation_max": requant.activation_max,
        }
        packed = pack_depthwise_3x3(taps, folded, fast)
        params_3x3["constants_words"] = copied = depthwise_constants_words(packed)
        # As te_depthwise_conv2d_ch4_s8: the rows an output row needs are widened before it is
        # written, and they end past it, so an output as large as the input may overwrite it.
        return KernelCall(
            function=DEPTHWISE_3X3, header=f"{DEPTHWISE_3X3}.h", params_type="te_depthwise_conv2d_3x3_params",
            params=params_3x3,
            args=(TensorArg(input_index), ConstArg("packed", "int32_t", packed),
                  ScratchArg(depthwise_3x3_scratch_bytes(out_w, window.stride_width, out_c, copied), "int16_t"),
                  TensorArg(output_index)),
            macs=macs, in_place=input_.shape == output.shape,
        )
    if function == DEPTHWISE_CH4:
        assert filter_.data is not None
        taps = filter_.data.reshape(filter_h * filter_w, out_c)
        folded = fold_input_offset(_bias_data(graph, bias_index), taps.T, requant.input_offset)
        fast = requant.fast(folded, taps.T, DEPTHWISE_CH4_UNIT)
        span_width = (out_w - 1) * window.stride_width + filter_w
        params: dict[str, ParamValue] = {
            "batches": batches, "input_height": in_h, "input_width": in_w, "depth": out_c,
            "filter_height": filter_h, "filter_width": filter_w, "output_height": out_h, "output_width": out_w,
            "stride_height": window.stride_height, "stride_width": window.stride_width,
            "pad_height": window.pad_height, "pad_width": window.pad_width,
            "input_offset": requant.input_offset,
            "activation_min": requant.activation_min, "activation_max": requant.activation_max,
        }
        packed = pack_depthwise(taps, folded, fast)
        params["constants_words"] = copied = depthwise_constants_words(packed)
        # The kernel widens the input rows an output row needs before writing that row, and
        # those rows end past it: an output as large as the input may overwrite it.
        return KernelCall(
            function=DEPTHWISE_CH4, header=f"{DEPTHWISE_CH4}.h", params_type="te_depthwise_conv2d_ch4_params",
            params=params,
            args=(TensorArg(input_index), ConstArg("packed", "int32_t", packed),
                  ScratchArg(depthwise_scratch_bytes(filter_h, span_width, out_c, copied), "int16_t"),
                  TensorArg(output_index)),
            macs=macs, in_place=input_.shape == output.shape,
        )
    params = {
        "batches": batches, "input_height": in_h, "input_width": in_w, "input_depth": in_c,
        "depth_multiplier": multiplier, "filter_height": filter_h, "filter_width": filter_w,
        "output_height": out_h, "output_width": out_w, "output_depth": out_c,
        **window.params(), **requant.reference_params(),
    }
    return KernelCall(
        function=DEPTHWISE_REFERENCE, header="te_depthwise_conv2d_s8.h",
        params_type="te_depthwise_conv2d_params", params=params,
        args=(TensorArg(input_index), TensorArg(filter_index), TensorArg(bias_index), TensorArg(output_index)),
        macs=macs, constants=requant.reference_constants(), fallback=fallback,
    )
