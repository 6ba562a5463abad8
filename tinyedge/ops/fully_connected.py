"""FULLY_CONNECTED: int8 matrix-vector products, per-channel or per-tensor weights.

Parameters follow TFLite-Micro's CalculateOpDataFullyConnected (fully_connected_common.cc):

- per-channel weights (one scale per output, what TensorFlow 2.x converters write): one
  (multiplier, shift) per output channel from input_scale * filter_scale / output_scale,
  all in double;
- per-tensor weights (older converters): a single (multiplier, shift), the filter zero
  point applied as an offset, and the bias scale checked against input_scale * filter_scale
  (GetQuantizedConvolutionMultipler). TFLite's source takes that product in float32, but
  the tflite_micro build this project checks against matches the double product and not
  the float32 one (measured on accumulators where the two round differently), so the
  product is taken in double here too.

The input may have any rank: rows = output elements / output depth (FlatSizeSkipDim of
the output), accum_depth = the filter's last dimension. keepNumDims changes only the
output tensor's shape, not the arithmetic.

`fully_connected_variant` chooses the kernel: te_fully_connected_s8 (the reference
arithmetic), or te_fully_connected_packed_s8, which gives the same bytes faster: weights packed
four output channels at a time and split (pack_split_quads: one SXTB16 per weight word instead of
two, against a scratch row of twice the input's length, where split_pays_its_scratch lets the
layer take it), the input offset folded into
the bias and the output offset into the rounding, as tinyedge.ops.conv prepares the
convolution variants' constants (channels outside that rounding's range keep the reference
requantization inside the kernel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import ConstArg, KernelCall, ParamValue, ScratchArg, TensorArg, lowering
from tinyedge.ops._mac_shapes import check_bias_scale, fully_connected_dims
from tinyedge.ops._quant import (
    activation_range,
    fused_activation,
    per_channel_multipliers,
    require_int8,
)
from tinyedge.ops.conv import (
    INPUT_ABS_MAX,
    depth4,
    fast_requantization,
    fold_input_offset,
    requested_fallback,
    variants_enabled,
)


def _per_tensor_multiplier(graph: Graph, op: Operator, input_: Tensor, filter_: Tensor, bias: Tensor | None,
                           output: Tensor) -> tuple[int, int]:
    check_bias_scale(graph, op, input_, filter_, bias, output)
    multipliers, shifts = per_channel_multipliers(input_.scale, filter_.quant.scale, output.scale, 1)
    return int(multipliers[0]), int(shifts[0])


FULLY_CONNECTED_REFERENCE = "te_fully_connected_s8"
FULLY_CONNECTED_PACKED = "te_fully_connected_packed_s8"
FULLY_CONNECTED_PACKED_UNIT = 4  # channels per unit of general requantization (te_nn_dsp.h)


def fully_connected_variant(filter_offset: int) -> str:
    """The kernel for a FULLY_CONNECTED layer.

    te_fully_connected_packed_s8 has no filter offset: per-tensor weights with a zero point
    keep the reference.
    """
    return FULLY_CONNECTED_PACKED if variants_enabled() and filter_offset == 0 else FULLY_CONNECTED_REFERENCE


def fully_connected_scratch_bytes(accum_depth: int) -> int:
    """TE_FULLY_CONNECTED_PACKED_SCRATCH_BYTES: the split input row."""
    return 2 * depth4(accum_depth)


def pack_quads(weights: np.ndarray) -> np.ndarray:
    """Weights [channels, depth] as te_fully_connected_packed_s8 reads them: rows zero-padded to
    whole words, four rows at a time interleaved word by word, then the last channels % 4 rows."""
    channels, depth = weights.shape
    padded = np.zeros((channels, depth4(depth)), dtype=np.int8)
    padded[:, :depth] = weights
    whole = channels // 4 * 4
    quads = padded[:whole].reshape(whole // 4, 4, depth4(depth) // 4, 4).transpose(0, 2, 1, 3)
    return np.concatenate([quads.reshape(-1), padded[whole:].reshape(-1)])


# te_fully_connected_packed_s8's split rows: 256 times a row's sum must stay an int32.
SPLIT_SUM_LIMIT = 1 << 23
SPLIT_INPUT_OFFSET = 127  # xa = x1 - 127 keeps xb = 256 x0 - xa an int16


@dataclass(frozen=True)
class SplitQuads:
    """te_fully_connected_packed_s8's weights (header: 'Split weights'), the bias correction of each
    channel (127 * the sum of its odd weights in a split quad, else 0) and the plain list."""

    packed: np.ndarray
    bias_correction: np.ndarray
    plain_quads: tuple[int, ...]
    split_quads: int  # how many quads are split: none, and the kernel needs no scratch

    def plain_list(self, channels: int) -> np.ndarray:
        return np.array([*self.plain_quads, channels], dtype=np.int32)


def split_pays_its_scratch(accum_depth: int, live_bytes: int) -> bool:
    """Whether the split layout may take its scratch row: at most the bytes the layer already holds
    live (its input and output), so the faster layout never more than doubles the layer's part of
    the arena. A wide input feeding a narrow output (an autoencoder's first layer: 640 in, 128 out)
    would otherwise set the whole arena's peak with its scratch (768 -> 2,048 B there); such a layer
    keeps every quad plain and needs no scratch."""
    return fully_connected_scratch_bytes(accum_depth) <= live_bytes


def splittable_rows(weights: np.ndarray) -> np.ndarray:
    """Per row of [channels, depth] weights, whether its split sum stays exact: 128 * sum |even| +
    255 * sum |odd| below 2^23, and no odd weight -128 beside a negative even one (256 b1 + b0 is
    then no int16)."""
    channels, depth = weights.shape
    padded = np.zeros((channels, depth4(depth)), dtype=np.int64)
    padded[:, :depth] = weights
    even, odd = padded[:, 0::2], padded[:, 1::2]
    bound = (INPUT_ABS_MAX * np.abs(even).sum(axis=1)
             + (INPUT_ABS_MAX + SPLIT_INPUT_OFFSET) * np.abs(odd).sum(axis=1))
    return (bound < SPLIT_SUM_LIMIT) & ~((odd == -128) & (even < 0)).any(axis=1)


def pack_split_quads(weights: np.ndarray, allowed: bool = True) -> SplitQuads:
    """pack_quads' layout, each quad whose four rows are splittable (splittable_rows) split: every
    weight pair (b0, b1) stored as the int16 256 b1 + b0, little-endian. Not `allowed`: all plain."""
    channels, depth = weights.shape
    whole = channels // 4 * 4
    split = np.zeros(channels, dtype=bool)
    if allowed:
        split[:whole] = np.repeat(splittable_rows(weights[:whole]).reshape(-1, 4).all(axis=1), 4)
    padded = np.zeros((channels, depth4(depth)), dtype=np.int64)
    padded[:, :depth] = weights
    pairs = (256 * padded[:, 1::2] + padded[:, 0::2]) & 0xFFFF
    halves = np.stack([pairs & 0xFF, pairs >> 8], axis=2).reshape(channels, -1)
    stored = np.where(split[:, None], halves, padded & 0xFF).astype(np.uint8).view(np.int8)
    correction = np.where(split, SPLIT_INPUT_OFFSET * padded[:, 1::2].sum(axis=1), 0)
    plain = tuple(c for c in range(0, whole, 4) if not split[c])
    return SplitQuads(pack_quads(stored), correction, plain, whole // 4 - len(plain))


@lowering("FULLY_CONNECTED", activations=("int8", "int16"))
def lower_fully_connected(graph: Graph, op: Operator) -> KernelCall:
    if op.inputs and graph.tensor(op.inputs[0]).dtype == "int16":  # 16x8 mode
        from tinyedge.ops._mac_16x8 import lower_fully_connected_16x8
        return lower_fully_connected_16x8(graph, op, requested_fallback())
    if len(op.inputs) not in (2, 3) or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected input, weights, optional bias and one output")
    input_index, filter_index, output_index = op.inputs[0], op.inputs[1], op.outputs[0]
    bias_index = op.inputs[2] if len(op.inputs) == 3 else -1
    require_int8(graph, op, input_index, filter_index, output_index)
    input_, filter_, output = graph.tensor(input_index), graph.tensor(filter_index), graph.tensor(output_index)
    if not filter_.is_constant:
        raise UnsupportedOpError(f"{graph.describe(op)}: the weights must be a constant tensor")
    accum_depth, output_depth, rows = fully_connected_dims(graph, op, input_, filter_, output)

    bias = graph.tensor(bias_index) if bias_index >= 0 else None
    if bias is not None and (bias.dtype != "int32" or bias.size != output_depth):
        raise UnsupportedOpError(f"{graph.describe(op)}: bias '{bias.name}' must be int32 with {output_depth} "
                                 f"values (it is {bias.dtype}{list(bias.shape)})")

    per_channel = filter_.quant.per_channel
    if per_channel:
        if len(filter_.quant.scale) != filter_.shape[filter_.quant.axis]:
            raise UnsupportedOpError(f"{graph.describe(op)}: weights '{filter_.name}' have "
                                     f"{len(filter_.quant.scale)} scales along dimension {filter_.quant.axis} "
                                     f"of shape {list(filter_.shape)}")
        multipliers, shifts = per_channel_multipliers(input_.scale, filter_.quant.scale, output.scale,
                                                      len(filter_.quant.scale))
        filter_offset = 0  # the per-channel reference kernel ignores the weights' zero point
    else:
        multiplier, shift = _per_tensor_multiplier(graph, op, input_, filter_, bias, output)
        multipliers, shifts = np.array([multiplier], dtype=np.int32), np.array([shift], dtype=np.int32)
        filter_offset = -filter_.zero_point

    act_min, act_max = activation_range(fused_activation(op), output)
    macs = rows * output_depth * accum_depth
    fallback = requested_fallback() or (f"weights zero point {filter_.zero_point} (the fast kernel takes 0)"
                                        if filter_offset else None)
    if fully_connected_variant(filter_offset) == FULLY_CONNECTED_PACKED:
        assert filter_.data is not None
        weights = filter_.data.reshape(-1, accum_depth)[:output_depth]
        folded = fold_input_offset(bias.data if bias is not None else None, weights, -input_.zero_point)
        fast = fast_requantization(np.resize(multipliers, output_depth), np.resize(shifts, output_depth),
                                   output.zero_point, folded, weights, FULLY_CONNECTED_PACKED_UNIT)
        split = pack_split_quads(weights, split_pays_its_scratch(accum_depth, input_.nbytes + output.nbytes))
        quant = np.concatenate([fast.with_bias(folded + split.bias_correction), split.plain_list(output_depth)])
        scratch = fully_connected_scratch_bytes(accum_depth) if split.split_quads else 0
        return KernelCall(
            function=FULLY_CONNECTED_PACKED, header=f"{FULLY_CONNECTED_PACKED}.h",
            params_type="te_fully_connected_packed_params",
            params={"rows": rows, "accum_depth": accum_depth, "output_depth": output_depth,
                    "activation_min": act_min, "activation_max": act_max},
            args=(TensorArg(input_index), ConstArg("filter", "int8_t", split.packed),
                  ConstArg("quant", "int32_t", quant),
                  ScratchArg(scratch, "int16_t"), TensorArg(output_index)),
            macs=macs,
        )
    params: dict[str, ParamValue] = {
        "rows": rows, "accum_depth": accum_depth, "output_depth": output_depth,
        "input_offset": -input_.zero_point, "filter_offset": filter_offset, "output_offset": output.zero_point,
        "activation_min": act_min, "activation_max": act_max,
        "per_channel": int(per_channel), "output_multiplier": "@multiplier", "output_shift": "@shift",
    }
    return KernelCall(
        function=FULLY_CONNECTED_REFERENCE, header="te_fully_connected_s8.h",
        params_type="te_fully_connected_params", params=params,
        args=(TensorArg(input_index), TensorArg(filter_index), TensorArg(bias_index), TensorArg(output_index)),
        macs=macs, fallback=fallback,
        constants=(ConstArg("multiplier", "int32_t", multipliers), ConstArg("shift", "int32_t", shifts)),
    )
