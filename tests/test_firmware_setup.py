"""The firmware sets the chip up as the cost model assumes: clocks, flash, caches (board file [setup])."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import unicorn

from tests.test_console import write_model
from tinyedge.board_setup import L1_CACHE_DEFINE, clock_source
from tinyedge.boards import Board, list_boards, load_board
from tinyedge.build import build_firmware, render_project
from tinyedge.console import SEMIHOSTING, UART
from tinyedge.errors import TinyEdgeError
from tinyedge.resources import firmware_dir
from tinyedge.simulate import simulate, unicorn_backend
from tinyedge.simulate.peripherals import PAGE, SetupModel

SETUP_BOARDS = ["nrf52840", "nucleo-l4r5zi", "rp2040", "stm32f4-discovery", "stm32f746g-disco", "stm32l552"]
SCB_CCR = 0xE000_ED14
CCR_IC_DC = 0x3_0000


def test_every_flashable_cortex_m_board_sets_its_clock_up_and_names_how() -> None:
    boards = [load_board(name) for name in list_boards()]
    flashable = sorted(b.name for b in boards if b.family == "arm")
    assert flashable == SETUP_BOARDS
    for name in SETUP_BOARDS:
        board = load_board(name)
        assert board.setup is not None and board.setup.init, name
        assert f"{board.clock_hz / 1e6:g} MHz" in board.setup.clock and "start-up code" in clock_source(board)
    assert [n for n in SETUP_BOARDS if load_board(n).setup.l1_caches] == ["stm32f746g-disco"]
    for name in ("esp32", "esp32c3", "esp32c6", "esp32s3"):  # flashed as ESP-IDF projects, which set the clock
        board = load_board(name)
        assert f"{board.clock_hz // 1_000_000} MHz, set by the ESP-IDF project" in clock_source(board)


@pytest.mark.parametrize("console", [SEMIHOSTING, UART])
@pytest.mark.parametrize("name", SETUP_BOARDS)
def test_every_rendered_startup_applies_the_board_setup(name: str, console: str, tmp_path: Path) -> None:
    board = load_board(name)
    project = render_project(tmp_path / "project", board, write_model(tmp_path), kernel_sources=(),
                             console=console, samples=[bytes(8)])
    startup = (project / "startup.c").read_text()
    reset = startup[startup.index("void te_reset(void)"):]
    assert reset.index("te_crt_init();") < reset.index("te_setup();") < reset.index("main()")
    assert startup.count("TE_STEP_") == len(board.setup.init)
    for step in board.setup.init:
        assert f"0x{step.reg:08X}u" in startup and step.note in startup
    caches = board.setup.l1_caches
    assert ("te_l1_caches_enable();" in startup) == caches
    assert (f"-D{L1_CACHE_DEFINE}" in (project / "Makefile").read_text()) == caches
    assert {"te_board.c", "te_cache.c"} <= {p.name for p in (project / "runtime").iterdir()}
    if console == UART:  # its own steps are the UART's only: the clock is [setup]'s, in startup.c
        board_init = (project / "board_init.c").read_text()
        assert board_init.count("TE_STEP_") == len(board.console.init)
        assert not any(step.note in board_init for step in board.setup.init)
        assert board.setup.clock in (project / "main.c").read_text()


def _applied(board: Board) -> dict[int, int]:
    """The [setup] steps applied in Python to the register model (zeroed registers, waits met at once)."""
    model = SetupModel(board)
    for step in board.setup.init:
        if step.action == "write":
            model._store(step.reg, 4, step.value)
        elif step.action == "modify":
            old = model._read(None, step.reg % PAGE, 4, step.reg & ~(PAGE - 1))
            model._store(step.reg, 4, old & ~step.clear | step.set)
    return {step.reg: model._registers.get(step.reg, 0) for step in board.setup.init}


@pytest.mark.parametrize("name", SETUP_BOARDS)
def test_the_firmware_writes_the_setup_registers_and_enables_the_caches(name: str, tmp_path: Path,
                                                                        monkeypatch) -> None:
    board = load_board(name)
    project = render_project(tmp_path / "project", board, write_model(tmp_path), kernel_sources=())
    elf = build_firmware(project, board).elf
    models: list[SetupModel] = []
    cores: list[unicorn.Uc] = []

    def recording(board_: object) -> SetupModel | None:
        model = SetupModel(board_)  # type: ignore[arg-type]
        install = model.install
        model.install = lambda uc, mapped: (cores.append(uc), install(uc, mapped))[1]  # type: ignore[method-assign]
        models.append(model)
        return model

    monkeypatch.setattr(unicorn_backend, "setup_model", recording)
    result = simulate(elf, board, [bytes(range(8))])

    assert result.outputs == (bytes([7, 0xFB]),)  # write_model's arithmetic: 0 + 7, 1 - 6
    [model], [uc] = models, cores
    assert {step.reg: model._registers.get(step.reg, 0) for step in board.setup.init} == _applied(board)
    ccr = int.from_bytes(uc.mem_read(SCB_CCR, 4), "little")
    assert (ccr & CCR_IC_DC == CCR_IC_DC) == board.setup.l1_caches


def test_the_setup_steps_write_modify_and_give_up_a_wait_that_never_ends(tmp_path: Path) -> None:
    """te_board.c on the host: register steps on plain memory, one wait met and one that times out."""
    cc = shutil.which("gcc") or shutil.which("cc")
    assert cc is not None, "the tests need a host C compiler (scripts/setup.sh installs gcc)"
    runtime = firmware_dir() / "runtime"
    (tmp_path / "main.c").write_text("""\
#include <stdio.h>
#include "te_runtime.h"
static uint32_t regs[3] = {0xFFu, 0x0u, 0x5u};
int main(void)
{
    const te_init_step steps[] = {
        {TE_STEP_WRITE, (uintptr_t)&regs[1], 0u, 0x1234u, 0u},
        {TE_STEP_MODIFY, (uintptr_t)&regs[0], 0x0Fu, 0x100u, 0u},
        {TE_STEP_WAIT, (uintptr_t)&regs[2], 0u, 0x4u, 0x4u},
        {TE_STEP_WAIT, (uintptr_t)&regs[2], 0u, 0x2u, 0x2u},
    };
    const uint32_t timeouts = te_board_apply(steps, sizeof steps / sizeof steps[0]);
    printf("%x %x %u %u\\n", (unsigned)regs[0], (unsigned)regs[1], (unsigned)timeouts,
           (unsigned)te_board_timeouts);
    return 0;
}
""")
    exe = tmp_path / "setup"
    subprocess.run([cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{runtime}", str(tmp_path / "main.c"),
                    str(runtime / "te_board.c"), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True, timeout=60).stdout.split()
    assert out == ["1f0", "1234", "1", "1"]  # 0xFF & ~0xF | 0x100; the bit-1 wait gave up once


def test_l1_caches_on_a_core_without_them_is_refused(tmp_path: Path) -> None:
    text = (Path(load_board("stm32f4-discovery").path)).read_text().replace("[setup]\n", "[setup]\nl1_caches = true\n")
    path = tmp_path / "stm32f4-discovery.toml"
    path.write_text(text)
    with pytest.raises(TinyEdgeError, match="setup.l1_caches.*cortex-m4f has no L1 caches.*cortex-m7"):
        load_board(path)
