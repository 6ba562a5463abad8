"""The peripherals the firmware's set-up touches, modelled just enough to run it.

Every firmware variant's start-up code runs the board file's [setup] steps (clocks, flash wait
states, accelerators); the UART variant (tinyedge/console.py) also sets its UART up and prints on
it. `SetupModel` maps the 4 KB pages the [setup] registers live in, and `UartModel` those of
[setup], [console] and the UART, with three rules:
  - a register a set-up step writes holds the value written;
  - a register a step waits on reads back with the awaited bits already as awaited (clocks are
    stable and resets done at once), and the UART's status registers always say "ready to
    transmit";
  - a byte written to the UART's transmit register goes to the console.
That checks the firmware's code path and the addresses it uses against the board file, not the
silicon: a wrong bit in a clock register would pass here and fail on the board. (QEMU and Renode
have their own models or none; the firmware's waits give up after about 2^20 reads there.)
"""

from __future__ import annotations

from collections.abc import Callable

import unicorn

from tinyedge.boards import Board, InitStep
from tinyedge.console import board_console, uart_driver
from tinyedge.errors import TinyEdgeError
from tinyedge.simulate.target import SimBoard

PAGE = 0x1000
RESULT_PREFIX = b"tinyedge: sample="
FAILURE_PREFIXES = (b"tinyedge: error=", b"tinyedge: fault=")  # the firmware then stops for good


class SetupModel:
    """The registers of the board's [setup] steps (and of `extra` steps): written values kept, waits met."""

    def __init__(self, board: Board, extra: tuple[InitStep, ...] = (), addresses: tuple[int, ...] = ()) -> None:
        steps = (*(board.setup.init if board.setup is not None else ()), *extra)
        self._forced: dict[int, tuple[int, int]] = {}  # address -> (mask, bits) a read always shows
        for step in steps:
            if step.wait is not None:
                mask, bits = self._forced.get(step.reg, (0, 0))
                self._forced[step.reg] = (mask | step.wait, bits & ~step.wait | step.wait_value)
        self._addresses = {*addresses, *(step.reg for step in steps)}
        self._registers: dict[int, int] = {}
        self._stop: Callable[[], None] = lambda: None

    @property
    def pages(self) -> list[int]:
        return sorted({address & ~(PAGE - 1) for address in (*self._addresses, *self._forced)})

    def install(self, uc: unicorn.Uc, mapped: list[tuple[int, int, str]]) -> None:
        """Map the model's pages; a page inside the board's memories would hide them, and is refused."""
        for page in self.pages:
            clash = next(((s, e) for s, e, _ in mapped if s < page + PAGE and page < e), None)
            if clash is not None:
                raise TinyEdgeError(f"the board's set-up touches 0x{page:08x}, inside its memory "
                                    f"0x{clash[0]:08x}-0x{clash[1]:08x}: check the [setup] and [console] "
                                    "tables of the board file")
            uc.mmio_map(page, PAGE, self._read, page, self._write, page)
        self._stop = uc.emu_stop

    def _read(self, _uc: unicorn.Uc, offset: int, size: int, page: object) -> int:
        assert isinstance(page, int)
        address = page + offset
        value = self._registers.get(address & ~3, 0)
        mask, bits = self._forced.get(address & ~3, (0, 0))
        value = value & ~mask | bits
        return value >> 8 * (address & 3) & ((1 << 8 * size) - 1)

    def _write(self, _uc: unicorn.Uc, offset: int, size: int, value: int, page: object) -> None:
        assert isinstance(page, int)
        self._store(page + offset, size, value)

    def _store(self, address: int, size: int, value: int) -> None:
        shift = 8 * (address & 3)
        mask = ((1 << 8 * size) - 1) << shift
        word = address & ~3
        self._registers[word] = self._registers.get(word, 0) & ~mask | (value << shift) & mask


def setup_model(board: SimBoard) -> SetupModel | None:
    """The model of the board's [setup] registers, or None when the board has no register steps."""
    if not isinstance(board, Board) or board.setup is None or not board.setup.init:
        return None  # a SimTarget (tests, callers without a board file) has no [setup]
    return SetupModel(board)


class UartModel(SetupModel):
    def __init__(self, board: Board, result_lines: int) -> None:
        """result_lines: the emulator stops once the firmware has printed this many result lines."""
        console = board_console(board)
        driver = uart_driver(board)
        super().__init__(board, console.init, (console.base + driver.data_offset,))
        self.board = board
        self.result_lines = result_lines
        self._data_register = console.base + driver.data_offset
        for offset, value in driver.ready_status.items():
            self._forced[console.base + offset] = (0xFFFF_FFFF, value)
        self._text = bytearray()
        self._line = bytearray()
        self._results = 0
        self.failure: str | None = None  # the error or fault line the firmware printed

    def again(self) -> UartModel:
        """A model in its reset state, for a second run of the same firmware."""
        return UartModel(self.board, self.result_lines)

    @property
    def finished(self) -> bool:
        return self._results >= self.result_lines

    @property
    def console(self) -> str:
        return self._text.decode(errors="replace")

    def _write(self, _uc: unicorn.Uc, offset: int, size: int, value: int, page: object) -> None:
        assert isinstance(page, int)
        address = page + offset
        if address == self._data_register:
            self._transmit(value & 0xFF)
            return
        self._store(address, size, value)

    def _transmit(self, byte: int) -> None:
        self._text.append(byte)
        if byte != ord("\n"):
            self._line.append(byte)
            return
        if self._line.startswith(RESULT_PREFIX):
            self._results += 1
            if self._results >= self.result_lines:
                self._stop()
        elif self._line.startswith(FAILURE_PREFIXES):
            self.failure = self._line.decode(errors="replace").strip()
            self._stop()
        self._line.clear()
