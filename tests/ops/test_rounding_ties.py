"""Requantization on exact rounding ties and at the int32 limits, byte for byte against TFLite-Micro.

Random inputs with a converter's scales almost never put acc * multiplier exactly on a half,
so a wrong rounding nudge passed the other op tests. Here the scales are edited so that the
multipliers are powers of two (2^30 with small right shifts: every odd accumulator is a tie
of the rounding doubling high multiply, every accumulator = 2^(e-1) mod 2^e a tie of the
rounding divide), and biases sit near the int32 limits with shifts up to 31 and a multiplier
of 2^31 - 2^7. The inputs include the zero point everywhere (the accumulator is then the bias
exactly), small values around it (outputs stay inside int8, where a tie shows) and extremes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import keras
import numpy as np
import pytest
from tflite_edits import edited, only_operator, set_data, set_quantization

from tinyedge.ops._quant import per_channel_multipliers
from tinyedge.ops.conv import reference_kernels

L = keras.layers
S_IN, ZP_IN = 2.0**-4, 3
S_OUT, ZP_OUT = 2.0**-3, -2
INT32_MAX, INT32_MIN = 2**31 - 1, -(2**31)


@dataclass(frozen=True)
class Channel:
    """One output channel: its scale ratio input * filter / output, weights in [-weight_max, weight_max], bias."""

    ratio: float
    weight_max: int
    bias: int | None = None  # None: small random biases


# Channels of the plain reference kernels (te_conv2d_s8, te_depthwise_conv2d_s8, te_fully_connected_s8).
REFERENCE_CHANNELS = (
    Channel(2.0**-1, 2),  # multiplier 2^30, no shift: every odd accumulator is a tie of the high multiply
    Channel(2.0**-3, 6),  # 2^30 and a right shift of 2: ties of the rounding divide
    Channel(3 * 2.0**-4, 3),  # 3 * 2^29: ties at accumulators = 2 mod 4
    Channel(2.0**-7, 60),
    Channel(1.5, 1),  # a left shift before the multiply
    Channel(2.0**-26, 2, bias=63 * 2**25),  # accumulators near INT32_MAX; the bias alone is a tie (31.5)
    Channel(2.0**-26, 2, bias=-63 * 2**25),
    Channel(2.0**-32, 0, bias=INT32_MIN),  # right shift 31, -0.5 exactly
    Channel(2.0**-32, 0, bias=INT32_MAX),
    Channel((1 - 2.0**-24) * 2.0**-17, 127, bias=-(2**23)),  # multiplier 2^31 - 2^7
)

# Channels the fast variants accept (te_conv2d_im2col_s8, te_depthwise_conv2d_ch4_s8,
# te_fully_connected_packed_s8): right shifts 1..22 and accumulators below 2^30.
FAST_CHANNELS = (
    Channel(2.0**-2, 2),
    Channel(2.0**-3, 6),
    Channel(3 * 2.0**-4, 3),
    Channel(2.0**-7, 60),
    Channel(2.0**-23, 2, bias=127 * 2**22),  # right shift 22, the bias alone a tie (63.5)
    Channel(2.0**-23, 2, bias=-127 * 2**22),
    Channel((1 - 2.0**-24) * 2.0**-17, 127, bias=-(2**23)),
    Channel(2.0**-2, 2, bias=-1),
)

REFERENCE_FUNCTIONS = {"te_conv2d_s8", "te_depthwise_conv2d_s8", "te_fully_connected_s8"}


@dataclass(frozen=True)
class Weighted:
    build: Callable[[int], keras.Model]  # channels -> model
    axis: int  # the filter's per-channel dimension


def _sequential(input_shape: tuple[int, ...], layer: keras.layers.Layer) -> keras.Model:
    return keras.Sequential([keras.Input(input_shape, batch_size=1), layer])


# Biases of ones: a converter drops an all-zero bias, and the design needs one.
WEIGHTED = {
    "CONV_2D": Weighted(lambda c: _sequential((5, 5, 2), L.Conv2D(c, 2, bias_initializer="ones")), 0),
    "DEPTHWISE_CONV_2D": Weighted(lambda c: _sequential((5, 5, c), L.DepthwiseConv2D(2, bias_initializer="ones")), 3),
    "FULLY_CONNECTED": Weighted(lambda c: _sequential((8,), L.Dense(c, bias_initializer="ones")), 0),
}


def tie_samples(parts: list[tuple[int, int]], seed: int = 0) -> list[bytes]:
    """Inputs for tensors of (size, zero point): the zero point everywhere, values near it, anything, extremes."""
    rng = np.random.default_rng(seed)

    def sample(make: Callable[[int, int], np.ndarray]) -> bytes:
        return b"".join(np.clip(make(size, zp), -128, 127).astype(np.int8).tobytes() for size, zp in parts)

    samples = [sample(lambda size, zp: np.full(size, zp))]
    samples += [sample(lambda size, zp: zp + rng.integers(-9, 10, size)) for _ in range(3)]
    samples += [sample(lambda size, zp: rng.integers(-128, 128, size)) for _ in range(2)]
    samples += [sample(lambda size, zp: np.full(size, -128)), sample(lambda size, zp: np.full(size, 127))]
    return samples


def retuned_weighted(flatbuffer: bytes, opcode: str, channels: tuple[Channel, ...], axis: int) -> bytes:
    """The op's input, filter, bias and output quantization and data replaced by the channel design."""
    rng = np.random.default_rng(5)

    def edit(model) -> None:
        op = only_operator(model, opcode)
        source, weights, bias, output = (*op.inputs[:3], op.outputs[0])
        tensors = model.subgraphs[0].tensors
        filter_scales = [c.ratio * S_OUT / S_IN for c in channels]
        values = np.moveaxis(np.zeros(tuple(tensors[weights].shape), dtype=np.int8), axis, 0)
        for i, c in enumerate(channels):
            values[i] = rng.integers(-c.weight_max, c.weight_max + 1, values[i].shape)
        biases = np.array([rng.integers(-50, 51) if c.bias is None else c.bias for c in channels], dtype=np.int32)
        set_quantization(model, source, [S_IN], [ZP_IN])
        set_quantization(model, weights, filter_scales, [0] * len(channels), axis)
        set_data(model, weights, np.ascontiguousarray(np.moveaxis(values, 0, axis)))
        set_quantization(model, bias, [S_IN * s for s in filter_scales], [0] * len(channels))
        set_data(model, bias, biases)
        set_quantization(model, output, [S_OUT], [ZP_OUT])

    return edited(flatbuffer, edit)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(0)


@pytest.fixture(params=["reference", "fast"])
def kernels(request) -> Iterator[str]:
    if request.param == "reference":
        with reference_kernels():
            yield request.param
    else:
        yield request.param


def test_the_designed_ratios_give_the_multipliers_meant():
    multipliers, shifts = per_channel_multipliers(S_IN, tuple(c.ratio * S_OUT / S_IN for c in REFERENCE_CHANNELS),
                                                  S_OUT, len(REFERENCE_CHANNELS))
    assert multipliers.tolist()[:2] == [2**30, 2**30] and shifts.tolist()[:2] == [0, -2]
    assert (multipliers[4], shifts[4]) == (3 * 2**29, 1)
    assert (multipliers[7], shifts[7]) == (2**30, -31)
    assert (multipliers[9], shifts[9]) == (2**31 - 2**7, -17)


@pytest.mark.parametrize("opcode", list(WEIGHTED))
def test_weighted_op_rounds_ties_and_int32_limits_like_tflite_micro(opcode, kernels, tmp_path, quantize_for_test,
                                                                    assert_tflite_bit_exact):
    channels = REFERENCE_CHANNELS if kernels == "reference" else FAST_CHANNELS
    design = WEIGHTED[opcode]
    keras_model = design.build(len(channels))
    flatbuffer = quantize_for_test(keras_model, tmp_path / "model.tflite").read_bytes()
    size = int(np.prod(keras_model.inputs[0].shape[1:]))
    result = assert_tflite_bit_exact(retuned_weighted(flatbuffer, opcode, channels, design.axis),
                                     tie_samples([(size, ZP_IN)]))
    (call,) = [c for op, c in zip(result.model.graph.operators, result.model.calls) if op.opcode == opcode]
    assert (call.function in REFERENCE_FUNCTIONS) == (kernels == "reference"), call.function


def _retuned_io(flatbuffer: bytes, opcode: str, inputs: list[tuple[float, int]], output: tuple[float, int]) -> bytes:
    def edit(model) -> None:
        op = only_operator(model, opcode)
        for index, (scale, zero_point) in zip(op.inputs, inputs):
            set_quantization(model, index, [scale], [zero_point])
        set_quantization(model, op.outputs[0], [output[0]], [output[1]])

    return edited(flatbuffer, edit)


@pytest.mark.parametrize("scales", [
    (2.0**-4, 2.0**-4, 2.0**-3),  # output multiplier 2^30, right shift 19: the sum's odd values are ties
    (2.0**-4, 2.0**-5, 2.0**-2),
    # input 2 right-shifted by 20 to half a unit, output multiplier 2^30 with no shift: with input 1 at
    # its zero point both roundings land on ties
    (2.0**-4, 2.0**-24, 2.0**-22),
    (2.0**-4, 3 * 2.0**-6, 2.0**-21),  # input 2 multiplier 3 * 2^29, output 2^30 with right shift 1
])
def test_add_rounds_ties_like_tflite_micro(scales, tmp_path, quantize_for_test, assert_tflite_bit_exact):
    x, y = keras.Input((4, 4, 2), batch_size=1), keras.Input((4, 4, 2), batch_size=1)
    flatbuffer = quantize_for_test(keras.Model([x, y], L.Add()([x, y])), tmp_path / "model.tflite").read_bytes()
    zero_points = (ZP_IN, -5)
    retuned = _retuned_io(flatbuffer, "ADD", list(zip(scales[:2], zero_points)), (scales[2], ZP_OUT))
    samples = tie_samples([(32, zero_points[0]), (32, zero_points[1])])
    rng = np.random.default_rng(1)
    samples += [np.full(32, zero_points[0], np.int8).tobytes() + rng.integers(-128, 128, 32, np.int8).tobytes()
                for _ in range(2)]
    assert_tflite_bit_exact(retuned, samples)


@pytest.mark.parametrize(("hw", "ratio"), [
    ((1, 2), 1.0),  # a mean of two: multiplier 2^30, no shift
    ((2, 2), 1.0),
    ((2, 2), 0.5),  # right shift 2
    ((2, 4), 2.0**-20),
    ((3, 3), 1.0),  # the count 9 folded into the multiplier
])
def test_mean_rounds_ties_like_tflite_micro(hw, ratio, tmp_path, quantize_for_test, assert_tflite_bit_exact):
    x = keras.Input((*hw, 4), batch_size=1)
    flatbuffer = quantize_for_test(keras.Model(x, L.GlobalAveragePooling2D()(x)), tmp_path / "m.tflite").read_bytes()
    retuned = _retuned_io(flatbuffer, "MEAN", [(S_IN, ZP_IN)], (S_IN / ratio, ZP_OUT))
    assert_tflite_bit_exact(retuned, tie_samples([(hw[0] * hw[1] * 4, ZP_IN)]))


def test_average_pooling_rounds_ties_like_tflite_micro(tmp_path, quantize_for_test, assert_tflite_bit_exact):
    # windows of 4, 2 and 1 values (SAME padding at the edges): sums = count / 2 mod count are ties
    x = keras.Input((5, 5, 3), batch_size=1)
    model = keras.Model(x, L.AveragePooling2D(2, padding="same")(x))
    flatbuffer = quantize_for_test(model, tmp_path / "model.tflite").read_bytes()
    retuned = _retuned_io(flatbuffer, "AVERAGE_POOL_2D", [(S_IN, ZP_IN)], (S_IN, ZP_IN))
    samples = tie_samples([(75, ZP_IN)])
    samples += [np.resize(np.array([1, 2, -1, -2, 3, -3], np.int8), 75).tobytes()]  # odd and even sums, both signs
    assert_tflite_bit_exact(retuned, samples)


@pytest.mark.parametrize(("alpha", "ratio"), [
    (0.5, 1.0),  # negative side: multiplier 2^30, no shift, odd inputs are ties
    (0.25, 1.0),  # negative side: a right shift of 1
    (0.5, 0.5),  # both sides on ties
    (0.5, 2.0**-6),
])
def test_leaky_relu_rounds_ties_like_tflite_micro(alpha, ratio, tmp_path, quantize_for_test,
                                                  assert_tflite_bit_exact):
    x = keras.Input((4, 8), batch_size=1)
    model = keras.Model(x, L.LeakyReLU(negative_slope=alpha)(x))
    flatbuffer = quantize_for_test(model, tmp_path / "model.tflite").read_bytes()
    retuned = _retuned_io(flatbuffer, "LEAKY_RELU", [(S_IN, ZP_IN)], (S_IN / ratio, ZP_OUT))
    assert_tflite_bit_exact(retuned, tie_samples([(32, ZP_IN)]))


@pytest.mark.parametrize("scale", [2.0**-6, 2.0**-5])
def test_quantize_requantizes_ties_like_tflite_micro(scale, tmp_path, quantize_for_test, assert_tflite_bit_exact):
    # input -> TANH (output 1/128) -> QUANTIZE to `scale` -> CONCATENATION with the input: the
    # requantization ratio 1/128 / scale is 1/2 or 1/4, so odd (or 2 mod 4) tanh outputs are ties.
    x = keras.Input((16,), batch_size=1)
    model = keras.Model(x, L.Concatenate()([x, L.Activation("tanh")(x)]))
    flatbuffer = quantize_for_test(model, tmp_path / "model.tflite").read_bytes()

    def edit(tflite) -> None:
        quantize = only_operator(tflite, "QUANTIZE")
        concatenation = only_operator(tflite, "CONCATENATION")
        for index in {*concatenation.inputs, *concatenation.outputs, *quantize.outputs}:
            set_quantization(tflite, index, [scale], [ZP_IN])

    result = assert_tflite_bit_exact(edited(flatbuffer, edit), tie_samples([(16, ZP_IN)]))
    (call,) = [c for op, c in zip(result.model.graph.operators, result.model.calls) if op.opcode == "QUANTIZE"]
    assert call.function == "te_quantize_s8" and call.params["multiplier"] == 2**30
