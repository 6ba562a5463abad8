"""The optimized CONV_2D kernels, te_conv2d_1x1_s8 and te_conv2d_im2col_s8: which shapes
choose them, the same bytes as TFLite-Micro (here on the host, the portable C path; the
Cortex-M4 DSP path is in test_kernels_m4.py), and the reference kernel where a layer falls
outside their range. Also the constants the lowering prepares for them."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from tflite_edits import with_output_scale

from tinyedge.ops import ConstArg
from tinyedge.ops.conv import (
    CONV2D_1X1,
    CONV2D_IM2COL,
    CONV2D_REFERENCE,
    fast_requantization,
    fold_input_offset,
    pack_rows,
    reference_kernels,
)

BIAS = keras.initializers.RandomUniform(-0.3, 0.3, seed=5)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(0)


def conv_model(input_shape: tuple[int, int, int], filters: int, kernel: int | tuple[int, int], **conv: object):
    inputs = keras.Input(input_shape, batch_size=1)
    conv.setdefault("bias_initializer", BIAS)
    return keras.Model(inputs, keras.layers.Conv2D(filters, kernel, **conv)(inputs))


def kernels(result) -> list[str]:
    return [layer.function for layer in result.model.layers]


# -- te_conv2d_1x1_s8 ---------------------------------------------------------------------

def test_pointwise_conv_multiplies_pixel_pairs_by_channel_pairs(assert_bit_exact):
    result = assert_bit_exact(conv_model((6, 6, 16), 32, 1, activation="relu"))
    assert kernels(result) == [CONV2D_1X1]


def test_pointwise_conv_odd_pixels_odd_channels_depth_not_a_multiple_of_4(assert_bit_exact):
    # 15 pixels: the last goes alone; 7 channels: the last row is unpaired; 6 input channels
    # leave a zero-padded half group.
    result = assert_bit_exact(conv_model((5, 3, 6), 7, 1), samples=6)
    assert kernels(result) == [CONV2D_1X1]


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_pointwise_conv_stride2_skips_pixels_and_rows(assert_bit_exact, padding):
    result = assert_bit_exact(conv_model((9, 7, 8), 12, 1, strides=2, padding=padding))
    assert kernels(result) == [CONV2D_1X1]
    assert result.model.graph.output_tensors()[0].shape == (1, 5, 4, 12)


def test_pointwise_conv_without_bias_folds_the_input_offset_alone(assert_bit_exact):
    result = assert_bit_exact(conv_model((4, 4, 8), 6, 1, use_bias=False))
    assert kernels(result) == [CONV2D_1X1]


def test_pointwise_conv_narrow_clamp_relu_n1_to_1(assert_bit_exact):
    inputs = keras.Input((5, 5, 8), batch_size=1)
    x = keras.layers.Conv2D(6, 1, bias_initializer=BIAS)(inputs)
    outputs = keras.layers.Lambda(lambda t: keras.ops.clip(t, -1.0, 1.0))(x)
    result = assert_bit_exact(keras.Model(inputs, outputs))
    assert kernels(result) == [CONV2D_1X1]
    (call,) = result.model.calls
    assert (call.params["activation_min"], call.params["activation_max"]) != (-128, 127)


def test_pointwise_conv_as_wide_as_its_input_runs_in_place(assert_bit_exact):
    inputs = keras.Input((5, 6, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", bias_initializer=BIAS)(inputs)
    x = keras.layers.Conv2D(8, 1, activation="relu", bias_initializer=BIAS)(x)  # 30 pixels of 8 over 8
    outputs = keras.layers.Conv2D(4, 1, bias_initializer=BIAS)(x)
    result = assert_bit_exact(keras.Model(inputs, outputs))
    assert kernels(result) == [CONV2D_IM2COL, CONV2D_1X1, CONV2D_1X1]
    assert 1 in result.model.plan.in_place


# -- te_conv2d_im2col_s8 -----------------------------------------------------------------

def test_conv3x3_same_padding_depth_multiple_of_4_widens_taps_directly(assert_bit_exact):
    result = assert_bit_exact(conv_model((6, 7, 8), 10, 3, padding="same", activation="relu"))
    assert kernels(result) == [CONV2D_IM2COL]


def test_conv3x3_rgb_input_stride2_gathers_int8_windows(assert_bit_exact):
    # depth 27 per window: gathered as bytes, widened with a zero-padded last group
    result = assert_bit_exact(conv_model((9, 8, 3), 8, 3, strides=2, padding="same"))
    assert kernels(result) == [CONV2D_IM2COL]


def test_conv_single_channel_tall_filter_stride2_like_keyword_spotting(assert_bit_exact):
    result = assert_bit_exact(conv_model((13, 6, 1), 16, (5, 3), strides=2, padding="same"))
    assert kernels(result) == [CONV2D_IM2COL]


@pytest.mark.parametrize("depth", [4, 3])
def test_conv_dilation2_pads_tap_by_tap(assert_bit_exact, depth):
    result = assert_bit_exact(conv_model((9, 9, depth), 5, 3, dilation_rate=2, padding="same"))
    assert kernels(result) == [CONV2D_IM2COL]


def test_conv_valid_padding_non_square_filter_odd_pixels_odd_channels(assert_bit_exact):
    result = assert_bit_exact(conv_model((7, 6, 5), 3, (3, 2), padding="valid"), samples=6)
    assert kernels(result) == [CONV2D_IM2COL]
    assert result.model.graph.output_tensors()[0].shape == (1, 5, 5, 3)


def test_conv_narrow_clamp_relu_n1_to_1(assert_bit_exact):
    inputs = keras.Input((6, 6, 4), batch_size=1)
    x = keras.layers.Conv2D(4, 3, padding="same", bias_initializer=BIAS)(inputs)
    outputs = keras.layers.Lambda(lambda t: keras.ops.clip(t, -1.0, 1.0))(x)
    result = assert_bit_exact(keras.Model(inputs, outputs))
    assert kernels(result) == [CONV2D_IM2COL]


def test_stacked_convs_each_choose_their_variant(assert_bit_exact):
    inputs = keras.Input((8, 8, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", bias_initializer=BIAS)(inputs)
    x = keras.layers.Conv2D(16, 1, activation="relu", bias_initializer=BIAS)(x)
    outputs = keras.layers.Conv2D(4, 3, groups=4, bias_initializer=BIAS)(x)
    result = assert_bit_exact(keras.Model(inputs, outputs))
    assert kernels(result) == [CONV2D_IM2COL, CONV2D_1X1, CONV2D_REFERENCE]


# -- where the reference kernel stays ------------------------------------------------------

def test_grouped_conv_keeps_the_reference_kernel(assert_bit_exact):
    result = assert_bit_exact(conv_model((6, 6, 4), 6, 3, groups=2))
    assert kernels(result) == [CONV2D_REFERENCE]


@pytest.mark.parametrize(("kernel", "padding", "variant"), [(1, "valid", CONV2D_1X1), (3, "same", CONV2D_IM2COL)])
def test_left_shifting_channels_keep_the_fast_kernel_with_the_reference_requantization(
        tmp_path, quantize_for_test, assert_tflite_bit_exact, kernel, padding, variant):
    # An output scale 1/4096 of the calibrated one gives multipliers with a left shift, outside
    # te_nn_requantize_rounding's range: every channel pair is general (te_nn_requantize) inside
    # the fast kernel, still exact.
    tflite = quantize_for_test(conv_model((5, 5, 4), 5, kernel, padding=padding), tmp_path / "conv.tflite")
    result = assert_tflite_bit_exact(with_output_scale(tflite.read_bytes(), 1 / 4096))
    assert kernels(result) == [variant]
    (call,) = result.model.calls
    assert call.fallback is None
    # the general list after 5 channels' constants: pairs 0 and 2, the odd last channel 4, the count
    assert const_arg(call, "quant")[4 * 5:].tolist() == [0, 2, 4, 5]


def const_arg(call, name: str) -> np.ndarray:
    return next(arg.values for arg in call.args if isinstance(arg, ConstArg) and arg.name == name)


def test_reference_kernels_context_lowers_to_the_plain_kernel(assert_bit_exact):
    with reference_kernels():
        result = assert_bit_exact(conv_model((5, 5, 8), 6, 1))
    assert kernels(result) == [CONV2D_REFERENCE]


# -- constants prepared by the lowering ----------------------------------------------------

def test_pack_rows_interleaves_channel_pairs_word_by_word_with_zero_padding():
    weights = np.arange(1, 16, dtype=np.int8).reshape(3, 5)  # 3 channels of depth 5
    packed = pack_rows(weights)
    assert packed.tolist() == [1, 2, 3, 4, 6, 7, 8, 9,  # row 0 word 0, row 1 word 0
                               5, 0, 0, 0, 10, 0, 0, 0,  # row 0 word 1, row 1 word 1 (padded)
                               11, 12, 13, 14, 15, 0, 0, 0]  # the odd last row alone


def test_fold_input_offset_adds_offset_times_row_sums_exactly():
    weights = np.array([[127, 127, -128], [-1, 2, 3]], dtype=np.int8)
    folded = fold_input_offset(np.array([2**30, -5], dtype=np.int32), weights, 128)
    assert folded.tolist() == [2**30 + 128 * 126, -5 + 128 * 4]
    assert fold_input_offset(None, weights, -3).tolist() == [-3 * 126, -3 * 4]


def test_fast_requantization_rounding_form_inside_its_range_and_general_units_outside():
    weights = np.ones((2, 8), dtype=np.int8)
    bias = np.zeros(2, dtype=np.int64)
    fast = fast_requantization(np.array([1 << 30, 0]), np.array([-5, 0]), -3, bias, weights, 2)
    # right shift 5: rounding 2^4 - 3 * 2^5; a zero multiplier gets shift 1 and gives the offset
    assert fast.shift.tolist() == [5, 1] and fast.rounding.tolist() == [16 - 96, 1 - 6]
    assert fast.general_units == () and fast.general_list().tolist() == [2]
    unity = np.array([1 << 30] * 5)
    weights5, bias5 = np.ones((5, 8), dtype=np.int8), np.zeros(5, dtype=np.int64)
    for shifts, general in [([-5, -5, 0, -5, -5], (2,)),  # right shift 0: pair (2, 3)
                            ([-5, 2, -5, -5, -5], (0,)),  # a left shift: pair (0, 1)
                            ([-5, -5, -5, -5, -23], (4,)),  # right shift 23: the odd last channel
                            ([-30, -5, -5, -5, -5], (0,))]:
        fast = fast_requantization(unity, np.array(shifts), 7, bias5, weights5, 2)
        assert fast.general_units == general, shifts
        # a general channel keeps (multiplier, output offset, TFLite's shift) for te_nn_requantize
        for c in range(general[0], min(general[0] + 2, 5)):
            assert (fast.multiplier[c], fast.rounding[c], fast.shift[c]) == (1 << 30, 7, shifts[c])
    near_limit = np.array([2**30 - 128 * 8, 0])
    assert fast_requantization(unity[:2], np.array([-5, -5]), 0, near_limit, weights, 1).general_units == (0,)
    assert fast_requantization(unity[:2], np.array([-5, -5]), 0, near_limit - 1, weights, 1).general_units == ()
    assert fast_requantization(unity, np.array([-5, -5, -5, -5, 3]), 0, bias5, weights5, 4).general_units == (4,)
    # all-zero weights: a constant output, 0 + 7 here (1000 / 2^31 rounds to 0), in the rounding form
    # (a zero multiplier, rounding 2 * 7 + 1, shift 1) whatever the shift and bias
    dead = weights5.copy()
    dead[1] = 0
    fast = fast_requantization(unity, np.array([-5, -30, -5, -5, -5]), 7, np.full(5, 1000), dead, 2)
    assert fast.general_units == ()
    assert (fast.multiplier[1], fast.rounding[1], fast.shift[1]) == (0, 15, 1)
    # a bias of -2^31 would make it general, were its weights not zero: -2^31 / 2 + 7, held at -129
    fast = fast_requantization(unity, np.array([-5, -1, 0, -5, -5]), 7, np.array([0, -2**31, 0, 0, 0]), dead, 2)
    assert fast.general_units == (2,) and (fast.multiplier[1], fast.rounding[1]) == (0, 2 * -129 + 1)
    assert fast_requantization(unity, np.array([-5, -5, 3, -5, -5]), 0, bias5, weights5, 4).general_units == (0,)


# -- convolutions writing over their input (KernelCall.in_place_shift) -------------------------

def always_overlapping(monkeypatch) -> None:
    """Plan every model with the convolutions writing over their inputs, even where not smaller."""
    from tinyedge import plan

    monkeypatch.setattr("tinyedge.codegen.plan_memory",
                        lambda graph, calls, *_goal_and_lean: plan._plan(graph, calls, True))


@pytest.mark.parametrize("conv", [
    dict(filters=8, kernel_size=3, padding="same"),
    dict(filters=16, kernel_size=3, padding="same"),  # more output than input channels
    dict(filters=4, kernel_size=3, strides=2, padding="same"),
    dict(filters=8, kernel_size=(3, 5), strides=(1, 2), padding="valid"),
    dict(filters=8, kernel_size=3, dilation_rate=2, padding="same"),
    dict(filters=6, kernel_size=5, padding="same"),
])
def test_im2col_writing_over_its_input_gives_the_same_bytes(assert_bit_exact, monkeypatch, conv):
    always_overlapping(monkeypatch)
    x = keras.Input((9, 10, 8), batch_size=1)
    hidden = keras.layers.Conv2D(8, 1, activation="relu")(x)  # in the arena, dies at the next conv
    y = keras.layers.Conv2D(bias_initializer=BIAS, **conv)(hidden)
    result = assert_bit_exact(keras.Model(x, keras.layers.Flatten()(y)), samples=3)
    assert kernels(result)[1] == CONV2D_IM2COL and 1 in result.model.plan.in_place


def test_a_residual_block_keeps_two_tensors_alive_instead_of_three(assert_bit_exact):
    x = keras.Input((16, 16, 8), batch_size=1)
    stem = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    y = keras.layers.Conv2D(16, 3, padding="same", activation="relu", bias_initializer=BIAS)(stem)
    z = keras.layers.Conv2D(16, 3, padding="same", bias_initializer=BIAS)(y)
    out = keras.layers.ReLU()(keras.layers.Add()([stem, z]))
    result = assert_bit_exact(keras.Model(x, keras.layers.GlobalAveragePooling2D()(out)), samples=3)
    tensor = 16 * 16 * 16
    # stem stays alive for the add; the second conv's output overwrites the first one's
    assert 2 in result.model.plan.in_place
    assert result.model.plan.arena_bytes < 3 * tensor


@pytest.mark.parametrize("kernel", [1, 3])
def test_a_single_output_channel_packs_and_runs_bit_exact(assert_bit_exact, kernel):
    # One channel: no channel pair to interleave (pack_rows once failed on the empty pair block).
    inputs = keras.Input((6, 6, 5), batch_size=1)
    result = assert_bit_exact(keras.Model(inputs, keras.layers.Conv2D(1, kernel, padding="same")(inputs)))
    assert result.model.layers[0].function in (CONV2D_1X1, CONV2D_IM2COL)
