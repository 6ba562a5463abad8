"""The comparisons and SELECT_V2 cross-compiled and run in the emulator: one trained model with
keras.ops.where of `a > b` and of `b >= 0.5` (GREATER, GREATER_EQUAL, SELECT_V2 with its bool
intermediates), bit-exact on nrf52840 (Cortex-M4F) and rp2040 (Cortex-M0+) as on the host."""

from __future__ import annotations

import shutil
from pathlib import Path

import keras
import pytest
from keras_training import train_briefly

from tinyedge.boards import load_board
from tinyedge.codegen import compile_graph
from tinyedge.importer import parse_tflite
from tinyedge.pipeline import build
from tinyedge.plan_check import plan_problems
from tinyedge.simulate import simulate
from tinyedge.verify import random_samples, verify

L = keras.layers
OPS = {"GREATER", "GREATER_EQUAL", "SELECT_V2"}

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")


def _model() -> keras.Model:
    x = keras.Input((12,), batch_size=1)
    a = L.Dense(8)(x)
    b = L.Dense(8, activation="relu")(x)
    # A constant for y: the converter writes SELECT_V2 (three tensors of one shape give SELECT).
    larger = L.Lambda(lambda t: keras.ops.where(t[0] > t[1], t[1], 0.25))([a, b])
    high = L.Lambda(lambda t: keras.ops.where(t >= 0.5, t, -0.5))(b)
    return keras.Model(x, L.Dense(3)(L.Concatenate()([a, larger, high])))


@pytest.fixture(scope="module")
def comparison_tflite(tmp_path_factory, quantize_for_test) -> bytes:
    keras.utils.set_random_seed(0)
    path = quantize_for_test(train_briefly(_model()), tmp_path_factory.mktemp("comparison") / "model.tflite")
    return path.read_bytes()


def test_comparison_model_holds_the_ops_and_is_bit_exact_on_the_host(comparison_tflite, assert_tflite_bit_exact):
    opcodes = {op.opcode for op in parse_tflite(comparison_tflite).operators}
    assert OPS <= opcodes, OPS - opcodes
    model = assert_tflite_bit_exact(comparison_tflite).model
    assert not plan_problems(model.graph, model.calls, model.plan)


@pytest.mark.parametrize("board", ["nrf52840", "rp2040"])
def test_comparison_model_on_m4_and_m0plus(tmp_path: Path, comparison_tflite, board):
    model = compile_graph(parse_tflite(comparison_tflite, name="model"))
    firmware = build(model, board, tmp_path / board)
    inputs = random_samples(model, 2, seed=7)
    sim = simulate(firmware.elf, load_board(board), inputs)
    result = verify(comparison_tflite, model, inputs, list(sim.outputs))
    assert result.bit_exact, f"not bit-exact on {board}: {result.first_mismatch}"
