"""`--activations int16`: TensorFlow's 16x8 mode (int16 activations, int8 weights) from a Keras model, with
the int8 conversion of the same model measured beside it (the accuracy side of the trade)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyedge import cli
from tinyedge.api import compile_model
from tinyedge.errors import TinyEdgeError
from tinyedge.importer import load_tflite
from tinyedge.model_kind import INT8, INT16X8, classify
from tinyedge.quantize import quantize
from tinyedge.report import summary_table


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A small regressor trained a few epochs, saved, with calibration samples from its input range."""
    import keras

    from tests.ops.keras_training import train_briefly

    folder = tmp_path_factory.mktemp("q16")
    model = keras.Sequential([keras.Input((12,), batch_size=1), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(4)])
    train_briefly(model, epochs=4)
    model.save(folder / "mlp.keras")
    np.save(folder / "calib.npy", np.random.default_rng(1).uniform(-1, 1, (40, 12)).astype(np.float32))
    return folder / "mlp.keras", folder / "calib.npy"


def test_int16_activations_give_a_16x8_model_and_the_int8_figures_beside_it(trained, tmp_path):
    model, calib = trained
    messages: list[str] = []
    result = quantize(model, tmp_path / "mlp16.tflite", calib=calib, log=messages.append, activations="int16")
    graph = load_tflite(result.tflite)
    assert classify(graph).kind == INT16X8
    assert [t.dtype for t in (*graph.input_tensors(), *graph.output_tensors())] == ["int16", "int16"]
    weights = [graph.tensor(op.inputs[1]) for op in graph.operators if op.opcode == "FULLY_CONNECTED"]
    assert weights and all(t.dtype == "int8" for t in weights)
    assert result.agreement is not None and result.agreement.activations == "int16"
    assert result.int8_agreement is not None and result.int8_agreement.activations == "int8"
    assert result.agreement.samples == result.int8_agreement.samples > 0
    # 256 times finer activation steps: the int16 model follows the float one at least as closely.
    assert result.agreement.mean_abs_error <= result.int8_agreement.mean_abs_error
    assert any(m.startswith("int16 vs float") for m in messages)
    assert any(m.startswith("for comparison, int8 vs float") for m in messages)


@pytest.fixture(scope="module")
def int8_result(trained, tmp_path_factory):
    model, calib = trained
    return quantize(model, tmp_path_factory.mktemp("q8") / "mlp8.tflite", calib=calib, log=lambda _m: None)


def test_int8_is_the_default_and_measures_nothing_else(int8_result):
    assert classify(load_tflite(int8_result.tflite)).kind == INT8
    assert int8_result.agreement is not None and int8_result.agreement.activations == "int8"
    assert int8_result.int8_agreement is None


def test_a_quantized_tflite_is_not_requantized_to_other_activations_without_its_source(int8_result, tmp_path):
    int8 = int8_result.tflite
    with pytest.raises(TinyEdgeError, match="already quantized with int8 activations; for int16 ones pass the model "
                                            "it was converted from with --source"):
        quantize(int8, tmp_path / "again.tflite", activations="int16")
    same = quantize(int8, tmp_path / "same.tflite", activations="int8")
    assert same.passthrough and same.tflite.read_bytes() == int8.read_bytes()


def test_the_cli_takes_activations_and_refuses_other_values(trained, tmp_path, capsys):
    model, calib = trained
    out = tmp_path / "cli16.tflite"
    assert cli.main(["quantize", str(model), "--calib", str(calib), "--activations", "int16", "-o", str(out)]) == 0
    assert classify(load_tflite(out)).kind == INT16X8
    with pytest.raises(SystemExit):
        cli.main(["quantize", str(model), "--activations", "int4", "-o", str(tmp_path / "x.tflite")])
    assert "invalid choice: 'int4'" in capsys.readouterr().err


@pytest.mark.slow
def test_compile_with_int16_activations_runs_bit_exact_and_reports_the_trade(trained, tmp_path):
    model, calib = trained
    result = compile_model(model, "nrf52840", tmp_path / "out", calib=calib, samples=3, activations="int16",
                           log=lambda _m: None)
    report = result.report
    assert report.verification.bit_exact and report.verification.samples == 3
    assert report.provenance.activations == "int16"
    assert report.provenance.agreement.activations == "int16"
    assert report.provenance.int8_agreement is not None and report.provenance.int8_agreement.activations == "int8"
    assert [layer.kernel for layer in report.layers] and all(layer.fallback is None for layer in report.layers)
    assert "int8 instead" in summary_table(report)
