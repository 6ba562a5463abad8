"""What every flashing method shares: the job, its steps, running them, and reading tool failures.

A method (pyocd.py, nordic.py, openocd.py, esptool.py, uf2.py) turns a Job into Steps: exact
command lines, or small Python actions (list the probes, copy a UF2 file). `--dry-run` prints
the steps; a real run executes them in order. A tool that fails is read against the method's
table of known failures (no probe, wrong chip, no permission...) so the user gets one line with
the fix; a failure in or after a step that writes flash says that the board may now hold a
partly written image.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from tinyedge.boards import Board
from tinyedge.errors import TinyEdgeError
from tinyedge.flash.image import Image

TOOL_TIMEOUT_S = 300.0
PARTIAL_IMAGE = "; the board may hold a partly written image: fix this and flash again"
# The tools themselves, at pyproject.toml's `flash` extra ranges (a test keeps them in step): never
# `tinyedge[flash]`, which outside this checkout would install PyPI's unrelated `tinyedge`.
PYOCD_INSTALL = "pip install 'pyocd>=0.46,<1'"
ESPTOOL_INSTALL = "pip install 'esptool>=5.0,<6'"


@dataclass(frozen=True)
class Job:
    """One flashing: the firmware and its files, the board, and what the user asked for."""

    board: Board
    firmware: Path  # the ELF; for esptool the ESP-IDF build folder
    image: Image | None  # the ELF's load segments (None for an ESP-IDF build, which esptool lays out)
    hex: Path | None  # Intel HEX of the image: the build's, or written from the ELF before the steps run
    probe: str | None  # probe id, serial number, serial port or UF2 drive, depending on the method
    verify: bool

    @property
    def elf(self) -> Image:
        assert self.image is not None, "this method flashes an ELF"
        return self.image


@dataclass(frozen=True)
class Step:
    what: str  # short description: "list probes", "program", "verify"...
    argv: tuple[str, ...] = ()  # the command, when the step runs a tool
    action: Callable[[], str] | None = field(default=None, compare=False)  # else: Python, returns its output
    check: Callable[[str], None] | None = field(default=None, compare=False)  # reads a tool's output; may raise
    writes: bool = False  # changes the board's flash
    detail: str = ""  # for Python actions: what they do, shown by --dry-run

    def describe(self) -> str:
        if self.argv:
            return f"{self.what}: {shlex.join(self.argv)}"
        return f"{self.what}: {self.detail}" if self.detail else self.what


@dataclass(frozen=True)
class Failure:
    """A known failure: a regular expression over the tool's output and the one line to print.

    The message may use {probe}, {target} and {tool}; `writes_nothing` marks failures that
    happen before any byte is written (no probe, wrong chip), so no partial-image warning."""

    pattern: str
    message: str
    writes_nothing: bool = True


class Method:
    """Base of the flashing methods. Subclasses set the class attributes and `steps`."""

    name: ClassVar[str]
    tool: ClassVar[str]  # what the user sees and installs
    install: ClassVar[str]  # how to install it
    verifies: ClassVar[str]  # how `verify` is done, for the help text
    failures: ClassVar[tuple[Failure, ...]] = ()

    def unsupported(self, board: Board) -> str | None:
        """Why this method cannot flash `board`, or None when it can."""
        raise NotImplementedError

    def available(self) -> bool:
        raise NotImplementedError

    def steps(self, job: Job) -> list[Step]:
        raise NotImplementedError

    def prepare(self, job: Job) -> Job:
        """Before a real run (never in a dry run): fill in what only the connected hardware tells."""
        return job

    def target(self, board: Board) -> str:
        """The chip name the tool is told (for messages)."""
        return board.name

    def require(self) -> None:
        if not self.available():
            raise TinyEdgeError(f"{self.tool} is not installed; install it with: {self.install}")

    def diagnose(self, output: str, job: Job) -> Failure | None:
        for failure in self.failures:
            if re.search(failure.pattern, output, re.IGNORECASE | re.MULTILINE):
                return failure
        return None

    def failure_message(self, failure: Failure, job: Job) -> str:
        return failure.message.format(probe=job.probe or "", target=self.target(job.board), tool=self.tool)


def run_steps(method: Method, job: Job, steps: Sequence[Step], log: Callable[[str], None]) -> str:
    """Run the steps in order; the tools' combined output, or one TinyEdgeError."""
    outputs = []
    wrote = False
    for step in steps:
        log(step.describe())
        wrote = wrote or step.writes
        if step.action is not None:
            try:
                output = step.action()
            except TinyEdgeError as exc:
                raise TinyEdgeError(f"{exc}{PARTIAL_IMAGE if wrote else ''}") from None
        else:
            output = _run_tool(method, job, step, wrote)
        if step.check is not None:
            try:
                step.check(output)
            except TinyEdgeError as exc:
                raise TinyEdgeError(f"{exc}{PARTIAL_IMAGE if wrote else ''}") from None
        outputs.append(output)
    return "\n".join(o for o in outputs if o)


def _run_tool(method: Method, job: Job, step: Step, wrote: bool) -> str:
    try:
        proc = subprocess.run(step.argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=TOOL_TIMEOUT_S, errors="replace")
    except FileNotFoundError:
        raise TinyEdgeError(f"{method.tool} is not installed ({step.argv[0]} not found); install it with: "
                            f"{method.install}") from None
    except subprocess.TimeoutExpired:
        raise TinyEdgeError(f"{method.tool} did not finish '{step.what}' within {TOOL_TIMEOUT_S:g} s"
                            f"{PARTIAL_IMAGE if wrote else ''}") from None
    output = (proc.stdout + "\n" + proc.stderr).strip()
    if proc.returncode == 0:
        return output
    failure = method.diagnose(output, job)
    if failure is not None:
        message = method.failure_message(failure, job)
        partial = wrote and not failure.writes_nothing
    else:
        message = f"{method.tool} failed at '{step.what}' (exit {proc.returncode}): {last_error_line(output)}"
        partial = wrote
    raise TinyEdgeError(message + (PARTIAL_IMAGE if partial else ""))


def last_error_line(output: str) -> str:
    """The line of a tool's output most likely to say what went wrong."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if re.search(r"error|fail|fatal|denied|not found|no such", line, re.IGNORECASE):
            return line
    return lines[-1] if lines else "no output"


def choose_one(found: Sequence[str], wanted: str | None, kind: str, none_fix: str, flag: str = "--probe") -> str:
    """The one device to use: `wanted` (a full or partial id) or the only one connected.

    Raises a one-line error for none connected, none matching, or several without a choice."""
    if wanted is not None:
        matches = [item for item in found if wanted.lower() in item.lower()]
        if not matches:
            seen = ", ".join(found) if found else "none"
            raise TinyEdgeError(f"no {kind} matches {flag} {wanted} (connected: {seen}); {none_fix}")
        exact = [item for item in matches if item.lower() == wanted.lower()]
        if len(matches) > 1 and len(exact) != 1:
            raise TinyEdgeError(f"{flag} {wanted} matches several {kind}s ({', '.join(matches)}); give more of the id")
        return exact[0] if exact else matches[0]
    if not found:
        raise TinyEdgeError(f"no {kind} found; {none_fix}")
    if len(found) > 1:
        raise TinyEdgeError(f"several {kind}s are connected ({', '.join(found)}); choose one with {flag} ID")
    return found[0]
