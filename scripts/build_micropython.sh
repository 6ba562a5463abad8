#!/usr/bin/env bash
# Build what tests/micropython/test_qemu.py needs from a MicroPython source tree (MPY_DIR):
# the qemu port for a Cortex-M3 board (MPS2_AN385: armv7m modules), for a Cortex-M7 board with
# its double-precision FPU (MPS2_AN500: armv7emdp firmware, which loads armv6m, armv7m, armv7emsp
# and armv7emdp modules) and for RISC-V (VIRT_RV32: rv32imc modules). The AN385 image also boots
# on QEMU's Cortex-M4 machine (mps2-an386) but, built for armv7m, refuses armv7emsp modules.
# tinyedge never needs this tree to write a .mpy; the tests use it to run modules in the real
# MicroPython.
#
#     git clone https://github.com/micropython/micropython "$MPY_DIR"
#     git -C "$MPY_DIR" submodule update --init lib/micropython-lib   # the only submodule needed
#     MPY_DIR=... bash scripts/build_micropython.sh
#
# Needs: gcc-arm-none-eabi, gcc-riscv64-unknown-elf with picolibc-riscv64-unknown-elf (the
# RISC-V board's libc), qemu-system-arm, qemu-system-misc (scripts/setup.sh installs the compilers
# and QEMU).
set -euo pipefail
: "${MPY_DIR:?set MPY_DIR to a MicroPython source tree}"
jobs="${JOBS:-2}"
nice -n 10 make -C "$MPY_DIR/mpy-cross" -j"$jobs" >/dev/null
for board in MPS2_AN385 MPS2_AN500; do
    nice -n 10 make -C "$MPY_DIR/ports/qemu" BOARD=$board -j"$jobs" >/dev/null
    echo "built $MPY_DIR/ports/qemu/build-$board/firmware.elf"
done
# Debian's RISC-V gcc has no rv32imac_zicsr multilib: name the rv32imac libgcc the port links.
rv32_libgcc="$(riscv64-unknown-elf-gcc -march=rv32imac -mabi=ilp32 -print-libgcc-file-name)"
if nice -n 10 make -C "$MPY_DIR/ports/qemu" BOARD=VIRT_RV32 LIBS="$rv32_libgcc" -j"$jobs" >/dev/null; then
    echo "built $MPY_DIR/ports/qemu/build-VIRT_RV32/firmware.elf"
else
    echo "VIRT_RV32 did not build (the rv32imc tests then skip): install picolibc-riscv64-unknown-elf" >&2
fi
