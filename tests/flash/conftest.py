"""Fixtures for the flash and monitor tests: real firmware builds per board, without hardware.

The model is hand-written C that follows the firmware contract (no TensorFlow needed): the
output is four sums of the input. For the RP2040 the project links tinyedge's own boot2 stage
(tinyedge/boot2.py), as every rp2040 project does.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tinyedge.boards import load_board
from tinyedge.build import build_firmware, render_project, toolchain

MODEL_H = """\
#ifndef TINYEDGE_MODEL_H
#define TINYEDGE_MODEL_H
#include <stdint.h>
#define TINYEDGE_INPUT_BYTES 16
#define TINYEDGE_OUTPUT_BYTES 4
#define TINYEDGE_ARENA_BYTES 4
#define TINYEDGE_NUM_LAYERS 1
int8_t *tinyedge_model_input(void);
int tinyedge_model_invoke(const int8_t *input, int8_t *output);
#endif
"""
MODEL_C = """\
#include <stdint.h>
#include "tinyedge_model.h"

static int32_t bias[4] = {1, -2, 3, -4};

__attribute__((noinline)) static void layer_sum(const int8_t *in, int8_t *out)
{
    for (int o = 0; o < 4; ++o) {
        int32_t acc = bias[o];
        for (int i = 0; i < 4; ++i) {
            acc += in[4 * o + i];
        }
        out[o] = (int8_t)(acc > 127 ? 127 : acc < -128 ? -128 : acc);
    }
}

static int8_t te_input[TINYEDGE_INPUT_BYTES] __attribute__((aligned(16)));

int8_t *tinyedge_model_input(void)
{
    return te_input;
}

int tinyedge_model_invoke(const int8_t *input, int8_t *output)
{
    layer_sum(input, output);
    return 0;
}
"""


UART_SAMPLES = [bytes(range(16)), bytes((i * 37) & 0xFF for i in range(16))]  # compiled into UART builds


@pytest.fixture(scope="session")
def firmware_project(tmp_path_factory) -> Callable[..., Path]:
    """firmware_project(board, boot2=True, console="semihosting") -> the project folder of a built firmware
    (build/firmware.elf); console "uart" builds the UART variant with UART_SAMPLES compiled in."""
    built: dict[tuple[str, bool, str], Path] = {}

    def build(board_name: str, boot2: bool = True, console: str = "semihosting") -> Path:
        key = (board_name, boot2, console)
        if key not in built:
            board = load_board(board_name)
            if shutil.which(toolchain(board).cc) is None:
                pytest.skip(f"{toolchain(board).cc} is not installed")
            root = tmp_path_factory.mktemp(f"fw-{board_name}-{console}")
            model = root / "model"
            model.mkdir()
            (model / "tinyedge_model.h").write_text(MODEL_H)
            (model / "tinyedge_model.c").write_text(MODEL_C)
            project = render_project(root / "project", board, model, kernel_sources=(), console=console,
                                     samples=UART_SAMPLES)
            if not boot2:
                (project / "boot2.c").unlink(missing_ok=True)
            build_firmware(project, board)
            built[key] = project
        return built[key]

    return build
