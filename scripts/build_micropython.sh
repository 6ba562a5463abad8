#!/usr/bin/env bash
# Build what tests/micropython/test_micropython_qemu.py needs from a MicroPython source tree (MPY_DIR):
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
# HEAP: the MicroPython heap in bytes (default 1 MB, as on a board with external RAM; the port's
# own default, 140 KB, refuses to import a model of more than about 60 KB, since the import copies
# code and weights into the heap: HEAP=143360 to see that). A change of HEAP rebuilds the boards.
set -euo pipefail
: "${MPY_DIR:?set MPY_DIR to a MicroPython source tree}"
jobs="${JOBS:-2}"
heap="${HEAP:-1048576}"
qemu="$MPY_DIR/ports/qemu"
for board in MPS2_AN385 MPS2_AN500 VIRT_RV32; do
    if [ "$(cat "$qemu/build-$board/heap_size" 2>/dev/null)" != "$heap" ]; then
        rm -rf "$qemu/build-$board"
    fi
done
nice -n 10 make -C "$MPY_DIR/mpy-cross" -j"$jobs" >/dev/null
for board in MPS2_AN385 MPS2_AN500; do
    nice -n 10 make -C "$qemu" BOARD=$board MICROPY_HEAP_SIZE="$heap" -j"$jobs" >/dev/null
    echo "$heap" > "$qemu/build-$board/heap_size"
    echo "built $qemu/build-$board/firmware.elf (heap $heap B)"
done
# Debian's RISC-V gcc has no rv32imac_zicsr multilib: name the rv32imac libgcc the port links.
rv32_libgcc="$(riscv64-unknown-elf-gcc -march=rv32imac -mabi=ilp32 -print-libgcc-file-name)"
if nice -n 10 make -C "$qemu" BOARD=VIRT_RV32 LIBS="$rv32_libgcc" MICROPY_HEAP_SIZE="$heap" -j"$jobs" >/dev/null; then
    echo "$heap" > "$qemu/build-VIRT_RV32/heap_size"
    echo "built $qemu/build-VIRT_RV32/firmware.elf (heap $heap B)"
else
    echo "VIRT_RV32 did not build (the rv32imc tests then skip): install picolibc-riscv64-unknown-elf" >&2
fi
