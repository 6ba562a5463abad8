"""The data-movement ops cross-compiled and run in the emulator: one trained model that uses
UpSampling2D, Permute, Python slicing, keras.ops.slice, split, take, stack, unstack, reflection
padding, space-to-depth and depth-to-space, bit-exact on nrf52840 (Cortex-M4F) and rp2040
(Cortex-M0+) as on the host."""

from __future__ import annotations

import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras_training import train_briefly

from tinyedge.boards import load_board
from tinyedge.codegen import compile_graph
from tinyedge.importer import parse_tflite
from tinyedge.pipeline import build
from tinyedge.plan_check import plan_problems
from tinyedge.simulate import simulate
from tinyedge.verify import random_samples, verify

L = keras.layers
OPS = {"RESIZE_NEAREST_NEIGHBOR", "TRANSPOSE", "STRIDED_SLICE", "SLICE", "SPLIT_V", "GATHER", "PACK", "UNPACK",
       "MIRROR_PAD", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE"}

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")


class Rearrange(L.Layer):
    """tf.nn ops Keras has no layer for, by name."""

    def __init__(self, kind: str, **kwargs):
        super().__init__(**kwargs)
        self.kind = kind

    def call(self, x):
        if self.kind == "space_to_depth":
            return tf.nn.space_to_depth(x, 2)
        if self.kind == "depth_to_space":
            return tf.nn.depth_to_space(x, 2)
        return tf.pad(x, [[0, 0], [1, 1], [2, 1], [0, 0]], mode="REFLECT")

    def compute_output_shape(self, s):
        if self.kind == "space_to_depth":
            return (s[0], s[1] // 2, s[2] // 2, s[3] * 4)
        if self.kind == "depth_to_space":
            return (s[0], s[1] * 2, s[2] * 2, s[3] // 4)
        return (s[0], s[1] + 2, s[2] + 3, s[3])


def _model() -> keras.Model:
    x = keras.Input((8, 8, 3), batch_size=1)
    y = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = L.Conv2D(8, 1, activation="relu")(Rearrange("space_to_depth")(y))  # 4x4x32 -> 4x4x8
    y = Rearrange("reflect")(L.UpSampling2D(2)(y))  # 8x8x8 -> 10x11x8
    y = L.Permute((2, 1, 3))(y)[:, 1:9, ::2, :]  # 11x10x8 -> 8x5x8
    a, b = keras.ops.split(y, [3], axis=3)
    b = keras.ops.take(b, np.array([4, 0, 2, 2], dtype=np.int32), axis=3)
    y = keras.ops.stack([L.Conv2D(4, 1)(a), b], axis=3)  # 8x5x2x4
    y = L.Reshape((8, 5, 8))(y)
    y = Rearrange("depth_to_space")(keras.ops.slice(y, (0, 0, 1, 0), (-1, 8, 4, 8)))  # 16x8x2
    rows = keras.ops.unstack(L.Conv2D(3, 3, strides=2)(y), axis=1)
    return keras.Model(x, L.Dense(4)(L.Concatenate()([L.Flatten()(row) for row in rows])))


@pytest.fixture(scope="module")
def data_movement_tflite(tmp_path_factory, quantize_for_test) -> bytes:
    keras.utils.set_random_seed(0)
    path = quantize_for_test(train_briefly(_model()), tmp_path_factory.mktemp("data_movement") / "model.tflite")
    return path.read_bytes()


def test_every_data_movement_op_is_in_the_model(data_movement_tflite, assert_tflite_bit_exact):
    opcodes = {op.opcode for op in parse_tflite(data_movement_tflite).operators}
    assert OPS <= opcodes, OPS - opcodes
    model = assert_tflite_bit_exact(data_movement_tflite).model
    assert not plan_problems(model.graph, model.calls, model.plan)


@pytest.mark.parametrize("board", ["nrf52840", "rp2040"])
def test_data_movement_model_on_m4_and_m0plus(tmp_path: Path, data_movement_tflite, board):
    model = compile_graph(parse_tflite(data_movement_tflite, name="model"))
    firmware = build(model, board, tmp_path / board)
    inputs = random_samples(model, 2, seed=7)
    sim = simulate(firmware.elf, load_board(board), inputs)
    result = verify(data_movement_tflite, model, inputs, list(sim.outputs))
    assert result.bit_exact, f"not bit-exact on {board}: {result.first_mismatch}"
