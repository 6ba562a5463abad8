"""te_conv2d_1x1_s8 and te_conv2d_im2col_s8 on the Cortex-M4 DSP path with trained weights: the
three-pixel block (te_nn_mat_mult3_s8, te_nn_dsp.h) for layers with the whole int8 clamp, an even
channel count and no general channel, every groups % 4 its prologue takes, pixel counts that leave
0, 1 and 2 pixels to the two-pixel path, stride 2, a window gathered as int8, and writing over its
input; layers it does not take (an odd channel count, channels with extreme scales) on the two-pixel
path beside it (a narrow clamp: test_kernels_m4.py). Built for nrf52840 and run in the built-in emulator, the same bytes
as TFLite-Micro (the host's plain C path: test_conv_fast.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from board_run import run_bit_exact
from keras_training import train_briefly
from test_conv_fast import always_overlapping

from tinyedge.codegen import CompiledModel
from tinyedge.ops import ConstArg, KernelCall
from tinyedge.ops.conv import CONV2D_1X1, CONV2D_IM2COL

BOARD = "nrf52840"
layers = keras.layers

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(0)


@pytest.fixture
def run_on_board(tmp_path: Path, quantize_for_test):
    """Quantize, build for a board, emulate on seeded inputs, assert the bytes equal tflite_micro's."""

    def run(model: keras.Model, board: str = BOARD, samples: int = 3) -> CompiledModel:
        flatbuffer = quantize_for_test(model, tmp_path / "model.tflite").read_bytes()
        return run_bit_exact(flatbuffer, board, tmp_path, samples).model

    return run


def three_pixel_block(call: KernelCall) -> bool:
    """te_nn_mat_mult3_takes on a DSP core: the whole int8 clamp, an even channel count, no general unit."""
    depth = int(call.params["output_depth"])
    quant = next(arg.values for arg in call.args if isinstance(arg, ConstArg) and arg.name == "quant")
    return ((call.params["activation_min"], call.params["activation_max"]) == (-128, 127) and depth % 2 == 0
            and list(quant[4 * depth:]) == [depth])


def pointwise_model() -> keras.Model:
    """1x1 layers over 35 pixels (11 blocks of three, two left), 12 (none left) and 4 (one left), depths
    of 2, 4, 3, 5 and 5 groups (groups % 4 = 2, 0, 3, 1, 1), stride 2, then an odd channel count on the
    two-pixel path."""
    x = keras.Input((7, 5, 8), batch_size=1)
    y = layers.Conv2D(16, 1, activation="relu")(x)
    y = layers.Conv2D(12, 1, activation="relu")(y)
    y = layers.Conv2D(20, 1, strides=2, activation="relu")(y)  # 4x3
    y = layers.Conv2D(18, 1, activation="relu")(y)
    y = layers.Conv2D(24, 1, strides=2, activation="relu")(y)  # 2x2
    outputs = layers.Conv2D(7, 1, activation="relu")(y)  # odd: two pixels at a time
    return train_briefly(keras.Model(x, outputs), epochs=3)


def test_trained_pointwise_convs_three_pixels_at_a_time(run_on_board):
    compiled = run_on_board(pointwise_model())
    calls = [call for call in compiled.calls if call.function == CONV2D_1X1]
    assert [three_pixel_block(call) for call in calls] == [True] * 5 + [False]


def test_trained_im2col_convs_three_pixels_at_a_time(run_on_board):
    # a keyword-spotting first layer (a 10x4 single-channel window gathered as int8, 10 groups, stride 2),
    # 3x3 same padding (depth 36: 9 groups), stride 2 (72: 18 groups), a 5x3 valid window; 20, 12 and 3 pixels
    x = keras.Input((13, 8, 1), batch_size=1)
    y = layers.Conv2D(8, (10, 4), strides=2, padding="same", activation="relu")(x)  # 7x4
    y = layers.Conv2D(8, 3, padding="same", activation="relu")(layers.Reshape((4, 7, 8))(y))
    y = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(y)  # 2x4
    y = layers.Conv2D(10, (2, 2), padding="valid", activation="relu")(y)  # 1x3
    model = train_briefly(keras.Model(x, layers.Flatten()(y)), epochs=3)
    compiled = run_on_board(model)
    calls = [call for call in compiled.calls if call.function == CONV2D_IM2COL]
    assert len(calls) == 4 and all(three_pixel_block(call) for call in calls)


def test_extreme_scale_channels_leave_their_layer_on_the_two_pixel_path(run_on_board):
    # A channel decayed to 1e-7 of its filter (a right shift past 22) and one LOUD: general units;
    # the layer beside them with an all-zero channel stays on the three-pixel block.
    x = keras.Input((6, 5, 12), batch_size=1)
    y = layers.Conv2D(16, 1, activation="relu", name="general")(x)
    y = layers.Conv2D(14, 3, padding="same", activation="relu", name="dead")(y)
    model = train_briefly(keras.Model(x, layers.Flatten()(y)), epochs=3)
    kernel, bias = model.get_layer("general").get_weights()
    kernel[..., 3] *= 1e-7
    kernel[..., 10] *= 3000.0
    bias[10] = -20 * np.abs(kernel[..., 10]).sum()
    model.get_layer("general").set_weights([kernel, bias])
    kernel, bias = model.get_layer("dead").get_weights()
    kernel[..., 5] = 0
    model.get_layer("dead").set_weights([kernel, bias])
    compiled = run_on_board(model)
    convs = [call for call in compiled.calls if call.function in (CONV2D_1X1, CONV2D_IM2COL)]
    assert [(call.function, three_pixel_block(call)) for call in convs] == [(CONV2D_1X1, False), (CONV2D_IM2COL, True)]


def test_im2col_writing_over_its_input_three_pixels_at_a_time(run_on_board, monkeypatch):
    always_overlapping(monkeypatch)
    x = keras.Input((7, 9, 8), batch_size=1)
    hidden = layers.Conv2D(8, 1, activation="relu")(x)  # in the arena, dies at the next conv
    y = layers.Conv2D(16, 3, padding="same", activation="relu")(hidden)  # more output than input channels
    y = layers.Conv2D(8, (3, 5), strides=(1, 2), padding="valid", activation="relu")(y)
    compiled = run_on_board(train_briefly(keras.Model(x, layers.Flatten()(y)), epochs=2))
    assert {1, 2} <= set(compiled.plan.in_place)
    assert [call.function for call in compiled.calls[1:3]] == [CONV2D_IM2COL] * 2
    assert three_pixel_block(compiled.calls[1])  # the last layer's clamp and shifts vary with the training


@pytest.mark.parametrize("board", ["rp2040", "stm32f746g-disco"])
def test_trained_convs_on_the_other_cores(run_on_board, board):
    # rp2040 keeps the plain C path, two pixels at a time; the Cortex-M7 takes the DSP path as the M4
    x = keras.Input((5, 7, 6), batch_size=1)
    y = layers.Conv2D(12, 3, padding="same", activation="relu")(x)
    y = layers.Conv2D(16, 1, activation="relu")(y)
    run_on_board(train_briefly(keras.Model(x, layers.Flatten()(y)), epochs=2), board=board)
