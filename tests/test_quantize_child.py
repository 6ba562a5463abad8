"""TensorFlow's conversion runs in a child: its crashes and hangs end in one error line, its output in a log."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinyedge.errors import TinyEdgeError
from tinyedge.importer import parse_tflite
from tinyedge.quantize import gives_class_scores, quantize, quantize_keras_model

LOG_PATH = re.compile(r"\(log: (\S+\.log)\)")


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinyedge.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=600)


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The run failed and said so in exactly one line on stderr (and nothing else there)."""
    assert proc.returncode != 0
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tinyedge: error: ")
    return lines[0]


def _log_of(line: str) -> Path:
    match = LOG_PATH.search(line)
    assert match, line
    log = Path(match.group(1))
    assert log.is_file()
    return log


def _trained_recurrent(kind: str, path: Path) -> Path:
    import keras

    layer = keras.layers.LSTM(16, name="lstm") if kind == "LSTM" else keras.layers.GRU(8, name="gru")
    model = keras.Sequential([keras.Input((10, 4)), layer, keras.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(32, 10, 4)).astype(np.float32), rng.integers(0, 3, 32), epochs=1, verbose=0)
    model.save(path)
    return path


def _calibration(path: Path, shape: tuple[int, ...]) -> Path:
    np.save(path, np.random.default_rng(1).uniform(-1, 1, (10, *shape)).astype(np.float32))
    return path


@pytest.fixture(scope="module")
def dense_model(tmp_path_factory) -> tuple[Path, Path]:
    import keras

    folder = tmp_path_factory.mktemp("dense")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(3)])
    model.save(folder / "dense.keras")
    return folder / "dense.keras", _calibration(folder / "calib.npy", (6,))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recurrent_calibrator_crash_is_one_line_naming_the_layer(tmp_path, kind):
    """TensorFlow's int8 calibrator segfaulted on these models (exit 139, nothing printed); tinyedge now
    unrolls them for export (tests/ops/test_recurrent.py), and a crash left with one still names it."""
    model = _trained_recurrent(kind, tmp_path / f"{kind.lower()}.keras")
    calib = _calibration(tmp_path / "calib.npy", (10, 4))
    proc = _cli("quantize", str(model), "-o", str(tmp_path / "out.tflite"), "--calib", str(calib),
                TINYEDGE_CACHE=str(tmp_path / "cache"), TINYEDGE_QUANTIZE_CHILD_FAULT="segv")
    note, *rest = proc.stderr.splitlines()  # the export's note comes first, then the one error line
    assert note.startswith("unrolled for export") and f"'{kind.lower()}' ({kind}) over 10 time steps" in note
    line = _one_error_line(subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout, "\n".join(rest)))
    assert "quantize stage" in line and "converting and calibrating" in line and "SIGSEGV" in line
    assert f"'{kind.lower()}' ({kind})" in line and "recurrent layer" in line
    log = _log_of(line)
    assert log.parent == tmp_path / "cache" / "logs"
    assert "Segmentation fault" in log.read_text()  # Python's crash dump, once silenced, is in the log
    assert not (tmp_path / "out.tflite").exists()


def test_unrolled_lstm_quantizes_as_the_crash_line_suggests(tmp_path, monkeypatch):
    import keras

    monkeypatch.setenv("TINYEDGE_CACHE", str(tmp_path / "cache"))
    model = keras.Sequential([keras.Input((10, 4)), keras.layers.LSTM(16, unroll=True),
                              keras.layers.Dense(3, activation="softmax")])
    model.save(tmp_path / "unrolled.keras")
    result = quantize(tmp_path / "unrolled.keras", tmp_path / "out.tflite",
                      calib=_calibration(tmp_path / "calib.npy", (10, 4)), log=lambda _m: None)
    assert result.calibration_samples == 8 and result.agreement.top1 is not None
    assert result.agreement.cosine > 0.99


def test_child_crash_hook_gives_one_line_and_keeps_the_log(tmp_path, dense_model):
    model, calib = dense_model
    proc = _cli("quantize", str(model), "-o", str(tmp_path / "out.tflite"), "--calib", str(calib),
                TINYEDGE_CACHE=str(tmp_path / "cache"), TINYEDGE_QUANTIZE_CHILD_FAULT="segv")
    line = _one_error_line(proc)
    assert "crashed (SIGSEGV) while converting and calibrating dense.keras" in line and "--debug" in line
    assert "_child_quantize" in _log_of(line).read_text()


def test_child_hang_hits_the_time_limit(tmp_path, dense_model):
    model, calib = dense_model
    proc = _cli("quantize", str(model), "-o", str(tmp_path / "out.tflite"), "--calib", str(calib),
                TINYEDGE_CACHE=str(tmp_path / "cache"), TINYEDGE_QUANTIZE_CHILD_FAULT="hang",
                TINYEDGE_QUANTIZE_TIMEOUT="1")
    line = _one_error_line(proc)
    assert "did not finish" in line and "within 1 s" in line and "TINYEDGE_QUANTIZE_TIMEOUT" in line
    _log_of(line)


def test_bad_timeout_setting_is_refused(tmp_path, dense_model):
    model, calib = dense_model
    proc = _cli("quantize", str(model), "-o", str(tmp_path / "out.tflite"), "--calib", str(calib),
                TINYEDGE_QUANTIZE_TIMEOUT="soon")
    assert "TINYEDGE_QUANTIZE_TIMEOUT=soon" in _one_error_line(proc)


def test_debug_shows_tensorflow_output(tmp_path, dense_model):
    model, calib = dense_model
    proc = _cli("quantize", str(model), "-o", str(tmp_path / "out.tflite"), "--calib", str(calib), "--debug",
                TINYEDGE_CACHE=str(tmp_path / "cache"))
    assert proc.returncode == 0, proc.stderr
    assert "tinyedge quantize: converting and calibrating dense.keras to int8" in proc.stderr


def test_success_counts_calibration_samples_and_leaves_no_log(tmp_path, dense_model, monkeypatch):
    model, calib = dense_model
    monkeypatch.setenv("TINYEDGE_CACHE", str(tmp_path / "cache"))
    result = quantize(model, tmp_path / "out.tflite", calib=calib, log=lambda _m: None)
    assert result.calibration_samples == 8  # 10 samples: 8 calibrate, the last 2 measure agreement
    assert result.agreement is not None and result.agreement.samples == 2
    assert result.agreement.top1 is None  # a linear output is not class scores
    assert list((tmp_path / "cache" / "logs").glob("*.log")) == []
    passthrough = quantize(result.tflite, tmp_path / "copy.tflite")
    assert passthrough.passthrough and passthrough.calibration_samples == 0


@pytest.mark.parametrize("activation, classes, scores", [
    ("softmax", 3, True), ("sigmoid", 3, True), ("sigmoid", 1, False), ("tanh", 3, False), (None, 3, False),
])
def test_top1_only_for_class_scores(tmp_path, activation, classes, scores):
    import keras

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(classes, activation=activation)])
    calibration = [np.random.default_rng(2).uniform(-1, 1, (10, 6)).astype(np.float32)]
    result = quantize_keras_model(model, tmp_path / "m.tflite", calibration, log=lambda _m: None)
    assert gives_class_scores(parse_tflite(result.tflite.read_bytes())) is scores
    assert (result.agreement.top1 is not None) is scores
    assert result.calibration_samples == 8


def test_child_warnings_reach_the_callers_log(tmp_path, dense_model, monkeypatch):
    """A warning the child gives (here: a lone calibration sample) is not lost in its log."""
    model, _ = dense_model
    monkeypatch.setenv("TINYEDGE_CACHE", str(tmp_path / "cache"))
    np.save(tmp_path / "one.npy", np.full(6, 0.5, np.float32))
    messages: list[str] = []
    quantize(model, tmp_path / "out.tflite", calib=tmp_path / "one.npy", log=messages.append)
    assert any("warning" in m.lower() and "one.npy" in m for m in messages), messages


def test_child_killed_as_by_the_oom_killer_reads_as_out_of_memory(tmp_path, dense_model, monkeypatch):
    model, calib = dense_model
    monkeypatch.setenv("TINYEDGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TINYEDGE_QUANTIZE_CHILD_FAULT", "kill")
    with pytest.raises(TinyEdgeError) as caught:
        quantize(model, tmp_path / "out.tflite", calib=calib, log=lambda _m: None)
    message = str(caught.value)
    assert "ran out of memory while converting and calibrating dense.keras" in message and "SIGKILL" in message
    assert "\n" not in message
    _log_of(message)
