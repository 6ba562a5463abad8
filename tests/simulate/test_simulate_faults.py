"""Faulting, hanging or misbehaving firmware ends with one clear TinyEdgeError naming PC and function."""

from __future__ import annotations

import re

import pytest

from tinyedge.errors import TinyEdgeError
from tinyedge.simulate import simulate
from tinyedge.simulate.firmware_image import load_image


def _function(name: str, body: str) -> str:
    return f"""
    .thumb_func
    .type {name}, %function
{name}:
{body}
    .size {name}, . - {name}
"""


BAD_STORE = _function("bad_store", """
    ldr r0, =0x30000000
    movs r1, #1
faulting_store:
    str r1, [r0]
    bx lr
    .ltorg
""")  # the store sits in the middle of its block


def _at(elf, label: str, function: str) -> str:
    """The 'PC 0x... in function+0x..' an error must give for the instruction at `label`."""
    image = load_image(elf)
    pc = image.require_symbol(label)
    return rf"at PC 0x{pc:08x} in {function}\+0x{pc - image.require_symbol(function):x}"


def _raises(elf, board, pattern: str, **kwargs) -> str:
    with pytest.raises(TinyEdgeError) as info:
        simulate(elf, board, [b""], **kwargs)
    message = str(info.value)
    assert re.search(pattern, message), message
    return message


@pytest.mark.parametrize("counter", ["c", "python"])
def test_write_to_unmapped_memory_names_the_exact_pc_and_function(thumb_program, m4_board, counter):
    elf = thumb_program("    bl bad_store", BAD_STORE)
    _raises(elf, m4_board, r"write to unmapped address 0x30000000 .* " + _at(elf, "faulting_store", "bad_store"),
            counter=counter)


@pytest.mark.parametrize("counter", ["c", "python"])
def test_fault_on_the_last_of_many_runs_of_a_block_names_the_exact_pc(thumb_program, m4_board, counter):
    # Fills RAM upward until the store walks off its end: the faulting block ran 4096 times.
    elf = thumb_program("    bl fill", _function("fill", """
    ldr r0, =0x2000C000
    movs r1, #0
1:  adds r1, r1, #1
runaway_store:
    str r1, [r0], #4
    b 1b
    .ltorg
"""))
    _raises(elf, m4_board, r"write to unmapped address 0x20010000 .* " + _at(elf, "runaway_store", "fill"),
            counter=counter)


def test_read_from_unmapped_memory(thumb_program, m4_board):
    elf = thumb_program("    bl bad_load", _function("bad_load", """
    ldr r0, =0x60000000
faulting_load:
    ldr r1, [r0, #8]
    bx lr
    .ltorg
"""))
    _raises(elf, m4_board, r"read from unmapped address 0x60000008 .* " + _at(elf, "faulting_load", "bad_load"))


def test_write_to_flash_is_a_fault(thumb_program, m4_board):
    elf = thumb_program("    bl flash_write", _function("flash_write", """
    movs r0, #0x100
faulting_store:
    str r0, [r0]
    bx lr
"""))
    _raises(elf, m4_board, r"write to read-only memory \(flash\) at 0x00000100 .* "
            + _at(elf, "faulting_store", "flash_write"))


def test_jump_to_unmapped_address(thumb_program, m4_board):
    elf = thumb_program("    bl wild_jump", _function("wild_jump", """
    ldr r0, =0x30000001
    bx r0
    .ltorg
"""))
    _raises(elf, m4_board, r"jump to unmapped address 0x30000000 .*wild_jump")


def test_invalid_instruction_names_its_function(thumb_program, m4_board):
    elf = thumb_program("    bl broken", _function("broken", """
    movs r0, #1
invalid:
    udf #7
"""))
    _raises(elf, m4_board, r"invalid instruction " + _at(elf, "invalid", "broken"))


def test_reaching_the_hardfault_handler_is_a_fault(thumb_program, m4_board):
    elf = thumb_program("    bl hardfault_handler")
    _raises(elf, m4_board, r"HardFault handler .* was reached, called from PC 0x[0-9a-f]{8} in reset")


def test_hang_exceeds_the_instruction_budget(thumb_program, m4_board):
    elf = thumb_program("    bl spin", _function("spin", """
1:  adds r0, r0, #1
    b 1b
"""))
    _raises(elf, m4_board, r"hang: more than 10,000 instructions .* in spin", budget=10_000)


@pytest.mark.parametrize("counter", ["c", "python"])
def test_rv32_store_fault_names_pc_and_function(riscv_program, rv32_board, counter):
    elf = riscv_program("    jal bad_store", """
    .type bad_store, @function
bad_store:
    li t0, 0x10000000
    li t1, 7
faulting_store:
    sw t1, 4(t0)
    ret
    .size bad_store, . - bad_store
""")
    _raises(elf, rv32_board, r"write to unmapped address 0x10000004 .* " + _at(elf, "faulting_store", "bad_store"),
            counter=counter)


def test_rv32_hang(riscv_program, rv32_board):
    elf = riscv_program("1:  j 1b")
    _raises(elf, rv32_board, r"hang: more than 5,000 instructions", budget=5_000)


def test_failed_exit_status_is_an_error(thumb_program, m4_board):
    # Replace the frame's successful exit by ADP_Stopped_RunTimeErrorUnknown.
    elf = thumb_program("""
    movs r0, #0x18
    ldr r1, =0x20023
    bkpt 0xab
""")
    _raises(elf, m4_board, r"exited with an error \(semihosting reason 0x20023")


def test_unknown_semihosting_call_is_named(thumb_program, m4_board):
    elf = thumb_program("""
    movs r0, #0x31
    bkpt 0xab
""")
    _raises(elf, m4_board, r"semihosting call 0x31, which the built-in emulator does not serve .*in reset")


def test_breakpoint_other_than_semihosting_is_a_fault(thumb_program, m4_board):
    elf = thumb_program("    bkpt 0x01")
    _raises(elf, m4_board, r"breakpoint .* at PC 0x[0-9a-f]{8} in reset")


def test_unknown_core_lists_the_known_ones(thumb_program, m4_board):
    from dataclasses import replace

    with pytest.raises(TinyEdgeError, match="cannot run core 'xtensa-lx6'.*cortex-m4"):
        simulate(thumb_program("    nop"), replace(m4_board, core="xtensa-lx6"), [b""])


def test_firmware_for_another_architecture_is_rejected(riscv_program, m4_board):
    with pytest.raises(TinyEdgeError, match="riscv code but board test-m4 has a cortex-m4 core"):
        simulate(riscv_program("    nop"), m4_board, [b""])


def test_firmware_without_the_measurement_symbols_is_rejected(arm_c_program, m4_board):
    elf = arm_c_program("""
extern unsigned __stack_top;
void reset(void) { for (;;) { } }
__attribute__((section(".vectors"), used)) static const void *const vectors[2] = {&__stack_top, reset};
""")
    with pytest.raises(TinyEdgeError, match="has no symbol 'te_inference_begin'"):
        simulate(elf, m4_board, [b""])


def test_section_outside_the_board_memories_is_rejected(thumb_program, m4_board):
    from dataclasses import replace

    tiny_flash = replace(m4_board, memories=(replace(m4_board.memories[0], length=0x20), m4_board.memories[1]))
    with pytest.raises(TinyEdgeError, match=r"section \.text .* lies outside the memories of board test-m4"):
        simulate(thumb_program("    nop"), tiny_flash, [b""])
