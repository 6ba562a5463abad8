"""`tinyedge flash --measure`: flash a compiled build, read N inferences off the device, and put
the measured cycles beside the emulator's estimate in the build's report.json.

Where the result lines come from depends on the firmware:
- a semihosting build (what `tinyedge compile` makes today: it reads input.bin and prints through
  the debugger) runs under `pyocd run` with its semihosting served by pyOCD: tinyedge writes N
  inputs to input.bin, reads the lines from pyOCD's console, and checks each output's CRC-32
  against TFLite-Micro's output for the same input, so the run is also a bit-exactness check
  on the chip;
- a UART build (`tinyedge compile --console uart`: no semihosting in the ELF) prints on its UART:
  the serial port is opened before flashing (nothing printed after the reset is lost) and N lines
  are read from it. Its samples are compiled in; the build's uart_samples.json holds the CRC-32 of
  TFLite-Micro's output for each, so this run is a bit-exactness check on the chip too.
Either way the figure is the same: the firmware reads its cycle counter just before and after the
inference, and no semihosting call (which halts the core) happens in between.
"""

from __future__ import annotations

import json
import os
import queue
import statistics
import subprocess
import tempfile
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tinyedge.board_setup import clock_source as setup_clock_source
from tinyedge.boards import Board, load_board
from tinyedge.console import UART_SAMPLES
from tinyedge.errors import TinyEdgeError
from tinyedge.flash import PROJECT_FILE, FlashResult, choose_method, flash, locate_elf
from tinyedge.flash.image import load_elf
from tinyedge.flash.pyocd import PyocdMethod
from tinyedge.flash.steps import last_error_line
from tinyedge.monitor import DEFAULT_BAUD, Readout, choose_port, collect, open_port, serial_chunks

REPORT = "report.json"
DEFAULT_COUNT = 8
DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Measurement:
    board: str
    method: str
    probe: str | None
    console: str  # where the lines came from
    cycle_counter: str
    clock_hz: int
    clock_source: str
    cycles: tuple[int, ...]  # per inference, in sample order
    checksums: tuple[int, ...]  # CRC-32 of each output
    outputs_match_reference: bool | None  # None when the inputs the firmware ran are not known here

    @property
    def median_cycles(self) -> float:
        return float(statistics.median(self.cycles))

    @property
    def latency_ms(self) -> float:
        return self.median_cycles / self.clock_hz * 1000.0


def hardware_section(report: dict, measurement: Measurement) -> dict:
    """The report with a `hardware` section: measured figures beside the emulator's estimate."""
    simulation = report.get("simulation") or report.get("estimate") or {}  # estimate: boards without an emulator
    estimated = simulation.get("cycles")
    measured = measurement.median_cycles
    hardware = {
        "source": "measured on the device",
        "method": measurement.method,
        "probe": measurement.probe,
        "console": measurement.console,
        "cycle_counter": measurement.cycle_counter,
        "samples": len(measurement.cycles),
        "cycles": measured,
        "cycles_min": min(measurement.cycles),
        "cycles_max": max(measurement.cycles),
        "cycles_per_sample": list(measurement.cycles),
        "clock_hz": measurement.clock_hz,
        "clock_source": measurement.clock_source,
        "latency_ms": measurement.latency_ms,
        "estimated_cycles": estimated,
        "estimated_latency_ms": simulation.get("latency_ms"),
        "cycle_model": simulation.get("cycle_model") or simulation.get("label"),
        "estimated_by": "emulator" if report.get("simulation") else "analytical estimate",
        "cycles_error": (estimated - measured) / measured if estimated is not None and measured > 0 else None,
        "output_checksums": [f"{c:08x}" for c in measurement.checksums],
        "outputs_match_reference": measurement.outputs_match_reference,
    }
    return {**report, "hardware": hardware}


def comparison_table(report: dict) -> str:
    """Measured beside estimated, and the error of the estimate."""
    hw = report["hardware"]
    rows = [("", "measured (device)", f"estimated ({hw.get('estimated_by', 'emulator')})")]
    clock = f" at {hw['clock_hz'] / 1e6:g} MHz"
    estimated_cycles = hw["estimated_cycles"]
    rows.append(("cycles", f"{hw['cycles']:,.0f}", f"{estimated_cycles:,}" if estimated_cycles is not None else "-"))
    estimated_latency = hw["estimated_latency_ms"]
    rows.append(("latency", f"{hw['latency_ms']:.3f} ms{clock}",
                 f"{estimated_latency:.3f} ms" if estimated_latency is not None else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    if hw["cycles_error"] is not None:
        error = hw["cycles_error"]
        lines.append(f"  estimate error: {error:+.1%} ({'over' if error > 0 else 'under'} the measured cycles; "
                     f"{hw['cycle_model']})")
    lines.append(f"  {hw['samples']} inferences on {hw['console']}, cycles min {hw['cycles_min']:,} max "
                 f"{hw['cycles_max']:,} ({hw['cycle_counter']} counter); clock: {hw['clock_source']}")
    match = hw["outputs_match_reference"]
    if match is not None:
        lines.append("  outputs: " + ("bit-exact with TFLite-Micro (CRC-32 of every output)" if match
                                      else "DIFFER from TFLite-Micro's"))
    return "\n".join(lines)


def measure(build: Path, board: Board | str, probe: str | None = None, method: str | None = None,
            port: str | None = None, baud: int = DEFAULT_BAUD, count: int = DEFAULT_COUNT,
            timeout_s: float = DEFAULT_TIMEOUT_S, clock_hz: int | None = None, verify: bool = True,
            log: Callable[[str], None] | None = None) -> tuple[Measurement, dict, Path]:
    """Flash `build`, read `count` inferences, write the hardware section into its report.json.

    Returns the measurement, the updated report and the report's path."""
    log = log or (lambda message: None)
    board = load_board(board) if not isinstance(board, Board) else board
    if count < 1:
        raise TinyEdgeError(f"--count must be at least 1, got {count}")
    if board.cycle_counter == "none":
        raise TinyEdgeError(f"board {board.name}'s firmware reads no cycle counter: there is nothing to measure")
    elf = locate_elf(Path(build), board)
    project = _project(elf)
    report_path = project / REPORT
    if not report_path.is_file():
        raise TinyEdgeError(f"--measure needs the build's {REPORT} (the emulator's estimate) in {project}: pass the "
                            "folder `tinyedge compile` wrote")
    report = json.loads(report_path.read_text())
    if report.get("board", {}).get("name") != board.name:
        raise TinyEdgeError(f"{report_path} is for board {report.get('board', {}).get('name')}, not {board.name}")
    chosen = choose_method(board, method)
    image = load_elf(elf)
    clock, clock_source = _clock(board, clock_hz)

    if image.uses_semihosting:
        if not isinstance(chosen, PyocdMethod):
            raise TinyEdgeError(f"{elf} prints through semihosting, which needs a debugger: measure it with "
                                "--method pyocd and a debug probe, or build the firmware's UART variant")
        result = flash(elf, board, probe=probe, method=chosen.name, verify=verify, log=log)
        readout, expected = _run_semihosting(chosen, result, project, board, count, timeout_s, log)
    else:
        port_name = choose_port(port)
        with open_port(port_name, baud) as serial_port:  # open before the reset, so no line is lost
            result = flash(elf, board, probe=probe, method=chosen.name, verify=verify, log=log)
            log(f"read {count} inferences from {port_name} at {baud} baud")
            readout = collect(serial_chunks(serial_port), count, timeout_s, f"UART {port_name} at {baud} baud",
                              from_start=True)
        expected = _uart_expected(project, [s.sample for s in readout.samples])
    cycles = tuple(s.cycles for s in readout.samples)
    if not any(cycles):
        raise TinyEdgeError(f"the device reported cycles=0 for every inference: its {board.cycle_counter} counter "
                            "is not running (a core without one, or a debugger that stops it)")
    checksums = tuple(s.checksum for s in readout.samples)
    measurement = Measurement(board.name, result.method, result.probe, readout.source, board.cycle_counter, clock,
                              clock_source, cycles, checksums,
                              None if expected is None else list(checksums) == expected[:len(checksums)])
    updated = hardware_section(report, measurement)
    scratch = report_path.with_suffix(".json.tmp")
    scratch.write_text(json.dumps(updated, indent=2) + "\n")
    os.replace(scratch, report_path)
    return measurement, updated, report_path


def _clock(board: Board, clock_hz: int | None) -> tuple[int, str]:
    """The clock the firmware runs at on the chip (every variant runs the board's [setup]), and where that figure
    comes from."""
    if clock_hz:
        return clock_hz, "--clock-hz"
    assert board.clock_hz is not None
    if board.setup is not None:
        return board.clock_hz, f"{setup_clock_source(board)} (board file [setup])"
    return board.clock_hz, ("the board file's rated clock (the firmware does not set the clock up: the board file has "
                            "no [setup]; pass --clock-hz with the clock the chip really runs at)")


def _uart_expected(project: Path, samples: list[int]) -> list[int] | None:
    """TFLite-Micro's CRC-32 for each inference read (inference n ran compiled-in sample n mod N)."""
    path = project / UART_SAMPLES
    if not path.is_file():
        return None
    checksums = [int(c, 16) for c in json.loads(path.read_text())["checksums"]]
    return [checksums[n % len(checksums)] for n in samples]


def _project(elf: Path) -> Path:
    for candidate in (elf.parent, elf.parent.parent):
        if (candidate / PROJECT_FILE).is_file():
            return candidate
    raise TinyEdgeError(f"{elf} is not inside a tinyedge build folder: --measure needs the folder `tinyedge compile` "
                        "wrote (its report.json holds the estimate)")


def _run_semihosting(method: PyocdMethod, result: FlashResult, project: Path, board: Board, count: int,
                     timeout_s: float, log: Callable[[str], None]) -> tuple[Readout, list[int]]:
    """Run the flashed firmware under `pyocd run` with N inputs; the lines and the expected CRC-32s."""
    from tinyedge.pipeline import compile_tflite
    from tinyedge.verify import random_samples, reference_outputs

    tflite = project / "model.tflite"
    if not tflite.is_file():
        raise TinyEdgeError(f"{tflite} is missing: --measure needs the build folder `tinyedge compile` wrote")
    model = compile_tflite(tflite)
    inputs = random_samples(model, count, seed=0)
    expected = [zlib.crc32(out) for out in reference_outputs(tflite.read_bytes(), model, inputs)]
    probe = ("--probe", result.probe) if result.probe else ()
    argv = (*method.command(), "run", "--no-wait", "--target", method.target(board), *probe,
            "-O", "stdio_mode=console", "--timelimit", f"{timeout_s:g}")
    with tempfile.TemporaryDirectory(prefix="tinyedge-measure-") as tmp:
        workdir = Path(tmp)
        (workdir / "input.bin").write_bytes(b"".join(inputs))
        log(f"run {count} inferences: (cd {workdir} && {' '.join(argv)})")
        stderr_path = workdir / "pyocd.log"
        with stderr_path.open("w") as stderr:
            proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=stderr, env={**os.environ, "PYTHONUNBUFFERED": "1"})
            try:
                readout = collect(_process_chunks(proc), count, timeout_s + 5.0, "semihosting through pyOCD",
                                  from_start=True)
            except TinyEdgeError as exc:
                raise TinyEdgeError(f"{exc} (pyOCD: {last_error_line(stderr_path.read_text())})") from None
            finally:
                if proc.poll() is None:
                    proc.terminate()
                proc.wait(timeout=10)
        if len(readout.samples) < count:
            raise TinyEdgeError(f"pyOCD stopped after {len(readout.samples)} of {count} inferences: "
                                f"{last_error_line(stderr_path.read_text())}")
    return readout, expected


def _process_chunks(proc: subprocess.Popen) -> Callable[[float], bytes]:
    """A process's stdout as timed reads (a thread does the blocking reads)."""
    chunks: queue.Queue[bytes] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout

    def pump() -> None:
        for line in iter(stdout.readline, b""):
            chunks.put(line)
        chunks.put(b"")  # end of stream

    threading.Thread(target=pump, daemon=True).start()

    def read(wait_s: float) -> bytes:
        try:
            data = chunks.get(timeout=max(wait_s, 0.0))
        except queue.Empty:
            return b""
        if data == b"":
            raise EOFError
        return data

    return read
