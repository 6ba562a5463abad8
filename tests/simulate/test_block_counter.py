"""The compiled C block hook against its Python oracle, and how the C hook is built and chosen."""

from __future__ import annotations

import numpy as np
import pytest

from tinyedge.errors import TinyEdgeError
from tinyedge.simulate import block_counter, cycle_model_for
from tinyedge.simulate.firmware_image import load_image
from tinyedge.simulate.unicorn_backend import Emulation

SAMPLES = [bytes(range(8)), bytes(8), bytes([0xF0] * 8)]


def _run(elf, board, counter: str) -> Emulation:
    image = load_image(elf)
    emulation = Emulation(image, board, b"".join(SAMPLES), cycle_model_for(board, image.arch), counter=counter)
    emulation.run()
    return emulation


@pytest.mark.parametrize("program", ["arm_c", "rv32_asm"])
def test_c_and_python_hooks_give_identical_block_histograms(contract_firmware, riscv_program, m4_board,
                                                           rv32_board, program):
    if program == "arm_c":
        elf, board = contract_firmware, m4_board
    else:
        elf, board = riscv_program("""
    li s0, 50
1:  andi t0, s0, 3
    beqz t0, 2f
    c.addi a1, 1
2:  addi s0, s0, -1
    bnez s0, 1b
"""), rv32_board
    fast, oracle = _run(elf, board, "c"), _run(elf, board, "python")
    assert (fast.counter.kind, oracle.counter.kind) == ("c", "python")
    fast_blocks, oracle_blocks = fast.counter.blocks(), oracle.counter.blocks()
    for field in ("addresses", "sizes", "insns"):
        np.testing.assert_array_equal(getattr(fast_blocks, field), getattr(oracle_blocks, field))
    fast_now, oracle_now = fast.counter.snapshot(False), oracle.counter.snapshot(False)
    assert fast_now.total == oracle_now.total
    np.testing.assert_array_equal(fast_now.counts, oracle_now.counts)
    np.testing.assert_array_equal(fast_now.taken, oracle_now.taken)
    assert int(fast_now.counts @ fast_blocks.insns.astype(np.uint64)) == fast_now.total


def test_taken_entries_count_loop_back_edges(riscv_program, rv32_board):
    # A loop of 10 iterations: its body block is entered 10 times, 9 of them by the back branch
    # and once sequentially, after the untaken branch that ends the block before it.
    elf = riscv_program("""
    li a0, 10
    beqz a0, loop_body
loop_body:
    addi a0, a0, -1
    bnez a0, loop_body
""")
    emulation = _run(elf, rv32_board, "c")
    blocks = emulation.counter.blocks()
    body = load_image(elf).require_symbol("loop_body")
    now = emulation.counter.snapshot(False)
    index = int(np.flatnonzero(blocks.addresses == body)[0])
    assert (int(now.counts[index]), int(now.taken[index])) == (10, 9)


def test_counter_library_is_built_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYEDGE_CACHE", str(tmp_path))
    first = block_counter.compiled_counter()
    assert first is not None and first.is_relative_to(tmp_path)
    stamp = first.stat().st_mtime_ns
    assert block_counter.compiled_counter() == first
    assert first.stat().st_mtime_ns == stamp


def test_without_a_c_compiler_auto_falls_back_to_python_and_c_is_an_error(monkeypatch):
    monkeypatch.setattr(block_counter, "_host_compiler", lambda: None)
    with pytest.warns(RuntimeWarning, match="Python hook"):
        assert block_counter.make_counter("auto", "arm", 1000).kind == "python"
    with pytest.raises(TinyEdgeError, match="needs a host C compiler"):
        block_counter.make_counter("c", "arm", 1000)


def test_unknown_counter_kind_is_an_error():
    with pytest.raises(TinyEdgeError, match="choose auto, c or python"):
        block_counter.make_counter("fast", "arm", 1000)
