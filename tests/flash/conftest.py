"""Fixtures for the flash and monitor tests: real firmware builds per board, without hardware.

The model is hand-written C that follows the firmware contract (no TensorFlow needed): the
output is four sums of the input. For the RP2040 the project also links a stand-in boot2
stage: 252 bytes of a fixed pattern with the CRC the boot ROM checks (it would pass the ROM's
check but does not set up the flash; it is here to test the image checks, not to boot).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tinyedge.boards import load_board
from tinyedge.build import build_firmware, render_project, toolchain
from tinyedge.flash.image import rp2040_boot2_crc

MODEL_H = """\
#ifndef TINYEDGE_MODEL_H
#define TINYEDGE_MODEL_H
#include <stdint.h>
#define TINYEDGE_INPUT_BYTES 16
#define TINYEDGE_OUTPUT_BYTES 4
#define TINYEDGE_ARENA_BYTES 4
#define TINYEDGE_NUM_LAYERS 1
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

int tinyedge_model_invoke(const int8_t *input, int8_t *output)
{
    layer_sum(input, output);
    return 0;
}
"""


def boot2_bytes() -> bytes:
    body = bytes((i * 7 + 3) & 0xFF for i in range(252))
    return body + rp2040_boot2_crc(body).to_bytes(4, "little")


def boot2_source() -> str:
    values = ", ".join(f"0x{b:02x}" for b in boot2_bytes())
    return ("#include <stdint.h>\n"
            f'__attribute__((section(".boot2"), used)) const uint8_t te_test_boot2[256] = {{{values}}};\n')


@pytest.fixture(scope="session")
def firmware_project(tmp_path_factory) -> Callable[..., Path]:
    """firmware_project(board, boot2=True) -> the project folder of a built firmware (build/firmware.elf)."""
    built: dict[tuple[str, bool], Path] = {}

    def build(board_name: str, boot2: bool = True) -> Path:
        key = (board_name, boot2)
        if key not in built:
            board = load_board(board_name)
            if shutil.which(toolchain(board).cc) is None:
                pytest.skip(f"{toolchain(board).cc} is not installed")
            root = tmp_path_factory.mktemp(f"fw-{board_name}")
            model = root / "model"
            model.mkdir()
            (model / "tinyedge_model.h").write_text(MODEL_H)
            (model / "tinyedge_model.c").write_text(MODEL_C)
            if boot2 and board.layout is not None and board.layout.boot_bytes:
                (model / "boot2.c").write_text(boot2_source())
            project = render_project(root / "project", board, model, kernel_sources=())
            build_firmware(project, board)
            built[key] = project
        return built[key]

    return build
