"""esptool (PyPI `esptool`) for Espressif chips, from an ESP-IDF build folder.

An Espressif chip boots a second-stage bootloader and a partition table before the
application, each at its own flash offset (the bootloader at 0x1000 on the ESP32 and ESP32-S2,
at 0x0 on the ESP32-C3 and ESP32-S3; the partition table and the app where the partition
table says). ESP-IDF writes those offsets and the flash settings to build/flasher_args.json;
this method passes exactly them to `esptool write-flash`, which checks an MD5 of every region
after writing. tinyedge's own esp32c3 ELF is laid out for the emulator (code in the flash
cache window, which only ESP-IDF's bootloader maps) and is refused.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from tinyedge.boards import Board
from tinyedge.errors import TinyEdgeError
from tinyedge.flash.steps import ESPTOOL_INSTALL, Failure, Job, Method, Step, choose_one

FLASHER_ARGS = "flasher_args.json"
BAUD = 460800
PORT_PLACEHOLDER = "PORT"
DIALOUT_FIX = "add your user to the 'dialout' group (sudo usermod -aG dialout $USER, then log in again)"


class EsptoolMethod(Method):
    name = "esptool"
    tool = "esptool"
    install = ESPTOOL_INSTALL
    verifies = "esptool checks an MD5 of every written region against the file"
    failures = (
        Failure(r"Permission denied", f"permission denied on serial port {{probe}}: {DIALOUT_FIX}"),
        Failure(r"This chip is \S+,? not|Wrong --chip|Wrong chip argument|Unexpected chip (?:ID|magic)",
                "the chip on {probe} is not a {target}: flash it with its own --board, or pick its port with --probe"),
        Failure(r"the port is busy or doesn't exist|could not open port",
                "cannot open serial port {probe}: it does not exist or another program (a serial monitor) holds it"),
        Failure(r"No serial data received|Failed to connect to",
                "the {target} on {probe} does not answer: hold BOOT while pressing RESET to enter download mode, "
                "then flash again"),
        Failure(r"No serial ports found", "no serial port found: connect the board's USB port"),
        Failure(r"MD5 of file does not match|does not match data in flash",
                "verification failed: the flash does not hold the image", writes_nothing=False),
        Failure(r"exceeds|too big for|Detected overwriting",
                "the image does not fit the {target}'s flash as flasher_args.json lays it out"),
    )

    def unsupported(self, board: Board) -> str | None:
        if board.flashing is None or board.flashing.esptool_chip is None:
            return f"board {board.name} is not an Espressif chip (no flashing.esptool_chip in its board file)"
        return None

    def available(self) -> bool:
        return importlib.util.find_spec("esptool") is not None

    def target(self, board: Board) -> str:
        assert board.flashing is not None and board.flashing.esptool_chip is not None
        return board.flashing.esptool_chip

    @staticmethod
    def command() -> tuple[str, ...]:
        return (sys.executable, "-m", "esptool")

    def steps(self, job: Job) -> list[Step]:
        settings, files = flasher_args(job.firmware, self.target(job.board))
        argv = [*self.command(), "--chip", self.target(job.board), "--port", job.probe or PORT_PLACEHOLDER,
                "--baud", str(BAUD), "--before", "default-reset", "--after", "hard-reset", "write-flash", *settings]
        for offset, path in files:
            argv += [offset, str(path)]
        steps = [Step("program", tuple(argv), writes=True)]
        if job.probe is None:
            steps.insert(0, Step("choose port", detail=f"{PORT_PLACEHOLDER} = the one USB serial port connected "
                                                       "(or --probe PORT)"))
        return steps

    def prepare(self, job: Job) -> Job:
        """The serial port: --probe, or the one USB serial port connected."""
        from dataclasses import replace

        from serial.tools import list_ports

        ports = sorted(p.device for p in list_ports.comports() if p.vid is not None)
        if job.probe is not None and Path(job.probe).exists():
            return job
        port = choose_one(ports, job.probe, "USB serial port", "connect the board's USB port (and its driver: "
                                                              "CP210x, CH340, or the chip's own USB)")
        return replace(job, probe=port)


def find_flasher_args(path: Path) -> Path | None:
    """flasher_args.json in an ESP-IDF build folder, or in the build/ folder of an ESP-IDF project."""
    path = Path(path)
    for candidate in (path / FLASHER_ARGS, path / "build" / FLASHER_ARGS, path):
        if candidate.name == FLASHER_ARGS and candidate.is_file():
            return candidate
    return None


def flasher_args(build_dir: Path, chip: str) -> tuple[list[str], list[tuple[str, Path]]]:
    """The write-flash settings and the (offset, file) pairs ESP-IDF recorded, offsets in address order."""
    args_file = find_flasher_args(build_dir)
    if args_file is None:
        raise TinyEdgeError(f"{build_dir} is not an ESP-IDF build folder (no {FLASHER_ARGS}); build the ESP-IDF "
                            "project with `idf.py build` and pass its build folder")
    try:
        data = json.loads(args_file.read_text())
        files = data["flash_files"]
        settings = data.get("write_flash_args", [])
        built_for = data.get("extra_esptool_args", {}).get("chip", chip)
    except (ValueError, KeyError, AttributeError) as exc:
        raise TinyEdgeError(f"{args_file} is not a valid ESP-IDF {FLASHER_ARGS} ({exc})") from None
    if built_for != chip:
        raise TinyEdgeError(f"{args_file} was built for {built_for}, not {chip}: build the project for {chip} "
                            f"(idf.py set-target {chip})")
    pairs = []
    for offset, name in sorted(files.items(), key=lambda item: int(item[0], 0)):
        path = args_file.parent / name
        if not path.is_file():
            raise TinyEdgeError(f"{path} is missing ({args_file} lists it at {offset}); run `idf.py build` again")
        pairs.append((offset, path))
    # esptool 5 spells its options with dashes; ESP-IDF's file may still use underscores.
    settings = [s.replace("_", "-") if s.startswith("--") else s for s in settings]
    return settings, pairs
