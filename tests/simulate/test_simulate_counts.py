"""Exact instruction counts on hand-written assembly whose counts are known by reading it."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from tinyedge.errors import TinyEdgeError
from tinyedge.simulate import simulate

COUNTERS = ["c", "python"]

# Each snippet with the instructions it executes, counted by hand; the frame adds two
# (te_inference_begin's `bx lr`/`ret` and the call of te_inference_end).
THUMB_LOOP = """
    movs r0, #10
1:  subs r0, r0, #1
    bne 1b
"""  # 1 + 10 * 2 = 21

THUMB_IT_SKIPS = """
    movs r0, #1
    cmp r0, #1
    ite ne
    movne r1, #5
    moveq r1, #6
    itttt ne
    addne r1, r1, #1
    addne r1, r1, #1
    addne r1, r1, #1
    addne r1, r1, #1
    adds r2, r1, #0
"""  # 3 + 2 (one skipped) + 1 + 4 (all skipped) + 1 = 11

THUMB_WIDE_AND_DSP = """
    ldr.w r3, =0x01020304
    movw r4, #0x0506
    movt r4, #0x0708
    sxtb16 r5, r3
    sxtb16 r6, r4
    smlad r7, r5, r6, r7
    smlabb r8, r3, r4, r8
    mla r9, r3, r4, r9
    ldr r0, =0x20000000
    str.w r3, [r0, #4]
    ldrsb.w r1, [r0, #4]
    push {r4-r7}
    pop {r4-r7}
"""  # 13

THUMB_CALLS = """
    movs r0, #3
1:  bl leaf
    subs r0, r0, #1
    bne 1b
"""  # 1 + 3 * (bl + 2 in leaf + subs + bne) = 1 + 3 * 5 = 16
THUMB_LEAF = """
    .thumb_func
leaf:
    adds r1, r1, #1
    bx lr
"""

RV32_LOOP = """
    li a0, 10
1:  addi a0, a0, -1
    bnez a0, 1b
"""  # 1 + 10 * 2 = 21

RV32_MIXED = """
    c.li a1, 3
    lui a2, 0x12345
    addi a2, a2, 0x678
    mul a3, a1, a2
    c.addi a3, 1
    la t0, __stack_top
    addi t0, t0, -16
    sw a3, 0(t0)
    lw a4, 0(t0)
    c.mv a5, a4
"""  # 1 + 2 + 1 + 1 + 2 (la = auipc + addi) + 1 + 1 + 1 + 1 = 11

RV32_CALLS = """
    li s0, 4
1:  jal leaf
    addi s0, s0, -1
    bnez s0, 1b
"""  # 1 + 4 * (jal + 2 in leaf + addi + bnez) = 1 + 4 * 5 = 21
RV32_LEAF = """
leaf:
    c.addi a1, 1
    ret
"""


@pytest.mark.parametrize("counter", COUNTERS)
@pytest.mark.parametrize(("snippet", "functions", "expected"), [
    (THUMB_LOOP, "", 21),
    (THUMB_IT_SKIPS, "", 11),
    (THUMB_WIDE_AND_DSP, "", 13),
    (THUMB_CALLS, THUMB_LEAF, 16),
], ids=["loop", "it_block_with_skipped_instructions", "wide_and_dsp", "calls"])
def test_thumb_inference_count_is_exact(thumb_program, m4_board, counter, snippet, functions, expected):
    elf = thumb_program(snippet, functions)
    result = simulate(elf, m4_board, [b""], counter=counter)
    assert result.counter == counter
    assert result.instructions == (expected + 2,)


def test_it_block_skipped_instructions_are_counted_as_issued(thumb_program, m4_board):
    # Two programs that differ only in whether the IT-block instructions execute or are
    # skipped: the core issues them either way, so both counts are the same.
    taken = simulate(thumb_program(THUMB_IT_SKIPS.replace("movs r0, #1", "movs r0, #2"), name="taken"),
                     m4_board, [b""])
    skipped = simulate(thumb_program(THUMB_IT_SKIPS, name="skipped"), m4_board, [b""])
    assert taken.instructions == skipped.instructions == (13,)


@pytest.mark.parametrize("counter", COUNTERS)
@pytest.mark.parametrize(("snippet", "functions", "expected"), [
    (RV32_LOOP, "", 21),
    (RV32_MIXED, "", 11),
    (RV32_CALLS, RV32_LEAF, 21),
], ids=["loop", "compressed_and_wide", "calls"])
def test_rv32_inference_count_is_exact(riscv_program, rv32_board, counter, snippet, functions, expected):
    elf = riscv_program(snippet, functions)
    result = simulate(elf, rv32_board, [b""], counter=counter)
    assert result.instructions == (expected + 2,)


def test_whole_run_count_includes_startup_and_exit(thumb_program, m4_board):
    # Outside the counted inference run `bl te_inference_begin`, te_inference_end's `bx lr`,
    # and movs, ldr, bkpt of the exit: 5 instructions.
    result = simulate(thumb_program(THUMB_LOOP), m4_board, [b""])
    assert result.total_instructions == 23 + 5


@pytest.mark.parametrize(("core", "cpu"), [("cortex-m0plus", "cortex-m0plus"), ("cortex-m4f", "cortex-m4"),
                                         ("cortex-m7", "cortex-m7"), ("cortex-m33", "cortex-m33")])
def test_every_cortex_m_core_runs_and_counts(thumb_program, m4_board, core, cpu):
    result = simulate(thumb_program(THUMB_LOOP, cpu=cpu), replace(m4_board, core=core), [b""])
    assert result.instructions == (21 + 2,)


def test_counts_do_not_depend_on_the_cpu_model_of_the_same_isa(thumb_program, m4_board):
    m7_board = replace(m4_board, name="test-m7", core="cortex-m7", clock_hz=216_000_000)
    elf = thumb_program(THUMB_WIDE_AND_DSP, cpu="cortex-m7")
    assert simulate(elf, m7_board, [b""]).instructions == simulate(elf, m4_board, [b""]).instructions == (15,)


def test_system_control_space_and_dwt_are_plain_memory(thumb_program, m4_board):
    # Startup code enables the FPU through CPACR and firmware reads DWT CYCCNT: neither may fault.
    elf = thumb_program("""
    ldr r0, =0xE000ED88
    ldr r1, [r0]
    orr r1, r1, #0x00F00000
    str r1, [r0]
    ldr r0, =0xE0001004
    ldr r2, [r0]
    vmov s0, r1
    vadd.f32 s1, s0, s0
""")
    assert simulate(elf, m4_board, [b""]).instructions == (8 + 2,)


def _with_cpu_model(board, model: str) -> SimpleNamespace:
    """The board as tinyedge.boards.Board presents it, with an [emulator] cpu_model."""
    return SimpleNamespace(**vars(board), emulator=SimpleNamespace(cpu_model=model))


def test_board_can_name_the_unicorn_cpu_model(riscv_program, rv32_board):
    result = simulate(riscv_program(RV32_LOOP), _with_cpu_model(rv32_board, "SIFIVE_E31"), [b""])
    assert result.instructions == (21 + 2,)


def test_unknown_unicorn_cpu_model_lists_the_valid_ones(thumb_program, m4_board):
    with pytest.raises(TinyEdgeError, match="no CPU model 'CORTEX_M99'; valid: .*CORTEX_M4"):
        simulate(thumb_program(THUMB_LOOP), _with_cpu_model(m4_board, "CORTEX_M99"), [b""])


INVOKE_WITH_LITERAL_POOL = THUMB_LEAF + """
    .thumb_func
    .type tinyedge_model_invoke, %function
tinyedge_model_invoke:
    push {lr}
    bl leaf
    ldr r0, =0xF800F000
    bl leaf
    movs r0, #0
    pop {pc}
    .ltorg
    .size tinyedge_model_invoke, . - tinyedge_model_invoke
"""  # the literal 0xF800F000 reads as a BL instruction: the $d mapping symbol marks it as data


@pytest.mark.parametrize("counter", COUNTERS)
def test_layers_start_at_the_block_of_each_call_site(thumb_program, m4_board, counter):
    elf = thumb_program("    bl tinyedge_model_invoke", INVOKE_WITH_LITERAL_POOL)
    result = simulate(elf, m4_board, [b""], counter=counter, expected_layers=2)
    # Layer 0: bx lr of te_inference_begin, bl tinyedge_model_invoke, push, bl, leaf (2) = 6.
    # Layer 1 starts at the block holding the second call: ldr, bl, leaf (2), movs, pop and
    # the bl te_inference_end after the model returns = 7.
    assert [(layer.index, layer.instructions) for layer in result.layers] == [(0, 6), (1, 7)]
    assert result.instructions == (13,)
