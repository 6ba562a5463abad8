"""The command line: the main jobs end to end, and every user error as one line without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def tinyedge(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinyedge.cli", *args], capture_output=True, text=True, cwd=cwd)


def _assert_one_line_error(proc: subprocess.CompletedProcess, fragment: str) -> None:
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.strip().splitlines() if line.startswith("tinyedge: error:")]
    assert len(lines) == 1, proc.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> Path:
    import keras

    path = tmp_path_factory.mktemp("cli") / "small.keras"
    keras.utils.set_random_seed(0)
    keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3, activation="relu"), keras.layers.Flatten(),
                      keras.layers.Dense(3)]).save(path)
    return path


def test_generate_then_run_on_host(small_model, tmp_path):
    proc = tinyedge("generate", str(small_model), "--board", "host", "-o", str(tmp_path / "gen"))
    assert proc.returncode == 0, proc.stderr
    assert "synthetic" in proc.stderr  # no --calib: a loud warning
    for name in ("model.tflite", "model/tinyedge_model.c", "model/tinyedge_model.h", "main.c", "Makefile"):
        assert (tmp_path / "gen" / name).is_file(), name

    batch = np.random.default_rng(0).integers(-128, 128, (3, 1, 4, 4, 1), dtype=np.int8)
    np.save(tmp_path / "in.npy", batch)
    proc = tinyedge("run", str(tmp_path / "gen" / "model.tflite"), "--board", "host",
                    "--input", str(tmp_path / "in.npy"), "--output", str(tmp_path / "out.npy"))
    assert proc.returncode == 0, proc.stderr
    out = np.load(tmp_path / "out.npy")
    assert out.dtype == np.int8 and out.shape == (3, 1, 3)

    from tinyedge.pipeline import compile_tflite
    from tinyedge.verify import reference_outputs

    model = compile_tflite(tmp_path / "gen" / "model.tflite")
    expected = reference_outputs((tmp_path / "gen" / "model.tflite").read_bytes(), model, [b.tobytes() for b in batch])
    assert [o.tobytes() for o in out] == expected


def test_compile_prints_the_summary_and_run_uses_the_emulator(small_model, tmp_path):
    proc = tinyedge("compile", str(small_model), "--board", "nrf52840", "-o", str(tmp_path / "nrf"), "--samples", "2")
    assert proc.returncode == 0, proc.stderr
    assert "[6/6] report" in proc.stderr
    for label in ("instructions", "cycles", "latency", "energy", "flash", "RAM", "bit-exact"):
        assert label in proc.stdout, label

    batch = np.random.default_rng(1).integers(-128, 128, (2, 1, 4, 4, 1), dtype=np.int8)
    np.save(tmp_path / "in.npy", batch)
    proc = tinyedge("run", str(tmp_path / "nrf" / "model.tflite"), "--board", "nrf52840",
                    "--input", str(tmp_path / "in.npy"), "--output", str(tmp_path / "out.npy"))
    assert proc.returncode == 0, proc.stderr
    from tinyedge.pipeline import compile_tflite
    from tinyedge.verify import reference_outputs

    model = compile_tflite(tmp_path / "nrf" / "model.tflite")
    expected = reference_outputs((tmp_path / "nrf" / "model.tflite").read_bytes(), model, [b.tobytes() for b in batch])
    assert [o.tobytes() for o in np.load(tmp_path / "out.npy")] == expected


def test_generated_folder_builds_with_make_alone(small_model, tmp_path):
    proc = tinyedge("generate", str(small_model), "-o", str(tmp_path / "gen"))
    assert proc.returncode == 0, proc.stderr
    gen = tmp_path / "gen"
    make = subprocess.run(["make"], cwd=gen, capture_output=True, text=True)
    assert make.returncode == 0, make.stderr
    executables = [p for p in (gen / "build").iterdir() if p.is_file() and os.access(p, os.X_OK)]
    assert len(executables) == 1, executables
    (gen / "input.bin").write_bytes(bytes(16))
    run = subprocess.run([str(executables[0])], cwd=gen, capture_output=True, text=True)
    assert run.returncode == 0 and "tinyedge: sample=0" in run.stdout
    assert len((gen / "output.bin").read_bytes()) == 3


def test_boards_lists_every_board_file():
    proc = tinyedge("boards")
    assert proc.returncode == 0
    for name in ("nrf52840", "stm32f746g-disco", "stm32f4-discovery", "rp2040", "stm32l552", "esp32c3", "host"):
        assert name in proc.stdout


def test_unknown_board_lists_the_valid_ones(small_model, tmp_path):
    proc = tinyedge("generate", str(small_model), "--board", "nrf52480", "-o", str(tmp_path / "out"))
    _assert_one_line_error(proc, "nrf52840")
    assert not (tmp_path / "out").exists()


def test_missing_model_file(tmp_path):
    _assert_one_line_error(tinyedge("generate", str(tmp_path / "nope.h5"), "-o", str(tmp_path / "out")),
                           "does not exist")
    assert not (tmp_path / "out").exists()


def test_corrupt_model_leaves_no_output_folder(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x18\x00\x00\x00TFL3" + bytes(40))
    _assert_one_line_error(tinyedge("generate", str(bad), "-o", str(tmp_path / "out")), "")
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == [bad]


def test_bad_calibration_data(small_model, tmp_path):
    np.save(tmp_path / "calib.npy", np.zeros((4, 3, 3, 1), np.float32))
    _assert_one_line_error(tinyedge("quantize", str(small_model), "--calib", str(tmp_path / "calib.npy"),
                                    "-o", str(tmp_path / "q.tflite")), "shape")
    assert not (tmp_path / "q.tflite").exists()


def test_wrong_input_dtype_for_run(small_model, tmp_path):
    np.save(tmp_path / "in.npy", np.zeros((1, 4, 4, 1), np.float32))
    _assert_one_line_error(tinyedge("run", str(small_model), "--input", str(tmp_path / "in.npy"),
                                    "--output", str(tmp_path / "o.npy")), "int8")


def test_missing_compiler_is_one_line(small_model, tmp_path):
    np.save(tmp_path / "in.npy", np.zeros((1, 4, 4, 1), np.int8))
    env_cc = "CC=/nonexistent/gcc"
    proc = subprocess.run(["env", env_cc, sys.executable, "-m", "tinyedge.cli", "run", str(small_model),
                           "--input", str(tmp_path / "in.npy"), "--output", str(tmp_path / "o.npy")],
                          capture_output=True, text=True)
    _assert_one_line_error(proc, "apt-get install gcc")


def test_debug_shows_the_traceback(tmp_path):
    proc = tinyedge("--debug", "generate", str(tmp_path / "nope.h5"), "-o", str(tmp_path / "out"))
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_a_keras_file_whose_config_keras_rejects_gives_one_line(small_model, tmp_path):
    # Keras's own message runs to several lines (the whole config); the user gets one.
    import json
    import zipfile

    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(small_model) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"] = 7
                data = json.dumps(config).encode()
            target.writestr(item, data)
    proc = tinyedge("quantize", str(broken), "-o", str(tmp_path / "q.tflite"))
    _assert_one_line_error(proc, "cannot load Keras model")
    last = proc.stderr.strip().splitlines()[-1]
    # nothing after it, and no config dump: bounded apart from the model's path
    assert last.startswith("tinyedge: error: cannot load Keras model") and len(last) - len(str(broken)) < 400
    assert not (tmp_path / "q.tflite").exists()
