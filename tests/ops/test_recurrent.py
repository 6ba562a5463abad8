"""Recurrent Keras layers (LSTM, GRU, SimpleRNN, Bidirectional), built as users build them
(unroll=False), trained briefly and compiled bit-exact: tinyedge unrolls them for export
(tinyedge.quantize._recurrent_unrolled, docs/recurrent.md).

Each model is trained and quantized once per module; the host build checks it against tflite_micro
byte for byte, and one LSTM goes through the whole `tinyedge compile` path for nrf52840 in the emulator.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import pytest
from keras_training import train_briefly

from tinyedge.importer import parse_tflite
from tinyedge.pipeline import compile_model
from tinyedge.quantize import quantize_keras_model

L = keras.layers
STEPS, FEATURES = 8, 4

RECURRENT: dict[str, Callable[[], keras.layers.Layer]] = {
    "lstm": lambda: L.LSTM(8),
    "gru": lambda: L.GRU(8),
    "simple_rnn": lambda: L.SimpleRNN(8),
    "bidirectional_lstm": lambda: L.Bidirectional(L.LSTM(6)),
    # The backward sequence is reversed back: REVERSE_V2.
    "bidirectional_gru_sequences": lambda: L.Bidirectional(L.GRU(4, return_sequences=True)),
}


def recurrent_model(kind: str) -> keras.Model:
    """[1, 8, 4] sequence -> the recurrent layer (default unroll=False) -> Dense(3), trained 3 epochs."""
    x = keras.Input((STEPS, FEATURES), batch_size=1)
    features = RECURRENT[kind]()(x)
    if len(features.shape) == 3:
        features = L.Flatten()(features)
    return train_briefly(keras.Model(x, L.Dense(3)(features)))


@pytest.fixture(scope="module")
def quantized(tmp_path_factory) -> Callable[[str], tuple[Path, list[str]]]:
    """kind -> (int8 .tflite, the quantize stage's log lines), converted once per module."""
    folder = tmp_path_factory.mktemp("recurrent")
    cache: dict[str, tuple[Path, list[str]]] = {}

    def get(kind: str) -> tuple[Path, list[str]]:
        if kind not in cache:
            keras.utils.set_random_seed(0)
            model = recurrent_model(kind)
            assert all(not getattr(layer, "unroll", False) for layer in model.layers)
            rng = np.random.default_rng(1)
            calibration = [rng.uniform(-1, 1, (32, STEPS, FEATURES)).astype(np.float32)]
            lines: list[str] = []
            quantize_keras_model(model, folder / f"{kind}.tflite", calibration, log=lines.append)
            assert all(not getattr(layer, "unroll", False) for layer in model.layers), "the model is left as it was"
            cache[kind] = (folder / f"{kind}.tflite", lines)
        return cache[kind]

    return get


@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_trained_recurrent_layer_compiles_bit_exact_on_the_host(kind, quantized, assert_tflite_bit_exact):
    tflite, lines = quantized(kind)
    assert any("unrolled for export" in line and f"over {STEPS} time steps" in line for line in lines), lines
    result = assert_tflite_bit_exact(tflite, samples=6)
    ops = Counter(op.opcode for op in result.model.graph.operators)
    assert ops["FULLY_CONNECTED"] >= 2 * STEPS and ops["UNPACK"] >= 1, ops
    assert not {"WHILE", "UNIDIRECTIONAL_SEQUENCE_LSTM"} & set(ops), ops


def test_unrolled_lstm_code_grows_with_the_sequence_length(quantized):
    ops = Counter(op.opcode for op in parse_tflite(quantized("lstm")[0].read_bytes()).operators)
    # One step: input and recurrent FULLY_CONNECTED, a SPLIT into the four gates.
    assert ops["FULLY_CONNECTED"] == 2 * STEPS and ops["SPLIT"] == STEPS, ops


@pytest.mark.parametrize("kind, board", [("lstm", "nrf52840"), ("gru", "rp2040")])
def test_trained_recurrent_model_saved_as_keras_compiles_bit_exact_on_a_board(tmp_path, kind, board):
    # The user's path: a .keras file with an ordinary LSTM or GRU (unroll=False), through the quantize child.
    keras.utils.set_random_seed(0)
    path = tmp_path / f"{kind}.keras"
    recurrent_model(kind).save(path)
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(2).uniform(-1, 1, (40, STEPS, FEATURES)).astype(np.float32))
    lines: list[str] = []
    result = compile_model(path, board, tmp_path / "out", calib=calib, samples=2, log=lines.append)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["verification"]["bit_exact"] is True and report["verification"]["samples"] == 2
    assert any("unrolled for export" in line and f"({kind.upper()}) over {STEPS} time steps" in line
               for line in lines), lines
    assert result.model.macs > 0 and report["simulation"]["instructions"] > result.model.macs



def test_a_recurrent_model_long_enough_for_literal_pools_runs_in_the_emulator(tmp_path):
    # LSTM(32) over 8 steps: tinyedge_model_invoke grows past the reach of one literal pool, so the
    # compiler places pools inside it; the per-layer split must read across them (it once stopped at the first).
    keras.utils.set_random_seed(0)
    x = keras.Input((STEPS, FEATURES), batch_size=1)
    model = train_briefly(keras.Model(x, L.Dense(3)(L.LSTM(32)(x))))
    calibration = [np.random.default_rng(3).uniform(-1, 1, (32, STEPS, FEATURES)).astype(np.float32)]
    tflite = quantize_keras_model(model, tmp_path / "lstm32.tflite", calibration, log=lambda line: None).tflite
    result = compile_model(tflite, "nrf52840", tmp_path / "out", samples=1, backend="builtin")
    assert result.report.verification.bit_exact
    assert len(result.report.layers) == len(result.model.layers) > 100


def test_the_weights_an_unrolled_lstm_repeats_at_every_step_are_stored_once(quantized, tmp_path):
    from tinyedge.codegen import render_model
    from tinyedge.ops import ConstArg
    from tinyedge.pipeline import compile_tflite

    model = compile_tflite(quantized("lstm")[0])
    consts = [c for call in model.calls for c in (*call.constants, *(a for a in call.args if isinstance(a, ConstArg)))]
    distinct = {(c.ctype, c.values.tobytes()) for c in consts}
    assert len(distinct) < len(consts) // 2  # the per-step copies are many
    render_model(model, tmp_path)
    source = (tmp_path / "model" / "tinyedge_model.c").read_text()
    stored = re.findall(r"static const \w+ (layer\d+_\w+)\[", source)
    assert len(stored) == len(distinct)
    assert model.weight_bytes < sum(c.values.nbytes for c in consts)
