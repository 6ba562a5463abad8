"""Monitor: read the firmware's result lines from a serial port (pyserial) or any byte stream.

The firmware prints one line per inference (firmware/runtime/te_report.c), the same line the
emulator run produces:

    tinyedge: sample=<n> cycles=<c> checksum=<CRC-32 of the output, 8 hex digits>

and stops with `tinyedge: error=<reason>` or `tinyedge: fault=<name> pc=0x<pc> detail=0x<d>`.
Anything else on the line (a boot banner, the user's own prints, noise at a wrong baud rate) is
passed through and counted, never parsed. A line with sample=0 starts a new run (the board was
reset); after a flash, result lines are only counted from the new run's sample=0 on, so lines
left over from the firmware that ran before are dropped.

    tinyedge monitor --board B [--port P] [--baud 115200] [--count N] [--timeout S]
"""

from __future__ import annotations

import argparse
import errno
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from tinyedge.errors import TinyEdgeError

DEFAULT_BAUD = 115200
DEFAULT_TIMEOUT_S = 30.0
SAMPLE_LINE = re.compile(r"tinyedge: sample=(\d+) cycles=(\d+) checksum=([0-9a-f]{8})\s*$")
ERROR_LINE = re.compile(r"tinyedge: error=(.*?)\s*$")
FAULT_LINE = re.compile(r"tinyedge: fault=(\S+) pc=0x([0-9a-f]{8}) detail=0x([0-9a-f]{8})")
DIALOUT_FIX = "add your user to the 'dialout' group (sudo usermod -aG dialout $USER, then log in again)"

Chunks = Callable[[float], bytes]  # read(wait_s): the bytes that arrived within wait_s; EOFError at the end


@dataclass(frozen=True)
class SampleLine:
    sample: int
    cycles: int
    checksum: int


@dataclass(frozen=True)
class Readout:
    source: str  # where the lines came from ("/dev/ttyACM0 at 115200 baud", ...)
    samples: tuple[SampleLine, ...]
    other_lines: int  # lines that were not tinyedge result lines


class FirmwareStopped(TinyEdgeError):
    """The firmware printed an error or fault line."""


def parse_line(text: str) -> SampleLine | None:
    """A result line, None for any other line; FirmwareStopped for an error or fault line."""
    match = SAMPLE_LINE.search(text)
    if match:
        return SampleLine(int(match[1]), int(match[2]), int(match[3], 16))
    match = FAULT_LINE.search(text)
    if match:
        raise FirmwareStopped(f"the firmware faulted on the device: {match[1]} at pc=0x{match[2]} "
                              f"(detail 0x{match[3]})")
    match = ERROR_LINE.search(text)
    if match:
        raise FirmwareStopped(f"the firmware stopped on the device: {match[1]}")
    return None


def collect(read: Chunks, count: int | None, timeout_s: float | None, source: str,
            echo: Callable[[str, SampleLine | None], None] | None = None, from_start: bool = False) -> Readout:
    """Read lines until `count` result lines of one run (None: until the stream ends or Ctrl-C).

    from_start: count result lines only from a sample=0 line on (a run that began after a reset).
    timeout_s bounds the whole read; on expiry the error says what was seen, with the likely fix."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    samples: list[SampleLine] = []
    other = 0
    pending = b""
    try:
        while count is None or len(samples) < count:
            wait = 0.25 if deadline is None else min(0.25, deadline - time.monotonic())
            if wait <= 0:
                raise TinyEdgeError(_timeout_message(source, timeout_s or 0.0, samples, other, count))
            try:
                pending += read(wait)
            except EOFError:
                break
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                text = raw.decode("utf-8", errors="replace").rstrip("\r")
                line = parse_line(text)
                if line is None:
                    other += 1
                elif line.sample == 0:
                    samples = [line]
                    from_start = False
                elif not from_start:
                    samples.append(line)
                if echo is not None:
                    echo(text, line)
                if count is not None and len(samples) >= count:
                    break
    except KeyboardInterrupt:
        if count is not None:
            raise
    return Readout(source, tuple(samples[:count] if count else samples), other)


def _timeout_message(source: str, timeout_s: float, samples: list[SampleLine], other: int,
                     count: int | None) -> str:
    seen = f"{len(samples)} of {count} result lines" if samples else "no tinyedge result line"
    if samples:
        hint = "the firmware stopped printing: reset the board and check it is not stuck"
    elif other:
        hint = (f"{other} other line(s) arrived: check --baud matches the firmware's UART, and that the "
                "firmware is a UART build")
    else:
        hint = ("nothing arrived: check --port is the board's UART, that the firmware prints over UART "
                "(a semihosting build prints only with a debugger attached), and reset the board")
    return f"{seen} from {source} within {timeout_s:g} s; {hint}"


# ---------------------------------------------------------------- serial ports

def usb_serial_ports() -> list[str]:
    from serial.tools import list_ports

    return sorted(p.device for p in list_ports.comports() if p.vid is not None)


def choose_port(port: str | None) -> str:
    """--port, else the one USB serial port connected."""
    if port is not None:
        return port
    from tinyedge.flash.steps import choose_one

    return choose_one(usb_serial_ports(), None, "USB serial port",
                      "connect the board's USB port (on most dev kits the debug USB port carries the UART) or "
                      "give --port", flag="--port")


def open_port(port: str, baud: int = DEFAULT_BAUD):  # -> serial.Serial
    """Open a serial port or pyserial URL (loop://, socket://...); one-line errors with the fix."""
    try:
        import serial
    except ImportError:
        raise TinyEdgeError("pyserial is not installed; install it with: pip install pyserial") from None
    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=0.25)
    except serial.SerialException as exc:
        code = exc.errno if isinstance(exc.errno, int) else _errno_in(str(exc))
        if code in (errno.EACCES, errno.EPERM):
            raise TinyEdgeError(f"permission denied on serial port {port}: {DIALOUT_FIX}") from None
        if code == errno.EBUSY:
            raise TinyEdgeError(f"serial port {port} is busy: close the program holding it (another monitor, "
                                "a flashing tool) and try again") from None
        if code == errno.ENOENT:
            raise TinyEdgeError(f"serial port {port} does not exist: connect the board, or pick a port from "
                                "`python -m serial.tools.list_ports`") from None
        raise TinyEdgeError(f"cannot open serial port {port}: {exc}") from None
    except ValueError as exc:
        raise TinyEdgeError(f"cannot open serial port {port}: {exc}") from None


def _errno_in(text: str) -> int | None:
    match = re.search(r"\[Errno (\d+)\]", text)
    return int(match[1]) if match else None


def serial_chunks(port) -> Chunks:
    def read(wait_s: float) -> bytes:
        port.timeout = max(wait_s, 0.0)
        return port.read(max(1, port.in_waiting))

    return read


# ---------------------------------------------------------------- figures

def latency_ms(cycles: float, clock_hz: int) -> float:
    return cycles / clock_hz * 1000.0


def summary(samples: tuple[SampleLine, ...], clock_hz: int | None) -> str:
    cycles = [s.cycles for s in samples]
    median = statistics.median(cycles)
    text = (f"{len(cycles)} inference(s): cycles median {median:,.0f}, min {min(cycles):,}, max {max(cycles):,}")
    if clock_hz:
        text += f"; {latency_ms(median, clock_hz):.3f} ms at {clock_hz / 1e6:g} MHz"
    return text


def format_sample(line: SampleLine, clock_hz: int | None) -> str:
    text = f"sample {line.sample}: {line.cycles:,} cycles"
    if clock_hz:
        text += f"  {latency_ms(line.cycles, clock_hz):.3f} ms at {clock_hz / 1e6:g} MHz"
    return text + f"  checksum {line.checksum:08x}"


# ---------------------------------------------------------------- command line

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--board", required=True, help="the board (its clock turns cycles into latency)")
    parser.add_argument("--port", help="serial port or pyserial URL (default: the one USB serial port)")
    parser.add_argument("--baud", type=int, default=DEFAULT_BAUD, help=f"baud rate (default {DEFAULT_BAUD})")
    parser.add_argument("--count", type=int, help="stop after this many inferences (default: run until Ctrl-C)")
    parser.add_argument("--timeout", type=float,
                        help=f"give up after this many seconds (default {DEFAULT_TIMEOUT_S:g} with --count, "
                             "else none)")


def run(args: argparse.Namespace) -> int:
    from tinyedge.boards import load_board

    board = load_board(args.board)
    if args.count is not None and args.count < 1:
        raise TinyEdgeError(f"--count must be at least 1, got {args.count}")
    timeout = args.timeout if args.timeout is not None else (DEFAULT_TIMEOUT_S if args.count else None)
    port_name = choose_port(args.port)
    clock = board.clock_hz if board.cycle_counter != "none" else None

    def echo(text: str, line: SampleLine | None) -> None:
        print(format_sample(line, clock) if line is not None else text, flush=True)

    print(f"tinyedge: reading {port_name} at {args.baud} baud (Ctrl-C to stop)", file=sys.stderr)
    with open_port(port_name, args.baud) as port:
        readout = collect(serial_chunks(port), args.count, timeout, f"{port_name} at {args.baud} baud", echo)
    if readout.samples:
        print(summary(readout.samples, clock))
    return 0
