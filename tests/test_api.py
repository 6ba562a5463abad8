"""The Python API: `import tinyedge` is light, tinyedge.compile returns the report, a board file is read once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import tinyedge
from tinyedge import boards
from tinyedge.errors import TinyEdgeError
from tinyedge.report import Report

HEAVY = ("numpy", "tensorflow", "keras", "tflite_micro", "jinja2", "unicorn")


def test_import_tinyedge_loads_no_heavy_module():
    code = f"import sys, tinyedge; print([m for m in {HEAVY!r} if m in sys.modules], tinyedge.compile.__module__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["[]", "tinyedge.api"]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> Path:
    """A small conv classifier trained for a few epochs on labelled blobs (which quadrant is bright), and its
    calibration samples beside it (calib.npy)."""
    import keras

    folder = tmp_path_factory.mktemp("api")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 256)
    x = rng.normal(0, 0.3, (256, 8, 8, 1)).astype(np.float32)
    for i, label in enumerate(labels):
        row, col = divmod(int(label), 2)
        x[i, row * 4:row * 4 + 4, col * 4:col * 4 + 4, 0] += 1.0
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
                              keras.layers.Dense(4, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    model.fit(x, labels, epochs=4, batch_size=32, verbose=0)
    model.save(folder / "blobs.keras")
    np.save(folder / "calib.npy", x[:64])
    return folder / "blobs.keras"


@pytest.mark.slow
def test_compile_returns_the_report_and_reads_the_board_file_once(classifier, tmp_path, monkeypatch):
    reads: Counter[str] = Counter()
    parse = boards._board_from_data

    def counting(data: dict, path: Path) -> boards.Board:
        reads[Path(path).name] += 1
        return parse(data, path)

    monkeypatch.setattr(boards, "_board_from_data", counting)
    lines: list[str] = []
    report = tinyedge.compile(classifier, board="nrf52840", calib=classifier.with_name("calib.npy"),
                              out_dir=tmp_path / "out", samples=2, log=lines.append)
    assert isinstance(report, Report)
    assert report.board.name == "nrf52840" and report.model.name == "blobs"
    assert report.verification.bit_exact and report.verification.samples == 2
    assert report.simulation is not None and report.simulation.instructions > 0
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == json.loads(json.dumps(report.to_dict()))
    assert reads == {"nrf52840.toml": 1}, reads
    assert any("quantize" in line for line in lines)


def test_an_unknown_board_fails_before_any_work(tmp_path):
    with pytest.raises(TinyEdgeError, match="unknown board 'nrf5284'; valid boards: .*nrf52840"):
        tinyedge.compile(tmp_path / "missing.keras", board="nrf5284", out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
