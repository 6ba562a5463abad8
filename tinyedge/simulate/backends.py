"""Emulator backends behind one call: the built-in Unicorn emulator, Renode and QEMU where installed.

Every backend runs the same firmware ELF and returns the same SimResult, so reports and
verification do not care which one ran. `auto` prefers Renode when it is installed (it is
what users' CI runs), else the built-in emulator.
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


def choose(name: str = "auto") -> str:
    """The backend `name` stands for; an unknown or missing one is an error naming the fix."""
    if name == "auto":
        return "renode" if "renode" in BACKENDS and _safe_available("renode") else "builtin"
    if name not in BACKENDS:
        raise TinyEdgeError(f"unknown emulator backend '{name}'; valid backends: {', '.join(CHOICES)}")
    if not is_available(name):
        raise TinyEdgeError(f"the {name} emulator is not installed: {BACKENDS[name].install}")
    return name


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
