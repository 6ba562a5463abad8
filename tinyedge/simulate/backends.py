"""Emulator backends behind one call: the built-in Unicorn emulator, Renode and QEMU where installed.

Every backend runs the same firmware ELF and returns the same SimResult, so reports and
verification do not care which one ran. `auto` prefers Renode when it is installed and can run
the board and console (it is what users' CI runs), else the built-in emulator; pick() says
which it took and why, so installing Renode never turns a working compile into an error.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyedge.console import SEMIHOSTING
from tinyedge.errors import TinyEdgeError


@dataclass(frozen=True)
class Backend:
    name: str
    # module with `simulate(elf, board, inputs, *, budget, expected_layers)`, `available()` and,
    # optionally, `check_board(board)`
    module: str
    install: str  # how a user gets it, for the error when it is missing


BACKENDS: dict[str, Backend] = {
    "builtin": Backend("builtin", "tinyedge.simulate", "run scripts/setup.sh (Unicorn comes with tinyedge)"),
    "renode": Backend("renode", "tinyedge.simulate.renode",
                      "install Renode (https://renode.io) and put `renode` on PATH or set RENODE_BIN"),
    "qemu": Backend("qemu", "tinyedge.simulate.qemu",
                    "sudo apt-get install qemu-system-arm qemu-system-misc"),
}
CHOICES = ("auto", *BACKENDS)


def _module(backend: Backend) -> Any:
    try:
        return importlib.import_module(backend.module)
    except ModuleNotFoundError as exc:
        raise TinyEdgeError(f"the {backend.name} backend is not part of this tinyedge") from exc


def is_available(name: str) -> bool:
    backend = BACKENDS[name]
    module = _module(backend)
    return bool(getattr(module, "available", lambda: True)())


@dataclass(frozen=True)
class Choice:
    name: str
    why: str  # how it was picked, for the progress line: "named", or auto's reason


def pick(name: str, board: Any, console: str = SEMIHOSTING) -> Choice:
    """The backend to run `board` with; an unknown or missing one is an error naming the fix.

    `auto` takes Renode when it is installed and can run the board and console, else the
    built-in emulator, which runs every emulated board: it never fails where another would work.
    """
    if name != "auto":
        if name not in BACKENDS:
            raise TinyEdgeError(f"unknown emulator backend '{name}'; valid backends: {', '.join(CHOICES)}")
        if not is_available(name):
            raise TinyEdgeError(f"the {name} emulator is not installed: {BACKENDS[name].install}")
        return Choice(name, "named")
    if not _safe_available("renode"):
        return Choice("builtin", "auto: Renode is not installed")
    try:
        check_board("renode", board)
        check_console("renode", console)
    except TinyEdgeError as exc:
        return Choice("builtin", f"auto: Renode is installed but cannot run this: {exc}")
    return Choice("renode", f"auto: Renode is installed and runs board {board.name}")


def _safe_available(name: str) -> bool:
    try:
        return is_available(name)
    except TinyEdgeError:
        return False


def check_board(name: str, board: Any) -> None:
    """Raise TinyEdgeError if backend `name` cannot run `board` (a backend may define check_board)."""
    check = getattr(_module(BACKENDS[name]), "check_board", None)
    if check is not None:
        check(board)


def check_console(name: str, console: str) -> None:
    """Only the built-in emulator models a board's UART (tinyedge/simulate/peripherals.py)."""
    if console != SEMIHOSTING and name != "builtin":
        raise TinyEdgeError(f"the {name} backend runs semihosting firmware only; the {console} variant runs in the "
                            "built-in emulator: pass --backend builtin")


def run(name: str, elf: Path, board: Any, inputs: Sequence[bytes], *, budget: int,
        expected_layers: int | None = None, console: str = SEMIHOSTING) -> Any:
    """Run the firmware on `board` in backend `name` (after choose()); returns a SimResult."""
    check_console(name, console)
    module = _module(BACKENDS[name])
    if console != SEMIHOSTING:
        return module.simulate(elf, board, inputs, budget=budget, expected_layers=expected_layers, console=console)
    return module.simulate(elf, board, inputs, budget=budget, expected_layers=expected_layers)
