"""Choosing the emulator: `--backend auto` takes Renode only where Renode can run the board, and says why.

Installing Renode used to break the default compile for boards Renode cannot run (esp32c3,
`--console uart`); auto now falls back to the built-in emulator there and names its reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tinyedge.boards import list_boards, load_board
from tinyedge.console import SEMIHOSTING, UART
from tinyedge.errors import TinyEdgeError
from tinyedge.simulate import backends
from tinyedge.simulate import renode as renode_backend


@pytest.fixture
def renode_installed(monkeypatch, tmp_path) -> Path:
    """RENODE_BIN names an executable that fails loudly if anything starts it."""
    fake = tmp_path / "renode"
    fake.write_text("#!/bin/sh\necho 'this stand-in Renode must not run' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv(renode_backend.RENODE_BIN, str(fake))
    return fake


@pytest.fixture
def renode_absent(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv(renode_backend.RENODE_BIN, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))


def test_auto_is_the_builtin_emulator_when_renode_is_not_installed(renode_absent):
    choice = backends.pick("auto", load_board("nrf52840"))
    assert choice == backends.Choice("builtin", "auto: Renode is not installed")


@pytest.mark.parametrize("name", ["nrf52840", "rp2040", "stm32f4-discovery", "stm32f746g-disco", "stm32l552"])
def test_auto_is_renode_where_renode_is_installed_and_runs_the_board(renode_installed, name):
    choice = backends.pick("auto", load_board(name))
    assert choice == backends.Choice("renode", f"auto: Renode is installed and runs board {name}")


@pytest.mark.parametrize("name", ["esp32c3", "esp32c6"])
def test_auto_falls_back_to_the_builtin_emulator_for_a_board_renode_cannot_run(renode_installed, name):
    board = load_board(name)
    choice = backends.pick("auto", board)
    assert choice.name == "builtin"
    assert choice.why.startswith(f"auto: Renode is installed but cannot run this: Renode 1.15 cannot run board "
                                 f"{name}'s firmware: {board.emulator.renode_unsupported}")


def test_auto_falls_back_to_the_builtin_emulator_for_the_uart_variant(renode_installed):
    choice = backends.pick("auto", load_board("nrf52840"), UART)
    assert choice.name == "builtin" and "runs semihosting firmware only" in choice.why


def test_auto_runs_every_emulated_board_whether_or_not_renode_is_installed(renode_installed, monkeypatch,
                                                                          tmp_path):
    """Whatever auto picks can run the board: it never fails where another backend would work."""
    emulated = [load_board(name) for name in list_boards() if load_board(name).emulated]
    assert len(emulated) >= 7
    for installed in (True, False):
        if not installed:
            monkeypatch.delenv(renode_backend.RENODE_BIN)
            monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        for board in emulated:
            for console in (SEMIHOSTING, UART):
                choice = backends.pick("auto", board, console)
                backends.check_board(choice.name, board)
                backends.check_console(choice.name, console)


def test_a_named_backend_is_taken_as_named_or_refused_with_the_fix(renode_absent):
    assert backends.pick("builtin", load_board("esp32c3")) == backends.Choice("builtin", "named")
    with pytest.raises(TinyEdgeError, match=r"the renode emulator is not installed: install Renode .*RENODE_BIN"):
        backends.pick("renode", load_board("nrf52840"))
    with pytest.raises(TinyEdgeError, match=r"unknown emulator backend 'unicorn'; valid backends: auto, builtin, "
                                            r"renode, qemu"):
        backends.pick("unicorn", load_board("nrf52840"))


@pytest.mark.skipif(os.name != "posix", reason="the stand-in Renode is a shell script")
def test_compile_with_renode_installed_runs_esp32c3_in_the_builtin_emulator_and_says_why(renode_installed,
                                                                                         tiny_kws_tflite, tmp_path):
    from tinyedge.pipeline import compile_model

    lines: list[str] = []
    result = compile_model(tiny_kws_tflite, "esp32c3", tmp_path / "out", samples=1, log=lines.append)
    assert result.report.verification.bit_exact
    assert result.report.simulation.backend.startswith("builtin")
    run = next(line for line in lines if "inferences in the" in line)
    assert "in the builtin emulator (auto: Renode is installed but cannot run this: Renode 1.15 cannot run " \
           "board esp32c3's firmware" in run
    assert not (tmp_path / "out" / "renode").exists()  # no suite for a board Renode cannot run
