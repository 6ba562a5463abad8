"""`flash --measure`: the hardware section of report.json, and the two ways lines come off a device,
each driven end to end against stand-ins (a UF2 drive and a pty for a UART build; a pyOCD
stand-in for a semihosting build)."""

from __future__ import annotations

import argparse
import json
import os
import pty
import shutil
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from tinyedge.errors import TinyEdgeError
from tinyedge.flash import cli
from tinyedge.flash.measure import Measurement, comparison_table, hardware_section
from tinyedge.flash.pyocd import PyocdMethod
from tinyedge.flash.uf2 import Uf2Method

from .test_methods import fake_tool, probe
from .test_uf2 import make_drive

REPORT = {
    "schema": "tinyedge.report/1",
    "board": {"name": "rp2040", "core": "cortex-m0plus", "clock_hz": 125_000_000},
    "simulation": {"backend": "builtin", "instructions": 900, "cycles": 1100, "cycle_model": "m0plus-v1",
                   "latency_ms": 0.0088},
}


def measurement(cycles: tuple[int, ...], match: bool | None = None) -> Measurement:
    return Measurement("rp2040", "uf2", None, "UART /dev/ttyACM0 at 115200 baud", "systick", 125_000_000,
                       "the board file's rated clock", cycles, tuple(range(len(cycles))), match)


def test_hardware_section_puts_the_measurement_beside_the_estimate_and_leaves_the_rest() -> None:
    updated = hardware_section(REPORT, measurement((1000, 1004, 996)))
    hw = updated["hardware"]
    assert {k: v for k, v in updated.items() if k != "hardware"} == REPORT and "hardware" not in REPORT
    assert hw["cycles"] == 1000 and (hw["cycles_min"], hw["cycles_max"]) == (996, 1004)
    assert hw["cycles_per_sample"] == [1000, 1004, 996] and hw["samples"] == 3
    assert hw["latency_ms"] == pytest.approx(1000 / 125e6 * 1e3)
    assert hw["estimated_cycles"] == 1100 and hw["cycles_error"] == pytest.approx(0.10)
    assert hw["output_checksums"] == ["00000000", "00000001", "00000002"]
    assert hw["outputs_match_reference"] is None and hw["cycle_model"] == "m0plus-v1"
    json.dumps(updated)  # stays JSON


def test_comparison_table_shows_measured_estimated_and_the_error() -> None:
    table = comparison_table(hardware_section(REPORT, measurement((1000,), match=True))).splitlines()
    assert table[0].split() == ["measured", "(device)", "estimated", "(emulator)"]
    assert table[1].split() == ["cycles", "1,000", "1,100"]
    assert table[2].split() == ["latency", "0.008", "ms", "at", "125", "MHz", "0.009", "ms"]
    assert table[3] == "  estimate error: +10.0% (over the measured cycles; m0plus-v1)"
    assert table[-1] == "  outputs: bit-exact with TFLite-Micro (CRC-32 of every output)"


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(list(argv)))


def uart_build(firmware_project, tmp_path: Path, checksums: list[int]) -> Path:
    """The RP2040 test model's UART variant, with the report and the checksums `compile` writes beside it."""
    project = shutil.copytree(firmware_project("rp2040", console="uart"), tmp_path / "build-rp2040")
    (project / "report.json").write_text(json.dumps(REPORT))
    (project / "uart_samples.json").write_text(json.dumps({"checksums": [f"{c:08x}" for c in checksums]}))
    return project


def test_measure_over_uart_flashes_reads_the_new_run_and_writes_the_hardware_section(
        firmware_project, tmp_path, monkeypatch, capsys) -> None:
    # The device below runs compiled-in samples 0, 1, 0 (inference n runs sample n mod 2).
    project = uart_build(firmware_project, tmp_path, [zlib.crc32(bytes([0])), zlib.crc32(bytes([1]))])
    drive = make_drive(tmp_path / "media")
    monkeypatch.setattr("tinyedge.flash.METHODS", {"uf2": Uf2Method(roots=(tmp_path / "media",), unmount_wait_s=5)})
    master, slave = pty.openpty()
    port = os.ttyname(slave)

    def device() -> None:  # the old firmware prints, the UF2 arrives, the board resets and runs 3 inferences
        os.write(master, b"tinyedge: sample=41 cycles=5 checksum=00000000\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not list(drive.glob("*.uf2")):
            time.sleep(0.02)
        (drive / "INFO_UF2.TXT").unlink()
        os.write(master, b"\x00boot\r\n" + b"".join(
            f"tinyedge: sample={n} cycles={c} checksum={zlib.crc32(bytes([n % 2])):08x}\r\n".encode()
            for n, c in enumerate((1210, 1200, 1190))))

    threading.Thread(target=device, daemon=True).start()
    code = run_cli(str(project), "--board", "rp2040", "--measure", "--count", "3", "--port", port,
                   "--timeout", "10")
    os.close(master)
    os.close(slave)

    assert code == 0
    hw = json.loads((project / "report.json").read_text())["hardware"]
    assert hw["cycles_per_sample"] == [1210, 1200, 1190] and hw["cycles"] == 1200
    assert hw["output_checksums"] == [f"{zlib.crc32(bytes([n % 2])):08x}" for n in range(3)]
    assert hw["method"] == "uf2" and hw["console"] == f"UART {port} at 115200 baud"
    assert hw["outputs_match_reference"] is True
    assert hw["clock_hz"] == 125_000_000 and "PLL_SYS" in hw["clock_source"]
    out = capsys.readouterr().out
    assert "estimate error: -8.3%" in out and f"wrote the hardware section of {project / 'report.json'}" in out


def test_measure_refuses_a_semihosting_build_without_a_debugger(firmware_project, tmp_path) -> None:
    project = shutil.copytree(firmware_project("rp2040"), tmp_path / "build-rp2040")
    (project / "report.json").write_text(json.dumps(REPORT))
    with pytest.raises(TinyEdgeError, match="prints through semihosting, which needs a debugger: .*--method pyocd"):
        run_cli(str(project), "--board", "rp2040", "--measure")


def test_measure_needs_the_builds_report(firmware_project) -> None:
    with pytest.raises(TinyEdgeError, match="--measure needs the build's report.json"):
        run_cli(str(firmware_project("nrf52840")), "--board", "nrf52840", "--measure")


@pytest.fixture(scope="module")
def semihosting_build(firmware_project, quantize_for_test, tmp_path_factory) -> Path:
    """The nRF52840 test build with a real int8 model beside it (the inputs and the reference come from it)."""
    import keras

    root = tmp_path_factory.mktemp("measure")
    project = shutil.copytree(firmware_project("nrf52840"), root / "build-nrf52840")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    quantize_for_test(model, project / "model.tflite")
    report = {**REPORT, "board": {"name": "nrf52840", "core": "cortex-m4f", "clock_hz": 64_000_000}}
    (project / "report.json").write_text(json.dumps(report))
    return project


def expected_checksums(project: Path, count: int) -> list[int]:
    from tinyedge.pipeline import compile_tflite
    from tinyedge.verify import random_samples, reference_outputs

    model = compile_tflite(project / "model.tflite")
    inputs = random_samples(model, count, seed=0)
    return [zlib.crc32(o) for o in reference_outputs((project / "model.tflite").read_bytes(), model, inputs)]


@pytest.mark.parametrize("corrupt", [False, True])
def test_measure_under_pyocd_semihosting_checks_outputs_against_tflite_micro(
        corrupt: bool, semihosting_build: Path, tmp_path, monkeypatch, capsys) -> None:
    checksums = expected_checksums(semihosting_build, 3)
    if corrupt:
        checksums[1] ^= 1
    lines = "".join(f"tinyedge: sample={n} cycles={5000 + n} checksum={c:08x}\\n" for n, c in enumerate(checksums))
    listing = json.dumps({"status": 0, "boards": [probe("0240000034544e45", "nrf52840", "Nordic nRF52840-DK")]})
    tool = fake_tool(tmp_path / "bin", "pyocd", (
        f'if [ "$1" = json ]; then echo {json.dumps(listing)}; exit 0; fi\n'
        'if [ "$1" = load ]; then exit 0; fi\n'
        # `pyocd run` serves semihosting from its working folder: the inputs must be there, 8 bytes each.
        'if [ "$1" = run ]; then [ "$(stat -c %s input.bin)" = 24 ] || exit 7; '
        f'printf "0000123 I Run server started\\n" >&2; printf "{lines}"; exec sleep 30; fi'))
    monkeypatch.setattr(PyocdMethod, "command", staticmethod(lambda: (str(tool),)))
    monkeypatch.setattr(PyocdMethod, "available", lambda self: True)

    code = run_cli(str(semihosting_build), "--board", "nrf52840", "--measure", "--count", "3", "--no-verify",
                   "--timeout", "10")

    hw = json.loads((semihosting_build / "report.json").read_text())["hardware"]
    assert hw["console"] == "semihosting through pyOCD" and hw["probe"] is None
    assert hw["cycles_per_sample"] == [5000, 5001, 5002]
    assert hw["outputs_match_reference"] is (not corrupt)
    assert code == (3 if corrupt else 0)
    assert ("DIFFER" in capsys.readouterr().out) == corrupt
    assert np.isclose(hw["latency_ms"], 5001 / 64e6 * 1e3)
