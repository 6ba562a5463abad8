"""Shared fixtures: the whole compile path for a small in-test Keras model, checked byte for byte."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tinyedge.codegen import CompiledModel, compile_graph  # noqa: E402
from tinyedge.host import run_host  # noqa: E402
from tinyedge.importer import parse_tflite  # noqa: E402
from tinyedge.pipeline import build  # noqa: E402
from tinyedge.verify import Verification, random_samples, verify  # noqa: E402


@pytest.fixture(autouse=True)
def _deterministic_weights() -> None:
    """Models built in tests get the same random weights on every run (keras only if the test uses it)."""
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(0)


@dataclass(frozen=True)
class BitExactResult:
    tflite: Path
    model: CompiledModel
    verification: Verification


def _quantize_for_test(keras_model, path: Path, calibration: list[np.ndarray] | None = None) -> Path:
    from tinyedge.quantize import quantize_keras_model

    if calibration is None:
        rng = np.random.default_rng(1)
        calibration = [rng.uniform(-1, 1, (32, *t.shape[1:])).astype(np.float32) for t in keras_model.inputs]
    quantize_keras_model(keras_model, path, calibration, log=lambda _message: None)
    return path


@pytest.fixture(scope="session")
def quantize_for_test() -> Callable[..., Path]:
    """quantize(keras_model, path, calibration=None) -> path; seeded uniform calibration by default."""
    return _quantize_for_test


@pytest.fixture
def assert_tflite_bit_exact(tmp_path: Path) -> Callable[..., BitExactResult]:
    """Generate C for an int8 .tflite, build it for the host, compare with tflite_micro.

    `samples`: how many seeded random inputs, or the input samples themselves.
    Fails with the position of the first differing byte.
    """

    def check(tflite: Path | bytes, samples: int | list[bytes] = 4) -> BitExactResult:
        if isinstance(tflite, bytes):
            (tmp_path / "model.tflite").write_bytes(tflite)
            tflite = tmp_path / "model.tflite"
        flatbuffer = tflite.read_bytes()
        model = compile_graph(parse_tflite(flatbuffer, name="model"))
        firmware = build(model, "host", tmp_path / "host")
        inputs = random_samples(model, samples, seed=7) if isinstance(samples, int) else samples
        result = verify(flatbuffer, model, inputs, run_host(firmware.elf, inputs, model.output_bytes))
        assert result.bit_exact, f"not bit-exact: {result.first_mismatch}"
        return BitExactResult(tflite, model, result)

    return check


@pytest.fixture
def assert_bit_exact(tmp_path: Path, assert_tflite_bit_exact) -> Callable[..., BitExactResult]:
    """Quantize a Keras model, then check it as assert_tflite_bit_exact does."""

    def check(keras_model, calib: list[np.ndarray] | None = None, samples: int = 4) -> BitExactResult:
        return assert_tflite_bit_exact(_quantize_for_test(keras_model, tmp_path / "model.tflite", calib), samples)

    return check


@pytest.fixture(scope="session")
def mlperf_tflite(tmp_path_factory) -> Callable[[str], Path]:
    """The MLPerf-Tiny-shaped example models, quantized once per test run."""
    from tinyedge import examples

    cache: dict[str, Path] = {}
    folder = tmp_path_factory.mktemp("mlperf")

    def get(name: str) -> Path:
        if name not in cache:
            keras_model = examples.build(name)
            rng = np.random.default_rng(0)
            calib = [rng.uniform(-1, 1, (24, *t.shape[1:])).astype(np.float32) for t in keras_model.inputs]
            cache[name] = _quantize_for_test(keras_model, folder / f"{name}.tflite", calib)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def tiny_kws_tflite(tmp_path_factory) -> Path:
    """An int8 keyword-spotter-shaped model (conv, depthwise, pool, dense, softmax), a few KB, quantized once."""
    import keras

    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((12, 8, 1)),
        keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
        keras.layers.DepthwiseConv2D(3, padding="same", activation="relu"),
        keras.layers.AveragePooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(5, activation="softmax"),
    ])
    calibration = [np.random.default_rng(0).uniform(-1, 1, (16, 12, 8, 1)).astype(np.float32)]
    return _quantize_for_test(model, tmp_path_factory.mktemp("tiny") / "tiny_kws.tflite", calibration)


# ---------------------------------------------------------------------------- skips CI allows
# With CI set (CI=true), a test run that skipped a test for any reason but these fails: every
# other tool the tests use comes from apt or pip through scripts/setup.sh, so a skip for one of
# them means the setup is incomplete, not that the test may be left out. The one list to edit.
ALLOWED_SKIPS: tuple[tuple[str, str], ...] = (
    ("Renode (released outside the package registries)", r"\brenode\b"),
    ("a MicroPython source tree", r"micropython"),
    ("a TFLite-Micro source tree (TFLM_DIR)", r"TFLite-Micro source tree|\bTFLM_DIR\b"),
    ("ESP-IDF (idf.py)", r"esp-idf|\bidf\.py\b|IDF_PATH"),
    ("an Xtensa cross-compiler (ships with ESP-IDF)", r"\bxtensa"),
    ("a physical board or debug probe", r"\b(board|probe|debugger)s? (is |are )?(not )?(attached|connected)|"
                                        r"no (physical )?(board|probe|debugger)\b"),
)


def allowed_skip(reason: str) -> str | None:
    """Which allowed missing tool a skip's reason names, or None."""
    for tool, pattern in ALLOWED_SKIPS:
        if re.search(pattern, reason, re.IGNORECASE):
            return tool
    return None


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


_unexpected_skips: list[tuple[str, str]] = []  # (test id, reason)


def _note_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not report.skipped or hasattr(report, "wasxfail"):  # an xfail is reported as a skip too
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    reason = reason.removeprefix("Skipped: ")
    if allowed_skip(reason) is None:
        _unexpected_skips.append((report.nodeid, reason))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _note_skip(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _note_skip(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _ci() and _unexpected_skips and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    if not (_ci() and _unexpected_skips):
        return
    terminalreporter.section("skips CI does not allow", sep="=", red=True, bold=True)
    for nodeid, reason in _unexpected_skips:
        terminalreporter.line(f"{nodeid}: {reason}")
    terminalreporter.line(f"{len(_unexpected_skips)} test(s) skipped for a tool scripts/setup.sh installs; run it, "
                          "or add the tool to ALLOWED_SKIPS in tests/conftest.py if it is outside the registries")
