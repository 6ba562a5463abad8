"""Board files: every shipped board loads and checks out; malformed files fail with one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyedge.boards import CORES, list_boards, load_board
from tinyedge.errors import TinyEdgeError
from tinyedge.resources import boards_dir

REQUIRED_BOARDS = {"nrf52840", "stm32f746g-disco", "stm32f4-discovery", "rp2040", "stm32l552", "esp32c3", "esp32",
                   "host"}


def test_the_required_boards_are_shipped() -> None:
    assert REQUIRED_BOARDS <= set(list_boards())


@pytest.mark.parametrize("name", list_boards())
def test_every_board_file_loads_with_consistent_data(name: str) -> None:
    board = load_board(name)
    assert board.name == name and board.path.name == f"{name}.toml"
    assert board.fpu in CORES[board.core][1] and board.cycle_counter in CORES[board.core][2]
    if board.is_host:
        assert board.layout is None and board.memories == ()
        return
    assert board.clock_hz and board.clock_hz >= 1_000_000
    assert board.code_region.kind == "flash" and board.data_region.kind == "ram"
    assert board.code_region.contains(board.code_start, 4)
    assert board.power is not None
    for figure in (board.power.supply, board.power.active, board.power.sleep):
        assert figure.value > 0 and figure.source.strip()
    assert board.flash_access is not None and board.flash_access.source.strip()
    assert board.emulator is not None and board.flashing is not None


def test_memory_maps_follow_the_datasheets() -> None:
    nrf = load_board("nrf52840")
    assert (nrf.code_region.origin, nrf.code_region.length) == (0, 1024 * 1024)
    assert (nrf.data_region.origin, nrf.data_region.length) == (0x2000_0000, 256 * 1024)
    pico = load_board("rp2040")
    assert (pico.code_region.origin, pico.code_region.length) == (0x1000_0000, 2 * 1024 * 1024)
    assert pico.code_start == 0x1000_0100  # after the 256-byte boot2 stage
    assert (pico.data_region.origin, pico.data_region.length) == (0x2000_0000, 264 * 1024)
    l4 = load_board("nucleo-l4r5zi")  # RM0432 memory map: 2 MB flash, SRAM1 + SRAM2 + SRAM3 contiguous
    assert (l4.code_region.origin, l4.code_region.length) == (0x0800_0000, 2 * 1024 * 1024)
    assert (l4.data_region.origin, l4.data_region.length) == (0x2000_0000, 640 * 1024)
    c3 = load_board("esp32c3")
    assert c3.region("iram").origin == 0x4037_C000 and c3.region("iram").length == 400 * 1024
    assert c3.data_region.origin == 0x3FC8_0000 and c3.code_region.origin == 0x4200_0000


def test_cores_and_emulator_models_match() -> None:
    expected = {"nrf52840": ("cortex-m4f", "CORTEX_M4"), "stm32f746g-disco": ("cortex-m7", "CORTEX_M7"),
                "stm32f4-discovery": ("cortex-m4f", "CORTEX_M4"), "rp2040": ("cortex-m0plus", "CORTEX_M0"),
                "stm32l552": ("cortex-m33", "CORTEX_M33"), "esp32c3": ("rv32imc", "SIFIVE_E31"),
                "esp32c6": ("rv32imac", "SIFIVE_E31"), "nucleo-l4r5zi": ("cortex-m4f", "CORTEX_M4")}
    for name, (core, model) in expected.items():
        board = load_board(name)
        assert board.emulator is not None
        assert (board.core, board.emulator.cpu_model) == (core, model)
    esp32 = load_board("esp32")
    assert esp32.core == "xtensa-lx6" and esp32.emulator is not None and esp32.emulator.builtin == "none"


def test_unknown_board_lists_the_valid_boards() -> None:
    with pytest.raises(TinyEdgeError) as error:
        load_board("nrf52841")
    message = str(error.value)
    assert "unknown board 'nrf52841'" in message and "nrf52840" in message and "rp2040" in message


def _write_variant(tmp_path: Path, name: str, edit) -> Path:
    text = (boards_dir() / "nrf52840.toml").read_text()
    path = tmp_path / f"{name}.toml"
    path.write_text(edit(text.replace('name = "nrf52840"', f'name = "{name}"')))
    return path


def test_a_copied_board_file_loads_from_its_path(tmp_path: Path) -> None:
    path = _write_variant(tmp_path, "myboard", lambda text: text.replace("64_000_000", "32_000_000"))
    board = load_board(path)
    assert board.name == "myboard" and board.clock_hz == 32_000_000


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda t: t.replace('core = "cortex-m4f"', 'core = "cortex-m5"'),
     ["field 'core' is 'cortex-m5'", "valid choices:", "cortex-m0plus", "rv32imc"]),
    (lambda t: t.replace("clock_hz = 64_000_000", 'clock_hz = "64 MHz"'),
     ["field 'clock_hz' must be an integer"]),
    (lambda t: t.replace("clock_hz = 64_000_000\n", ""), ["missing required field 'clock_hz'"]),
    (lambda t: t.replace("current_ma = 3.3", "curent_ma = 3.3"),
     ["unknown field 'power.active.curent_ma'", "valid fields in 'power.active': current_ma, condition, source"]),
    (lambda t: t.replace('kind = "ram"', 'kind = "sram"'), ["field 'memory[1].kind' is 'sram'", "flash, ram"]),
    (lambda t: t.replace('data = "ram"', 'data = "sram"'), ["field 'layout.data' is 'sram'", "flash, ram"]),
    (lambda t: t.replace('fpu = "fpv4-sp-d16"', 'fpu = "fpv5-d16"'),
     ["field 'fpu' is 'fpv5-d16', which core cortex-m4f does not have", "fpv4-sp-d16"]),
    (lambda t: t.replace('cpu_model = "CORTEX_M4"', 'cpu_model = "CORTEX_M5"'),
     ["field 'emulator.cpu_model' is 'CORTEX_M5'", "CORTEX_M33"]),
    (lambda t: t.replace('tool = "pyocd"', 'tool = "jlink"'), ["field 'flashing.tool' is 'jlink'", "pyocd, uf2"]),
    (lambda t: t.replace("length = 0x0004_0000", "length = 0"), ["field 'memory[1].length'"]),
    (lambda t: t.replace("[power.sleep]", "[power.idle]"), ["unknown field 'power.idle'"]),
    (lambda t: t.replace("[layout]", "[layout\n"), ["not valid TOML"]),
])
def test_a_malformed_board_file_names_the_file_and_field(tmp_path: Path, edit, expected: list[str]) -> None:
    path = _write_variant(tmp_path, "broken", edit)
    with pytest.raises(TinyEdgeError) as error:
        load_board(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ")
    for fragment in expected:
        assert fragment in message


def test_board_name_must_match_its_file_name(tmp_path: Path) -> None:
    path = tmp_path / "other.toml"
    path.write_text((boards_dir() / "nrf52840.toml").read_text())
    with pytest.raises(TinyEdgeError, match="field 'name' is 'nrf52840' but the file is other.toml"):
        load_board(path)


def test_reserved_boot_bytes_need_the_stage_that_fills_them(tmp_path: Path) -> None:
    text = load_board("rp2040").path.read_text().replace('boot_stage = "rp2040-boot2"', "")
    path = tmp_path / "rp2040.toml"
    path.write_text(text)
    with pytest.raises(TinyEdgeError, match="layout.boot_stage' and layout.boot_bytes go together"):
        load_board(path)


def test_the_l4r5zi_start_up_turns_on_the_art_caches_the_memory_model_simulates() -> None:
    board = load_board("nucleo-l4r5zi")
    assert board.clock_hz == 120_000_000 and board.flash_access is not None and board.flash_access.wait_states == 5
    on = {cache.name for cache in board.caches if board.cache_enabled(cache)}
    assert on == {"art-icache", "art-dcache", "flash-read-buffer"}
    # FLASH_ACR written once with LATENCY 5, ICEN and DCEN, prefetch (bit 8) off, as ST's HAL leaves it
    acr = [step for step in board.setup.init if step.reg == 0x4002_2000 and step.wait is None]
    assert [step.value for step in acr] == [0x605]
