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
from tinyedge.simulate.firmware_image import ARCH_ARM, disassembler
from tinyedge.simulate.memory_model import MemoryModel

_TABLE = Path(__file__).with_name("timing.toml")
_DATA_PROCESSING = frozenset({"alu", "dsp_simd", "mul", "mla", "mul_long", "mac_dsp"})
_MEMORY_CLASSES = frozenset({"load", "store", "store_register_offset", "load_multiple", "store_multiple",
                             "load_multiple_pc", "vfp_load", "vfp_store", "vfp_load64", "vfp_store64",
                             "vfp_multiple"})
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
    branch_refill: float  # P per taken entry (an immediate branch's target)
    load_pipelining: bool
    costs: dict[str, ClassCost]
    address_stall: float = 0.0  # a load/store whose address the previous data operation wrote
    register_branch_refill: float | None = None  # P after BX/BLX Rm, MOV/ADD PC (None: branch_refill)
    load_pc_refill: float | None = None  # P after a load into the PC: POP/LDM/LDR PC (None: branch_refill)
    unaligned_target: float = 0.0  # added to P when the target is a 32-bit instruction at a halfword address
    it_folding: bool = False  # IT right after a 16-bit instruction costs nothing
    load_use_stall: float = 0.0  # an instruction reading the register the load just before it loaded

    def refill_after(self, kind: str) -> float:
        """P after an unconditional branch of `kind` ("immediate", "register" or "load")."""
        if kind == "register" and self.register_branch_refill is not None:
            return self.register_branch_refill
        if kind == "load" and self.load_pc_refill is not None:
            return self.load_pc_refill
        return self.branch_refill


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
            optional = {key: float(entry[key]) for key in ("register_branch_refill", "load_pc_refill")
                        if key in entry}
            return CoreTiming(name, entry["title"], entry["table"], float(entry["branch_refill"]),
                              bool(entry["load_pipelining"]), costs, float(entry.get("address_stall", 0)),
                              unaligned_target=float(entry.get("unaligned_target", 0)),
                              it_folding=bool(entry.get("it_folding", False)),
                              load_use_stall=float(entry.get("load_use_stall", 0)), **optional)
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
                f"{self._refill_text()}; {flash}; {memory}")

    def _refill_text(self) -> str:
        timing = self.timing
        kinds = {"immediate": timing.branch_refill, "register": timing.refill_after("register"),
                 "load into the PC": timing.refill_after("load")}
        if len(set(kinds.values())) == 1:
            text = f"+{timing.branch_refill:g} cycles per taken branch"
        else:
            text = "+P per taken branch (" + ", ".join(f"{v:g} {k}" for k, v in kinds.items()) + ")"
        if timing.unaligned_target:
            text += f", +{timing.unaligned_target:g} into a 32-bit instruction at a halfword address"
        return text

    def block_costs(self, blocks: BlockTable, read_code: Callable[[int, int], bytes]) -> BlockCosts:
        n = len(blocks.addresses)
        per_entry = np.zeros(n, np.float64)
        per_taken = np.zeros(n, np.float64)
        for i in range(n):
            entry, taken, _ = self._block_parts(int(blocks.addresses[i]), int(blocks.sizes[i]), read_code)
            per_entry[i], per_taken[i] = entry, taken
        return BlockCosts(per_entry, per_taken)

    def breakdown(self, blocks: BlockTable, executed: Snapshot,
                  read_code: Callable[[int, int], bytes]) -> dict[str, float]:
        """Where the estimated compute cycles of `executed` go: cycles per instruction class, the
        refills (taken entries and the extra for register and load-into-PC branches), and the
        rules' adjustments (load pipelining's saving, address and load-use stalls, folded ITs),
        plus counts (`n:` keys). The cycle keys (no `n:` prefix) add up to the compute cycles."""
        total: dict[str, float] = {}
        for i in range(min(len(blocks.addresses), len(executed.counts))):
            entries, taken = float(executed.counts[i]), float(executed.taken[i])
            if not entries and not taken:
                continue
            _, _, parts = self._block_parts(int(blocks.addresses[i]), int(blocks.sizes[i]), read_code)
            for key, value in parts.items():
                scale = taken if key.startswith("taken:") else entries
                name = key.removeprefix("taken:")
                total[name] = total.get(name, 0.0) + value * scale
        return total

    def _block_parts(self, address: int, size: int,
                     read_code: Callable[[int, int], bytes]) -> tuple[float, float, dict[str, float]]:
        """A block's cycles per entry and per taken entry, and their parts (breakdown's keys;
        those charged per taken entry prefixed `taken:`)."""
        insns = list(disassembler(self.arch).disasm(read_code(address, size), address)) if size else []
        parts: dict[str, float] = {}
        per_entry = self.instructions_cost(insns, parts)
        kind = _branch_kind(insns[-1]) if insns and self.arch == ARCH_ARM else None
        if kind is not None and kind != "immediate":  # the target's taken entry charges the immediate P
            extra = self.timing.refill_after(kind) - self.timing.branch_refill
            if extra:
                per_entry += extra
                parts[f"refill extra ({kind} branch)"] = extra
                parts[f"n:refill extra ({kind} branch)"] = 1.0
        per_taken = self.timing.branch_refill
        parts["taken:refill (taken entries)"] = self.timing.branch_refill
        parts["taken:n:refill (taken entries)"] = 1.0
        if self.timing.unaligned_target and insns and insns[0].size == 4 and address % 4 == 2:
            per_taken += self.timing.unaligned_target
            parts["taken:refill extra (32-bit target at a halfword address)"] = self.timing.unaligned_target
            parts["taken:n:refill extra (32-bit target at a halfword address)"] = 1.0
        if self._in_flash(address) and self.flash_wait_states:
            per_taken += self.flash_wait_states
            parts["taken:flash wait states"] = float(self.flash_wait_states)
        return per_entry, per_taken, parts

    def instructions_cost(self, insns: Sequence[capstone.CsInsn], parts: dict[str, float] | None = None) -> float:
        """Cycles of a straight run of instructions, as the table and its rules give them (without
        the refill of a taken branch, which the block's entries carry). `parts`, when given,
        receives the cycles per class and each rule's adjustment (see breakdown)."""
        classes = _isa_classes(self.arch)
        timing = self.timing
        pipelining = timing.load_pipelining
        total = 0.0
        tally = parts if parts is not None else {}
        previous_load_dest: int | None = None  # destination of the previous instruction, if a load
        previous_writes: tuple[int, ...] = ()  # registers the previous instruction wrote, if data processing
        previous_loaded: tuple[int, ...] = ()  # registers the previous instruction loaded
        previous_size = 0
        for insn in insns:
            name = insn.insn_name()
            cls = self._class_of(insn, name, classes.get(name, "alu"))
            cost = timing.costs.get(cls)
            if cost is None:
                raise TinyEdgeError(f"the {timing.title} cycle model has no '{cls}' class for "
                                    f"'{insn.mnemonic} {insn.op_str}' at 0x{insn.address:08x}: is the "
                                    "firmware built for this core?")
            cycles = cost.cycles
            if cost.per_register:
                cycles += cost.per_register * _registers_moved(insn, name)
            _add(tally, cls, cycles)
            _add(tally, f"n:{cls}", 1.0)
            if cls == "it" and timing.it_folding and previous_size == 2:
                _add(tally, "IT folded", -cycles)
                _add(tally, "n:IT folded", 1.0)
                cycles = 0.0
            if pipelining and cls in ("load", "store", "store_register_offset"):
                if previous_load_dest is not None and previous_load_dest not in _address_registers(insn):
                    saved = cycles - max(cycles - 1.0, 1.0)
                    if saved:
                        _add(tally, "load pipelining", -saved)
                        _add(tally, "n:load pipelining", 1.0)
                    cycles -= saved
                previous_load_dest = _load_destination(insn) if cls == "load" else None
            else:
                previous_load_dest = None
            if timing.address_stall and cls in _MEMORY_CLASSES and previous_writes:
                if set(previous_writes) & set(_address_registers(insn)):
                    cycles += timing.address_stall
                    _add(tally, "address stall", timing.address_stall)
                    _add(tally, "n:address stall", 1.0)
            if timing.load_use_stall and previous_loaded and set(previous_loaded) & set(_read(insn)):
                cycles += timing.load_use_stall
                _add(tally, "load-use stall", timing.load_use_stall)
                _add(tally, "n:load-use stall", 1.0)
            previous_writes = _written(insn) if cls in _DATA_PROCESSING else ()
            previous_loaded = _loaded(insn, name) if cls in ("load", "load_multiple", "vfp_load", "vfp_load64") else ()
            previous_size = insn.size
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
        if cls == "store" and "store_register_offset" in costs and any(
                op.type == capstone.arm.ARM_OP_MEM and op.mem.index for op in insn.operands):
            return "store_register_offset"
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


def _loaded(insn: capstone.CsInsn, name: str) -> tuple[int, ...]:
    """The registers a load writes with data from memory (not a written-back base, whose value
    the address stage computes)."""
    regs = [op.reg for op in insn.operands if op.type == capstone.arm.ARM_OP_REG]
    return tuple(regs[1:] if name in _MULTIPLE_WITH_BASE else regs)


def _add(tally: dict[str, float], key: str, value: float) -> None:
    tally[key] = tally.get(key, 0.0) + value


def _branch_kind(insn: capstone.CsInsn) -> str | None:
    """How an unconditional branch that ends a block finds its target: "immediate" (B, BL, CBZ),
    "register" (BX, BLX Rm, MOV/ADD PC), "load" (POP/LDM/LDR into the PC); None for anything
    else or a conditional one (its taken entries are charged at the target only)."""
    if insn.cc not in (capstone.arm.ARM_CC_AL, capstone.arm.ARM_CC_INVALID):
        return None
    name = insn.insn_name()
    regs = [insn.reg_name(op.reg) for op in insn.operands if op.type == capstone.arm.ARM_OP_REG]
    if name in ("bx", "blx") and regs:
        return "register"
    if name in ("b", "bl", "blx", "cbz", "cbnz"):
        return "immediate"
    if name in ("pop", "ldm", "ldmia", "ldmdb", "ldr") and "pc" in (regs if name != "ldr" else regs[:1]):
        return "load"
    if name in ("tbb", "tbh"):
        return "load"
    if regs and regs[0] == "pc" and name in ("mov", "add"):
        return "register"
    return None


def _read(insn: capstone.CsInsn) -> tuple[int, ...]:
    try:
        return tuple(insn.regs_access()[0])
    except capstone.CsError:  # capstone without access data for this instruction: assume none
        return ()


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
