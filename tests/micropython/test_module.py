"""`tinyedge micropython` for every board: the .mpy for the board's architecture (checked bit for bit before the
folder is written), the user C module, the example, the figures; Xtensa boards and bad input in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinyedge import cli
from tinyedge.boards import MICROPYTHON_ARCHS, list_boards, load_board
from tinyedge.errors import TinyEdgeError
from tinyedge.micropython import natmod
from tinyedge.micropython.arch import ARCHS
from tinyedge.micropython.module import build_micropython


def test_every_board_names_an_architecture_tinyedge_builds_or_explains():
    assert set(MICROPYTHON_ARCHS) == {*natmod.TOOLS, "xtensawin"} == {*ARCHS, "xtensawin"}
    for name in list_boards():
        assert load_board(name).micropython_arch in MICROPYTHON_ARCHS, name


def _one_board_per_architecture() -> list[str]:
    """The first board of each MicroPython architecture: build_micropython takes only the architecture and the
    name from a board, so boards of one architecture build the same module (every board's architecture is
    checked above)."""
    boards: dict[str, str] = {}
    for name in list_boards():
        boards.setdefault(load_board(name).micropython_arch, name)
    return sorted(boards.values())


@pytest.mark.parametrize("board", _one_board_per_architecture())
def test_micropython_writes_the_module_for_the_board(tiny_kws_tflite, tmp_path, board):
    arch = load_board(board).micropython_arch
    build_micropython(tiny_kws_tflite, board, tmp_path / "out", name="kws")
    out = tmp_path / "out"
    figures = json.loads((out / "micropython.json").read_text())
    usermod = out / "usermod" / "kws"
    assert {p.name for p in usermod.iterdir()} >= {"micropython.mk", "micropython.cmake", "kws_module.c", "model",
                                                   "kernels", "include"}
    for layer in json.loads((usermod / "model" / "tinyedge_model.json").read_text())["layers"]:
        assert (usermod / "kernels" / f"{layer['kernel']}.c").is_file()
    assert "SRC_USERMOD_LIB_C += $(KWS_DIR)/model/tinyedge_model.c" in (usermod / "micropython.mk").read_text()
    assert "import kws" in (out / "example.py").read_text()
    if arch == "xtensawin":
        assert not (out / "kws.mpy").exists() and figures["mpy"] is None
        assert figures["note"].startswith("no native .mpy for xtensawin")
        return
    blob = (out / "kws.mpy").read_bytes()
    assert blob[:2] == b"M\x06" and blob[2] == ARCHS[arch].number << 2 | 3
    assert figures["arch"] == arch and figures["mpy_bytes"] == len(blob)
    assert figures["check"]["bit_exact"] is True and figures["check"]["instructions_per_invoke"] > 1000
    assert figures["import_ram_bytes"] == figures["text_bytes"] + figures["bss_bytes"]
    assert figures["bss_bytes"] >= figures["arena_bytes"]


def test_arch_overrides_the_board_and_the_cli_prints_the_figures(tiny_kws_tflite, tmp_path, capsys):
    code = cli.main(["micropython", str(tiny_kws_tflite), "--board", "nrf52840", "--arch", "armv7m", "--name", "kws",
                     "-o", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert code == 0
    assert (tmp_path / "out" / "kws.mpy").read_bytes()[2] == ARCHS["armv7m"].number << 2 | 3
    assert "module kws for nrf52840 (armv7m)" in printed and "bit-exact vs TFLite-Micro" in printed
    assert "instructions per invoke" in printed


def test_a_board_without_a_micropython_architecture_is_one_line(tiny_kws_tflite, tmp_path, capsys):
    text = (Path(load_board("rp2040").path).read_text().replace('micropython_arch = "armv6m"', "")
            .replace('name = "rp2040"', 'name = "custom"'))
    board = tmp_path / "custom.toml"
    board.write_text(text)
    with pytest.raises(TinyEdgeError, match="board custom names no MicroPython architecture .* --arch"):
        build_micropython(tiny_kws_tflite, str(board), tmp_path / "out")
    code = cli.main(["micropython", str(tiny_kws_tflite), "--board", str(board), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err[-1].startswith("tinyedge: error: board custom names no MicroPython architecture")
    assert not (tmp_path / "out").exists()  # no half-written folder


def test_module_names_are_python_identifiers():
    assert natmod.module_name("KWS-model v2") == "kws_model_v2"
    assert natmod.module_name("8bit") == "m_8bit"
