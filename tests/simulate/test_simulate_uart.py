"""The UART variant in the built-in emulator: its modelled UART, bit-exact outputs, and counts
identical to the semihosting variant's (the same model code, only main and the console differ)."""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path

import pytest

from tinyedge.boards import load_board
from tinyedge.build import build_firmware, render_project, toolchain
from tinyedge.codegen import render_model
from tinyedge.errors import TinyEdgeError
from tinyedge.monitor import SAMPLE_LINE
from tinyedge.pipeline import build, compile_tflite
from tinyedge.simulate import simulate
from tinyedge.simulate.backends import run
from tinyedge.simulate.peripherals import PAGE, UartModel
from tinyedge.verify import random_samples, reference_outputs

UART_BOARDS = ["nrf52840", "rp2040", "stm32f4-discovery", "stm32f746g-disco", "stm32l552"]


@pytest.mark.parametrize("name", UART_BOARDS)
def test_uart_variant_runs_bit_exact_and_counts_like_the_semihosting_one(name, tiny_kws_tflite, tmp_path) -> None:
    board = load_board(name)
    if shutil.which(toolchain(board).cc) is None:
        pytest.skip(f"{toolchain(board).cc} is not installed")
    model = compile_tflite(tiny_kws_tflite)
    samples = random_samples(model, 3, seed=5)
    expected = reference_outputs(tiny_kws_tflite.read_bytes(), model, samples)

    project = tmp_path / "uart"
    render_model(model, project)
    render_project(project, board, kernel_sources=model.kernel_sources, console="uart", samples=samples)
    uart = simulate(build_firmware(project, board).elf, board, samples, console="uart",
                    expected_layers=len(model.layers))
    semihosting = simulate(build(model, board, tmp_path / "semihosting").elf, board, samples)

    assert uart.outputs == tuple(expected) == semihosting.outputs
    lines = [SAMPLE_LINE.search(line) for line in uart.console.splitlines()]
    assert [(int(m[1]), int(m[3], 16)) for m in lines] == [(n, zlib.crc32(out)) for n, out in enumerate(expected)]
    assert uart.instructions == semihosting.instructions
    # Layers split at the blocks holding their call sites, and code placed elsewhere moves block edges
    # (Unicorn ends blocks at page boundaries): a few instructions can change layer, never the total.
    assert len(uart.layers) == len(semihosting.layers)
    assert sum(layer.instructions for layer in uart.layers) == sum(layer.instructions for layer in semihosting.layers)


def test_the_model_serves_set_up_writes_waits_and_the_transmit_register() -> None:
    board = load_board("rp2040")
    model = UartModel(board, result_lines=2)
    stopped = []
    model._stop = lambda: stopped.append(True)  # what install() wires to Unicorn's emu_stop
    xosc = 0x4002_4000

    def read(address: int) -> int:
        return model._read(None, address % PAGE, 4, address & ~(PAGE - 1))

    def write(address: int, value: int) -> None:
        model._write(None, address % PAGE, 4, value, address & ~(PAGE - 1))

    write(xosc, 0xAA0)
    assert read(xosc) == 0xAA0  # a set-up register holds what was written
    assert read(xosc + 4) & 0x8000_0000  # STABLE, which the set-up waits for, is already set
    assert read(0x4000_8038) & 0x4 == 0x4  # CLK_REF_SELECTED: the crystal
    assert read(board.console.base + 0x18) & (1 << 5) == 0  # FR.TXFF clear: ready to transmit
    for byte in b"boot\ntinyedge: sample=0 cycles=1 checksum=00000000\n":
        write(board.console.base, byte)
    assert not stopped
    for byte in b"tinyedge: sample=1 cycles=1 checksum=00000000\n":
        write(board.console.base, byte)
    assert stopped and model.finished and model.console.startswith("boot\n")
    assert set(model.pages) >= {0x4002_4000, 0x4000_8000, 0x4000_C000, 0x4001_4000, 0x4003_4000}


def test_an_error_line_on_the_uart_stops_the_run_with_it() -> None:
    model = UartModel(load_board("nrf52840"), result_lines=5)
    model._stop = lambda: None
    data = model.board.console.base + 0x51C
    for byte in b"tinyedge: error=out of memory\n":
        model._write(None, data % PAGE, 4, byte, data & ~(PAGE - 1))
    assert model.failure == "tinyedge: error=out of memory" and not model.finished


def test_only_the_builtin_emulator_runs_the_uart_variant(tmp_path: Path) -> None:
    with pytest.raises(TinyEdgeError, match="qemu backend runs semihosting firmware only.*--backend builtin"):
        run("qemu", tmp_path / "firmware.elf", load_board("nrf52840"), [b"x"], budget=1, console="uart")
