"""`tinyedge flash`: the command-line face of flash() and measure().

    tinyedge flash BUILD_DIR|firmware.elf --board B [--probe ID] [--method M] [--dry-run] [--no-verify]
                   [--measure [--count N] [--port P] [--baud B] [--timeout S] [--clock-hz HZ]]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinyedge.monitor import DEFAULT_BAUD


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tinyedge.flash import METHODS
    from tinyedge.flash.measure import DEFAULT_COUNT, DEFAULT_TIMEOUT_S

    parser.add_argument("firmware", type=Path, help="build folder (tinyedge compile -o ...), firmware ELF, or for "
                                                    "esptool an ESP-IDF build folder")
    parser.add_argument("--board", required=True, help="the connected board (see `tinyedge boards`)")
    parser.add_argument("--probe", help="probe id or serial number (pyocd, nrfjprog, nrfutil, openocd), serial "
                                        "port (esptool) or UF2 drive; required when several are connected")
    parser.add_argument("--method", metavar="{" + ",".join(METHODS) + "}",
                        help="flashing tool (default: the board file's)")
    parser.add_argument("--dry-run", action="store_true", help="print the exact steps; touch no hardware")
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="skip reading the flash back after writing")
    measure = parser.add_argument_group("measure on the device")
    measure.add_argument("--measure", action="store_true",
                         help="after flashing, read inferences off the device and put measured cycles beside the "
                              "emulator's estimate (report.json gains a `hardware` section)")
    measure.add_argument("--count", type=int, default=DEFAULT_COUNT, help=f"inferences (default {DEFAULT_COUNT})")
    measure.add_argument("--port", help="the board's UART for a UART build (default: the one USB serial port)")
    measure.add_argument("--baud", type=int, default=DEFAULT_BAUD, help=f"UART baud rate (default {DEFAULT_BAUD})")
    measure.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                         help=f"seconds to wait for the inferences (default {DEFAULT_TIMEOUT_S:g})")
    measure.add_argument("--clock-hz", type=int, help="the clock the chip really runs at (default: the board file's)")


def run(args: argparse.Namespace) -> int:
    from tinyedge.flash import flash

    def log(message: str) -> None:
        print(f"tinyedge: {message}", file=sys.stderr, flush=True)

    if args.dry_run:
        result = flash(args.firmware, args.board, probe=args.probe, method=args.method, dry_run=True,
                       verify=args.verify)
        print(f"dry run: flash {result.firmware} to board {result.board} with {result.method}; nothing is touched")
        for number, step in enumerate(result.steps, 1):
            print(f"  {number}. {step}")
        if args.measure:
            print(f"  then: read {args.count} inferences and add a `hardware` section to report.json")
        for note in result.notes:
            print(f"  note: {note}")
        return 0
    if args.measure:
        from tinyedge.flash.measure import comparison_table, measure

        measurement, report, path = measure(args.firmware, args.board, probe=args.probe, method=args.method,
                                            port=args.port, baud=args.baud, count=args.count,
                                            timeout_s=args.timeout, clock_hz=args.clock_hz, verify=args.verify,
                                            log=log)
        print(comparison_table(report))
        print(f"wrote the hardware section of {path}")
        return 0 if measurement.outputs_match_reference is not False else 3
    result = flash(args.firmware, args.board, probe=args.probe, method=args.method, verify=args.verify, log=log)
    probe = f" (probe {result.probe})" if result.probe else ""
    checked = "verified" if result.verified else "not verified (--no-verify)"
    print(f"flashed {result.firmware} to board {result.board} with {result.method}{probe}: {checked}")
    return 0
