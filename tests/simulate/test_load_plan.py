"""Planned data reads (load_plan.c) against trapped ones and the Python oracle.

Planning works out where a block's loads read from the registers it is entered with, and hooks
only the loads it cannot: every read must still be charged once, in program order, at the address
it touches. Each program below is run with its flash data reads trapped, planned, switched from
one to the other mid-run ("auto" with a low threshold), and by the Python counter; all four must
give the same reads, misses and per-sample cycles. The snippets reach the walk's corner cases:
pointers spilled to the stack and reloaded, stores that do (or only might) overwrite them,
conditional loads, table look-ups by a loaded index, unaligned and multi-register loads; then a
small trained model, compiled for a Cortex-M4 and an RV32 board whose weights stay in flash.
"""

from __future__ import annotations

import numpy as np
import pytest
from plan_runs import PAGE, RV_PAGE, assert_same, flash_data, run_four_ways, rv_board, thumb_board

from tinyedge.boards import load_board
from tinyedge.simulate import block_counter, cycle_model_for
from tinyedge.simulate.firmware_image import load_image
from tinyedge.simulate.unicorn_backend import Emulation

# Each pass, in two blocks. The first reloads a pointer spilled to the stack, after a store through
# sp + r10 (r10 = 0: the walk cannot tell it from another array) that misses it, and reads through
# it: the entry check passes. In the second a store through sp + r10 overwrites the pointer before
# it is reloaded: the entry check must catch the overlap and the block be planned again. Then
# conditional loads both ways, a table look-up by a loaded byte, an unaligned word (two aligned
# reads), LDRD and LDM, and a load after a multiply (not followed: hooked). Eleven reads a pass.
THUMB_LOOP = """
    ldr r4, =weights
    ldr r8, =table
    movs r9, #0
    mov r10, #0
    sub sp, #16
    str r4, [sp, #4]
    movs r2, #60
1:  add r6, sp, r10
    str r9, [r6, #8]
    ldr r1, [sp, #4]
    ldrb r0, [r1, #3]
    ldr r3, [r8, r0, lsl #2]
    add r9, r9, r3
    b 2f
2:  add r6, sp, r10
    adds r5, r1, #64
    str r5, [r6, #4]
    ldr r1, [sp, #4]
    ldr r0, [r1, #5]
    add r9, r9, r0
    tst r2, #1
    ite eq
    ldreq r0, [r4, #128]
    ldrne r0, [r4, #256]
    add r9, r9, r0
    ldrd r0, r3, [r4, #512]
    add r9, r9, r3
    adds r1, r4, #64
    ldm r1, {r0, r3, r5}
    add r9, r9, r5
    mul r7, r2, r2
    and r7, r7, #1020
    ldr r0, [r4, r7]
    add r9, r9, r0
    adds r4, r4, #12
    str r4, [sp, #4]
    subs r2, r2, #1
    bne 1b
    add sp, #16
"""

# The same shapes in RV32IMC: a spilled pointer, a store through sp + s6 (s6 = 0) over it, a
# look-up by a loaded byte, a compressed load, a halfword, a load after a multiply. Five reads a pass.
RV_LOOP = """
    la s2, weights
    la s3, table
    li s4, 0
    li s6, 0
    li s5, 60
1:  addi sp, sp, -16
    sw s2, 4(sp)
    lw a1, 4(sp)
    lbu a0, 3(a1)
    slli a0, a0, 2
    add a0, a0, s3
    lw a2, 0(a0)
    add s4, s4, a2
    add t1, sp, s6
    addi t2, s2, 64
    sw t2, 4(t1)
    lw a1, 4(sp)
    c.lw a0, 8(a1)
    add s4, s4, a0
    lh a0, 130(a1)
    add s4, s4, a0
    mul t0, s5, s5
    andi t0, t0, 1020
    add t0, t0, s2
    lw a0, 0(t0)
    add s4, s4, a0
    addi sp, sp, 16
    addi s2, s2, 12
    addi s5, s5, -1
    bnez s5, 1b
"""


def test_thumb_loads_planned_trapped_switched_and_in_python_read_the_same(thumb_program):
    runs = run_four_ways(thumb_program(THUMB_LOOP, functions=flash_data(PAGE), name="plans"), thumb_board())
    assert_same(runs)
    assert runs["plan"][1].counter.planning and runs["auto"][1].counter.planning
    assert not runs["trap"][1].counter.planning
    # per pass: look-up byte and word, the reloaded pointers' word, one conditional word, LDRD's
    # two, LDM's three, the word after the multiply
    assert runs["trap"][0].memory_reads == {"flash": 60 * 11}


def test_rv32_loads_planned_trapped_switched_and_in_python_read_the_same(riscv_program):
    runs = run_four_ways(riscv_program(RV_LOOP, functions=flash_data(RV_PAGE, "@object"), name="rvplans"), rv_board())
    assert_same(runs)
    assert runs["trap"][0].memory_reads == {"irom": 60 * 5}
    assert runs["auto"][1].counter.planning


def test_a_data_read_dense_run_switches_to_plans_and_a_sparse_one_does_not(thumb_program):
    dense = thumb_program("    ldr r1, =weights\n    ldr r2, =2000\n1:  ldr r0, [r1]\n    subs r2, r2, #1\n"
                          "    bne 1b\n", functions=flash_data(PAGE), name="dense")
    sparse = thumb_program("    ldr r1, =weights\n    ldr r2, =2000\n1:  ldr r0, [r1]\n" + "    nop\n" * 20
                           + "    subs r2, r2, #1\n    bne 1b\n", functions=flash_data(PAGE), name="sparse")
    board = thumb_board()
    for elf, planned in ((dense, True), (sparse, False)):
        image = load_image(elf)
        emulation = Emulation(image, board, b"", cycle_model_for(board, image.arch, memory=True), counter="c")
        emulation.counter._plans.state.window = emulation.counter._plans.state.window_end = 1000
        emulation.run()
        assert emulation.counter.planning is planned
    assert block_counter.SWITCH_READS_PER_1000 == 100  # dense: 1 read in 3 instructions; sparse: 1 in 23


@pytest.mark.slow
@pytest.mark.parametrize("board_name", ["nrf52840", "esp32c3"])
def test_a_trained_models_firmware_reads_the_same_planned_and_trapped(board_name, quantize_for_test, tmp_path):
    import keras

    from tests.ops.keras_training import train_briefly
    from tinyedge.codegen import compile_graph
    from tinyedge.importer import parse_tflite
    from tinyedge.pipeline import build
    from tinyedge.verify import random_samples

    keras.utils.set_random_seed(5)
    model = keras.Sequential([
        keras.Input((8, 8, 4), batch_size=1),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.DepthwiseConv2D(3, padding="same", activation="relu"),
        keras.layers.Conv2D(24, 1, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(6),
    ])
    tflite = quantize_for_test(train_briefly(model), tmp_path / "model.tflite")
    compiled = compile_graph(parse_tflite(tflite.read_bytes(), name="model"))
    firmware = build(compiled, board_name, tmp_path / board_name)
    inputs = b"".join(random_samples(compiled, 1, seed=1))  # one: the report after it varies on RV32
    runs = run_four_ways(firmware.elf, load_board(board_name), inputs, python=False)
    assert_same(runs, whole_run=False)
    assert np.mean([s.stall_cycles for s in runs["plan"][0].samples]) > 0
