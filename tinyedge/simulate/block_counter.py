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

import numpy as np
import unicorn
from unicorn.unicorn_py3 import unicorn as _binding

from tinyedge import children, resources
from tinyedge.errors import TinyEdgeError
from tinyedge.simulate.firmware_image import ARCH_ARM, ARCH_RISCV, disassembler
from tinyedge.simulate.memory_model import NONE, CMemory, MemoryModel, PyMemory, check_layout

STATUS_RUNNING = 0
STATUS_BUDGET_EXCEEDED = 1
STATUS_TABLE_FULL = 2
STATUS_CODE_UNREADABLE = 3

# Distinct blocks one run may execute; a model firmware has a few thousand.
DEFAULT_CAPACITY = 1 << 18

_ISA = {ARCH_ARM: 0, ARCH_RISCV: 1}  # counter.c's enum te_isa
_SOURCE = Path(__file__).with_name("counter.c")
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

    def snapshot(self, exclude_current: bool) -> Snapshot:
        """Now; with exclude_current, as of just before the block being executed was entered."""
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
        """Map [start, start + len(data)) of modelled flash, which holds data only, so that its
        reads go through the memory model (the range must be unmapped)."""
        ...

    @property
    def write_fault(self) -> int | None:
        """Address of a store into a range map_data mapped (it stops the run), if any."""
        ...


def make_counter(kind: str, arch: str, budget: int, capacity: int = DEFAULT_CAPACITY,
                 memory: MemoryModel | None = None) -> BlockCounter:
    """kind "auto": the C hook when a C compiler is available, else the Python hook."""
    if kind not in ("auto", "c", "python"):
        raise TinyEdgeError(f"unknown block counter '{kind}'; choose auto, c or python")
    if kind != "python":
        library = compiled_counter()
        if library is not None:
            return CBlockCounter(library, arch, budget, capacity, memory)
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
_COUNTER_BLOCK_DTYPE = np.dtype(BLOCK_DTYPE.descr + [("region", "<i4"), ("reserved", "<u4")])


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
    ]


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
    return compile_into_cache(compiler, _SOURCE, "counter", [*_CFLAGS, f"-I{include}"],
                              fingerprint=(unicorn.__version__, (include / "unicorn" / "unicorn.h").read_text()))


def compile_into_cache(compiler: str, source: Path, stem: str, flags: Sequence[str],
                       fingerprint: Sequence[str] = ()) -> Path:
    """Compile one C file into <cache>/<stem>-<hash>.so, once per compiler, flags, source and
    `fingerprint` (texts the result also depends on, such as a header); atomic, so concurrent
    runs never load a half-written library."""
    digest = hashlib.sha256()
    for part in (compiler, *flags, source.read_text(), *fingerprint):
        digest.update(part.encode())
    library = cache_dir() / f"{stem}-{digest.hexdigest()[:20]}.so"
    if library.exists():
        return library
    library.parent.mkdir(parents=True, exist_ok=True)
    partial = library.with_name(f"{library.stem}.{os.getpid()}.tmp.so")
    command = [compiler, *flags, str(source), "-o", str(partial)]
    proc = children.run(command, f"{compiler} compiling {source.name}", stage="block-counter", text=True)
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        raise children.completed_failure(f"{compiler} compiling {source.name}", proc, stage="block-counter")
    partial.replace(library)
    return library


_libraries: dict[Path, ctypes.CDLL] = {}


def _load(library: Path) -> ctypes.CDLL:
    if library not in _libraries:
        lib = ctypes.CDLL(str(library))
        lib.te_counter_struct_size.restype = ctypes.c_size_t
        lib.te_counter_block_size.restype = ctypes.c_size_t
        if (lib.te_counter_struct_size() != ctypes.sizeof(_CounterStruct)
                or lib.te_counter_block_size() != _COUNTER_BLOCK_DTYPE.itemsize or not check_layout(lib)):
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
                 memory: MemoryModel | None = None) -> None:
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
        self._state = s

    def install(self, uc: unicorn.Uc) -> None:
        handle = _binding.uc_hook_h()
        status = _binding.uclib.uc_hook_add(
            uc._uch, ctypes.byref(handle), unicorn.UC_HOOK_BLOCK,
            ctypes.cast(self._lib.te_counter_block_hook, ctypes.c_void_p),
            ctypes.cast(ctypes.byref(self._state), ctypes.c_void_p), ctypes.c_uint64(1), ctypes.c_uint64(0))
        if status != unicorn.UC_ERR_OK:
            raise unicorn.UcError(status)
        # The engine now points into this object's memory: keep it alive as long as the engine.
        uc._tinyedge_block_counter = self  # type: ignore[attr-defined]

    def snapshot(self, exclude_current: bool) -> Snapshot:
        s = self._state
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

    def memory_reads(self) -> dict[str, int]:
        return self._memory.reads() if self._memory is not None else {}

    def cache_misses(self) -> dict[str, tuple[int, int]]:
        return self._memory.misses() if self._memory is not None else {}

    def map_data(self, uc: unicorn.Uc, start: int, data: bytes) -> None:
        assert self._memory is not None
        span = self._memory.span(start, data, _unicorn_function("uc_emu_stop"))
        status = _mmio_map(uc._uch, start, len(data), ctypes.cast(self._lib.te_memory_mmio_read, ctypes.c_void_p),
                           span, ctypes.cast(self._lib.te_memory_mmio_write, ctypes.c_void_p), span)
        if status != unicorn.UC_ERR_OK:
            raise unicorn.UcError(status)

    @property
    def write_fault(self) -> int | None:
        return self._memory.write_fault if self._memory is not None else None


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

    def snapshot(self, exclude_current: bool) -> Snapshot:
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
        uc.mmio_map(start, len(data), read, None, write, None)

    @property
    def write_fault(self) -> int | None:
        return self._memory.write_fault if self._memory is not None else None
