"""What the emulator needs from a board, and how each core maps onto Unicorn.

`simulate()` takes any object with the attributes of `SimBoard` (tinyedge.boards.Board is
one); `SimTarget` is a plain dataclass that satisfies it, for tests and callers without a board
file. A board may also name Unicorn's CPU model (`board.emulator.cpu_model`, the UC_CPU_<ARCH>_
suffix such as "CORTEX_M4" or "SIFIVE_E31"); without one the core's default below is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import unicorn

from tinyedge.errors import TinyEdgeError
from tinyedge.simulate.firmware_image import ARCH_ARM, ARCH_RISCV

FLASH = "flash"
RAM = "ram"


class SimMemory(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def origin(self) -> int: ...
    @property
    def length(self) -> int: ...
    @property
    def kind(self) -> str:
        """"flash" (read/execute only while running, wait states apply) or "ram"."""
        ...


class SimBoard(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def core(self) -> str: ...
    @property
    def clock_hz(self) -> int: ...
    @property
    def memories(self) -> Sequence[SimMemory]: ...
    @property
    def fetch_wait_states(self) -> int: ...


@dataclass(frozen=True)
class Memory:
    name: str
    origin: int
    length: int
    kind: str = RAM


@dataclass(frozen=True)
class SimTarget:
    name: str
    core: str
    clock_hz: int
    memories: tuple[Memory, ...]
    fetch_wait_states: int = 0
    caches: tuple[Any, ...] = ()  # tinyedge.boards.Cache rows: the memory model (memory_model.py)


@dataclass(frozen=True)
class CoreSpec:
    arch: str  # ARCH_ARM or ARCH_RISCV
    uc_arch: int
    uc_mode: int
    cpu_model: int | None  # None: Unicorn's default for the mode


_THUMB_M = unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS

# Board core name -> Unicorn engine. Unicorn has no Cortex-M0+ model; its Cortex-M0 runs the
# same ARMv6-M instruction set. Its SiFive E31 model is RV32IMAC with machine mode, the ESP32-C6
# HP core's instruction set.
CORES: dict[str, CoreSpec] = {
    "cortex-m0plus": CoreSpec(ARCH_ARM, unicorn.UC_ARCH_ARM, _THUMB_M, unicorn.arm_const.UC_CPU_ARM_CORTEX_M0),
    "cortex-m4": CoreSpec(ARCH_ARM, unicorn.UC_ARCH_ARM, _THUMB_M, unicorn.arm_const.UC_CPU_ARM_CORTEX_M4),
    "cortex-m4f": CoreSpec(ARCH_ARM, unicorn.UC_ARCH_ARM, _THUMB_M, unicorn.arm_const.UC_CPU_ARM_CORTEX_M4),
    "cortex-m7": CoreSpec(ARCH_ARM, unicorn.UC_ARCH_ARM, _THUMB_M, unicorn.arm_const.UC_CPU_ARM_CORTEX_M7),
    "cortex-m33": CoreSpec(ARCH_ARM, unicorn.UC_ARCH_ARM, _THUMB_M, unicorn.arm_const.UC_CPU_ARM_CORTEX_M33),
    "rv32imc": CoreSpec(ARCH_RISCV, unicorn.UC_ARCH_RISCV, unicorn.UC_MODE_RISCV32, None),
    "rv32imac": CoreSpec(ARCH_RISCV, unicorn.UC_ARCH_RISCV, unicorn.UC_MODE_RISCV32,
                         unicorn.riscv_const.UC_CPU_RISCV32_SIFIVE_E31),
}


def cpu_model(board: SimBoard, spec: CoreSpec) -> int | None:
    """Unicorn CPU model: the board's emulator.cpu_model when it names one, else the core's default."""
    name = getattr(getattr(board, "emulator", None), "cpu_model", None)
    if not name:
        return spec.cpu_model
    module, prefix = ((unicorn.arm_const, "UC_CPU_ARM_") if spec.arch == ARCH_ARM
                      else (unicorn.riscv_const, "UC_CPU_RISCV32_"))
    value = getattr(module, prefix + name, None)
    if value is None:
        known = sorted(n.removeprefix(prefix) for n in dir(module) if n.startswith(prefix) and n != prefix + "ENDING")
        raise TinyEdgeError(f"board {board.name}: Unicorn has no CPU model '{name}'; valid: {', '.join(known)}")
    return value


def core_spec(core: str) -> CoreSpec:
    spec = CORES.get(core)
    if spec is None:
        hint = " (no emulator for Xtensa is available; use the analytical estimate)" if "xtensa" in core else ""
        raise TinyEdgeError(f"the built-in emulator cannot run core '{core}'{hint}; "
                            f"it runs: {', '.join(sorted(CORES))}")
    return spec
