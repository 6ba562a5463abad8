"""The cycle model's refill rules as the emulator applies them to a running program.

Hand-written loops run on the built-in emulator twice, with 3 and with 5 iterations: the two
runs share everything but two steady iterations, so their cycle difference is twice the cost of
one iteration, which is counted by hand from ARM DDI 0439B (Cortex-M4) table 3-1 and 3.3.2:
1 cycle per instruction here (BL, B<cc>, ADDS, SUBS; PUSH/POP 1+N), a taken entry P = 1 after an
immediate branch, 2 after BX LR, 3 after POP {..., PC}, +1 into a 32-bit instruction at a
halfword address. The test board has no memory model and no wait states.
"""

from __future__ import annotations

import pytest

from tinyedge.simulate import simulate

LOOP = """
    movs r0, #{n}
    .balign 4
{pad}
1:  bl {leaf}
    subs r0, r0, #1
    bne 1b
"""

LEAVES = """
    .thumb_func
bx_leaf:
    adds r1, r1, #1
    bx lr
    .thumb_func
pop_leaf:
    push {r4, lr}
    adds r1, r1, #1
    pop {r4, pc}
"""


@pytest.mark.parametrize(("leaf", "pad", "per_iteration"), [
    # BL 1 + P 1 into the leaf; ADDS 1, BX LR 1 + P 2 back; SUBS 1, BNE 1 + P 1 back to BL
    ("bx_leaf", "", 1 + 1 + 1 + 1 + 2 + 1 + 1 + 1),
    # BL 1 + P 1; PUSH {r4, lr} 3, ADDS 1, POP {r4, pc} 3 + P 3; SUBS 1, BNE 1 + P 1
    ("pop_leaf", "", 1 + 1 + 3 + 1 + 3 + 3 + 1 + 1 + 1),
    # the loop's first instruction, the 32-bit BL, at a halfword address: its taken entry +1
    ("bx_leaf", "    nop", 1 + 1 + 1 + 1 + 2 + 1 + 1 + 1 + 1),
])
def test_cortex_m4_refills_in_a_running_loop(thumb_program, m4_board, leaf, pad, per_iteration):
    cycles = {}
    for n in (3, 5):
        elf = thumb_program(LOOP.format(n=n, pad=pad, leaf=leaf), LEAVES, name=f"loop{n}")
        result = simulate(elf, m4_board, [b""])
        assert result.instructions[0] > 0 and "Cortex-M4" in result.cycle_model
        cycles[n] = result.cycles[0]
    assert cycles[5] - cycles[3] == 2 * per_iteration
