#!/usr/bin/env bash
# Set up tinyedge on a fresh Debian/Ubuntu machine: system compilers, a virtualenv in
# .venv with tinyedge and its pinned dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Cross-compilers for the boards (Cortex-M, RISC-V), the host C compiler, QEMU.
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v arm-none-eabi-gcc >/dev/null || need+=(gcc-arm-none-eabi libnewlib-arm-none-eabi)
command -v riscv64-unknown-elf-gcc >/dev/null || need+=(gcc-riscv64-unknown-elf)
# QEMU: a second real emulator (--backend qemu) that CI cross-checks the built-in one against.
command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
command -v qemu-system-riscv32 >/dev/null || need+=(qemu-system-misc)
if [ ${#need[@]} -gt 0 ]; then
    echo "tinyedge setup: installing ${need[*]}"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}"
fi

# Python side: TensorFlow 2.21 (CPU) with Keras 3, the TFLite-Micro reference, tinyedge.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
echo "tinyedge setup: done (activate with: . .venv/bin/activate)"
