"""The memory system in the cycle model: caches and flash read buffers in front of a board's flash.

The instruction table (timing.toml) charges a load as if it read zero-wait RAM. What a read of
flash costs on top depends on the chip: a cache, an accelerator, the flash's own read buffer,
an XIP cache whose misses are serial flash commands. Board files list those as [[cache]]
tables (tinyedge/boards.py): the memory each sits in front of, what it serves (instruction
fetches, data reads or both), its size, line, ways and the cycles a miss costs, and what turns
it on (the board's [setup], which the firmware's start-up code carries out). Per memory and
path the first enabled one in file order is modelled; a flash read buffer is a one-line cache.

The emulator runs accesses through them as they happen (counter.c): fetches on block entry,
and data reads of the flash pages that hold data only (weights, tables), which the emulator maps
as MMIO so that their reads, and no others, reach the model: a Unicorn memory hook would take
every load of the run off its fast path (measured: 300 -> 70 MIPS on a RAM-reading loop).
Reads of constants that share a page with code (literal pools, small tables) are not charged.
`PyMemory` is the same model in Python, for the Python block counter and as the oracle the
tests hold the C one to. Stall cycles are added to the instruction table's cycles.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinyedge.errors import TinyEdgeError

SERVES = ("instruction", "data", "both")
NONE = -1


@dataclass(frozen=True)
class ModelCache:
    name: str
    line_bytes: int
    sets: int
    ways: int
    miss_cycles: int
    source: str


@dataclass(frozen=True)
class ModelRegion:
    name: str  # the board memory (or alias) this range is
    start: int
    end: int
    physical: int  # address of `start` in the physical memory: aliases share cache lines
    fetch_cache: int  # index into MemoryModel.caches, NONE: fetches cost nothing extra
    data_cache: int  # NONE: data reads cost nothing extra


@dataclass(frozen=True)
class MemoryModel:
    caches: tuple[ModelCache, ...]
    regions: tuple[ModelRegion, ...]

    @property
    def description(self) -> str:
        parts = []
        for i, cache in enumerate(self.caches):
            paths = [path for path, used in (("fetches", any(r.fetch_cache == i for r in self.regions)),
                                             ("data reads", any(r.data_cache == i for r in self.regions))) if used]
            parts.append(f"{cache.name} ({cache.sets * cache.ways * cache.line_bytes} B, {cache.line_bytes} B lines, "
                         f"{cache.ways}-way, miss {cache.miss_cycles} cycles; {' and '.join(paths)})")
        return "memory stalls simulated: " + "; ".join(parts)


def memory_model_for(board: Any) -> MemoryModel | None:
    """The board's enabled caches over its memories (and their aliases); None without [[cache]]."""
    enabled = getattr(board, "cache_enabled", lambda cache: cache.enabled_by == "always")
    specs = [c for c in getattr(board, "caches", ()) if enabled(c)]
    if not specs:
        return None
    memories = {m.name: m for m in board.memories}
    caches: list[ModelCache] = []
    index: dict[str, int] = {}

    def cache_for(physical: str, path: str) -> int:
        for spec in specs:
            if spec.memory == physical and spec.serves in (path, "both"):
                if spec.name not in index:
                    index[spec.name] = len(caches)
                    caches.append(_model_cache(spec, board.name))
                return index[spec.name]
        return NONE

    regions = []
    for memory in board.memories:
        physical = getattr(memory, "alias_of", None) or memory.name
        fetch, data = cache_for(physical, "instruction"), cache_for(physical, "data")
        if fetch == NONE and data == NONE:
            continue
        regions.append(ModelRegion(memory.name, memory.origin, memory.origin + memory.length,
                                   memories[physical].origin, fetch, data))
    return MemoryModel(tuple(caches), tuple(regions))


def _model_cache(spec: Any, board: str) -> ModelCache:
    lines, line = spec.size_bytes // max(spec.line_bytes, 1), spec.line_bytes
    ways = spec.ways or lines  # 0: fully associative
    sets = lines // ways if ways else 0
    if line & (line - 1) or not line or not ways or sets * ways * line != spec.size_bytes or sets & (sets - 1):
        raise TinyEdgeError(f"board {board}: cache '{spec.name}' of {spec.size_bytes} B with {line} B lines and "
                            f"{spec.ways} ways is not a power-of-two line and set count; fix its [[cache]] table")
    return ModelCache(spec.name, line, sets, ways, spec.miss_cycles, spec.source)


# ---------------------------------------------------------------------------------------------
# C state (counter.c's te_memory, te_cache, te_region)


class _CacheStruct(ctypes.Structure):
    _fields_ = [("tags", ctypes.c_void_p), ("line_shift", ctypes.c_uint32), ("set_mask", ctypes.c_uint32),
                ("ways", ctypes.c_uint32), ("miss_cycles", ctypes.c_uint32), ("accesses", ctypes.c_uint64),
                ("misses", ctypes.c_uint64)]


class _RegionStruct(ctypes.Structure):
    _fields_ = [("start", ctypes.c_uint64), ("end", ctypes.c_uint64), ("physical", ctypes.c_uint64),
                ("fetch_cache", ctypes.c_int32), ("data_cache", ctypes.c_int32), ("reads", ctypes.c_uint64),
                ("memory", ctypes.c_void_p)]


class _MemoryStruct(ctypes.Structure):
    _fields_ = [("stall", ctypes.c_uint64), ("last_fetch", ctypes.c_uint64), ("repeat_mark", ctypes.c_uint64),
                ("repeat_lines", ctypes.c_uint64), ("repeat_block", ctypes.c_void_p), ("caches", ctypes.c_void_p),
                ("regions", ctypes.c_void_p), ("n_caches", ctypes.c_uint32), ("n_regions", ctypes.c_uint32)]


class _SpanStruct(ctypes.Structure):
    _fields_ = [("bytes", ctypes.c_void_p), ("start", ctypes.c_uint64), ("length", ctypes.c_uint64),
                ("region", ctypes.c_void_p),
                ("emu_stop", ctypes.c_void_p), ("write_fault", ctypes.c_uint64), ("cache", ctypes.c_void_p),
                ("memory", ctypes.c_void_p), ("physical", ctypes.c_uint64)]


def check_layout(lib: ctypes.CDLL) -> bool:
    """Whether the compiled counter's memory structs match these mirrors."""
    for name, struct in (("te_memory_struct_size", _MemoryStruct), ("te_memory_cache_size", _CacheStruct),
                         ("te_memory_region_size", _RegionStruct), ("te_memory_span_size", _SpanStruct)):
        function = getattr(lib, name)
        function.restype = ctypes.c_size_t
        if function() != ctypes.sizeof(struct):
            return False
    return True


class CMemory:
    """The memory model's state for counter.c; Python owns every array, the hooks write in place."""

    def __init__(self, model: MemoryModel) -> None:
        self.model = model
        self._tags = [np.zeros(c.sets * c.ways, np.uint32) for c in model.caches]
        self._caches = (_CacheStruct * max(len(model.caches), 1))()
        for i, (cache, tags) in enumerate(zip(model.caches, self._tags, strict=True)):
            self._caches[i] = _CacheStruct(tags.ctypes.data, cache.line_bytes.bit_length() - 1, cache.sets - 1,
                                           cache.ways, cache.miss_cycles, 0, 0)
        self.state = _MemoryStruct(0, 0, 0, 0, None, ctypes.addressof(self._caches), 0, len(model.caches),
                                   len(model.regions))
        self._regions = (_RegionStruct * max(len(model.regions), 1))()
        for i, r in enumerate(model.regions):
            self._regions[i] = _RegionStruct(r.start, r.end, r.physical, r.fetch_cache, r.data_cache, 0,
                                             ctypes.addressof(self.state))
        self.state.regions = ctypes.addressof(self._regions)
        self._spans: list[tuple[_SpanStruct, np.ndarray]] = []

    def span(self, start: int, data: bytes, emu_stop: int) -> int:
        """A te_span for the data-only flash range at `start` holding `data`; its address."""
        region = next(i for i, r in enumerate(self.model.regions) if r.start <= start < r.end)
        r = self.model.regions[region]
        contents = np.frombuffer(data, np.uint8).copy()
        cache = (ctypes.addressof(self._caches) + r.data_cache * ctypes.sizeof(_CacheStruct)
                 if r.data_cache != NONE else None)
        span = _SpanStruct(contents.ctypes.data, start, len(data),
                           ctypes.addressof(self._regions) + region * ctypes.sizeof(_RegionStruct), emu_stop, 0,
                           cache, ctypes.addressof(self.state), start - r.start + r.physical)
        self._spans.append((span, contents))
        return ctypes.addressof(span)

    @property
    def write_fault(self) -> int | None:
        """Address of the first store into a data-only flash range, if any."""
        faults = [span.write_fault - 1 for span, _ in self._spans if span.write_fault]
        return faults[0] if faults else None

    @property
    def stall(self) -> int:
        return int(self.state.stall)

    @property
    def last_fetch(self) -> int:
        return int(self.state.last_fetch)

    def reads(self) -> dict[str, int]:
        return {r.name: int(self._regions[i].reads) for i, r in enumerate(self.model.regions)}

    def misses(self) -> dict[str, tuple[int, int]]:
        return {c.name: (int(self._caches[i].accesses), int(self._caches[i].misses))
                for i, c in enumerate(self.model.caches)}


# ---------------------------------------------------------------------------------------------
# the same model in Python


class PyMemory:
    """counter.c's memory model in Python: the Python counter's, and the C one's oracle."""

    write_fault: int | None = None

    def __init__(self, model: MemoryModel) -> None:
        self.model = model
        self._sets = [[[0] * c.ways for _ in range(c.sets)] for c in model.caches]
        self._accesses = [0] * len(model.caches)
        self._misses = [0] * len(model.caches)
        self._reads = [0] * len(model.regions)
        self.stall = 0
        self.last_fetch = 0

    def region_of(self, address: int) -> int:
        return next((i for i, r in enumerate(self.model.regions) if r.start <= address < r.end), NONE)

    def _lines(self, region: ModelRegion, k: int, address: int, size: int) -> int:
        cache = self.model.caches[k]
        physical = address - region.start + region.physical
        shift = cache.line_bytes.bit_length() - 1
        stall = 0
        for line in range(physical >> shift, ((physical + max(size, 1) - 1) >> shift) + 1):
            ways = self._sets[k][line & (cache.sets - 1)]
            self._accesses[k] += 1
            tag = line + 1
            if tag in ways:
                ways.remove(tag)
            else:
                ways.pop()
                self._misses[k] += 1
                stall += cache.miss_cycles
            ways.insert(0, tag)
        return stall

    def fetch(self, region: int, address: int, size: int) -> None:
        """A block entry at `address` of `size` bytes in region index `region` (NONE: outside)."""
        self.last_fetch = 0
        if region != NONE:
            r = self.model.regions[region]
            if r.fetch_cache != NONE:
                self.last_fetch = self._lines(r, r.fetch_cache, address, size)
        self.stall += self.last_fetch

    def read(self, address: int, size: int) -> None:
        index = self.region_of(address)
        if index == NONE:
            return
        r = self.model.regions[index]
        self._reads[index] += 1
        if r.data_cache != NONE:
            self.stall += self._lines(r, r.data_cache, address, size)

    def reads(self) -> dict[str, int]:
        return {r.name: self._reads[i] for i, r in enumerate(self.model.regions)}

    def misses(self) -> dict[str, tuple[int, int]]:
        return {c.name: (self._accesses[i], self._misses[i]) for i, c in enumerate(self.model.caches)}

    def mmio_callbacks(self, start: int, data: bytes):  # noqa: ANN201 (Unicorn's callback pair)
        """Unicorn MMIO read and write callbacks for the data-only flash range at `start`."""

        def read(uc: Any, offset: int, size: int, _data: object) -> int:
            self.read(start + offset, size)
            return int.from_bytes(data[offset:offset + size], "little")

        def write(uc: Any, offset: int, _size: int, _value: int, _data: object) -> None:
            if self.write_fault is None:
                self.write_fault = start + offset
            uc.emu_stop()

        return read, write


def data_pages(model: MemoryModel, objects: list[tuple[int, int]], code: list[tuple[int, int]],
               page: int) -> list[tuple[int, int]]:
    """[start, end) runs of whole pages of modelled memory that lie inside data objects
    (`objects`, (address, size); gaps under 16 bytes between them are alignment padding) and
    hold no code (`code`, (address, size))."""
    covered: list[list[int]] = []
    for address, size in sorted(objects):
        if covered and address - covered[-1][1] < 16:
            covered[-1][1] = max(covered[-1][1], address + size)
        else:
            covered.append([address, address + size])
    code_pages = {p for address, size in code for p in range(address // page, (address + max(size, 1) - 1) // page + 1)}
    pages = sorted({p for start, end in covered for p in range(-(-start // page), end // page)
                    if p not in code_pages and any(r.start <= p * page and (p + 1) * page <= r.end
                                                   for r in model.regions)})
    runs: list[tuple[int, int]] = []
    for p in pages:
        if runs and runs[-1][1] == p * page:
            runs[-1] = (runs[-1][0], (p + 1) * page)
        else:
            runs.append((p * page, (p + 1) * page))
    return runs
