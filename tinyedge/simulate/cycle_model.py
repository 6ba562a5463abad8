"""Estimated cycles from executed blocks: per-core instruction timing tables (timing.toml).

Each executed block is classified once: every instruction gets a class (capstone name ->
class, from the ISA table) and a cost from the core's table (cycles, plus per register for
multiple loads/stores, minus one for a load/store pipelined behind a load on cores that do
that, plus one for a load/store whose address the instruction just before it computed on
cores that stall for that). A block's cost is the sum. Every entry into a block through a
taken branch, call or return (a non-sequential PC change, counted by the block counter) adds
the core's pipeline refill, plus the board's flash wait states when the block lies in flash
and the board has no memory model. With one (memory_model.py, run by the emulator as it
executes) fetches and data reads from flash cost what the board's caches and flash read
buffers make them cost, as stall cycles beside the table's. The result is an estimate and says so.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import capstone
import numpy as np

from tinyedge.errors import TinyEdgeError
from tinyedge.simulate.block_counter import BlockTable, Snapshot
from tinyedge.simulate.firmware_image import disassembler
from tinyedge.simulate.memory_model import MemoryModel

_TABLE = Path(__file__).with_name("timing.toml")
_DATA_PROCESSING = frozenset({"alu", "dsp_simd", "mul", "mla", "mul_long", "mac_dsp"})
_MEMORY_CLASSES = frozenset({"load", "store", "load_multiple", "store_multiple", "load_multiple_pc", "vfp_load",
                             "vfp_store", "vfp_load64", "vfp_store64", "vfp_multiple"})
_MULTIPLE_WITH_BASE = ("ldm", "ldmdb", "ldmia", "stm", "stmdb", "stmia", "vldm", "vldmia", "vldmdb",
                       "vstm", "vstmia", "vstmdb")


@dataclass(frozen=True)
class ClassCost:
    cycles: float
    per_register: float
    source: str


@dataclass(frozen=True)
class CoreTiming:
    core: str
    title: str
    table: str
    branch_refill: float
    load_pipelining: bool
    costs: dict[str, ClassCost]
    address_stall: float = 0.0  # a load/store whose address the previous data operation wrote


@cache
def _timing_data() -> dict:
    with open(_TABLE, "rb") as stream:
        return tomllib.load(stream)


def core_timing(core: str) -> CoreTiming:
    """The timing table for a board's core name (or one of its aliases)."""
    data = _timing_data()
    for name, entry in data["cores"].items():
        if core == name or core in entry.get("aliases", []):
            costs = {row["class"]: ClassCost(float(row["cycles"]), float(row.get("per_register", 0.0)),
                                             row["source"]) for row in entry["rows"]}
            return CoreTiming(name, entry["title"], entry["table"], float(entry["branch_refill"]),
                              bool(entry["load_pipelining"]), costs, float(entry.get("address_stall", 0)))
    known = sorted({*data["cores"], *(a for e in data["cores"].values() for a in e.get("aliases", []))})
    raise TinyEdgeError(f"no cycle model for core '{core}'; known cores: {', '.join(known)}")


@cache
def _isa_classes(arch: str) -> dict[str, str]:
    return {name: cls for cls, names in _timing_data()["isa"][arch].items() for name in names}


@dataclass(frozen=True)
class BlockCosts:
    """Per block (by dense index): cycles per entry, and extra cycles per taken entry."""

    per_entry: np.ndarray  # float64
    per_taken_entry: np.ndarray  # float64

    def cycles(self, executed: Snapshot) -> float:
        n = len(executed.counts)
        return float(executed.counts.astype(np.float64) @ self.per_entry[:n]
                     + executed.taken.astype(np.float64) @ self.per_taken_entry[:n])


@dataclass(frozen=True)
class CycleModel:
    timing: CoreTiming
    arch: str
    flash_wait_states: int
    flash_ranges: tuple[tuple[int, int], ...]  # (start, end) of the board's flash memories
    board_memory: MemoryModel | None = None  # the board's caches and flash read buffers
    simulates_memory: bool = False  # whether the backend runs every read through board_memory

    @property
    def memory(self) -> MemoryModel | None:
        """The memory model the emulator must run, or None."""
        return self.board_memory if self.simulates_memory else None

    @property
    def name(self) -> str:
        version = _timing_data()["version"]
        states = self.flash_wait_states
        flash = (f"+{states} flash wait state{'s' if states != 1 else ''} per taken branch into flash"
                 if states else "0 flash wait states")
        if self.board_memory is None:
            memory = "no memory model for this board: flash reads costed as RAM"
        elif self.simulates_memory:
            memory = self.board_memory.description
        else:
            memory = ("memory stalls NOT included: this backend does not trace reads (the built-in emulator "
                      "simulates the board's caches)")
        return (f"tinyedge cycle model v{version} (estimate): {self.timing.title}, {self.timing.table}; "
                f"+{self.timing.branch_refill:g} cycles per taken branch; {flash}; {memory}")

    def block_costs(self, blocks: BlockTable, read_code: Callable[[int, int], bytes]) -> BlockCosts:
        md = disassembler(self.arch)
        n = len(blocks.addresses)
        per_entry = np.zeros(n, np.float64)
        per_taken = np.zeros(n, np.float64)
        for i in range(n):
            address, size = int(blocks.addresses[i]), int(blocks.sizes[i])
            insns = list(md.disasm(read_code(address, size), address)) if size else []
            per_entry[i] = self.instructions_cost(insns)
            per_taken[i] = self.timing.branch_refill + (self.flash_wait_states if self._in_flash(address) else 0)
        return BlockCosts(per_entry, per_taken)

    def instructions_cost(self, insns: Sequence[capstone.CsInsn]) -> float:
        """Cycles of a straight run of instructions, as the table and pipelining rule give them."""
        classes = _isa_classes(self.arch)
        pipelining = self.timing.load_pipelining
        total = 0.0
        previous_load_dest: int | None = None  # destination of the previous instruction, if a load
        previous_writes: tuple[int, ...] = ()  # registers the previous instruction wrote, if data processing
        for insn in insns:
            name = insn.insn_name()
            cls = self._class_of(insn, name, classes.get(name, "alu"))
            cost = self.timing.costs.get(cls)
            if cost is None:
                raise TinyEdgeError(f"the {self.timing.title} cycle model has no '{cls}' class for "
                                    f"'{insn.mnemonic} {insn.op_str}' at 0x{insn.address:08x}: is the "
                                    "firmware built for this core?")
            cycles = cost.cycles
            if cost.per_register:
                cycles += cost.per_register * _registers_moved(insn, name)
            if pipelining and cls in ("load", "store"):
                if previous_load_dest is not None and previous_load_dest not in _address_registers(insn):
                    cycles = max(cycles - 1.0, 1.0)
                previous_load_dest = _load_destination(insn) if cls == "load" else None
            else:
                previous_load_dest = None
            if self.timing.address_stall and cls in _MEMORY_CLASSES and previous_writes:
                if set(previous_writes) & set(_address_registers(insn)):
                    cycles += self.timing.address_stall
            previous_writes = _written(insn) if cls in _DATA_PROCESSING else ()
            total += cycles
        return total

    def _class_of(self, insn: capstone.CsInsn, name: str, cls: str) -> str:
        """Refine a class where the table has a finer row: VLDR/VSTR of a double register, a
        multiple load that loads the PC (a return)."""
        costs = self.timing.costs
        if cls in ("vfp_load", "vfp_store") and f"{cls}64" in costs:
            regs = [insn.reg_name(op.reg) for op in insn.operands if op.type == capstone.arm.ARM_OP_REG]
            if regs and regs[0].startswith("d"):
                return f"{cls}64"
        if cls == "load_multiple" and "load_multiple_pc" in costs:
            regs = [insn.reg_name(op.reg) for op in insn.operands if op.type == capstone.arm.ARM_OP_REG]
            if "pc" in regs:
                return "load_multiple_pc"
        return cls

    def _in_flash(self, address: int) -> bool:
        return any(start <= address < end for start, end in self.flash_ranges)


def _registers_moved(insn: capstone.CsInsn, name: str) -> int:
    """Registers a multiple load/store moves (a double-precision register counts as two words)."""
    regs = [insn.reg_name(op.reg) for op in insn.operands if op.type == capstone.arm.ARM_OP_REG]
    if name in _MULTIPLE_WITH_BASE and regs:
        regs = regs[1:]
    return sum(2 if r.startswith("d") else 1 for r in regs)


def _written(insn: capstone.CsInsn) -> tuple[int, ...]:
    try:
        return tuple(insn.regs_access()[1])
    except capstone.CsError:  # capstone without access data for this instruction: assume none
        return ()


def _load_destination(insn: capstone.CsInsn) -> int | None:
    ops = insn.operands
    if ops and ops[0].type == capstone.arm.ARM_OP_REG:
        return ops[0].reg
    return None


def _address_registers(insn: capstone.CsInsn) -> tuple[int, ...]:
    """Registers a load/store computes its address from (base and index)."""
    for op in insn.operands:
        if op.type == capstone.arm.ARM_OP_MEM:
            return (op.mem.base, op.mem.index)
    return ()
