"""The UART variant: board [console] data, baud divisors, and the project it renders."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from tinyedge.boards import load_board
from tinyedge.build import build_firmware, render_project, toolchain
from tinyedge.console import DRIVERS, check_console, uart_defines
from tinyedge.errors import TinyEdgeError
from tinyedge.flash.image import load_elf

UART_BOARDS = ["nrf52840", "nucleo-l4r5zi", "rp2040", "stm32f4-discovery", "stm32f746g-disco", "stm32l552"]
MODEL_H = """\
#ifndef TINYEDGE_MODEL_H
#define TINYEDGE_MODEL_H
#include <stdint.h>
#define TINYEDGE_INPUT_BYTES 8
#define TINYEDGE_OUTPUT_BYTES 2
int8_t *tinyedge_model_input(void);
int tinyedge_model_invoke(const int8_t *input, int8_t *output);
#endif
"""
MODEL_C = """\
#include "tinyedge_model.h"
static int8_t te_input[TINYEDGE_INPUT_BYTES] __attribute__((aligned(16)));

int8_t *tinyedge_model_input(void)
{
    return te_input;
}

int tinyedge_model_invoke(const int8_t *input, int8_t *output)
{
    output[0] = (int8_t)(input[0] + input[7]);
    output[1] = (int8_t)(input[1] - input[6]);
    return 0;
}
"""


def write_model(directory: Path) -> Path:
    model = directory / "model"
    model.mkdir(parents=True)
    (model / "tinyedge_model.h").write_text(MODEL_H)
    (model / "tinyedge_model.c").write_text(MODEL_C)
    return model


def test_every_board_with_a_uart_has_a_driver_and_every_bare_metal_cortex_m_board_has_a_uart() -> None:
    boards = [load_board(name) for name in UART_BOARDS]
    assert all(board.console is not None and board.console.uart in DRIVERS for board in boards)
    assert load_board("esp32c3").console is None  # prints over USB serial from its ESP-IDF project


@pytest.mark.parametrize(("board", "expected"), [
    ("nrf52840", {"TE_UART_BAUDRATE": 0x01D7_E000}),  # the product specification's value for 115200
    ("stm32f4-discovery", {"TE_UART_BRR": 365}),  # 42 MHz APB1 / 115200
    ("stm32f746g-disco", {"TE_UART_BRR": 938}),  # 108 MHz APB2 / 115200
    ("stm32l552", {"TE_UART_BRR": 244444}),  # 256 x 110 MHz / 115200
    ("nucleo-l4r5zi", {"TE_UART_BRR": 266667}),  # 256 x 120 MHz / 115200 = 266,666.7
    ("rp2040", {"TE_UART_IBRD": 67, "TE_UART_FBRD": 52}),  # 125 MHz / (16 x 115200) = 67 + 52/64
])
def test_baud_divisors_come_from_the_uart_clock(board: str, expected: dict[str, int]) -> None:
    defines = {d.name: d.value for d in uart_defines(load_board(board))}
    assert defines.pop("TE_UART_BASE") == load_board(board).console.base
    assert defines == expected


def test_a_baud_rate_the_uart_clock_cannot_make_is_refused() -> None:
    board = load_board("stm32f4-discovery")
    slow = replace(board, console=replace(board.console, uart_clock_hz=2_000_000))  # BRR 17: 2.1 % fast
    with pytest.raises(TinyEdgeError, match=r"115200 baud from a 2 MHz UART clock is off by 2\.1%"):
        uart_defines(slow)
    slower = replace(board, console=replace(board.console, uart_clock_hz=1_000_000))
    with pytest.raises(TinyEdgeError, match="too fast for a USART clocked at 1 MHz"):
        uart_defines(slower)


def test_a_board_without_a_uart_or_an_unknown_console_is_refused_with_the_fix() -> None:
    with pytest.raises(TinyEdgeError, match="board host has no \\[console\\] UART.*--console semihosting"):
        check_console("uart", load_board("host"))
    with pytest.raises(TinyEdgeError, match="unknown console 'usb'; valid consoles: semihosting, uart"):
        check_console("usb", load_board("nrf52840"))


@pytest.mark.parametrize(("step", "message"), [
    ("value = 1\nwait = 2", "console.init\\[0\\]' has value, wait"),
    ("equals = 1", "console.init\\[0\\]' has no action"),
    ("set = 1\nequals = 1", "console.init\\[0\\].equals' is only meaningful with `wait`"),
    ("value = 1\nreg2 = 3", "unknown field 'console.init\\[0\\].reg2'"),
])
def test_console_init_steps_are_checked(tmp_path: Path, step: str, message: str) -> None:
    text = load_board("nrf52840").path.read_text()
    first = text.index("[[console.init]]")
    broken = text[:first] + f'[[console.init]]\nreg = 0x5000_0508\nnote = "x"\n{step}\n'
    path = tmp_path / "nrf52840.toml"
    path.write_text(broken)
    with pytest.raises(TinyEdgeError, match=message):
        load_board(path)


@pytest.mark.parametrize("name", UART_BOARDS)
def test_the_uart_variant_builds_without_semihosting_and_with_its_samples(name: str, tmp_path: Path) -> None:
    board = load_board(name)
    if shutil.which(toolchain(board).cc) is None:
        pytest.skip(f"{toolchain(board).cc} is not installed")
    samples = [bytes(range(8)), bytes(range(8, 16)), bytes(range(100, 108))]
    project = render_project(tmp_path / "project", board, write_model(tmp_path), kernel_sources=(),
                             console="uart", samples=samples)
    firmware = build_firmware(project, board)

    assert json.loads((project / "tinyedge_project.json").read_text())["console"] == "uart"
    assert not (project / "runtime" / "te_semihost.c").exists()
    assert (project / "runtime" / DRIVERS[board.console.uart].source).is_file()
    assert not load_elf(firmware.elf).uses_semihosting
    board_init = (project / "board_init.c").read_text()
    assert board_init.count("TE_STEP_") == len(board.console.init)
    for step in board.console.init:
        assert f"0x{step.reg:08X}u" in board_init and step.note in board_init
    body = (project / "samples.c").read_text()
    assert "te_samples[3][TINYEDGE_INPUT_BYTES]" in body and "100, 101, 102" in body
    assert f"#define TE_UART_BASE 0x{board.console.base:08X}u" in (project / "runtime" / "te_uart_config.h").read_text()


def test_the_semihosting_variant_is_unchanged_by_the_console_option(tmp_path: Path) -> None:
    board = load_board("nrf52840")
    project = render_project(tmp_path / "project", board, write_model(tmp_path), kernel_sources=())
    assert (project / "runtime" / "te_semihost.c").is_file()
    assert not any((project / name).exists() for name in ("board_init.c", "samples.c"))
    assert re.search(r"te_file_open\(\"input.bin\"", (project / "main.c").read_text())
