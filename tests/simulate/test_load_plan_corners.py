"""Planned data reads (load_plan.c, counter.c) held to trapped ones on the walk's corner cases.

test_load_plan.py covers the common shapes; here each snippet aims at one way the plan could
charge a read the trapped run does not (or miss one): Thumb-1 code for a Cortex-M0+, IT blocks
that write a base register or start before a block boundary, write-back in every addressing form,
multi-register and FP loads, table branches through a data table, loads straddling a data page's
edge, RV32IMC's compressed stack forms and constants, aliasing stores, and a store into a data
array, which must stay a fault. Every snippet runs trapped, planned, switched mid-run ("auto"
with a low threshold) and in the Python counter; all four must give the same reads, misses,
per-sample cycles and outputs, and the planned run must really have planned (not fallen back to
trapping).
"""

from __future__ import annotations

import pytest
from plan_runs import PAGE, RV_PAGE, assert_same, run_four_ways, rv_board, thumb_board
from plan_runs import flash_data as _data
from semihost_c import RESET_C, SEMIHOST_C

from tinyedge.boards import load_board
from tinyedge.errors import TinyEdgeError
from tinyedge.simulate import cycle_model_for
from tinyedge.simulate.firmware_image import load_image
from tinyedge.simulate.unicorn_backend import Emulation


def _assert_same_reads(elf, board, expected_reads: dict[str, int] | None = None) -> dict[str, tuple]:
    """The firmware run four ways (plan_runs.py) agree, "auto" switched, and the trapped run read
    `expected_reads`."""
    runs = run_four_ways(elf, board, window=20)
    assert_same(runs)
    assert runs["auto"][1].counter.planning
    if expected_reads is not None:
        assert runs["trap"][0].memory_reads == expected_reads
    return runs


# --- Thumb-1 (Cortex-M0+) ---------------------------------------------------------------------

# Register-offset loads of each size, adds/subs/mov chains moving the bases, `add rX, sp`,
# `add rd, rm`, a literal-pool base, push/pop around a call that reads through a pointer it was
# passed, and ldm with write-back (base not in the list) and without (base in the list).
# Per pass: 3 + 1 + 3 + 2 + 1 + 1 reads of data pages = 11.
THUMB1_LOOP = """
    ldr r4, =weights
    ldr r7, =table
    movs r2, #30
    sub sp, #16
1:  movs r3, #6
    ldrb r0, [r4, r3]
    adds r3, r3, #2
    ldrh r1, [r4, r3]
    lsls r0, r0, #2
    ldr r0, [r7, r0]
    mov r5, r4
    adds r5, #40
    ldr r1, [r5, #4]
    movs r6, #8
    add r6, sp
    str r4, [r6, #4]
    ldr r5, [sp, #12]
    ldm r5!, {r0, r1, r3}
    ldr r0, [r5, #0]
    mov r1, r5
    subs r1, #8
    ldm r1, {r0, r1}
    mov r6, r7
    add r6, r2
    add r6, r2
    add r6, r2
    add r6, r2
    bl reader
    subs r4, r4, #3
    adds r4, #7
    subs r2, r2, #1
    bne 1b
    add sp, #16
"""

THUMB1_FUNCTIONS = """
    .thumb_func
    .type reader, %function
reader:
    push {r4, r5, lr}
    mov r4, r6
    ldr r5, [r4, #0]
    pop {r4, r5, pc}
"""


def test_thumb1_for_a_cortex_m0plus(thumb_program):
    elf = thumb_program(THUMB1_LOOP, functions=THUMB1_FUNCTIONS + _data(PAGE), cpu="cortex-m0plus", name="m0")
    _assert_same_reads(elf, thumb_board("cortex-m0plus"), {"flash": 30 * 11})


# --- Thumb-2 (Cortex-M4) ----------------------------------------------------------------------

# IT blocks that load conditionally and write the base register conditionally (an add, a
# post-indexed load's write-back), then loads through that base outside the IT block.
# Per pass: 1 + (1 on odd passes) + (2 on even passes) + 1, 30 passes of each parity.
IT_BASE_LOOP = """
    ldr r4, =weights
    movs r2, #60
1:  tst r2, #1
    ite eq
    addeq r4, r4, #4
    movne r5, #0
    ldr r0, [r4, #8]
    it ne
    ldrne r1, [r4, #16]
    ittt eq
    ldreq r3, [r4], #4
    ldrbeq r6, [r4, #1]
    moveq r7, r4
    ldr r0, [r4, #32]
    subs r2, #1
    bne 1b
"""


def test_it_blocks_writing_the_base_register(thumb_program):
    _assert_same_reads(thumb_program(IT_BASE_LOOP, functions=_data(PAGE), name="itbase"), thumb_board(),
                       {"flash": 30 * 3 + 30 * 4})


# Write-back in every addressing form moving the base later loads use: pre- and post-indexed
# single loads and LDRD, negative offsets, LDM/LDMDB with write-back, STR/STRD with write-back
# into RAM moving a RAM pointer that a later load reloads a flash pointer through.
# Per pass: 1 + 1 + 2 + 2 + 3 + 2 + 1 + 1 + 1 + 1 = 15.
WRITEBACK_LOOP = """
    ldr r4, =weights + 64
    ldr r8, =0x20001000
    movs r2, #40
1:  mov r1, r4
    ldr r0, [r1, #4]!
    ldr r0, [r1], #-8
    ldrd r0, r3, [r1, #-8]!
    ldrd r0, r3, [r1], #16
    ldmia r1!, {r0, r3, r5}
    ldmdb r1!, {r0, r3}
    ldrb r0, [r1, #-3]
    ldrsh r0, [r1, #-6]
    mov r6, r8
    str r4, [r6, #-8]!
    strd r4, r4, [r6], #8
    str r0, [r6, #-4]!
    ldr r7, [r6, #-4]
    ldr r0, [r7, #12]
    str r4, [r6]
    ldr r7, [r6]
    ldr r0, [r7, #20]
    adds r4, #8
    subs r2, #1
    bne 1b
"""


def test_write_back_in_every_addressing_form(thumb_program):
    _assert_same_reads(thumb_program(WRITEBACK_LOOP, functions=_data(PAGE), name="wback"), thumb_board(),
                       {"flash": 40 * 15})


# Register-offset loads with shifts, a signed byte and a signed halfword used as table indices
# (negative ones included), ADD register forms with LSL (followed), LSR/ASR and SUB (not
# followed: hooked), ADDW/SUBW. Per pass: 10 reads.
SHIFTED_LOOP = """
    ldr r4, =weights
    ldr r8, =table + 512
    ldr r9, =weights + 1024
    movs r2, #40
1:  ldr r0, [r4, r2, lsl #2]
    ldrh r0, [r4, r2, lsl #1]
    ldrsb r0, [r4, r2]
    ldr r3, [r8, r0, lsl #2]
    ldrsh r0, [r4, r2, lsl #1]
    asrs r0, r0, #6
    ldrb r3, [r9, r0]
    add r6, r4, r2, lsl #3
    ldr r0, [r6, #4]
    add.w r6, r4, r2, lsr #1
    ldrb r0, [r6, #3]
    sub.w r6, r9, r2, lsl #2
    ldr r0, [r6]
    add r6, r2, r9, asr #31
    addw r6, r6, #1500
    subw r6, r6, #700
    ldrb r0, [r4, r6]
    subs r2, #1
    bne 1b
"""


def test_shifted_register_offsets_and_signed_indices(thumb_program):
    _assert_same_reads(thumb_program(SHIFTED_LOOP, functions=_data(PAGE), name="shifted"), thumb_board(),
                       {"flash": 40 * 10})


# TBB and TBH through a table in a data page, indexed by a byte loaded from another one (masked,
# then as loaded: the plan follows it), a PLD (no read); POP and LDM that load PC, returning from
# calls that read flash. Per pass: 2 + 2 + 2 + 1 + 1 = 8.
TABLE_BRANCH_LOOP = """
    ldr r4, =weights
    ldr r5, =bytes4
    ldr r7, =table
    movs r2, #40
1:  ldrb r0, [r4, r2]
    and r0, r0, #3
    tbb [r5, r0]
2:  b.n 10f
    b.n 11f
    b.n 12f
    b.n 13f
10: adds r3, #1
11: adds r3, #1
12: adds r3, #1
13: ldrb r0, [r4, r2, lsl #1]
    and r0, r0, #3
    tbh [r7, r0, lsl #1]
3:  b.n 20f
    b.n 20f
    b.n 20f
    b.n 20f
20: ldrb r0, [r5, r2]
    pld [r4, #64]
    tbb [r5, r0]
4:  b.n 30f
    b.n 30f
    b.n 30f
    b.n 30f
30: bl pop_reader
    bl ldm_reader
    subs r2, #1
    bne 1b
"""

TABLE_BRANCH_FUNCTIONS = """
    .thumb_func
    .type pop_reader, %function
pop_reader:
    push {r4, r6, lr}
    ldr r6, [r4, #100]
    pop {r4, r6, pc}
    .thumb_func
    .type ldm_reader, %function
ldm_reader:
    stmdb sp!, {r4, r5, lr}
    ldr r5, [r4, #200]
    ldmia.w sp!, {r4, r5, pc}
"""


def test_table_branches_and_loads_of_pc(thumb_program):
    elf = thumb_program(TABLE_BRANCH_LOOP, functions=TABLE_BRANCH_FUNCTIONS + _data(PAGE), name="tbb")
    _assert_same_reads(elf, thumb_board(), {"flash": 40 * 8})


# An IT block split by a page boundary: Unicorn ends the block there, and the next block starts
# inside the IT block, its first instructions conditional on an IT instruction it does not hold
# (the boundary falls after the ITETE itself, or after its first, second or third load). Both
# parities take each path. Per pass: 2 of the ITETE's loads, 2 in the ITTT, 1 after.
IT_ACROSS_PAGES_LOOP = """
    ldr r4, =weights
    movs r2, #40
    b 1f
    .balign {page}
    .space {page} - {before}
1:  tst.w r2, #1
    itete eq
    ldreq r0, [r4, #0]
    ldrne r0, [r4, #4]
    ldreq r1, [r4, #8]
    ldrne r1, [r4, #12]
    cmp r2, #100
    ittt lo
    ldrlo r3, [r4, #16]
    addlo r4, r4, #4
    ldrlo r5, [r4, #64]
    ldr r0, [r4, #128]
    subs r2, #1
    bne 1b
"""


@pytest.mark.parametrize("loads_before", [0, 1, 2, 3])
def test_a_block_that_starts_inside_an_it_block(thumb_program, loads_before):
    source = IT_ACROSS_PAGES_LOOP.format(page=PAGE, before=6 + 2 * loads_before)  # tst.w 4, itete 2, ldr 2
    elf = thumb_program(source, functions=_data(PAGE), name="itpage")
    runs = _assert_same_reads(elf, thumb_board(), {"flash": 40 * 5})
    starts = runs["plan"][1].counter.blocks().addresses
    assert any(a % PAGE == 0 and a > PAGE for a in starts.tolist())  # a block starts at the boundary


# Loads that straddle a data page's edge: an unaligned word and halfword half in the last data
# page and half in the page after it (no data object), and a word half in the code page before
# the first data page. Each is two aligned accesses, one of them a data read. Per pass: 3.
STRADDLE_LOOP = """
    ldr r4, =weights
    ldr r5, =plain
    movs r2, #40
1:  ldr r0, [r5, #-2]
    ldrh r0, [r5, #-1]
    ldr r0, [r4, #-2]
    ldr.w r0, [r5, #-3]
    subs r2, #1
    bne 1b
"""


def test_loads_straddling_a_data_pages_edge(thumb_program):
    elf = thumb_program(STRADDLE_LOOP, functions=_data(PAGE), name="straddle")
    _assert_same_reads(elf, thumb_board(), {"flash": 40 * 4})


# FP loads (the FPU enabled through CPACR first): VLDR of S and D registers (a D register 4- but
# not 8-aligned too), VLDM with write-back, VPUSH/VPOP; and LDREX. A trapped page takes an 8-byte
# access as two 4-byte reads (Unicorn's MMIO regions take at most 4 bytes a call), an unaligned one
# as two aligned 8-byte accesses. Per pass: 1 + 2 + 4 + 4 + 1 + 1 = 13.
FP_LOOP = """
    ldr r0, =0xE000ED88
    ldr r1, [r0]
    orr r1, r1, #0xF00000
    str r1, [r0]
    dsb
    isb
    ldr r4, =weights
    movs r2, #40
1:  vldr s0, [r4, #8]
    vldr d1, [r4, #16]
    vldr d2, [r4, #36]
    mov r1, r4
    vldmia r1!, {s4-s7}
    ldr r0, [r1, #0]
    vpush {s0-s1}
    vpop {s0-s1}
    ldrex r0, [r4, #44]
    adds r4, #8
    subs r2, #1
    bne 1b
"""


def test_fp_loads_and_ldrex(thumb_program):
    elf = thumb_program(FP_LOOP, functions=_data(PAGE), name="fp")
    _assert_same_reads(elf, thumb_board(), {"flash": 40 * 13})


# --- RV32IMC ----------------------------------------------------------------------------------


# Compressed stack forms: a flash pointer spilled with c.swsp below a c.addi16sp frame and
# reloaded with c.lwsp; c.addi4spn making a second pointer to the same slot, a c.sw through it
# overwriting the spill (the walk sees the same address), c.lw through the reloaded pointer;
# lui + addi, lui + a load's %lo and auipc + addi constants as bases; lb/lh/lbu/lhu at negative
# offsets (an unaligned halfword among them); a load into x0 (still a read), a base through x0.
# Per pass: 1 + 1 + 1 + 1 + 1 + 1 + 2 (the unaligned halfword) + 1 + 1 + 1 = 11.
RV_COMPRESSED_LOOP = """
    la s2, weights
    li s5, 40
1:  c.addi16sp sp, -64
    c.swsp s2, 8(sp)
    c.lwsp a1, 8(sp)
    c.lw a0, 4(a1)
    c.addi4spn a2, sp, 8
    addi a3, s2, 100
    c.sw a3, 0(a2)
    c.lwsp a4, 8(sp)
    c.lw a0, 0(a4)
    lui a5, %hi(weights + 1024)
    addi a5, a5, %lo(weights + 1024)
    lui t2, %hi(table + 2044)
    lw a0, %lo(table + 2044)(t2)
2:  auipc t0, %pcrel_hi(table)
    addi t0, t0, %pcrel_lo(2b)
    lb a0, -1(a5)
    lh a0, -4(a5)
    lbu a0, -7(a5)
    lhu a0, -3(a5)
    lw a0, 8(t0)
    add t1, x0, a5
    lw x0, 12(t1)
    c.li a0, 5
    c.add a0, s2
    lbu a0, 0(a0)
    c.addi16sp sp, 64
    addi s2, s2, 4
    addi s5, s5, -1
    bnez s5, 1b
"""


def test_rv32_compressed_stack_forms_constants_and_negative_offsets(riscv_program):
    elf = riscv_program(RV_COMPRESSED_LOOP, functions=_data(RV_PAGE, "@object"), name="rvc")
    _assert_same_reads(elf, rv_board(), {"irom": 40 * 11})


# A pointer stored and reloaded after stores through another register: one at the same address
# the walk cannot tell is the same (sp + s6, s6 = 0), one a byte over part of it (the byte it
# held: the reloaded pointer is unknown to the walk, hooked), one 8 bytes away; indices from mul,
# shifts by a register and an arithmetic shift right. Per pass: 6.
RV_ALIAS_LOOP = """
    la s2, weights
    la s3, table
    li s6, 0
    li s5, 40
1:  addi sp, sp, -32
    sw s2, 12(sp)
    add t1, sp, s6
    addi t2, s2, 16
    sw t2, 12(t1)
    lw a1, 12(sp)
    lw a0, 0(a1)
    sw s3, 20(sp)
    sw s2, 4(t1)
    lw a1, 20(sp)
    lw a0, 4(a1)
    sw s2, 24(sp)
    srli t6, s2, 8
    sb t6, 25(t1)
    lw a1, 24(sp)
    lbu a0, 0(a1)
    mul t0, s5, s5
    andi t0, t0, 1020
    add t0, t0, s2
    lw a0, 0(t0)
    li t3, 3
    sll t4, s5, t3
    add t4, t4, s3
    lw a0, 0(t4)
    li t5, -800
    srai t5, t5, 1
    add t5, t5, s5
    add t5, t5, s3
    lbu a0, 800(t5)
    addi sp, sp, 32
    addi s2, s2, 4
    addi s5, s5, -1
    bnez s5, 1b
"""


def test_rv32_aliasing_stores_and_computed_indices(riscv_program):
    elf = riscv_program(RV_ALIAS_LOOP, functions=_data(RV_PAGE, "@object"), name="rvalias")
    _assert_same_reads(elf, rv_board(), {"irom": 40 * 6})


# --- Faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize("data_reads", ["trap", "plan", "auto"])
def test_a_store_into_a_data_array_is_a_fault_in_every_mode(thumb_program, data_reads):
    snippet = """
    ldr r1, =weights
    movs r2, #100
1:  ldr r0, [r1, #4]
    subs r2, #1
    bne 1b
    str r0, [r1, #8]
"""
    image = load_image(thumb_program(snippet, functions=_data(PAGE), name=f"store{data_reads}"))
    board = thumb_board()
    emulation = Emulation(image, board, b"", cycle_model_for(board, image.arch, memory=True), counter="c",
                          data_reads=data_reads)
    if data_reads == "auto":
        emulation.counter._plans.state.window = emulation.counter._plans.state.window_end = 20
    with pytest.raises(TinyEdgeError, match=r"write to read-only memory \(flash\) at 0x00000[0-9a-f]+08"):
        emulation.run()
    assert emulation.counter.planning is (data_reads != "trap")


# --- Layer boundaries ---------------------------------------------------------------------------

# Layer call sites (the BLs in tinyedge_model_invoke) in blocks that read flash before the call:
# trapped, a snapshot at a call site holds the reads its block ran before the call, so the plan's
# reads charged at the block's entry must count there too. In the second block the reads follow a
# conditional load that runs ("ne"), does not ("eq": its hook does not fire, the reads after it
# wait to be charged) or is not there. Per pass: 2 + 1 (layer_a) + (1) + 2 + 1 (layer_b).
INVOKE_LOOP = """
    movs r2, #20
1:  push {r2}
    bl tinyedge_model_invoke
    pop {r2}
    subs r2, #1
    bne 1b
"""

INVOKE_FUNCTIONS = """
    .thumb_func
    .global tinyedge_model_invoke
    .type tinyedge_model_invoke, %function
tinyedge_model_invoke:
    push {r4, lr}
    ldr r4, =weights
    ldr r0, [r4, #0]
    ldr r1, [r4, #640]
    bl layer_a
    {conditional}
    ldr r1, [r4, #1280]
    ldr r0, [r4, #1920]
    bl layer_b
    pop {r4, pc}
    .ltorg
    .size tinyedge_model_invoke, . - tinyedge_model_invoke
    .thumb_func
    .type layer_a, %function
layer_a:
    ldr r0, [r4, #320]
    bx lr
    .thumb_func
    .type layer_b, %function
layer_b:
    ldr r0, [r4, #960]
    bx lr
"""


@pytest.mark.parametrize("condition", ["ne", "eq", None])
def test_reads_before_a_layer_call_site_count_to_the_layer_before_it(thumb_program, condition):
    conditional = f"cmp r4, #0\n    it {condition}\n    ldr{condition} r0, [r4, #16]" if condition else ""
    functions = INVOKE_FUNCTIONS.replace("{conditional}", conditional) + _data(PAGE)
    elf = thumb_program(INVOKE_LOOP, functions=functions, name="layers")
    _assert_same_reads(elf, thumb_board(), {"flash": 20 * (7 if condition == "ne" else 6)})


# --- Loaded values as addresses ---------------------------------------------------------------

def _pointers(page: int, object_type: str = "%object") -> str:
    """A page of pointers into weights ("pointers": weights + 8 * i), after _data's pages."""
    return _data(page, object_type) + f"""
    .balign {page}
    .global pointers
    .type pointers, {object_type}
    .size pointers, {page}
pointers:
    .set i, 0
    .rept {page // 4}
    .word weights + 8 * i
    .set i, i + 1
    .endr
"""


# Pointers read from a table in flash and followed in the same block (the walk reads the pointer
# at entry), a byte index spilled to the stack as a word and reloaded (the store's value), and an
# LDM that loads its own base register, used again after. Per pass: 2 + 2 + 1 + 1 + 2 + 1 = 9.
THUMB_POINTER_LOOP = """
    ldr r4, =pointers
    ldr r5, =table
    movs r2, #40
    sub sp, #16
1:  ldr r0, [r4, r2, lsl #2]
    ldrb r1, [r0, #3]
    ldr r3, [r4, #4]!
    ldrsh r6, [r3, #-2]
    ldrb r1, [r0, #5]
    str r1, [sp, #8]
    ldr r6, [sp, #8]
    ldr r3, [r5, r6, lsl #2]
    mov r1, r4
    ldm r1, {r0, r1}
    ldr r3, [r1, #4]
    subs r2, #1
    bne 1b
    add sp, #16
"""


def test_thumb_pointers_loaded_from_flash_and_followed(thumb_program):
    elf = thumb_program(THUMB_POINTER_LOOP, functions=_pointers(PAGE), name="pointers")
    _assert_same_reads(elf, thumb_board(), {"flash": 40 * 9})


# The same in RV32: a pointer loaded and followed, a signed byte used as an index of a table
# whose halfword is an index in turn, a loaded byte spilled and reloaded, a pointer loaded into
# its own base register. Per pass: 9.
RV_POINTER_LOOP = """
    la s2, pointers
    la s3, table + 512
    li s5, 40
1:  mv t0, s2
    lw a0, 0(t0)
    lbu a1, 3(a0)
    lb a2, 1(a0)
    slli a2, a2, 2
    add a2, a2, s3
    lw a3, 0(a2)
    lh a4, 0(a2)
    add a4, a4, s3
    lbu a5, 0(a4)
    addi sp, sp, -16
    sw a1, 4(sp)
    lw a6, 4(sp)
    add a6, a6, s3
    lbu a7, 0(a6)
    addi sp, sp, 16
    lw t0, 8(t0)
    lw a0, 4(t0)
    addi s2, s2, 4
    addi s5, s5, -1
    bnez s5, 1b
"""


def test_rv32_pointers_loaded_from_flash_and_followed(riscv_program):
    elf = riscv_program(RV_POINTER_LOOP, functions=_pointers(RV_PAGE, "@object"), name="rvpointers")
    _assert_same_reads(elf, rv_board(), {"irom": 40 * 9})


# A value read from a peripheral's register (the nRF52840's NVMC page, modelled as MMIO by its
# [setup]) used as the offset of a flash read in the same block: no host memory holds it, so the
# plan cannot read it at the block's entry; the block is planned again without loaded values.
PERIPHERAL_INDEX_LOOP = """
    ldr r5, =0x4001e600
    ldr r4, =weights
    movs r2, #40
1:  lsls r0, r2, #6
    str r0, [r5]
    b 2f
2:  ldr r1, [r5]
    ldr r3, [r4, r1]
    subs r2, #1
    bne 1b
"""


def test_an_offset_read_from_a_peripheral_register(thumb_program):
    elf = thumb_program(PERIPHERAL_INDEX_LOOP, functions=_data(PAGE), name="peripheral")
    _assert_same_reads(elf, load_board("nrf52840"), {"flash": 40})


# --- A compiled program -----------------------------------------------------------------------

# Table look-ups, a switch (TBB), IT blocks with conditional loads, structs of pointers in flash.
# Unicorn leaves an IT block's bits in xPSR after a conditional load in it; a block looked up with
# them after Unicorn dropped its translations (the switch to plans) ran its first instruction as
# conditional and the program read out of bounds, until the planner hooked the instruction after
# such IT blocks to clear them (TE_RECORD_CLEAR_IT).
IT_SWITCH_PROGRAM = r"""
#include <stdint.h>

extern uint32_t __stack_top, __data_start, __data_end, __data_load, __bss_start, __bss_end;

""" + SEMIHOST_C + r"""
#define N 4096
#define GEN(i) (int8_t)((i) * 37 + 11)
#define R4(i) GEN(i), GEN(i + 1), GEN(i + 2), GEN(i + 3)
#define R16(i) R4(i), R4(i + 4), R4(i + 8), R4(i + 12)
#define R64(i) R16(i), R16(i + 16), R16(i + 32), R16(i + 48)
#define R256(i) R64(i), R64(i + 64), R64(i + 128), R64(i + 192)
#define R1K(i) R256(i), R256(i + 256), R256(i + 512), R256(i + 768)
__attribute__((aligned(4096))) const int8_t weights[N] = {R1K(0), R1K(1024), R1K(2048), R1K(3072)};
#define W1(i) (uint16_t)(((i) * 97) & 1023)
#define W4(i) W1(i), W1(i + 1), W1(i + 2), W1(i + 3)
#define W16(i) W4(i), W4(i + 4), W4(i + 8), W4(i + 12)
#define W64(i) W16(i), W16(i + 16), W16(i + 32), W16(i + 48)
#define W256(i) W64(i), W64(i + 64), W64(i + 128), W64(i + 192)
__attribute__((aligned(4096))) const uint16_t index_table[2048] = {
    W256(0), W256(256), W256(512), W256(768), W256(1024), W256(1280), W256(1536), W256(1792)};
typedef struct { const int8_t *data; int32_t stride; int16_t bias; uint8_t shift; } layer_t;
#define L(i) {weights + (i) * 64, (i) % 7 + 1, (int16_t)((i) * 3 - 50), (uint8_t)((i) % 5)}
#define L8(i) L(i), L(i + 1), L(i + 2), L(i + 3), L(i + 4), L(i + 5), L(i + 6), L(i + 7)
#define L32(i) L8(i), L8(i + 8), L8(i + 16), L8(i + 24)
__attribute__((aligned(4096))) const layer_t layers[256] = {
    L32(0), L32(32), L32(64), L32(96), L32(128), L32(160), L32(192), L32(224)};

__attribute__((noinline)) void te_inference_begin(void) { __asm__ volatile(""); }
__attribute__((noinline)) void te_inference_end(void) { __asm__ volatile(""); }

static volatile int32_t sink;
static int32_t scratch[64];

__attribute__((noinline)) int32_t layer_a(const layer_t *l, int k)
{
    int32_t acc = l->bias;
    for (int i = 0; i < 24; i++) {
        acc += l->data[i * l->stride] * (int8_t)(i - k);
        scratch[i & 63] = acc;
    }
    return acc >> l->shift;
}

__attribute__((noinline)) int32_t layer_b(int seed)
{
    int32_t acc = 0;
    for (int i = 0; i < 32; i++) {
        uint16_t j = index_table[(seed * 13 + i * 7) & 2047];
        int8_t w = weights[j];
        switch (w & 7) {
        case 0: acc += w; break;
        case 1: acc -= weights[(j + 100) & (N - 1)]; break;
        case 2: acc ^= scratch[w & 63]; break;
        case 3: acc += layers[w & 255].bias; break;
        case 4: acc += *(const int16_t *)(const void *)(weights + (j & ~1u)); break;
        case 5: acc += layers[(uint8_t)w].data[j & 31]; break;
        default: acc += w * 3; break;
        }
        if (acc > 1000) {
            acc = weights[(acc >> 4) & (N - 1)];
        }
    }
    return acc;
}

__attribute__((noinline)) int tinyedge_model_invoke(int seed)
{
    int32_t acc = 0;
    for (int k = 0; k < 6; k++) {
        acc += layer_a(&layers[(seed + k * 11) & 255], k);
        acc += layer_b(seed + k);
    }
    return acc;
}

int main(void)
{
    for (int sample = 0; sample < 3; sample++) {
        te_inference_begin();
        sink = tinyedge_model_invoke(sample * 5 + 1);
        te_inference_end();
    }
    return 0;
}

""" + RESET_C + r"""
#if defined(__riscv)
__asm__(".section .text.start, \"ax\"\n.global _start\n_start:\n  la sp, __stack_top\n  j reset\n");
#else
__attribute__((section(".vectors"), used)) static const void *const vectors[2] = {&__stack_top, reset};
#endif
"""


def test_a_compiled_program_runs_the_same_switched_to_plans_mid_run(arm_c_program):
    image = load_image(arm_c_program(IT_SWITCH_PROGRAM, name="itswitch"))
    board = thumb_board()
    model = cycle_model_for(board, image.arch, memory=True)
    trap = Emulation(image, board, b"", model, counter="c", data_reads="trap").run()
    auto = Emulation(image, board, b"", model, counter="c", data_reads="auto")
    auto.counter._plans.state.window = auto.counter._plans.state.window_end = 300
    measured = auto.run()
    assert measured.memory_reads == trap.memory_reads and measured.cache_misses == trap.cache_misses
    assert measured.samples == trap.samples
