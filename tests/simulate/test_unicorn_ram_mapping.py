"""RAM is mapped executable only where the firmware has code (unicorn_backend.py: elsewhere stores
take Unicorn's fast path), and the invalid-access hook is installed only on the rerun that names a
memory fault."""

from __future__ import annotations

import pytest

from tinyedge.errors import TinyEdgeError
from tinyedge.simulate import cycle_model_for, simulate
from tinyedge.simulate.firmware_image import load_image
from tinyedge.simulate.unicorn_backend import Emulation

# Copy .data (which holds a function) from flash to RAM, call the function there, keep its result.
COPY_AND_CALL = """
    ldr r0, =__data_load
    ldr r1, =__data_start
    ldr r2, =__data_end
1:  cmp r1, r2
    bhs 2f
    ldr r3, [r0], #4
    str r3, [r1], #4
    b 1b
2:  ldr r3, =ram_add
    movs r0, #20
    blx r3
    ldr r1, =result
    str r0, [r1]
"""
RAM_FUNCTION = """
    .section .data.ramfunc, "awx"
    .balign 4
    .thumb_func
    .type ram_add, %function
ram_add:
    adds r0, r0, #22
    bx lr
    .balign 4
    .section .bss
    .balign 4
    .global result
result:
    .space 4
"""


def test_code_the_firmware_copies_to_ram_runs_there(thumb_program, m4_board):
    elf = thumb_program(COPY_AND_CALL, functions=RAM_FUNCTION, name="ramfunc")
    image = load_image(elf)
    assert any(0x20000000 <= c.address < 0x20010000 for c in image.code)
    emulation = Emulation(image, m4_board, b"", cycle_model_for(m4_board, image.arch))
    measured = emulation.run()
    assert int.from_bytes(emulation.uc.mem_read(image.symbols["result"], 4), "little") == 42
    assert measured.samples[0].instructions > 0


def test_a_jump_into_ram_without_code_is_a_fault_naming_the_address(thumb_program, m4_board):
    elf = thumb_program("    ldr r0, =0x20000101\n    bx r0\n", name="ramjump")
    with pytest.raises(TinyEdgeError, match=r"jump to non-executable address 0x20000100 \(from the block at"):
        simulate(elf, m4_board, [b""])


@pytest.mark.parametrize("counter", ["c", "python"])
def test_stores_to_ram_keep_their_values_without_the_access_hook(thumb_program, m4_board, counter):
    # a store loop over RAM and a sum of what it stored: the fast store path writes the guest's RAM
    snippet = """
    ldr r1, =0x20001000
    movs r2, #0
1:  str r2, [r1, r2, lsl #2]
    adds r2, r2, #1
    cmp r2, #200
    bne 1b
    movs r2, #0
    movs r3, #0
2:  ldr r0, [r1, r2, lsl #2]
    add r3, r3, r0
    adds r2, r2, #1
    cmp r2, #200
    bne 2b
    ldr r1, =0x20000f00
    str r3, [r1]
"""
    elf = thumb_program(snippet, name=f"stores{counter}")
    image = load_image(elf)
    emulation = Emulation(image, m4_board, b"", cycle_model_for(m4_board, image.arch), counter=counter)
    emulation.run()
    assert int.from_bytes(emulation.uc.mem_read(0x20000F00, 4), "little") == sum(range(200))
