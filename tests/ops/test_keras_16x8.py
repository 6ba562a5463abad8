"""A Keras model trained a few epochs and converted by TensorFlow in 16x8 mode (int16 activations and
interface, int8 weights) through the element-wise and data-movement ops' int16 kernels: ZeroPadding,
Cropping, LeakyReLU, Add, Subtract, Multiply, Concatenate, Maximum, both poolings, a mean. Bit-exact vs
tflite_micro on the host and on nrf52840 in the built-in emulator."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from test_mac_ops_16x8 import convert_16x8

from tinyedge.boards import load_board
from tinyedge.codegen import compile_graph
from tinyedge.host import run_host
from tinyedge.importer import parse_tflite
from tinyedge.pipeline import build
from tinyedge.simulate import simulate
from tinyedge.verify import random_samples, verify

# The ops this model must reach, each on an int16 kernel (conv and dense are the MAC engineer's s16 kernels).
EXPECTED_OPS = {"PAD", "STRIDED_SLICE", "LEAKY_RELU", "ADD", "SUB", "MUL", "CONCATENATION", "MAXIMUM",
                "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN"}


@pytest.fixture(scope="module")
def trained_16x8(tmp_path_factory) -> bytes:
    import keras
    from keras_training import train_briefly

    layers = keras.layers
    keras.utils.set_random_seed(3)
    x = keras.Input((10, 10, 3), batch_size=1)
    a = layers.Conv2D(6, 3, padding="same")(layers.ZeroPadding2D(((1, 0), (2, 1)))(x))  # 11 x 13
    a = layers.LeakyReLU(negative_slope=0.2)(layers.Cropping2D(((1, 0), (2, 1)))(a))  # 10 x 10
    b = layers.Conv2D(6, 1)(x)
    s = layers.Add()([a, b])
    d = layers.Subtract()([a, b])
    m = layers.Multiply()([s, layers.Conv2D(6, 1, activation="relu")(x)])
    y = layers.Concatenate()([layers.MaxPooling2D(2)(s), layers.AveragePooling2D(2)(layers.Maximum()([d, m]))])
    y = layers.LeakyReLU(negative_slope=0.1)(y)
    model = train_briefly(keras.Model(x, layers.Dense(4)(layers.GlobalAveragePooling2D()(y))), epochs=4)
    calibration = np.random.default_rng(4).uniform(-1, 1, (32, 10, 10, 3)).astype(np.float32)
    return convert_16x8(model, tmp_path_factory.mktemp("keras16"), calibration)


@pytest.mark.parametrize("board", ["host", "nrf52840"])
def test_a_trained_16x8_model_of_elementwise_and_data_movement_ops_runs_bit_exact(trained_16x8, tmp_path, board):
    if board != "host" and shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    graph = parse_tflite(trained_16x8, name="model")
    model = compile_graph(graph)
    calls = {op.opcode: call.function for op, call in zip(graph.operators, model.calls)}
    assert EXPECTED_OPS <= set(calls), sorted(calls)
    assert all(calls[op] in ("te_strided_slice_s8", "te_concatenation_s8") or calls[op].endswith("_s16")
               for op in EXPECTED_OPS), calls
    assert {t.dtype for t in model.inputs + model.outputs} == {"int16"}
    firmware = build(model, board, tmp_path / board)
    inputs = random_samples(model, 3, seed=11)
    outputs = (run_host(firmware.elf, inputs, model.output_bytes) if board == "host"
               else list(simulate(firmware.elf, load_board(board), inputs).outputs))
    result = verify(trained_16x8, model, inputs, outputs)
    assert result.bit_exact, f"not bit-exact on {board}: {result.first_mismatch}"
