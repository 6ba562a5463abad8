"""One trained Keras model with the element-wise unary ops, reductions and resize of this
group (ELU mended from a Conv2D activation, RESIZE_BILINEAR, PRELU, REDUCE_MAX, REDUCE_MIN,
ABS, SUM, RSQRT, L2_NORMALIZATION, LOG_SOFTMAX), built for nrf52840 (Cortex-M4) and rp2040
(Cortex-M0+), run in the built-in emulator: the same bytes as TFLite-Micro."""

from __future__ import annotations

import shutil
from pathlib import Path

import keras
import pytest
import tensorflow as tf
from keras_training import train_briefly

from tinyedge.boards import load_board
from tinyedge.codegen import compile_graph
from tinyedge.importer import parse_tflite
from tinyedge.pipeline import build
from tinyedge.simulate import simulate
from tinyedge.verify import random_samples, verify

L = keras.layers
OPS = {"ELU", "RESIZE_BILINEAR", "PRELU", "REDUCE_MAX", "REDUCE_MIN", "ABS", "SUM", "RSQRT", "L2_NORMALIZATION",
       "LOG_SOFTMAX"}

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")


def unary_and_reduction_model() -> keras.Model:
    x = keras.Input((8, 8, 2), batch_size=1)
    features = L.Conv2D(4, 3, padding="same", activation="elu")(x)
    features = L.PReLU(shared_axes=[1, 2])(L.Resizing(10, 10, interpolation="bilinear")(features))
    largest = L.GlobalMaxPooling2D()(features)
    smallest = L.Lambda(lambda t: keras.ops.min(t, axis=[1, 2]))(features)
    total = L.Lambda(lambda t: keras.ops.sum(keras.ops.abs(t), axis=[1, 2]))(features)
    hidden = L.Dense(8)(L.Concatenate()([largest, smallest, total]))
    hidden = L.Lambda(lambda t: keras.ops.rsqrt(t * t + 1.0) * t)(hidden)
    embedding = L.Lambda(lambda t: tf.math.l2_normalize(t, axis=-1))(hidden)
    return keras.Model(x, L.Lambda(lambda t: keras.ops.log_softmax(t))(L.Dense(5)(embedding)))


@pytest.fixture(scope="module")
def flatbuffer(tmp_path_factory, quantize_for_test) -> bytes:
    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("unary") / "model.tflite"
    return quantize_for_test(train_briefly(unary_and_reduction_model()), path).read_bytes()


@pytest.mark.parametrize("board", ["nrf52840", "rp2040"])
def test_trained_unary_and_reduction_model_in_the_emulator(tmp_path: Path, flatbuffer, board):
    model = compile_graph(parse_tflite(flatbuffer, name="model"))
    assert OPS <= {layer.opcode for layer in model.layers}, sorted({layer.opcode for layer in model.layers})
    firmware = build(model, board, tmp_path / board)
    inputs = random_samples(model, 3, seed=7)
    sim = simulate(firmware.elf, load_board(board), inputs)
    result = verify(flatbuffer, model, inputs, list(sim.outputs))
    assert result.bit_exact, f"not bit-exact on {board}: {result.first_mismatch}"
