"""The memory model: caches in front of flash, against small kernels whose reads are known."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tinyedge.boards import Cache, load_board
from tinyedge.errors import TinyEdgeError
from tinyedge.simulate import Memory, SimTarget, cycle_model_for, simulate
from tinyedge.simulate.firmware_image import load_image
from tinyedge.simulate.memory_model import data_pages, memory_model_for
from tinyedge.simulate.unicorn_backend import Emulation

MISS = 10
_FLASH, _RAM = Memory("flash", 0x0, 0x40000, "flash"), Memory("ram", 0x20000000, 0x10000, "ram")


def _board(*caches: Cache) -> SimTarget:
    return SimTarget("test-m4-cache", "cortex-m4", 64_000_000, (_FLASH, _RAM), caches=caches)


def _cache(serves: str, size: int = 4096, line: int = 16, ways: int = 2, name: str = "cache") -> Cache:
    return Cache(name, "flash", serves, size, line, ways, MISS, "always", "test figure")


def _sweep(size: int, passes: int = 2) -> tuple[str, str]:
    """A snippet that reads a page-aligned flash array of `size` bytes word by word, `passes` times."""
    snippet = f"""
    ldr r4, =weights
    movs r6, #{passes}
1:  mov r1, r4
    ldr r2, ={size // 4}
2:  ldr r0, [r1], #4
    subs r2, r2, #1
    bne 2b
    subs r6, r6, #1
    bne 1b
"""
    data = f"""
    .section .rodata
    .balign 1024
    .global weights
    .type weights, %object
    .size weights, {size}
weights:
    .fill {size}, 1, 7
"""
    return snippet, data


def _run(elf, board, counter: str = "c"):
    image = load_image(elf)
    return Emulation(image, board, b"", cycle_model_for(board, image.arch, memory=True), counter=counter).run()


@pytest.mark.parametrize(("size", "misses"), [
    (2048, 2048 // 16),  # inside the 4 KB cache: every line misses on the first pass only
    (8192, 2 * 8192 // 16),  # twice the cache, streamed: LRU keeps nothing from one pass to the next
])
def test_a_flash_array_read_twice_misses_as_its_size_against_the_cache_says(thumb_program, size, misses):
    elf = thumb_program(*_sweep(size), name=f"sweep{size}")
    board = _board(_cache("data"))
    measured = _run(elf, board)
    assert measured.memory_reads == {"flash": 2 * size // 4}
    assert measured.cache_misses == {"cache": (2 * size // 4, misses)}
    assert measured.samples[0].stall_cycles == misses * MISS
    plain = simulate(elf, SimTarget("plain", "cortex-m4", 64_000_000, (_FLASH, _RAM)), [b""])
    assert measured.samples[0].cycles == plain.cycles[0] + misses * MISS
    assert measured.samples[0].instructions == plain.instructions[0]
    assert plain.memory_reads == {} and "no memory model for this board" in plain.cycle_model
    result = simulate(elf, board, [b""])
    assert (result.memory_reads, result.cache_misses) == (measured.memory_reads, measured.cache_misses)


def test_a_one_line_read_buffer_misses_once_per_line_of_a_sequential_sweep(thumb_program):
    elf = thumb_program(*_sweep(1024, passes=1), name="buffer")
    measured = _run(elf, _board(_cache("both", size=16, line=16, ways=1, name="buffer")))
    reads, misses = measured.cache_misses["buffer"]
    data_misses = 1024 // 16  # four word reads per 16-byte line; fetches share the buffer and evict it
    assert measured.memory_reads == {"flash": 256}
    # every run of four word reads misses once at least; the run's misses outside the inference
    # (start-up, exit) are not the sample's
    assert data_misses * MISS <= measured.samples[0].stall_cycles <= misses * MISS


def test_fetches_of_a_loop_miss_its_lines_once_however_often_it_runs(thumb_program):
    board = _board(_cache("instruction", size=1024))
    loop = "    ldr r2, ={n}\n1:  subs r2, r2, #1\n    bne 1b\n"
    short, long = (_run(thumb_program(loop.format(n=n), name=f"loop{n}"), board) for n in (10, 1000))
    assert short.samples[0].instructions + 2 * 990 == long.samples[0].instructions
    assert 0 < short.samples[0].stall_cycles == long.samples[0].stall_cycles
    assert long.memory_reads == {"flash": 0}  # fetches are not data reads


def test_c_model_agrees_with_its_python_oracle(thumb_program):
    elf = thumb_program(*_sweep(4096 + 512, passes=3), name="oracle")
    board = _board(_cache("instruction", size=256, name="i"), _cache("data", size=2048, ways=4, name="d"))
    fast, oracle = _run(elf, board, "c"), _run(elf, board, "python")
    assert fast.memory_reads == oracle.memory_reads
    assert fast.cache_misses == oracle.cache_misses
    assert fast.samples == oracle.samples


@pytest.mark.parametrize(("icache", "fetch_sets"), [
    (64, 8),  # the loop's lines lie in distinct sets: its re-entries are counted, not searched
    (8, 1),  # two 4-byte lines, one set: the loop's own lines evict each other on every entry
])
def test_a_loop_of_several_fetch_lines_between_data_reads_agrees_with_the_oracle(thumb_program, icache, fetch_sets):
    # a loop block of 14 bytes (four 4-byte lines at least) reading flash through its own data cache
    loop = """
    ldr r1, =weights
    ldr r2, =300
1:  ldr r0, [r1], #4
    add.w r3, r3, r0
    eor.w r5, r5, r3
    subs r2, r2, #1
    bne 1b
"""
    elf = thumb_program(loop, functions=_sweep(2048)[1], name=f"lines{icache}")
    board = _board(_cache("instruction", size=icache, line=4, ways=icache // 4 // fetch_sets, name="i"),
                   _cache("data", size=256, line=16, ways=2, name="d"))
    fast, oracle = _run(elf, board, "c"), _run(elf, board, "python")
    assert fast.memory_reads == oracle.memory_reads == {"flash": 300}
    assert fast.cache_misses == oracle.cache_misses
    assert fast.samples == oracle.samples
    fetches, fetch_misses = fast.cache_misses["i"]
    assert fetches > 4 * 300 and (fetch_misses < 30 if fetch_sets == 8 else fetch_misses > 300)


def test_layers_add_up_to_the_sample_stall(contract_firmware):
    board = _board(_cache("both", size=64, line=16, ways=1))
    result = simulate(contract_firmware, board, [bytes(range(8)), bytes(8)])
    for sample in result.samples:
        assert sample.stall_cycles > 0
        assert sum(layer.stall_cycles for layer in sample.layers) == sample.stall_cycles
        assert sum(layer.cycles for layer in sample.layers) == sample.cycles
    assert "memory stalls simulated: cache (64 B, 16 B lines, 1-way, miss 10 cycles" in result.cycle_model


def test_a_store_into_a_modelled_flash_array_is_a_fault(thumb_program):
    snippet, data = _sweep(2048)
    elf = thumb_program("    ldr r1, =weights\n    str r0, [r1, #8]\n", functions=data, name="store")
    with pytest.raises(TinyEdgeError, match=r"write to read-only memory \(flash\) at 0x[0-9a-f]+"):
        simulate(elf, _board(_cache("data")), [b""])


def test_only_whole_pages_inside_data_objects_and_without_code_are_modelled():
    model = memory_model_for(_board(_cache("data")))
    assert model is not None
    objects = [(0x1000, 0x800), (0x1804, 0x1000), (0x4000, 0x100)]  # a 4-byte gap is padding
    code = [(0x2400, 0x10)]
    assert data_pages(model, objects, code, 1024) == [(0x1000, 0x2400)]


def test_boards_model_the_caches_their_start_up_code_enables():
    f4 = load_board("stm32f4-discovery")
    # the start-up code writes FLASH_ACR with ICEN and DCEN: the ART's two caches are modelled
    assert [c.name for c in f4.caches if f4.cache_enabled(c)] == ["art-icache", "art-dcache", "flash-read-buffer"]
    model = memory_model_for(replace(f4, setup=None))  # a firmware without that set-up: the flash buffer only
    assert model is not None and [c.name for c in model.caches] == ["flash-read-buffer"]
    f7 = load_board("stm32f746g-disco")
    assert f7.setup is not None and f7.setup.l1_caches
    assert [c.name for c in memory_model_for(f7).caches] == ["l1-icache", "l1-dcache"]
    f7_caches_off = memory_model_for(replace(f7, setup=replace(f7.setup, l1_caches=False)))
    assert f7_caches_off is not None and [c.name for c in f7_caches_off.caches] == ["flash-read-buffer"]
    rp2040 = memory_model_for(load_board("rp2040"))
    assert rp2040 is not None and [(c.name, c.miss_cycles) for c in rp2040.caches] == [("xip-cache", 768)]
    assert all(c.source for name in ("nrf52840", "rp2040", "stm32f4-discovery", "stm32f746g-disco", "stm32l552",
                                     "esp32c3") for c in load_board(name).caches)


def test_a_cache_whose_sets_are_not_a_power_of_two_is_refused(tmp_path):
    text = load_board("rp2040").path.read_text().replace("size_bytes = 16384", "size_bytes = 12288")
    path = tmp_path / "rp2040.toml"
    path.write_text(text)
    with pytest.raises(TinyEdgeError, match=r"cache\[0\].*power-of-two line size and set count"):
        load_board(path)
