"""Count executed instructions per translated block: the C hook (fast) and its Python twin.

Both counters give every distinct block (start address, size) a dense index in order of
first execution and keep, per block, how often it was entered (`counts`) and how many of
those entries followed a non-sequential PC change (`taken`: a taken branch, call or return),
plus the running instruction total. Counting whole blocks also counts Thumb instructions
skipped inside an IT block (Unicorn's code hook does not fire for them; the core still issues
them), so totals agree with QEMU and Renode.

The C hook (counter.c) is compiled once with the host C compiler into the tinyedge cache and
registered on the engine handle of the Python `Uc` object through ctypes. The Python hook is
the fallback when no C compiler exists and the oracle the tests hold the C hook to; it
counts a block's instructions with capstone rather than counter.c's length rule.

With a memory model (memory_model.py) both also run fetches and data reads from flash through
the board's caches and keep the stall cycles beside the counts.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import capstone
import numpy as np
import unicorn
from unicorn.arm_const import (
    UC_ARM_REG_LR,
    UC_ARM_REG_PC,
    UC_ARM_REG_R0,
    UC_ARM_REG_R12,
    UC_ARM_REG_SP,
    UC_ARM_REG_XPSR,
)
from unicorn.riscv_const import UC_RISCV_REG_X0
from unicorn.unicorn_py3 import unicorn as _binding

from tinyedge import children, resources
from tinyedge.errors import TinyEdgeError
from tinyedge.simulate.firmware_image import ARCH_ARM, ARCH_RISCV, disassembler
from tinyedge.simulate.memory_model import NONE, CMemory, MemoryModel, PyMemory, check_layout

STATUS_RUNNING = 0
STATUS_BUDGET_EXCEEDED = 1
STATUS_TABLE_FULL = 2
STATUS_CODE_UNREADABLE = 3
STATUS_NEEDS_HOOKS = 4  # counter.c: a new block's hooked loads need code hooks (install_load_hooks)
STATUS_PLAN_FAILED = 5  # counter.c: a block could not be planned; run again with data reads trapped
STATUS_SWITCH_TO_PLANS = 6  # counter.c: trapped reads are dense; map the data pages, plan from here

# How flash data reads reach the memory model (counter.c's file comment): "auto" traps them until
# they are dense, then plans; "trap" and "plan" keep one way (the tests hold them to each other).
DATA_READS = ("auto", "trap", "plan")
# A trapped read costs about 27 ns of host time; planning costs 1.4-2 ns per instruction on the
# MLPerf Tiny models (a few register reads per block entry with loads; benchmarks/emulator_speed.py):
# planning pays once about one instruction in ten or more reads flash data, over the run so far.
SWITCH_READS_PER_1000 = 100
SWITCH_WINDOW = 1_000_000  # instructions between two looks at the density

# Distinct blocks one run may execute; a model firmware has a few thousand.
DEFAULT_CAPACITY = 1 << 18

_ISA = {ARCH_ARM: 0, ARCH_RISCV: 1}  # counter.c's enum te_isa
_SOURCES = (Path(__file__).with_name("counter.c"), Path(__file__).with_name("load_plan.c"))
_HEADER = Path(__file__).with_name("load_plan.h")
_CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared")
_NEVER_A_PC = 1 << 63  # next_pc before the first block: the first entry counts as taken


def cache_dir() -> Path:
    return resources.cache_dir("simulate")


@dataclass(frozen=True)
class Snapshot:
    """Counter state at one instant, or (from `between`) what ran between two instants."""

    total: int  # instructions
    counts: np.ndarray  # uint64 per block index: entries
    taken: np.ndarray  # uint64 per block index: entries through a taken branch
    stall: int = 0  # memory stall cycles (memory_model.py); 0 without a memory model


def between(first: Snapshot, second: Snapshot) -> Snapshot:
    """What executed from `first` to the later `second` (blocks only get added, never removed)."""
    counts = second.counts.copy()
    taken = second.taken.copy()
    counts[: len(first.counts)] -= first.counts
    taken[: len(first.taken)] -= first.taken
    return Snapshot(second.total - first.total, counts, taken, second.stall - first.stall)


@dataclass(frozen=True)
class BlockTable:
    """The distinct blocks a run entered, by dense index."""

    addresses: np.ndarray  # uint64
    sizes: np.ndarray  # uint32, bytes
    insns: np.ndarray  # uint32, instructions in the block


class BlockCounter(Protocol):
    kind: str  # "c" or "python"

    def install(self, uc: unicorn.Uc) -> None: ...

    def snapshot(self, exclude_current: bool, pc: int | None = None) -> Snapshot:
        """Now; with exclude_current, as of just before the block being executed was entered, but
        for the stall of the reads it ran before `pc` (a code hook's address): those count."""
        ...

    def blocks(self) -> BlockTable: ...

    @property
    def total(self) -> int: ...

    @property
    def status(self) -> int: ...

    @property
    def stop_block(self) -> int:
        """Address of the block whose entry made the counter stop the run."""
        ...

    @property
    def current_block(self) -> int:
        """Dense index of the block entered last (the one executing)."""
        ...

    def restart(self, budget: int) -> None:
        """Set a new instruction budget and clear the stop status, to resume after a stop."""
        ...

    def memory_reads(self) -> dict[str, int]:
        """Data reads per modelled memory region so far (empty without a memory model)."""
        ...

    def cache_misses(self) -> dict[str, tuple[int, int]]:
        """Per modelled cache: line look-ups and misses so far."""
        ...

    def map_data(self, uc: unicorn.Uc, start: int, data: bytes) -> None:
        """Have the reads of [start, start + len(data)), modelled flash that holds data only, go
        through the memory model: planned, or trapped (the range is remapped as MMIO)."""
        ...

    def see_memory(self, memories: Sequence[tuple[int, np.ndarray]]) -> None:
        """The host arrays behind the guest's memories (start address, bytes): planned data
        reads take the values a block's loads read from them."""
        ...

    def install_load_hooks(self, uc: unicorn.Uc) -> None:
        """After STATUS_NEEDS_HOOKS (planned data reads only): hook the new block's hooked loads."""
        ...

    def switch_to_plans(self, uc: unicorn.Uc) -> None:
        """After STATUS_SWITCH_TO_PLANS: stop trapping data reads, plan them."""
        ...

    @property
    def planning(self) -> bool:
        """Whether data reads are planned (counter.c), not trapped."""
        ...

    @property
    def write_fault(self) -> int | None:
        """Address of a store into a range map_data mapped (it stops the run), if any."""
        ...


def make_counter(kind: str, arch: str, budget: int, capacity: int = DEFAULT_CAPACITY,
                 memory: MemoryModel | None = None, data_reads: str = "auto") -> BlockCounter:
    """kind "auto": the C hook when a C compiler is available, else the Python hook. data_reads:
    how the C hook sees flash data reads (DATA_READS); the Python hook always traps them."""
    if kind not in ("auto", "c", "python"):
        raise TinyEdgeError(f"unknown block counter '{kind}'; choose auto, c or python")
    if data_reads not in DATA_READS:
        raise TinyEdgeError(f"unknown data_reads '{data_reads}'; choose {' or '.join(DATA_READS)}")
    if kind != "python":
        library = compiled_counter()
        if library is not None:
            return CBlockCounter(library, arch, budget, capacity, memory, data_reads)
        if kind == "c":
            raise TinyEdgeError("the C block counter needs a host C compiler: install gcc (or set CC)")
        warnings.warn("no host C compiler: the emulator counts with its Python hook, about 50x slower; "
                      "install gcc (or set CC) for the compiled one", RuntimeWarning, stacklevel=2)
    return PyBlockCounter(arch, budget, capacity, memory)


# ---------------------------------------------------------------------------------------------
# C hook


BLOCK_DTYPE = np.dtype([("address", "<u8"), ("size", "<u4"), ("insns", "<u4"), ("count", "<u8"),
                        ("taken", "<u8")])  # a block record (also the QEMU plugin's trace format)
# te_block in counter.c: a block record and the memory model region that holds the block
_COUNTER_BLOCK_DTYPE = np.dtype(BLOCK_DTYPE.descr + [("region", "<i4"), ("first_load", "<u4"),
                                                     ("records", "<u2"), ("hooked_loads", "<u2"),
                                                     ("needs", "<u4"), ("planned", "<u4"), ("reserved", "<u4")])
# te_load in load_plan.h: one planned load
LOAD_DTYPE = np.dtype([("pc", "<u8"), ("term", "i1", 4), ("shift", "u1", 4), ("offset", "<u4"), ("size", "<u2"),
                       ("count", "<u2"), ("keep", "u1"), ("sign", "u1"), ("kind", "u1"), ("cond", "u1"),
                       ("reserved", "<u4")])
_MAX_RECORDS = 256  # load_plan.h's TE_MAX_RECORDS
_LOAD_CAPACITY = 1 << 18
_PENDING_CAPACITY = 1 << 12
_SPAN_CAPACITY = 256


class _CounterStruct(ctypes.Structure):
    """Mirror of te_counter in counter.c (same order, same types)."""

    _fields_ = [
        ("total", ctypes.c_uint64),
        ("budget", ctypes.c_uint64),
        ("next_pc", ctypes.c_uint64),
        ("stop_block", ctypes.c_uint64),
        ("blocks", ctypes.c_void_p),
        ("slots", ctypes.c_void_p),
        ("slot_mask", ctypes.c_uint32),
        ("capacity", ctypes.c_uint32),
        ("n_blocks", ctypes.c_uint32),
        ("last_block", ctypes.c_uint32),
        ("last_taken", ctypes.c_uint32),
        ("status", ctypes.c_uint32),
        ("isa", ctypes.c_int32),
        ("reserved", ctypes.c_uint32),
        ("mem_read", ctypes.c_void_p),
        ("emu_stop", ctypes.c_void_p),
        ("memory", ctypes.c_void_p),
        ("plans", ctypes.c_void_p),
    ]


class _PlannerStruct(ctypes.Structure):
    """Mirror of te_planner in load_plan.h."""

    _fields_ = [
        ("isa", ctypes.c_int32),
        ("reserved", ctypes.c_uint32),
        ("mem_read", ctypes.c_void_p),
        ("capstone", ctypes.c_size_t),
        ("cs_malloc", ctypes.c_void_p),
        ("cs_free", ctypes.c_void_p),
        ("cs_disasm_iter", ctypes.c_void_p),
        ("cs_regs_access", ctypes.c_void_p),
        ("constant_ranges", ctypes.c_void_p),
        ("n_constant_ranges", ctypes.c_uint32),
        ("reserved2", ctypes.c_uint32),
    ]


class _PlansStruct(ctypes.Structure):
    """Mirror of te_plans in counter.c."""

    _fields_ = [
        ("planner", _PlannerStruct),
        ("loads", ctypes.c_void_p),
        ("capacity", ctypes.c_uint32),
        ("n_loads", ctypes.c_uint32),
        ("pending", ctypes.c_void_p),
        ("pending_capacity", ctypes.c_uint32),
        ("n_pending", ctypes.c_uint32),
        ("reg_read", ctypes.c_void_p),
        ("reg_write", ctypes.c_void_p),
        ("reg_ids", ctypes.c_int32 * 32),
        ("xpsr_id", ctypes.c_int32),
        ("page_bytes", ctypes.c_uint32),
        ("failure", ctypes.c_uint32),
        ("spans", ctypes.c_void_p),
        ("n_spans", ctypes.c_uint32),
        ("n_host", ctypes.c_uint32),
        ("lo", ctypes.c_uint64),
        ("hi", ctypes.c_uint64),
        ("host", ctypes.c_void_p),
        ("last_span", ctypes.c_void_p),
        ("tail_block", ctypes.c_uint32),
        ("tail_next", ctypes.c_uint32),
        ("has_tail", ctypes.c_uint32),
        ("reads_data", ctypes.c_uint32),
        ("active", ctypes.c_uint32),
        ("switch_per_1000", ctypes.c_uint32),
        ("window", ctypes.c_uint64),
        ("window_end", ctypes.c_uint64),
        ("addresses", ctypes.c_uint32 * _MAX_RECORDS),
        ("fetch", ctypes.c_uint64),
        ("marks", ctypes.c_uint64 * _MAX_RECORDS),
    ]


class _HostStruct(ctypes.Structure):
    """Mirror of te_host in counter.c."""

    _fields_ = [("start", ctypes.c_uint64), ("end", ctypes.c_uint64), ("bytes", ctypes.c_void_p)]


def _capstone_include_dir() -> Path:
    include = Path(capstone.__file__).resolve().parent / "include"
    if not (include / "capstone" / "capstone.h").is_file():
        raise TinyEdgeError(f"the capstone package has no C headers under {include}; "
                            "reinstall it with `pip install --force-reinstall capstone`")
    return include


def _unicorn_include_dir() -> Path:
    include = Path(unicorn.__file__).resolve().parent / "include"
    if not (include / "unicorn" / "unicorn.h").is_file():
        raise TinyEdgeError(f"the unicorn package has no C headers under {include}; "
                            "reinstall it with `pip install --force-reinstall unicorn`")
    return include


def _host_compiler() -> str | None:
    for candidate in (os.environ.get("CC"), "gcc", "cc", "clang"):
        if candidate and shutil.which(candidate):
            return candidate
    return None


def compiled_counter() -> Path | None:
    """The compiled counter library, built into the cache on first use; None without a C compiler."""
    compiler = _host_compiler()
    if compiler is None:
        return None
    include = _unicorn_include_dir()
    capstone_include = _capstone_include_dir()
    return compile_into_cache(compiler, _SOURCES, "counter", [*_CFLAGS, f"-I{include}", f"-I{capstone_include}"],
                              fingerprint=(unicorn.__version__, (include / "unicorn" / "unicorn.h").read_text(),
                                           capstone.__version__, _HEADER.read_text()))


def compile_into_cache(compiler: str, source: Path | Sequence[Path], stem: str, flags: Sequence[str],
                       fingerprint: Sequence[str] = ()) -> Path:
    """Compile C files into <cache>/<stem>-<hash>.so, once per compiler, flags, sources and
    `fingerprint` (texts the result also depends on, such as a header); atomic, so concurrent
    runs never load a half-written library."""
    sources = [source] if isinstance(source, Path) else list(source)
    digest = hashlib.sha256()
    for part in (compiler, *flags, *(s.read_text() for s in sources), *fingerprint):
        digest.update(part.encode())
    library = cache_dir() / f"{stem}-{digest.hexdigest()[:20]}.so"
    if library.exists():
        return library
    library.parent.mkdir(parents=True, exist_ok=True)
    partial = library.with_name(f"{library.stem}.{os.getpid()}.tmp.so")
    command = [compiler, *flags, *map(str, sources), "-o", str(partial)]
    what = f"{compiler} compiling {', '.join(s.name for s in sources)}"
    proc = children.run(command, what, stage="block-counter", text=True)
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        raise children.completed_failure(what, proc, stage="block-counter")
    partial.replace(library)
    return library


_libraries: dict[Path, ctypes.CDLL] = {}


def _load(library: Path) -> ctypes.CDLL:
    if library not in _libraries:
        lib = ctypes.CDLL(str(library))
        lib.te_counter_struct_size.restype = ctypes.c_size_t
        lib.te_counter_block_size.restype = ctypes.c_size_t
        lib.te_plans_struct_size.restype = ctypes.c_size_t
        lib.te_plans_load_size.restype = ctypes.c_size_t
        lib.te_counter_stall_before.restype = ctypes.c_uint64
        lib.te_counter_stall_before.argtypes = [ctypes.c_void_p, ctypes.c_uint64]
        if (lib.te_counter_struct_size() != ctypes.sizeof(_CounterStruct)
                or lib.te_counter_block_size() != _COUNTER_BLOCK_DTYPE.itemsize or not check_layout(lib)
                or lib.te_plans_struct_size() != ctypes.sizeof(_PlansStruct)
                or lib.te_plans_load_size() != LOAD_DTYPE.itemsize):
            raise TinyEdgeError(f"{library} does not match block_counter.py (te_counter layout); "
                                f"delete {library.parent} and retry")
        _libraries[library] = lib
    return _libraries[library]


def _unicorn_function(name: str) -> int:
    return ctypes.cast(getattr(_binding.uclib, name), ctypes.c_void_p).value or 0


class CBlockCounter:
    """The C block hook; its arrays are numpy arrays the hook writes in place."""

    kind = "c"

    def __init__(self, library: Path, arch: str, budget: int, capacity: int = DEFAULT_CAPACITY,
                 memory: MemoryModel | None = None, data_reads: str = "auto") -> None:
        if capacity & (capacity - 1):
            raise ValueError("capacity must be a power of two")
        self._lib = _load(library)
        self._blocks = np.zeros(capacity, _COUNTER_BLOCK_DTYPE)
        self._slots = np.zeros(2 * capacity, np.uint32)
        s = _CounterStruct()
        s.budget = budget
        s.next_pc = _NEVER_A_PC
        s.blocks = self._blocks.ctypes.data
        s.slots = self._slots.ctypes.data
        s.slot_mask = len(self._slots) - 1
        s.capacity = capacity
        s.isa = _ISA[arch]
        s.mem_read = _unicorn_function("uc_mem_read")
        s.emu_stop = _unicorn_function("uc_emu_stop")
        self._memory = CMemory(memory) if memory is not None else None
        s.memory = ctypes.addressof(self._memory.state) if self._memory is not None else None
        self._plans = _Plans(arch, memory) if memory is not None and data_reads != "trap" else None
        if self._plans is not None:
            s.plans = ctypes.addressof(self._plans.state)
            self._plans.state.active = data_reads == "plan"
        self._trapped: list[tuple[int, int]] = []  # data ranges mapped as MMIO
        self._state = s
        self._hooked: set[int] = set()

    def install(self, uc: unicorn.Uc) -> None:
        if self._plans is not None:
            self._plans.state.page_bytes = uc.ctl_get_page_size()
        handle = _binding.uc_hook_h()
        status = _binding.uclib.uc_hook_add(
            uc._uch, ctypes.byref(handle), unicorn.UC_HOOK_BLOCK,
            ctypes.cast(self._lib.te_counter_block_hook, ctypes.c_void_p),
            ctypes.cast(ctypes.byref(self._state), ctypes.c_void_p), ctypes.c_uint64(1), ctypes.c_uint64(0))
        if status != unicorn.UC_ERR_OK:
            raise unicorn.UcError(status)
        # The engine now points into this object's memory: keep it alive as long as the engine.
        uc._tinyedge_block_counter = self  # type: ignore[attr-defined]

    def snapshot(self, exclude_current: bool, pc: int | None = None) -> Snapshot:
        s = self._state
        if not exclude_current:
            self._settle()
        n = s.n_blocks
        records = self._blocks[:n]
        counts = records["count"].copy()
        taken = records["taken"].copy()
        total = s.total
        stall = self._memory.stall if self._memory is not None else 0
        if exclude_current and n:
            counts[s.last_block] -= 1
            taken[s.last_block] -= s.last_taken
            total -= int(records["insns"][s.last_block])
            if self._memory is not None and pc is not None and self._plans is not None:
                # planned reads of the block may be charged ahead of pc, or still wait (counter.c)
                stall = self._lib.te_counter_stall_before(ctypes.byref(s), pc)
            else:
                stall -= self._memory.last_fetch if self._memory is not None else 0
        return Snapshot(int(total), counts, taken, stall)

    def blocks(self) -> BlockTable:
        records = self._blocks[: self._state.n_blocks]
        return BlockTable(records["address"].copy(), records["size"].copy(), records["insns"].copy())

    @property
    def total(self) -> int:
        return int(self._state.total)

    @property
    def status(self) -> int:
        return int(self._state.status)

    @property
    def stop_block(self) -> int:
        return int(self._state.stop_block)

    @property
    def current_block(self) -> int:
        return int(self._state.last_block)

    def restart(self, budget: int) -> None:
        self._state.budget = budget
        self._state.status = STATUS_RUNNING

    def _settle(self) -> None:
        """Charge the reads the block entered last has run but not charged yet (counter.c)."""
        if self._plans is not None:
            self._lib.te_counter_settle(ctypes.byref(self._state))

    def memory_reads(self) -> dict[str, int]:
        self._settle()
        return self._memory.reads() if self._memory is not None else {}

    def cache_misses(self) -> dict[str, tuple[int, int]]:
        self._settle()
        return self._memory.misses() if self._memory is not None else {}

    @property
    def planning(self) -> bool:
        """Whether data reads are planned (from the start, or since a switch)."""
        return self._plans is not None and bool(self._plans.state.active)

    def map_data(self, uc: unicorn.Uc, start: int, data: bytes) -> None:
        assert self._memory is not None
        span = self._memory.span(start, data, _unicorn_function("uc_emu_stop"))
        if self._plans is not None:
            self._plans.add_span(span, start, len(data))
            if self.planning:
                return
        self._trapped.append((start, len(data)))
        uc.mem_unmap(start, len(data))
        status = _mmio_map(uc._uch, start, len(data), ctypes.cast(self._lib.te_memory_mmio_read, ctypes.c_void_p),
                           span, ctypes.cast(self._lib.te_memory_mmio_write, ctypes.c_void_p), span)
        if status != unicorn.UC_ERR_OK:
            raise unicorn.UcError(status)

    def see_memory(self, memories: Sequence[tuple[int, np.ndarray]]) -> None:
        if self._plans is not None:
            self._plans.see_memory(memories)

    def switch_to_plans(self, uc: unicorn.Uc) -> None:
        """After STATUS_SWITCH_TO_PLANS: the trapped data ranges mapped as flash again, over the
        bytes the firmware was loaded into; blocks are planned from the one the run resumes at."""
        assert self._plans is not None
        for start, length in self._trapped:
            uc.mem_unmap(start, length)
            uc.mem_map_ptr(start, length, unicorn.UC_PROT_READ | unicorn.UC_PROT_EXEC, self._plans.host_address(start))
        self._trapped.clear()
        self._plans.state.active = 1
        self._state.status = STATUS_RUNNING

    def install_load_hooks(self, uc: unicorn.Uc) -> None:
        """After STATUS_NEEDS_HOOKS: a code hook on each hooked load the new block has, and the
        blocks holding them dropped from Unicorn's cache so that they are translated with the hooks.
        The run resumes at stop_block, which the counter has not counted yet."""
        assert self._plans is not None
        plans = self._plans.state
        for pc in self._plans.pending[: plans.n_pending].tolist():
            if pc not in self._hooked:
                self._hooked.add(pc)
                handle = _binding.uc_hook_h()
                status = _binding.uclib.uc_hook_add(
                    uc._uch, ctypes.byref(handle), unicorn.UC_HOOK_CODE,
                    ctypes.cast(self._lib.te_counter_load_hook, ctypes.c_void_p),
                    ctypes.cast(ctypes.byref(self._state), ctypes.c_void_p), ctypes.c_uint64(pc), ctypes.c_uint64(pc))
                if status != unicorn.UC_ERR_OK:
                    raise unicorn.UcError(status)
            uc.ctl_remove_cache(pc, pc + 1)
        plans.n_pending = 0
        self._state.status = STATUS_RUNNING

    @property
    def plan_failure(self) -> str:
        """Why a block could not be planned (after STATUS_PLAN_FAILED)."""
        failure = self._plans.state.failure if self._plans is not None else 0
        return _PLAN_FAILURES.get(failure, f"te_plan_block result {failure}")

    @property
    def write_fault(self) -> int | None:
        return self._memory.write_fault if self._memory is not None else None


_PLAN_FAILURES = {1: "more loads than the plan table holds", 2: "code the planner cannot read or decode",
                  3: "an instruction that reads memory in a way the planner does not describe"}
_ARM_REGISTERS = (*range(UC_ARM_REG_R0, UC_ARM_REG_R12 + 1), UC_ARM_REG_SP, UC_ARM_REG_LR, UC_ARM_REG_PC)


class _Plans:
    """counter.c's te_plans: the planner's capstone handle and every array it writes into."""

    def __init__(self, arch: str, memory: MemoryModel) -> None:
        self.loads = np.zeros(_LOAD_CAPACITY, LOAD_DTYPE)
        self.pending = np.zeros(_PENDING_CAPACITY, np.uint64)
        self._constants = np.array([[r.start, r.end] for r in memory.regions], np.uint64).reshape(-1)
        self._spans = (ctypes.c_void_p * _SPAN_CAPACITY)()
        self._host_arrays: list[tuple[int, np.ndarray]] = []
        s = _PlansStruct()
        p = s.planner
        p.isa = _ISA[arch]
        p.mem_read = _unicorn_function("uc_mem_read")
        if arch == ARCH_ARM:
            # M-profile Thumb; V8 adds ARMv8-M's load-acquire forms
            self._capstone = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS
                                         | capstone.CS_MODE_V8)
            self._capstone.detail = True
            p.capstone = self._capstone.csh.value
            for name in ("cs_malloc", "cs_free", "cs_disasm_iter", "cs_regs_access"):
                setattr(p, name, ctypes.cast(getattr(capstone._cs, name), ctypes.c_void_p).value)
            for i, reg in enumerate(_ARM_REGISTERS):
                s.reg_ids[i] = reg
            s.xpsr_id = UC_ARM_REG_XPSR
        else:
            for i in range(32):
                s.reg_ids[i] = UC_RISCV_REG_X0 + i
        p.constant_ranges = self._constants.ctypes.data
        p.n_constant_ranges = len(memory.regions)
        s.loads = self.loads.ctypes.data
        s.capacity = _LOAD_CAPACITY
        s.pending = self.pending.ctypes.data
        s.pending_capacity = _PENDING_CAPACITY
        s.reg_read = _unicorn_function("uc_reg_read")
        s.reg_write = _unicorn_function("uc_reg_write")
        s.spans = ctypes.addressof(self._spans)
        s.lo, s.hi = (1 << 64) - 1, 0
        s.switch_per_1000 = SWITCH_READS_PER_1000
        s.window = s.window_end = SWITCH_WINDOW
        self.state = s

    def see_memory(self, memories: Sequence[tuple[int, np.ndarray]]) -> None:
        self._host = (_HostStruct * max(len(memories), 1))()
        for i, (start, contents) in enumerate(memories):
            self._host[i] = _HostStruct(start, start + len(contents), contents.ctypes.data)
        self._host_arrays = list(memories)
        self.state.host = ctypes.addressof(self._host)
        self.state.n_host = len(memories)

    def host_address(self, address: int) -> int:
        """Where the byte at guest `address` is in the host memory see_memory gave."""
        for start, contents in self._host_arrays:
            if start <= address < start + len(contents):
                return contents.ctypes.data + address - start
        raise TinyEdgeError(f"no host memory behind guest address 0x{address:08x}")

    def add_span(self, span: int, start: int, length: int) -> None:
        s = self.state
        if s.n_spans == _SPAN_CAPACITY:
            raise TinyEdgeError(f"more than {_SPAN_CAPACITY} data-only flash ranges to model")
        self._spans[s.n_spans] = span
        s.n_spans += 1
        s.lo, s.hi = min(s.lo, start), max(s.hi, start + length)


# uc_mmio_map with plain pointers for the callbacks (the binding's own prototype wants Python ones)
_MMIO_MAP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_size_t, ctypes.c_void_p,
                             ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


def _mmio_map(handle: object, start: int, size: int, read: object, read_data: int, write: object,
              write_data: int) -> int:
    return _MMIO_MAP(_unicorn_function("uc_mmio_map"))(handle, start, size, read, read_data, write, write_data)


# ---------------------------------------------------------------------------------------------
# Python hook


class PyBlockCounter:
    """The same counter as a Python block hook (about 40x slower than the C one)."""

    kind = "python"

    def __init__(self, arch: str, budget: int, capacity: int = DEFAULT_CAPACITY,
                 memory: MemoryModel | None = None) -> None:
        self._memory = PyMemory(memory) if memory is not None else None
        self._regions: list[int] = []  # per block: its memory model region
        self._md = disassembler(arch)
        self._arm = arch == ARCH_ARM
        self._budget = budget
        self._capacity = capacity
        self._index: dict[int, int] = {}  # address << 16 | size -> index
        self._addresses: list[int] = []
        self._sizes: list[int] = []
        self._insns: list[int] = []
        self._counts: list[int] = []
        self._taken: list[int] = []
        self._total = 0
        self._next_pc = _NEVER_A_PC
        self._last = 0
        self._last_taken = False
        self._status = STATUS_RUNNING
        self._stop_block = 0

    def install(self, uc: unicorn.Uc) -> None:
        uc.hook_add(unicorn.UC_HOOK_BLOCK, self._hook)

    def _hook(self, uc: unicorn.Uc, address: int, size: int, _user_data: object) -> None:
        index = self._index.get(address << 16 | size)
        if index is None:
            index = self._new_block(uc, address, size)
            if index is None:
                return
        taken = address != self._next_pc
        self._counts[index] += 1
        if taken:
            self._taken[index] += 1
        self._last = index
        self._last_taken = taken
        self._next_pc = address + size
        self._total += self._insns[index]
        if self._memory is not None:
            self._memory.fetch(self._regions[index], address, size)
        if self._total > self._budget:
            self._stop(uc, address, STATUS_BUDGET_EXCEEDED)

    def _new_block(self, uc: unicorn.Uc, address: int, size: int) -> int | None:
        if len(self._addresses) == self._capacity:
            self._stop(uc, address, STATUS_TABLE_FULL)
            return None
        try:
            code = bytes(uc.mem_read(address, size))
        except unicorn.UcError:
            self._stop(uc, address, STATUS_CODE_UNREADABLE)
            return None
        index = len(self._addresses)
        self._index[address << 16 | size] = index
        self._addresses.append(address)
        self._sizes.append(size)
        self._insns.append(self._count_instructions(code, address))
        self._counts.append(0)
        self._taken.append(0)
        self._regions.append(self._memory.region_of(address) if self._memory is not None else NONE)
        return index

    def _count_instructions(self, code: bytes, address: int) -> int:
        count = 0
        offset = 0
        while offset + 2 <= len(code):
            decoded = next(self._md.disasm(code[offset:], address + offset, count=1), None)
            if decoded is not None:
                offset += decoded.size
            else:  # capstone does not know it, the CPU ran it: step by the encoding's length
                offset += self._encoded_length(code[offset], code[offset + 1])
            count += 1
        return count

    def _encoded_length(self, lo: int, hi: int) -> int:
        if self._arm:
            return 4 if hi >> 3 >= 0x1D else 2
        return 4 if lo & 3 == 3 else 2

    def _stop(self, uc: unicorn.Uc, address: int, status: int) -> None:
        self._status = status
        self._stop_block = address
        uc.emu_stop()

    def snapshot(self, exclude_current: bool, pc: int | None = None) -> Snapshot:
        counts = np.array(self._counts, np.uint64)
        taken = np.array(self._taken, np.uint64)
        total = self._total
        stall = self._memory.stall if self._memory is not None else 0
        if exclude_current and self._counts:
            counts[self._last] -= 1
            taken[self._last] -= int(self._last_taken)
            total -= self._insns[self._last]
            stall -= self._memory.last_fetch if self._memory is not None else 0
        return Snapshot(total, counts, taken, stall)

    def blocks(self) -> BlockTable:
        return BlockTable(np.array(self._addresses, np.uint64), np.array(self._sizes, np.uint32),
                          np.array(self._insns, np.uint32))

    @property
    def total(self) -> int:
        return self._total

    @property
    def status(self) -> int:
        return self._status

    @property
    def stop_block(self) -> int:
        return self._stop_block

    @property
    def current_block(self) -> int:
        return self._last

    def restart(self, budget: int) -> None:
        self._budget = budget
        self._status = STATUS_RUNNING

    def memory_reads(self) -> dict[str, int]:
        return self._memory.reads() if self._memory is not None else {}

    def cache_misses(self) -> dict[str, tuple[int, int]]:
        return self._memory.misses() if self._memory is not None else {}

    def map_data(self, uc: unicorn.Uc, start: int, data: bytes) -> None:
        assert self._memory is not None
        read, write = self._memory.mmio_callbacks(start, data)
        uc.mem_unmap(start, len(data))
        uc.mmio_map(start, len(data), read, None, write, None)

    def see_memory(self, memories: Sequence[tuple[int, np.ndarray]]) -> None:
        pass  # it traps data reads: values are never read ahead

    def install_load_hooks(self, uc: unicorn.Uc) -> None:
        raise AssertionError("the Python counter traps data reads: it never stops for load hooks")

    def switch_to_plans(self, uc: unicorn.Uc) -> None:
        raise AssertionError("the Python counter traps data reads: it never stops to plan them")

    @property
    def planning(self) -> bool:
        """Never: the Python counter traps every data read."""
        return False

    @property
    def write_fault(self) -> int | None:
        return self._memory.write_fault if self._memory is not None else None
