"""The optimized DEPTHWISE_CONV_2D kernel, te_depthwise_conv2d_ch4_s8: which layers choose it,
the same bytes as TFLite-Micro on the host (the portable C path; the Cortex-M4 path is in
test_kernels_m4.py), the reference kernel elsewhere, and its packed constants. The 3x3 stride-1/2
layers it shares with te_depthwise_conv2d_3x3_s8 (test_depthwise_3x3.py) are lowered here as
without that variant."""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np
import pytest
from tflite_edits import with_output_scale

from tinyedge.ops.conv import (
    DEPTHWISE_CH4,
    DEPTHWISE_REFERENCE,
    FastRequantization,
    pack_depthwise,
    without_depthwise_3x3,
)

BIAS = keras.initializers.RandomUniform(-0.3, 0.3, seed=9)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(0)


@pytest.fixture(autouse=True)
def _ch4_for_3x3() -> Iterator[None]:
    with without_depthwise_3x3():
        yield


def depthwise_model(input_shape: tuple[int, int, int], kernel: int | tuple[int, int], **conv: object):
    inputs = keras.Input(input_shape, batch_size=1)
    conv.setdefault("bias_initializer", BIAS)
    return keras.Model(inputs, keras.layers.DepthwiseConv2D(kernel, **conv)(inputs))


def kernels(result) -> list[str]:
    return [layer.function for layer in result.model.layers]


def test_depthwise3x3_same_stride1_widens_each_row_once(assert_bit_exact):
    result = assert_bit_exact(depthwise_model((7, 6, 8), 3, padding="same", activation="relu"))
    assert kernels(result) == [DEPTHWISE_CH4]


@pytest.mark.parametrize("kernel", [3, 5, (1, 3)])
def test_depthwise_same_padding_stride1_runs_in_place(assert_bit_exact, kernel):
    # The output overwrites the input rows the ring of widened rows no longer needs.
    inputs = keras.Input((7, 6, 4), batch_size=1)
    x = keras.layers.Conv2D(8, 1, bias_initializer=BIAS)(inputs)
    x = keras.layers.DepthwiseConv2D(kernel, padding="same", activation="relu", bias_initializer=BIAS)(x)
    outputs = keras.layers.Conv2D(4, 1, bias_initializer=BIAS)(x)
    result = assert_bit_exact(keras.Model(inputs, outputs))
    assert kernels(result)[1] == DEPTHWISE_CH4
    assert 1 in result.model.plan.in_place


@pytest.mark.parametrize("input_hw", [(7, 8), (8, 7)])
def test_depthwise3x3_stride2_same_padding_odd_and_even_sizes(assert_bit_exact, input_hw):
    result = assert_bit_exact(depthwise_model((*input_hw, 4), 3, strides=2, padding="same"))
    assert kernels(result) == [DEPTHWISE_CH4]


def test_depthwise5x5_valid_takes_the_general_tap_loop(assert_bit_exact):
    result = assert_bit_exact(depthwise_model((8, 9, 12), 5, padding="valid"))
    assert kernels(result) == [DEPTHWISE_CH4]


def test_depthwise_non_square_filter(assert_bit_exact):
    result = assert_bit_exact(depthwise_model((9, 6, 8), (3, 1), padding="same"))
    assert kernels(result) == [DEPTHWISE_CH4]


def test_depthwise_stride_taller_than_filter_skips_rows(assert_bit_exact):
    result = assert_bit_exact(depthwise_model((11, 7, 4), 2, strides=3, padding="valid"))
    assert kernels(result) == [DEPTHWISE_CH4]


def test_depthwise_without_bias(assert_bit_exact):
    result = assert_bit_exact(depthwise_model((5, 5, 8), 3, padding="same", use_bias=False))
    assert kernels(result) == [DEPTHWISE_CH4]


def test_depthwise_narrow_clamp_relu_n1_to_1(assert_bit_exact):
    inputs = keras.Input((6, 6, 8), batch_size=1)
    x = keras.layers.DepthwiseConv2D(3, padding="same", bias_initializer=BIAS)(inputs)
    outputs = keras.layers.Lambda(lambda t: keras.ops.clip(t, -1.0, 1.0))(x)
    result = assert_bit_exact(keras.Model(inputs, outputs))
    assert kernels(result) == [DEPTHWISE_CH4]


@pytest.mark.parametrize(("input_shape", "options"), [
    ((6, 6, 4), {"depth_multiplier": 2}),
    ((6, 6, 6), {}),  # channels not a multiple of 4
    ((9, 9, 4), {"dilation_rate": 2}),
    ((12, 5, 4), {"kernel_size": (9, 1)}),  # taller than the kernel's row table
])
def test_depthwise_layers_the_variant_does_not_cover_keep_the_reference(assert_bit_exact, input_shape, options):
    kernel = options.pop("kernel_size", 3)
    result = assert_bit_exact(depthwise_model(input_shape, kernel, padding="same", **options))
    assert kernels(result) == [DEPTHWISE_REFERENCE]


@pytest.mark.parametrize("kernel", [3, 5])
def test_depthwise_left_shifting_requantization_keeps_the_fast_kernel(tmp_path, quantize_for_test,
                                                                      assert_tflite_bit_exact, kernel):
    # Every group general (te_nn_requantize inside the kernel): 3x3 leaves the hand-scheduled block.
    tflite = quantize_for_test(depthwise_model((5, 5, 8), kernel, padding="same"), tmp_path / "dw.tflite")
    result = assert_tflite_bit_exact(with_output_scale(tflite.read_bytes(), 1 / 4096))
    assert kernels(result) == [DEPTHWISE_CH4]
    (call,) = result.model.calls
    assert call.fallback is None


def test_pack_depthwise_groups_bias_taps_and_requantization():
    taps = np.array([[1, 2, 3, 4], [-5, -6, -7, -8]], dtype=np.int8)  # 2 taps of 4 channels
    fast = FastRequantization(np.array([11, 12, 13, 14]), np.array([21, 22, 23, 24]), np.array([1, 2, 3, 4]))
    packed = pack_depthwise(taps, np.array([100, 101, 102, 103]), fast)
    words = packed.view(np.uint32)
    lanes = [((int(w) & 0xFFFF) - ((int(w) & 0x8000) << 1), (int(w) >> 16) - ((int(w) >> 31) << 16))
             for w in words[4:8]]
    assert packed[:4].tolist() == [100, 101, 102, 103]
    assert lanes == [(1, 3), (2, 4), (-5, -7), (-6, -8)]  # per tap: channels (0, 2), (1, 3)
    assert packed[8:20].tolist() == [11, 21, 1, 12, 22, 2, 13, 23, 3, 14, 24, 4]
    assert packed[20:].tolist() == [4]  # the general list: no general group, then the depth
