"""Same inputs, same bytes: two compiles of one model into two folders write identical files, and the report
keeps where its model came from."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from tinyedge.cli import main
from tinyedge.report import SYNTHETIC_CALIBRATION

# Fields docs/report.md ("Reproducibility") lists as differing between two runs; nothing else may.
VARYING_FIELDS = (("provenance", "command"), ("simulation", "guest_mips"))


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory) -> tuple[Path, Path]:
    """A small classifier trained for a few epochs, and its calibration samples."""
    import keras

    folder = tmp_path_factory.mktemp("repro")
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (96, 8, 8, 1)).astype(np.float32)
    y = (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype(np.int32)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, verbose=0)
    model.save(folder / "model.keras")
    np.save(folder / "calib.npy", x[:32])
    return folder / "model.keras", folder / "calib.npy"


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _without_varying(report: dict) -> dict:
    for section, field in VARYING_FIELDS:
        report.get(section, {}).pop(field, None)
    return report


@pytest.mark.slow
def test_two_compiles_of_the_same_inputs_write_the_same_bytes(trained_model, tmp_path, monkeypatch):
    model, calib = trained_model
    monkeypatch.chdir(tmp_path)
    for out in ("first", "second/nested"):
        assert main(["compile", str(model), "--board", "nrf52840", "--calib", str(calib), "--samples", "2",
                     "-o", out, "--backend", "builtin"]) == 0
    first, second = _files(tmp_path / "first"), _files(tmp_path / "second" / "nested")
    assert first.keys() == second.keys()
    for name in ("model.tflite", "build/firmware.elf", "build/firmware.bin", "build/firmware.hex",
                 "model/tinyedge_model.c"):
        assert name in first
    differing = sorted(name for name in first if first[name] != second[name])
    assert differing == ["report.html", "report.json"], differing
    reports = [json.loads(files["report.json"]) for files in (first, second)]
    assert reports[0]["provenance"]["command"] != reports[1]["provenance"]["command"]
    assert _without_varying(reports[0]) == _without_varying(reports[1])
    # The HTML differs only where it shows the command line.
    html = [files["report.html"].decode().splitlines() for files in (first, second)]
    changed = [a for a, b in zip(html[0], html[1]) if a != b]
    assert len(html[0]) == len(html[1]) and len(changed) == 1 and "-o first" in changed[0]


def test_docs_list_every_field_the_test_excludes():
    docs = (Path(__file__).parents[1] / "docs" / "report.md").read_text()
    for section, field in VARYING_FIELDS:
        assert f"`{section}.{field}`" in docs


@pytest.mark.slow
def test_the_report_keeps_calibration_agreement_versions_and_command(trained_model, tmp_path):
    model, calib = trained_model
    out = tmp_path / "out"
    assert main(["compile", str(model), "--board", "nrf52840", "--calib", str(calib), "--samples", "1",
                 "-o", str(out), "--backend", "builtin"]) == 0
    provenance = json.loads((out / "report.json").read_text())["provenance"]
    assert provenance["calibration"] == str(calib)
    assert provenance["calibration_sha256"] == hashlib.sha256(calib.read_bytes()).hexdigest()
    assert 0 < provenance["calibration_samples"] <= 32
    agreement = provenance["agreement"]
    assert agreement["samples"] > 0 and 0.9 < agreement["cosine"] <= 1.0 + 1e-9
    assert agreement["top1"] is not None  # a softmax output: class scores
    assert set(provenance["versions"]) == {"tinyedge", "tensorflow", "tflite_micro", "compiler"}
    assert provenance["versions"]["tensorflow"].startswith("2.21")
    assert "arm-none-eabi-gcc" in provenance["versions"]["compiler"]
    assert provenance["command"].startswith("tinyedge compile ") and "--calib" in provenance["command"]


def test_an_int8_model_compiled_without_calibration_says_so(tiny_kws_tflite, tmp_path):
    from tinyedge.pipeline import compile_model

    report = compile_model(tiny_kws_tflite, "nrf52840", tmp_path / "out", samples=1, backend="builtin").report
    assert report.provenance is not None
    assert report.provenance.calibration != SYNTHETIC_CALIBRATION  # nothing was quantized here
    assert report.provenance.calibration_samples == 0 and report.provenance.agreement is None
    assert report.provenance.command == "tinyedge Python API"
