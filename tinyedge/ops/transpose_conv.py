"""TRANSPOSE_CONV (Keras Conv2DTranspose): int8 transposed convolution, per-channel requantization.

Parameters follow TFLite-Micro's Prepare (transpose_conv.cc): the inputs are
(output_shape, filter, input, optional bias); the output_shape tensor is ignored, as
TFLite-Micro ignores it, and the output tensor's own shape is used. The padding comes from
ComputePaddingHeightWidth applied to the OUTPUT size (dilation 1); one (multiplier, shift)
per output channel from PopulateConvolutionQuantizationParams (a per-tensor filter scale is
broadcast to every channel), clamp bounds from the fused activation. Filter zero points are
ignored, as the reference kernel ignores them.

`transpose_conv_variant` chooses the kernel: te_transpose_conv_s8 (the reference scatter
into int32 sums, scratch of one output image), or te_transpose_conv_im2col_s8, which gives
the same bytes from a gather: output pixels fall into stride_height x stride_width phases,
each of which sees a fixed subset of the filter taps; per phase the lowering packs those
taps' weights (te_nn_dsp.h layout) with the input offset folded into the bias, and the
kernel multiplies each output pixel's column of input taps (taps outside the input hold
the zero point) by its phase's weights. Channels outside the packed kernels' rounding range
keep the reference requantization inside it (tinyedge.ops.conv.fast_requantization).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import ConstArg, KernelCall, ParamValue, ScratchArg, TensorArg, lowering
from tinyedge.ops._mac_shapes import (
    BIAS_INPUT,
    DATA_INPUT,
    FILTER_INPUT,
    Geometry,
    check_transpose_conv_scales,
    transpose_conv_shapes,
    transpose_conv_window,
)
from tinyedge.ops._quant import (
    activation_range,
    fused_activation,
    per_channel_multipliers,
    require_int8,
)
from tinyedge.ops.conv import (
    CONV2D_IM2COL,
    MAT_MULT_UNIT,
    conv2d_scratch_bytes,
    depth4,
    fast_requantization,
    fold_input_offset,
    pack_rows,
    requested_fallback,
    variants_enabled,
)

TRANSPOSE_CONV_REFERENCE = "te_transpose_conv_s8"
TRANSPOSE_CONV_IM2COL = "te_transpose_conv_im2col_s8"


def phase_taps(filter_size: int, stride: int) -> list[list[int]]:
    """Per phase p (output position + pad = p mod stride), the filter taps p, p + stride, ... it sees."""
    return [list(range(phase, filter_size, stride)) for phase in range(stride)]


def _pack_rows(rows: np.ndarray) -> np.ndarray:
    """pack_rows, also for no taps (an empty phase) and a single output channel (which pack_rows
    cannot reshape: it has no pair; its one row, zero-padded to whole words, is the layout)."""
    channels, depth = rows.shape
    if depth == 0:
        return np.zeros(0, dtype=np.int8)
    if channels > 1:
        return pack_rows(rows)
    padded = np.zeros((channels, depth4(depth)), dtype=np.int8)
    padded[:, :depth] = rows
    return padded.reshape(-1)


@dataclass(frozen=True)
class PackedPhases:
    """te_transpose_conv_im2col_s8's constants (its header gives the layouts)."""

    filter: np.ndarray  # int8, every phase's packed weights one after the other
    quant: np.ndarray  # int32, per phase [output_depth][4] and its general list
    phases: np.ndarray  # int32, per phase (offset in filter, offset in quant)


def pack_phases(weights: np.ndarray, geometry: Geometry, bias: np.ndarray | None, input_offset: int,
                multipliers: np.ndarray, shifts: np.ndarray, output_offset: int) -> PackedPhases:
    """The fast kernel's constants.

    Per phase (row phases outer, column phases inner): the weights of its taps, each output
    channel's row the taps in (tap row, tap column reversed) order of input_depth values, packed as
    pack_rows packs them; and per output channel (bias + input_offset * row sum, multiplier,
    rounding, shift), then the phase's general list (fast_requantization). A phase with no taps
    (stride above the filter size) gives the bias alone.
    """
    filters, quants, offsets = [], [], []
    filter_bytes = quant_values = 0
    for taps_y in phase_taps(geometry.filter_height, geometry.stride_height):
        for taps_x in phase_taps(geometry.filter_width, geometry.stride_width):
            # Taps across in reverse: the kernel reads a row of taps as input pixels left to right.
            rows = weights[:, taps_y][:, :, taps_x[::-1]].reshape(geometry.output_depth, -1)
            folded = fold_input_offset(bias, rows, input_offset)
            fast = fast_requantization(multipliers, shifts, output_offset, folded, rows, MAT_MULT_UNIT)
            packed = _pack_rows(rows)
            offsets.append((filter_bytes, quant_values))
            filters.append(packed)
            quants.append(fast.with_bias(folded).reshape(-1))
            filter_bytes += packed.size
            quant_values += quants[-1].size
    return PackedPhases(np.concatenate(filters), np.concatenate(quants), np.array(offsets, dtype=np.int32))


def transpose_conv_variant(filter_is_constant: bool) -> str:
    """The kernel for a TRANSPOSE_CONV, if pack_phases accepts its numbers."""
    return TRANSPOSE_CONV_IM2COL if variants_enabled() and filter_is_constant else TRANSPOSE_CONV_REFERENCE


def im2col_scratch_bytes(geometry: Geometry) -> int:
    """TE_TRANSPOSE_CONV_IM2COL_SCRATCH_BYTES: the convolution's im2col scratch for the deepest phase,
    and two output pixels."""
    taps = (len(phase_taps(geometry.filter_height, geometry.stride_height)[0])
            * len(phase_taps(geometry.filter_width, geometry.stride_width)[0]))
    return conv2d_scratch_bytes(CONV2D_IM2COL, taps * geometry.input_depth) + 2 * geometry.output_depth


@lowering("TRANSPOSE_CONV", activations=("int8", "int16"))
def lower_transpose_conv(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) > DATA_INPUT and graph.tensor(op.inputs[DATA_INPUT]).dtype == "int16":  # 16x8 mode
        from tinyedge.ops._mac_16x8 import lower_transpose_conv_16x8
        return lower_transpose_conv_16x8(graph, op, requested_fallback())
    if len(op.inputs) not in (3, 4) or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected output shape, filter, input, optional bias "
                                 "and one output")
    filter_index, input_index, output_index = op.inputs[FILTER_INPUT], op.inputs[DATA_INPUT], op.outputs[0]
    bias_index = op.inputs[BIAS_INPUT] if len(op.inputs) == 4 else -1
    require_int8(graph, op, input_index, filter_index, output_index)
    input_, filter_, output = graph.tensor(input_index), graph.tensor(filter_index), graph.tensor(output_index)
    shapes = transpose_conv_shapes(graph, op, input_index, filter_index, output_index)
    out_h, out_w, out_c = shapes[2]
    if bias_index >= 0:
        bias = graph.tensor(bias_index)
        if bias.dtype != "int32" or bias.size != out_c or not bias.is_constant:
            raise UnsupportedOpError(f"{graph.describe(op)}: bias '{bias.name}' must be a constant int32 tensor "
                                     f"of {out_c} values (it is {bias.dtype}{list(bias.shape)})")
    scales = check_transpose_conv_scales(graph, op, input_, filter_, output, out_c)
    geometry = transpose_conv_window(graph, op, *shapes)
    multipliers, shifts = per_channel_multipliers(input_.scale, scales, output.scale, out_c)
    act_min, act_max = activation_range(fused_activation(op), output)
    quant: dict[str, ParamValue] = {"input_offset": -input_.zero_point, "output_offset": output.zero_point,
                                    "activation_min": act_min, "activation_max": act_max}

    fallback = requested_fallback() or (None if filter_.is_constant else "the filter is not constant")
    if transpose_conv_variant(filter_.is_constant) == TRANSPOSE_CONV_IM2COL:
        assert filter_.data is not None
        packed = pack_phases(filter_.data, geometry, graph.tensor(bias_index).data if bias_index >= 0 else None,
                             -input_.zero_point, multipliers, shifts, output.zero_point)
        fast_params = {**geometry.params(), "input_offset": -input_.zero_point,
                       "activation_min": act_min, "activation_max": act_max}
        return KernelCall(
            function=TRANSPOSE_CONV_IM2COL, header=f"{TRANSPOSE_CONV_IM2COL}.h",
            params_type="te_transpose_conv_im2col_params", params=fast_params,
            args=(TensorArg(input_index), ConstArg("filter", "int8_t", packed.filter),
                  ConstArg("quant", "int32_t", packed.quant), ConstArg("phases", "int32_t", packed.phases),
                  ScratchArg(im2col_scratch_bytes(geometry), "int16_t"), TensorArg(output_index)),
            macs=geometry.macs(),
        )
    return KernelCall(
        function=TRANSPOSE_CONV_REFERENCE, header=f"{TRANSPOSE_CONV_REFERENCE}.h",
        params_type="te_transpose_conv_params",
        params={**geometry.params(), **quant, "output_multiplier": "@multiplier", "output_shift": "@shift"},
        args=(TensorArg(input_index), TensorArg(filter_index), TensorArg(bias_index),
              ScratchArg(4 * out_h * out_w * out_c, "int32_t"), TensorArg(output_index)),
        macs=geometry.macs(), fallback=fallback,
        constants=(ConstArg("multiplier", "int32_t", multipliers), ConstArg("shift", "int32_t", shifts)),
    )
