"""MicroPython's native architectures as tinyedge's .mpy linker sees them, and its one error."""

from __future__ import annotations

from dataclasses import dataclass

from tinyedge.errors import TinyEdgeError


class LinkError(TinyEdgeError):
    """A module the natmod format cannot hold, named with its cause and fix."""


@dataclass(frozen=True)
class Arch:
    """A MicroPython native architecture as the linker sees it."""

    name: str
    number: int  # MP_NATIVE_ARCH_*
    machine: str  # ELF e_machine
    word: int


ARCHS = {arch.name: arch for arch in (
    Arch("x64", 2, "EM_X86_64", 8),
    Arch("armv6m", 4, "EM_ARM", 4),
    Arch("armv7m", 5, "EM_ARM", 4),
    Arch("armv7emsp", 7, "EM_ARM", 4),
    Arch("armv7emdp", 8, "EM_ARM", 4),
    Arch("rv32imc", 11, "EM_RISCV", 4),
)}
