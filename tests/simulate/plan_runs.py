"""What the load-plan tests share: two small boards with flash caches, flash data in whole pages,
and a run of one firmware four ways (flash data reads trapped, planned, switched mid-run from one
to the other, and by the Python counter) held to give the same reads, misses and samples."""

from __future__ import annotations

from tinyedge.boards import Cache
from tinyedge.simulate import Memory, SimTarget, block_counter, cycle_model_for
from tinyedge.simulate.firmware_image import load_image
from tinyedge.simulate.unicorn_backend import Emulation

MISS = 10
PAGE = 1024  # Unicorn's page on M-profile cores: a translated block never crosses one
RV_PAGE = 4096
_FLASH, _RAM = Memory("flash", 0x0, 0x40000, "flash"), Memory("ram", 0x20000000, 0x10000, "ram")
_RV_FLASH, _RV_RAM = Memory("irom", 0x42000000, 0x40000, "flash"), Memory("dram", 0x3FC80000, 0x20000, "ram")


def flash_data(page: int, object_type: str = "%object") -> str:
    """Flash data in whole pages (the memory model sees reads of pages that hold data only): two
    pages of bytes (i * 37 + 11) & 0xff ("weights"), then a page holding a table of (i & 255) * 4
    words ("table"), bytes i & 3 ("bytes4") and bytes (i * 13 + 5) & 0xff ("plain")."""
    return f"""
    .section .rodata
    .balign {page}
    .global weights
    .type weights, {object_type}
    .size weights, {2 * page}
weights:
    .set i, 0
    .rept {2 * page}
    .byte (i * 37 + 11) & 0xff
    .set i, i + 1
    .endr
    .global table
    .type table, {object_type}
    .size table, {page}
table:
    .set i, 0
    .rept {page // 8}
    .word (i & 255) * 4
    .set i, i + 1
    .endr
bytes4:
    .set i, 0
    .rept {page // 2}
    .byte i & 3
    .set i, i + 1
    .endr
plain:
    .set i, 0
    .rept {page}
    .byte (i * 13 + 5) & 0xff
    .set i, i + 1
    .endr
"""


def _cache(serves: str, name: str, size: int = 256, line: int = 16, ways: int = 2) -> Cache:
    return Cache(name, "flash" if name != "irom-cache" else "irom", serves, size, line, ways, MISS, "always",
                 "test figure")


def thumb_board(cpu: str = "cortex-m4") -> SimTarget:
    """Flash at 0, RAM at 0x20000000; a 512 B instruction cache and a 256 B data cache."""
    return SimTarget(f"test-{cpu}-plans", cpu, 64_000_000, (_FLASH, _RAM),
                     caches=(_cache("instruction", "i", size=512), _cache("data", "d")))


def rv_board() -> SimTarget:
    """The RV32 frame's memories (conftest.py) and a 1 KB cache for fetches and data alike."""
    return SimTarget("test-rv-plans", "rv32imc", 80_000_000, (_RV_FLASH, _RV_RAM),
                     caches=(_cache("both", "irom-cache", size=1024, line=32, ways=4),))


def run_four_ways(elf, board, inputs: bytes = b"", *, python: bool = True, window: int = 200) -> dict[str, tuple]:
    """The firmware run trapped, planned, "auto" (switching after `window` instructions) and, with
    `python`, by the Python counter: {name: (Measurements, Emulation)}."""
    image = load_image(elf)
    model = cycle_model_for(board, image.arch, memory=True)
    runs = {}
    for name, counter, reads in (("trap", "c", "trap"), ("plan", "c", "plan"), ("auto", "c", "auto"),
                                 ("python", "python", "trap")):
        if name == "python" and not python:
            continue
        emulation = Emulation(image, board, inputs, model, counter=counter, data_reads=reads)
        if name == "auto":
            emulation.counter._plans.state.window = emulation.counter._plans.state.window_end = window
        runs[name] = (emulation.run(), emulation)
    return runs


def assert_same(runs, whole_run: bool = True) -> None:
    """The runs' reads, misses, per-sample figures and outputs equal the trapped run's, and the
    planned runs did plan. whole_run=False leaves out the run's totals, which include the
    firmware's report after the inference: on RV32 it prints mcycle, which Unicorn takes from the
    host's clock, so its digits (and the reads of printing them) vary from run to run."""
    trap = runs["trap"][0]
    for name, (measured, emulation) in runs.items():
        assert emulation.counter.status != block_counter.STATUS_PLAN_FAILED, (name, emulation.counter.plan_failure)
        if whole_run:
            assert measured.memory_reads == trap.memory_reads, name
            assert measured.cache_misses == trap.cache_misses, name
        assert measured.samples == trap.samples, name
        assert measured.outputs == trap.outputs, name
    assert runs["plan"][1].counter.planning
    assert sum(trap.memory_reads.values()) > 0 and trap.samples[0].stall_cycles > 0
