"""Flash stage: put a build's firmware on a real board.

    flash(build_dir_or_elf, board, probe=None, method=None, dry_run=False, verify=True) -> FlashResult

The method comes from the board file (`[flashing] tool`) unless `method` names another one from
METHODS. Before any hardware is touched the firmware is checked against the board: built for
it (the project's tinyedge_project.json), every byte inside its flash, a boot stage where the
chip needs one. A dry run stops there and returns the exact steps, with notes on what a real
run would still need (the tool installed, a debugger for a semihosting build); a real run checks that the
tool is installed, runs the steps, and fails with one TinyEdgeError line naming the cause and
the fix (and saying so when the board may hold a partly written image).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tinyedge.boards import Board, load_board
from tinyedge.errors import TinyEdgeError
from tinyedge.flash.esptool import EsptoolMethod, find_flasher_args
from tinyedge.flash.image import check_boot_stage, check_fits_flash, intel_hex, load_elf
from tinyedge.flash.nordic import NrfjprogMethod, NrfutilMethod
from tinyedge.flash.openocd import OpenocdMethod
from tinyedge.flash.pyocd import PyocdMethod
from tinyedge.flash.steps import Job, Method, Step, run_steps
from tinyedge.flash.uf2 import Uf2Method
from tinyedge.resources import cache_dir

METHODS: dict[str, Method] = {m.name: m for m in sorted(
    (EsptoolMethod(), NrfjprogMethod(), NrfutilMethod(), OpenocdMethod(), PyocdMethod(), Uf2Method()),
    key=lambda m: m.name)}
PROJECT_FILE = "tinyedge_project.json"  # written by build.render_project
ELF_NAME = "firmware.elf"


@dataclass(frozen=True)
class FlashResult:
    board: str
    method: str
    firmware: Path
    probe: str | None  # as given, or the one a real run chose (the only one connected)
    dry_run: bool
    verified: bool  # the method checked the flash after writing (never true for a dry run)
    steps: tuple[str, ...]  # one line per step, as run or as a dry run would run it
    output: str  # what the tools printed
    notes: tuple[str, ...] = ()  # dry run: what a real run would still need (a tool, a debugger)


def flash(firmware_or_build_dir: Path | str, board: Board | str, probe: str | None = None,
          method: str | None = None, dry_run: bool = False, verify: bool = True,
          log: Callable[[str], None] | None = None) -> FlashResult:
    log = log or (lambda message: None)
    board = load_board(board) if not isinstance(board, Board) else board
    chosen = choose_method(board, method)
    job = make_job(Path(firmware_or_build_dir), board, chosen, probe, verify)
    if dry_run:
        steps = chosen.steps(job)
        return FlashResult(board.name, chosen.name, job.firmware, probe, True, False,
                           tuple(_with_files(job, steps)), "", dry_run_notes(chosen, job))
    chosen.require()
    job = chosen.prepare(job)
    write_derived_files(job)
    steps = chosen.steps(job)
    output = run_steps(chosen, job, steps, log)
    return FlashResult(board.name, chosen.name, job.firmware, job.probe, False, verify,
                       tuple(s.describe() for s in steps), output)


def choose_method(board: Board, name: str | None) -> Method:
    if board.flashing is None:
        raise TinyEdgeError(f"board {board.name} has no flashing method ({board.description}): there is nothing to "
                            "flash; run its firmware with `tinyedge run`")
    name = name or board.flashing.tool
    if name not in METHODS:
        raise TinyEdgeError(f"unknown flashing method '{name}'; valid methods: {', '.join(METHODS)}")
    method = METHODS[name]
    reason = method.unsupported(board)
    if reason is not None:
        usable = [m.name for m in METHODS.values() if m.unsupported(board) is None]
        raise TinyEdgeError(f"--method {name} cannot flash board {board.name}: {reason}; methods for this board: "
                            f"{', '.join(usable) or 'none'}")
    return method


def make_job(path: Path, board: Board, method: Method, probe: str | None, verify: bool) -> Job:
    """Find the firmware in `path` and check it fits `board` before anything touches hardware."""
    if isinstance(method, EsptoolMethod):
        args = find_flasher_args(path)
        if args is None:
            if _project_dir(path) is not None:
                raise TinyEdgeError(f"{path} holds tinyedge's bare-metal {board.name} image, which is laid out for "
                                    "the emulator and cannot boot on the chip; build the ESP-IDF project with "
                                    "`idf.py build` and flash its build folder")
            raise TinyEdgeError(f"{path} is not an ESP-IDF build folder (no flasher_args.json); build the project "
                                "with `idf.py build` and pass its build folder")
        return Job(board, args.parent, None, None, probe, verify)
    elf = locate_elf(path, board)
    image = load_elf(elf)
    check_fits_flash(image, board)
    check_boot_stage(image, board)
    return Job(board, elf, image, derived_hex_path(elf), probe, verify)


def derived_hex_path(elf: Path) -> Path:
    """Where the Intel HEX of `elf` is (or will be) written: beside it in a tinyedge build folder; for an ELF
    of the user's own, beside it only if a HEX newer than the ELF is already there, else in tinyedge's cache,
    so a file tinyedge did not make is never overwritten."""
    beside = elf.with_suffix(".hex")
    if _project_dir(elf.parent) is not None or (beside.is_file() and beside.stat().st_mtime >= elf.stat().st_mtime):
        return beside
    digest = hashlib.sha256(elf.read_bytes()).hexdigest()[:16]
    folder = cache_dir("hex")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{elf.stem}-{digest}.hex"


def locate_elf(path: Path, board: Board) -> Path:
    """The ELF of a build folder (<out>/build/firmware.elf), or the ELF given; checks the project's board."""
    if path.is_dir():
        candidates = [path / "build" / ELF_NAME, path / ELF_NAME]
        elf = next((c for c in candidates if c.is_file()), None)
        if elf is None:
            raise TinyEdgeError(f"no {ELF_NAME} in {path} or {path / 'build'}: build the firmware first "
                                f"(tinyedge compile MODEL --board {board.name} -o {path})")
    elif path.is_file():
        elf = path
    else:
        raise TinyEdgeError(f"{path} does not exist; give a build folder or a firmware ELF")
    project = _project_dir(elf.parent)
    if project is not None:
        built_for = json.loads((project / PROJECT_FILE).read_text()).get("board")
        if built_for != board.name:
            raise TinyEdgeError(f"{elf} was built for board {built_for}, not {board.name}: pass --board {built_for} "
                                "or build for this board")
    return elf


def dry_run_notes(method: Method, job: Job) -> tuple[str, ...]:
    """What the dry run cannot show but a real run needs, so the user learns it before reaching for the board."""
    notes = []
    if not method.available():
        notes.append(f"{method.tool} is not installed here; a real run needs it: {method.install}")
    if build_console(job) == "semihosting":
        notes.append(f"{job.firmware.name} prints through semihosting: it runs only with a debugger attached (without "
                     "one it faults at its first semihosting call); `tinyedge flash --measure --method pyocd` serves "
                     "it, or build the standalone variant with `tinyedge compile --console uart`")
    return tuple(notes)


def build_console(job: Job) -> str | None:
    """The firmware's console as its project file records it ("semihosting", "uart"); for an ELF without a
    project, read from its symbols; None for an ESP-IDF build (esptool lays it out; it prints on its UART)."""
    if job.image is None:
        return None
    project = _project_dir(job.firmware.parent)
    if project is not None:
        console = json.loads((project / PROJECT_FILE).read_text()).get("console")
        if isinstance(console, str):
            return console
    return "semihosting" if job.image.uses_semihosting else "uart"


def _project_dir(path: Path) -> Path | None:
    for candidate in (path, path.parent):
        if (candidate / PROJECT_FILE).is_file():
            return candidate
    return None


def hex_is_current(job: Job) -> bool:
    return job.hex is not None and job.hex.is_file() and job.hex.stat().st_mtime >= job.firmware.stat().st_mtime


def write_derived_files(job: Job) -> None:
    """Intel HEX for the Nordic tools, when the build has none newer than the ELF."""
    if job.hex is not None and job.image is not None and not hex_is_current(job):
        job.hex.write_text(intel_hex(job.image))


def _with_files(job: Job, steps: list[Step]) -> list[str]:
    lines = [s.describe() for s in steps]
    if job.hex is not None and any(str(job.hex) in s.argv for s in steps) and not hex_is_current(job):
        lines.insert(0, f"write Intel HEX: {job.hex} (from {job.firmware.name})")
    return lines

