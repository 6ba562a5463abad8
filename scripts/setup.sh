#!/usr/bin/env bash
# Set up tinyedge on a fresh Debian/Ubuntu machine: system compilers and build tools, a
# virtualenv in .venv with tinyedge and its pinned dependencies. Safe to run again: a second
# run checks the tools and the stamp below and returns in a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

# Cross-compilers for the boards (Cortex-M, RISC-V), the host C and C++ compilers, QEMU, and
# the build tools the generated projects are built with (make, CMake with Ninja: the tests
# build them all, and skip silently without them).
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v cmake >/dev/null || need+=(cmake)
command -v ninja >/dev/null || need+=(ninja-build)
command -v arm-none-eabi-gcc >/dev/null || need+=(gcc-arm-none-eabi libnewlib-arm-none-eabi)
command -v riscv64-unknown-elf-gcc >/dev/null || need+=(gcc-riscv64-unknown-elf)
# QEMU: a second real emulator (--backend qemu) that CI cross-checks the built-in one against.
command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
command -v qemu-system-riscv32 >/dev/null || need+=(qemu-system-misc)
# unshare: the sweep's cluster test runs its two Ray nodes in a network namespace of their own.
command -v unshare >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
    echo "tinyedge setup: installing ${need[*]}"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}"
fi

# Python side: TensorFlow 2.21 (CPU) with Keras 3, the TFLite-Micro reference, tinyedge
# (editable, so source changes need no reinstall). The stamp holds the hash of pyproject.toml
# the venv was last installed from: pip runs again only when that file changed.
[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=.venv/tinyedge-setup.stamp
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && .venv/bin/python -c "import tinyedge" 2>/dev/null; then
    echo "tinyedge setup: up to date (pyproject.toml unchanged since the last install)"
else
    rm -f "$stamp"
    .venv/bin/python -m pip install -q --upgrade pip
    # The distribution was called `tinyedge` before it became `tinyedge-mcu` (PyPI's `tinyedge`
    # is another project): remove the old name so the command and the pytest plugin exist once.
    if .venv/bin/python -m pip show -q tinyedge >/dev/null 2>&1; then
        .venv/bin/python -m pip uninstall -q -y tinyedge
    fi
    # setuptools ends every editable install of a package with mapped folders (templates/ and
    # boards/ become tinyedge.templates, tinyedge.boards) with an information-only notice; the
    # filter hides that one notice, by its first words, and no other warning.
    # The sweep extra (Ray) too: CI runs `tinyedge sweep`'s tests on a local Ray and a two-node cluster.
    PYTHONWARNINGS="ignore:Editable installation" .venv/bin/python -m pip install -q -e ".[test,sweep]"
    echo "$want" > "$stamp"
fi
echo "tinyedge setup: done (activate with: . .venv/bin/activate)"
