"""The C memory model's read callback against its Python oracle: reads of every width, unaligned
ones, hits further down a set than its most recent line, and the bytes each read returns."""

from __future__ import annotations

import pytest

from tinyedge.boards import Cache
from tinyedge.simulate import Memory, SimTarget, cycle_model_for
from tinyedge.simulate.firmware_image import load_image
from tinyedge.simulate.unicorn_backend import Emulation

MISS = 10
ROWS = 40
# One pass of the loop reads, at r1 = weights + 4 * row: two bytes of one word of line A, a signed halfword of line
# B (128 bytes on: the same set as A in the 2-way 256-byte cache below), a word of line A, an
# unaligned word of line C (256 on: the set again, so A, B and C contend for two ways), and a
# doubleword of line B; it adds all of it up and stores the sum in RAM.
LOOP = f"""
    ldr r1, =weights
    movs r3, #0
    movs r2, #{ROWS}
1:  ldrb r0, [r1]
    add r3, r3, r0
    ldrb r0, [r1, #1]
    add r3, r3, r0
    ldrsh r0, [r1, #130]
    add r3, r3, r0
    ldr r0, [r1, #4]
    add r3, r3, r0
    ldr r0, [r1, #258]
    add r3, r3, r0
    ldrd r4, r5, [r1, #136]
    add r3, r3, r4
    add r3, r3, r5
    adds r1, r1, #4
    subs r2, r2, #1
    bne 1b
    ldr r7, =result
    str r3, [r7]
"""
DATA = """
    .section .rodata
    .balign 1024
    .global weights
    .type weights, %object
    .size weights, 1024
weights:
    .set i, 0
    .rept 1024
    .byte (i * 37 + 11) & 0xff
    .set i, i + 1
    .endr
    .section .bss
    .balign 4
    .global result
result:
    .space 4
"""


def _expected_sum() -> int:
    data = bytes((i * 37 + 11) & 0xFF for i in range(1024))

    def word(at: int) -> int:
        return int.from_bytes(data[at:at + 4], "little")

    total = 0
    for row in range(ROWS):
        base = 4 * row
        total += data[base] + data[base + 1] + int.from_bytes(data[base + 130:base + 132], "little", signed=True)
        total += word(base + 4) + word(base + 258) + word(base + 136) + word(base + 140)
    return total & 0xFFFFFFFF


def _board(data_cache: Cache) -> SimTarget:
    return SimTarget("test-m4-reads", "cortex-m4", 64_000_000,
                     (Memory("flash", 0x0, 0x40000, "flash"), Memory("ram", 0x20000000, 0x10000, "ram")),
                     caches=(Cache("i", "flash", "instruction", 256, 16, 2, MISS, "always", "test figure"),
                             data_cache))


@pytest.mark.parametrize("data_cache", [
    Cache("d", "flash", "data", 256, 16, 2, MISS, "always", "test figure"),  # 8 sets: A, B, C share one
    Cache("d", "flash", "data", 4, 4, 1, MISS, "always", "test figure"),  # a one-word read buffer
], ids=["two-way", "read-buffer"])
def test_reads_of_every_width_return_their_bytes_and_cost_what_the_oracle_says(thumb_program, data_cache):
    elf = thumb_program(LOOP, functions=DATA, name=f"reads{data_cache.size_bytes}")
    image = load_image(elf)
    board = _board(data_cache)
    runs = {}
    for counter in ("c", "python"):
        emulation = Emulation(image, board, b"", cycle_model_for(board, image.arch, memory=True), counter=counter)
        measured = emulation.run()
        result = int.from_bytes(emulation.uc.mem_read(image.symbols["result"], 4), "little")
        assert result == _expected_sum(), counter
        runs[counter] = measured
    fast, oracle = runs["c"], runs["python"]
    # the unaligned word is two aligned reads (Unicorn splits it), the doubleword two word reads
    assert fast.memory_reads == oracle.memory_reads == {"flash": ROWS * 8}
    assert fast.cache_misses == oracle.cache_misses
    assert fast.samples == oracle.samples
    looked_up, missed = fast.cache_misses["d"]
    assert 0 < missed < looked_up
