"""Tiny firmware for the emulator tests, assembled or compiled in the test with the cross tools.

Every test program follows the firmware contract in miniature: a vector table (Cortex-M) or an
entry point (RV32), te_inference_begin / te_inference_end, and a semihosting exit.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from semihost_c import RESET_C, SEMIHOST_C

from tinyedge.simulate import Memory, SimTarget

_M4_BOARD = SimTarget("test-m4", "cortex-m4", 64_000_000,
                     (Memory("flash", 0x00000000, 0x40000, "flash"), Memory("ram", 0x20000000, 0x10000, "ram")))
_RV32_BOARD = SimTarget("test-rv32", "rv32imc", 160_000_000,
                       (Memory("irom", 0x42000000, 0x40000, "flash"), Memory("dram", 0x3FC80000, 0x20000, "ram")))

_ARM_LINKER_SCRIPT = """
MEMORY { FLASH (rx) : ORIGIN = 0x00000000, LENGTH = 256K
         RAM (rwx)  : ORIGIN = 0x20000000, LENGTH = 64K }
SECTIONS {
  .vectors : { KEEP(*(.vectors)) } > FLASH
  .text : { *(.text*) *(.rodata*) } > FLASH
  .data : { __data_start = .; *(.data*) . = ALIGN(4); __data_end = .; } > RAM AT > FLASH
  __data_load = LOADADDR(.data);
  .bss (NOLOAD) : { __bss_start = .; *(.bss*) *(COMMON) . = ALIGN(4); __bss_end = .; } > RAM
  __stack_top = ORIGIN(RAM) + LENGTH(RAM);
}
"""

_RISCV_LINKER_SCRIPT = """
ENTRY(_start)
MEMORY { IROM (rx)  : ORIGIN = 0x42000000, LENGTH = 256K
         DRAM (rw)  : ORIGIN = 0x3FC80000, LENGTH = 128K }
SECTIONS {
  .text : { *(.text.start) *(.text*) *(.rodata*) *(.srodata*) } > IROM
  .data : { __data_start = .; *(.data*) *(.sdata*) . = ALIGN(4); __data_end = .; } > DRAM AT > IROM
  __data_load = LOADADDR(.data);
  .bss (NOLOAD) : { __bss_start = .; *(.bss*) *(.sbss*) *(COMMON) . = ALIGN(4); __bss_end = .; } > DRAM
  __stack_top = ORIGIN(DRAM) + LENGTH(DRAM);
}
"""

# Program frame for assembly snippets: the snippet runs between the two calls, so the counted
# instructions are the snippet plus two (te_inference_begin's return and the call of te_inference_end).
THUMB_FRAME = """
    .syntax unified
    .cpu {cpu}
    .thumb
    .section .vectors, "a"
    .word __stack_top
    .word reset
    .word nmi_handler
    .word hardfault_handler
    .text
    .thumb_func
reset:
    bl te_inference_begin
{snippet}
    bl te_inference_end
    movs r0, #0x18
    ldr r1, =0x20026
    bkpt 0xab
    b .
    .thumb_func
    .type te_inference_begin, %function
te_inference_begin:
    bx lr
    .thumb_func
    .type te_inference_end, %function
te_inference_end:
    bx lr
    .thumb_func
nmi_handler:
    b .
    .thumb_func
hardfault_handler:
    b .
{functions}
"""

RISCV_FRAME = """
    .option norelax
    .section .text.start, "ax"
    .global _start
_start:
    la sp, __stack_top
    jal te_inference_begin
{snippet}
    jal te_inference_end
    li a0, 0x18
    li a1, 0x20026
    .option push
    .option norvc
    .balign 16
    slli x0, x0, 0x1f
    ebreak
    srai x0, x0, 7
    .option pop
    j .
    .text
    .type te_inference_begin, @function
te_inference_begin:
    ret
    .type te_inference_end, @function
te_inference_end:
    ret
{functions}
"""


@pytest.fixture
def m4_board() -> SimTarget:
    """A Cortex-M4 board: 256 KB flash at 0, 64 KB RAM at 0x20000000, 64 MHz, no wait states."""
    return _M4_BOARD


@pytest.fixture
def rv32_board() -> SimTarget:
    """An ESP32-C3-like RV32IMC board: code at 0x42000000, RAM at 0x3FC80000, 160 MHz."""
    return _RV32_BOARD


# Reads 8-byte samples from input.bin, runs a two-layer "model" (each layer one kernel call in
# tinyedge_model_invoke), writes 8 output bytes per sample to output.bin and prints a line.
CONTRACT_FIRMWARE = r"""
#include <stdint.h>

#define INPUT_BYTES 8
#define OUTPUT_BYTES 8

extern uint32_t __stack_top, __data_start, __data_end, __data_load, __bss_start, __bss_end;

""" + SEMIHOST_C + r"""
static int sh_open(const char *name, int mode)
{
    uint32_t length = 0;
    while (name[length]) {
        length++;
    }
    const uint32_t block[3] = {(uint32_t)name, (uint32_t)mode, length};
    return semihost(0x01, block);
}

static int sh_transfer(int op, int handle, const void *buffer, uint32_t length)
{
    const uint32_t block[3] = {(uint32_t)handle, (uint32_t)buffer, length};
    return semihost(op, block);
}

__attribute__((noinline)) void te_inference_begin(void) { __asm__ volatile(""); }
__attribute__((noinline)) void te_inference_end(void) { __asm__ volatile(""); }

__attribute__((noinline)) void layer_scale(const int8_t *in, int8_t *out)
{
    int8_t scratch[64];  /* make this layer use some stack */
    for (int i = 0; i < 64; i++) {
        scratch[i] = (int8_t)(in[i % INPUT_BYTES] + i);
    }
    for (int i = 0; i < OUTPUT_BYTES; i++) {
        out[i] = (int8_t)(in[i] + scratch[i] - i);
    }
}

__attribute__((noinline)) void layer_offset(const int8_t *in, int8_t *out)
{
    for (int i = 0; i < OUTPUT_BYTES; i++) {
        out[i] = (int8_t)(in[i] + 1);
    }
}

static int8_t activations[OUTPUT_BYTES];

__attribute__((noinline)) int tinyedge_model_invoke(const int8_t *input, int8_t *output)
{
    layer_scale(input, activations);
    layer_offset(activations, output);
    return 0;
}

static int8_t input[INPUT_BYTES];
static int8_t output[OUTPUT_BYTES];
static char line[] = "tinyedge: sample=0\n";
static volatile uint32_t data_word = 0x12345678u;  /* .data: copied from flash by reset */

int main(void)
{
    int in = sh_open("input.bin", 1);
    int out = sh_open("output.bin", 5);
    if (in < 0 || out < 0 || data_word != 0x12345678u) {
        return 1;
    }
    for (int sample = 0;; sample++) {
        if (sh_transfer(0x06, in, input, INPUT_BYTES) != 0) {
            break;
        }
        te_inference_begin();
        tinyedge_model_invoke(input, output);
        te_inference_end();
        sh_transfer(0x05, out, output, OUTPUT_BYTES);
        line[17] = (char)('0' + sample % 10);
        semihost(0x04, line);
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


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


def _run(command: list[str]) -> None:
    proc = subprocess.run(command, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(command)}\n{proc.stderr}"


@pytest.fixture
def thumb_program(tmp_path: Path) -> Callable[..., Path]:
    """Assemble a Thumb snippet inside THUMB_FRAME into an ELF; returns its path."""

    def build(snippet: str, functions: str = "", cpu: str = "cortex-m4", name: str = "thumb") -> Path:
        source = tmp_path / f"{name}.s"
        source.write_text(THUMB_FRAME.format(cpu=cpu, snippet=snippet, functions=functions))
        (tmp_path / "arm.ld").write_text(_ARM_LINKER_SCRIPT)
        _run([_tool("arm-none-eabi-as"), "-mfpu=fpv4-sp-d16", str(source), "-o", str(tmp_path / f"{name}.o")])
        elf = tmp_path / f"{name}.elf"
        _run([_tool("arm-none-eabi-ld"), "-T", str(tmp_path / "arm.ld"), str(tmp_path / f"{name}.o"),
              "-o", str(elf)])
        return elf

    return build


@pytest.fixture
def riscv_program(tmp_path: Path) -> Callable[..., Path]:
    """Assemble an RV32IMC snippet inside RISCV_FRAME into an ELF; returns its path."""

    def build(snippet: str, functions: str = "", name: str = "rv32") -> Path:
        source = tmp_path / f"{name}.s"
        source.write_text(RISCV_FRAME.format(snippet=snippet, functions=functions))
        (tmp_path / "riscv.ld").write_text(_RISCV_LINKER_SCRIPT)
        obj = tmp_path / f"{name}.o"
        _run([_tool("riscv64-unknown-elf-as"), "-march=rv32imc", "-mabi=ilp32", str(source), "-o", str(obj)])
        elf = tmp_path / f"{name}.elf"
        _run([_tool("riscv64-unknown-elf-ld"), "-m", "elf32lriscv", "--no-relax", "-T",
              str(tmp_path / "riscv.ld"), str(obj), "-o", str(elf)])
        return elf

    return build


@pytest.fixture
def arm_c_program(tmp_path: Path) -> Callable[..., Path]:
    """Compile a freestanding C program (no libc, its own startup) for a Cortex-M core."""

    def build(source_text: str, cpu: str = "cortex-m4", name: str = "program") -> Path:
        source = tmp_path / f"{name}.c"
        source.write_text(source_text)
        (tmp_path / "arm.ld").write_text(_ARM_LINKER_SCRIPT)
        elf = tmp_path / f"{name}.elf"
        _run([_tool("arm-none-eabi-gcc"), f"-mcpu={cpu}", "-mthumb", "-O2", "-std=c99", "-Wall", "-Wextra",
              "-Werror", "-ffreestanding", "-fno-tree-loop-distribute-patterns", "-nostdlib",
              "-T", str(tmp_path / "arm.ld"), str(source), "-o", str(elf), "-lgcc"])
        return elf

    return build


@pytest.fixture
def riscv_c_program(tmp_path: Path) -> Callable[..., Path]:
    """Compile a freestanding C program (no libc, its own startup) for RV32IMC."""

    def build(source_text: str, name: str = "program") -> Path:
        source = tmp_path / f"{name}.c"
        source.write_text(source_text)
        (tmp_path / "riscv.ld").write_text(_RISCV_LINKER_SCRIPT)
        elf = tmp_path / f"{name}.elf"
        _run([_tool("riscv64-unknown-elf-gcc"), "-march=rv32imc", "-mabi=ilp32", "-O2", "-std=c99", "-Wall",
              "-Wextra", "-Werror", "-ffreestanding", "-fno-tree-loop-distribute-patterns", "-nostdlib",
              "-T", str(tmp_path / "riscv.ld"), str(source), "-o", str(elf), "-lgcc"])
        return elf

    return build


@pytest.fixture
def contract_firmware(arm_c_program) -> Path:
    """CONTRACT_FIRMWARE built for a Cortex-M4."""
    return arm_c_program(CONTRACT_FIRMWARE)


@pytest.fixture
def rv32_contract_firmware(riscv_c_program) -> Path:
    """CONTRACT_FIRMWARE built for RV32IMC."""
    return riscv_c_program(CONTRACT_FIRMWARE)


@pytest.fixture
def thumb_bytes(tmp_path: Path) -> Callable[[str], bytes]:
    """Machine code of a few Thumb-2 instructions (Cortex-M4 with FPU), for cycle-model tests."""

    def assemble(source: str) -> bytes:
        (tmp_path / "snippet.s").write_text(f".syntax unified\n.cpu cortex-m4\n.fpu fpv4-sp-d16\n.thumb\n{source}\n")
        _run([_tool("arm-none-eabi-as"), str(tmp_path / "snippet.s"), "-o", str(tmp_path / "snippet.o")])
        _run([_tool("arm-none-eabi-objcopy"), "-O", "binary", "-j", ".text", str(tmp_path / "snippet.o"),
              str(tmp_path / "snippet.bin")])
        return (tmp_path / "snippet.bin").read_bytes()

    return assemble
