"""Console: where the firmware prints its result lines, and the standalone UART variant.

A firmware is built for one of two consoles; everything but main() and the console is shared:
- "semihosting" (the default): reads its samples from input.bin, writes output.bin and prints
  through the debugger. Every emulator serves it; on a board it needs a debug probe attached.
- "uart": needs no debugger. It carries its samples as const arrays, sets its UART up (the
  board file's [console] table: resets, peripheral clocks, pin functions; the core clock is the
  start-up code's [setup], as in every variant), prints on the UART, and runs its
  samples in a loop for ever, so a serial monitor attached at any time sees result lines.

Per UART driver (firmware/runtime/te_uart_<driver>.c): the divisor registers, computed here from
the UART's clock, and what the built-in emulator's model of the UART needs (tinyedge/simulate/
peripherals.py). Adding a UART is a C file and one entry in DRIVERS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tinyedge.board_setup import init_step_rows
from tinyedge.boards import Board, Console
from tinyedge.codegen import format_values
from tinyedge.errors import TinyEdgeError

SEMIHOSTING = "semihosting"
UART = "uart"
CONSOLES = (SEMIHOSTING, UART)
MAX_BAUD_ERROR = 0.02  # a UART receiver tolerates a few percent; keep well inside it
UART_SAMPLES = "uart_samples.json"  # in a compile's output: TFLite-Micro's CRC-32 per compiled-in sample
STANDALONE_RUNTIME = ("te_standalone.c",)  # beside the driver, instead of te_semihost.c


@dataclass(frozen=True)
class Define:
    name: str
    value: int
    comment: str


@dataclass(frozen=True)
class UartDriver:
    source: str  # in firmware/runtime/
    data_offset: int  # transmit data register
    ready_status: dict[int, int]  # status register offset -> a value that says "ready to transmit"
    divisors: Callable[[int, int], tuple[tuple[Define, ...], float]]  # (clock, baud) -> registers, real baud


def _nrf_baudrate(clock: int, baud: int) -> tuple[tuple[Define, ...], float]:
    """BAUDRATE = baud * 2^32 / 16 MHz, kept to its upper 20 bits (nRF52840 PS, UART BAUDRATE)."""
    value = ((baud << 32) // clock + 0x800) & 0xFFFF_F000
    return (Define("TE_UART_BAUDRATE", value, f"{baud} baud from {clock / 1e6:g} MHz"),), value * clock / 2**32


def _usart_brr(clock: int, baud: int) -> tuple[tuple[Define, ...], float]:
    """Oversampling by 16: BRR = f / baud (RM0090, RM0385 'USART baud rate generation')."""
    brr = round(clock / baud)
    if brr < 16:
        raise TinyEdgeError(f"{baud} baud is too fast for a USART clocked at {clock / 1e6:g} MHz (BRR {brr} < 16)")
    return (Define("TE_UART_BRR", brr, f"{baud} baud from {clock / 1e6:g} MHz"),), clock / brr


def _lpuart_brr(clock: int, baud: int) -> tuple[tuple[Define, ...], float]:
    """BRR = 256 f / baud, at least 0x300 (RM0438 'LPUART baud rate generation')."""
    brr = round(256 * clock / baud)
    if brr < 0x300 or brr >= 1 << 20:
        raise TinyEdgeError(f"{baud} baud is out of the LPUART's range at {clock / 1e6:g} MHz (BRR 0x{brr:x})")
    return (Define("TE_UART_BRR", brr, f"{baud} baud from {clock / 1e6:g} MHz"),), 256 * clock / brr


def _pl011_divisor(clock: int, baud: int) -> tuple[tuple[Define, ...], float]:
    """Divisor f / (16 baud) as a 16.6 fixed-point number in IBRD and FBRD (PL011 TRM)."""
    sixty_fourths = round(4 * clock / baud)
    integer, fraction = sixty_fourths >> 6, sixty_fourths & 0x3F
    if not 1 <= integer < 1 << 16:
        raise TinyEdgeError(f"{baud} baud is out of the PL011's range at {clock / 1e6:g} MHz")
    defines = (Define("TE_UART_IBRD", integer, "integer part of f / (16 baud)"),
               Define("TE_UART_FBRD", fraction, "fraction, in 64ths"))
    return defines, 4 * clock / sixty_fourths


_TXE_TC = 0xC0  # STM32 USART status: transmit data register empty, transmission complete
DRIVERS: dict[str, UartDriver] = {
    "nrf-uart": UartDriver("te_uart_nrf.c", 0x51C, {0x11C: 1}, _nrf_baudrate),
    "stm32-usart-sr": UartDriver("te_uart_stm32_sr.c", 0x04, {0x00: _TXE_TC}, _usart_brr),
    "stm32-usart-isr": UartDriver("te_uart_stm32_isr.c", 0x28, {0x1C: _TXE_TC}, _usart_brr),
    "stm32-lpuart": UartDriver("te_uart_stm32_isr.c", 0x28, {0x1C: _TXE_TC}, _lpuart_brr),
    "pl011": UartDriver("te_uart_pl011.c", 0x00, {0x18: 0x90}, _pl011_divisor),  # FR: TXFE | RXFE
}


def check_console(console: str, board: Board) -> None:
    """Fail before any work for a console the board cannot have."""
    if console not in CONSOLES:
        raise TinyEdgeError(f"unknown console '{console}'; valid consoles: {', '.join(CONSOLES)}")
    if console == UART:
        board_console(board)


def board_console(board: Board) -> Console:
    if board.console is None:
        raise TinyEdgeError(f"board {board.name} has no [console] UART in {board.path.name}: build it with "
                            "--console semihosting, or add the UART's table to the board file")
    return board.console


def uart_driver(board: Board) -> UartDriver:
    return DRIVERS[board_console(board).uart]


def uart_defines(board: Board) -> tuple[Define, ...]:
    """TE_UART_BASE and the driver's divisor registers; an unusable baud rate is an error."""
    console = board_console(board)
    divisors, real_baud = uart_driver(board).divisors(console.uart_clock_hz, console.baud)
    error = abs(real_baud - console.baud) / console.baud
    if error > MAX_BAUD_ERROR:
        raise TinyEdgeError(f"board {board.name}: {console.baud} baud from a {console.uart_clock_hz / 1e6:g} MHz "
                            f"UART clock is off by {error:.1%}; pick another baud rate or UART clock")
    return (Define("TE_UART_BASE", console.base, f"{console.uart} register block"), *divisors)


def runtime_sources(board: Board) -> tuple[str, ...]:
    """The firmware/runtime files the UART variant adds."""
    return (*STANDALONE_RUNTIME, uart_driver(board).source)


def template_context(board: Board, samples: list[bytes]) -> dict:
    """What templates/firmware/{main_uart.c,board_init.c,te_uart_config.h}.j2 render."""
    if not samples:
        raise TinyEdgeError("the UART firmware needs at least one input sample to embed")
    console = board_console(board)
    return {
        "uart": console.uart, "baud": console.baud, "tx_pin": console.tx_pin, "rx_pin": console.rx_pin,
        "connection": console.connection,
        "uart_defines": [{"name": d.name, "value": f"0x{d.value:08X}u", "comment": d.comment}
                         for d in uart_defines(board)],
        "init_steps": init_step_rows(console.init),
        "samples": [format_values(np.frombuffer(s, dtype=np.int8), "int8_t") for s in samples],
    }
