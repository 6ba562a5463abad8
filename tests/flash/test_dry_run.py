"""`tinyedge flash --dry-run` for every board in boards/: the exact steps, no hardware touched."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import pytest

from tinyedge.boards import list_boards, load_board
from tinyedge.errors import TinyEdgeError
from tinyedge.flash import METHODS, cli
from tinyedge.flash.esptool import EsptoolMethod
from tinyedge.flash.pyocd import PyocdMethod

from .test_methods import esp_idf_build

PY = shlex.quote(sys.executable)


def dry_run(capsys, *argv: str) -> list[str]:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert cli.run(parser.parse_args([*argv, "--dry-run"])) == 0
    return capsys.readouterr().out.splitlines()


def firmware_for(name: str, firmware_project, tmp_path: Path) -> Path:
    if load_board(name).flashing.tool == "esptool":
        esp_idf_build(tmp_path / "idf", load_board(name).flashing.esptool_chip,
                      "0x1000" if name == "esp32" else "0x0")
        return tmp_path / "idf"
    return firmware_project(name)


# The expected steps per board, with {elf}, {hex}, {uf2} and {idf} standing for the build's files.
EXPECTED = {
    "esp32": [
        "1. choose port: PORT = the one USB serial port connected (or --probe PORT)",
        "2. program: {py} -m esptool --chip esp32 --port PORT --baud 460800 --before default-reset --after hard-reset "
        "write-flash --flash-mode dio --flash-size 4MB --flash-freq 80m 0x1000 {idf}/bootloader/bootloader.bin "
        "0x8000 {idf}/partition_table/partition-table.bin 0x10000 {idf}/app.bin",
    ],
    "esp32c3": [
        "1. choose port: PORT = the one USB serial port connected (or --probe PORT)",
        "2. program: {py} -m esptool --chip esp32c3 --port PORT --baud 460800 --before default-reset --after "
        "hard-reset write-flash --flash-mode dio --flash-size 4MB --flash-freq 80m 0x0 "
        "{idf}/bootloader/bootloader.bin 0x8000 {idf}/partition_table/partition-table.bin 0x10000 {idf}/app.bin",
    ],
    "esp32c6": [
        "1. choose port: PORT = the one USB serial port connected (or --probe PORT)",
        "2. program: {py} -m esptool --chip esp32c6 --port PORT --baud 460800 --before default-reset --after "
        "hard-reset write-flash --flash-mode dio --flash-size 4MB --flash-freq 80m 0x0 "
        "{idf}/bootloader/bootloader.bin 0x8000 {idf}/partition_table/partition-table.bin 0x10000 {idf}/app.bin",
    ],
    "esp32s3": [
        "1. choose port: PORT = the one USB serial port connected (or --probe PORT)",
        "2. program: {py} -m esptool --chip esp32s3 --port PORT --baud 460800 --before default-reset --after "
        "hard-reset write-flash --flash-mode dio --flash-size 4MB --flash-freq 80m 0x0 "
        "{idf}/bootloader/bootloader.bin 0x8000 {idf}/partition_table/partition-table.bin 0x10000 {idf}/app.bin",
    ],
    "nrf52840": [
        "1. list probes: {py} -m pyocd json --probes",
        "2. program: {py} -m pyocd load --no-wait --target nrf52840 {elf}",
        "3. verify: read back {size} bytes in 1 segment(s) through the probe and compare them with the ELF",
    ],
    "nucleo-l4r5zi": [
        "1. list probes: {py} -m pyocd json --probes",
        "2. program: {py} -m pyocd load --no-wait --target stm32l4r5zitx {elf}",
        "3. verify: read back {size} bytes in 1 segment(s) through the probe and compare them with the ELF",
    ],
    "rp2040": [
        "1. write UF2: {uf2} ({blocks} blocks of 256 bytes, family RP2040 0xe48bff56, 0x10000000-{end})",
        "2. find drive: the one volume with INFO_UF2.TXT under /media, /run/media, /mnt, /Volumes",
        "3. copy: firmware.uf2 to the drive's root",
        "4. verify: the drive unmounts within 10 s (bootloader took the file)",
    ],
    "stm32f4-discovery": [
        "1. list probes: {py} -m pyocd json --probes",
        "2. program: {py} -m pyocd load --no-wait --target stm32f407vgtx {elf}",
        "3. verify: read back {size} bytes in 1 segment(s) through the probe and compare them with the ELF",
    ],
    "stm32f746g-disco": [
        "1. list probes: {py} -m pyocd json --probes",
        "2. program: {py} -m pyocd load --no-wait --target stm32f746nghx {elf}",
        "3. verify: read back {size} bytes in 1 segment(s) through the probe and compare them with the ELF",
    ],
    "stm32l552": [
        "1. list probes: {py} -m pyocd json --probes",
        "2. program: {py} -m pyocd load --no-wait --target stm32l552zetxq {elf}",
        "3. verify: read back {size} bytes in 1 segment(s) through the probe and compare them with the ELF",
    ],
}


def test_every_board_has_an_expected_dry_run() -> None:
    assert sorted(EXPECTED) == sorted(name for name in list_boards() if load_board(name).flashing is not None)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dry_run_prints_the_exact_steps(name: str, firmware_project, tmp_path: Path, capsys) -> None:
    from tinyedge.flash.image import load_elf

    firmware = firmware_for(name, firmware_project, tmp_path)
    lines = dry_run(capsys, str(firmware), "--board", name)

    method = load_board(name).flashing.tool
    values = {"py": PY, "idf": tmp_path / "idf" / "build"}
    if method != "esptool":
        elf = firmware / "build" / "firmware.elf"
        image = load_elf(elf)
        values |= {"elf": elf, "uf2": elf.with_suffix(".uf2"), "size": f"{image.size:,}", "end": f"0x{image.end:08x}",
                   "blocks": len(image.pages(256))}
    shown = firmware / "build" if method == "esptool" else firmware / "build" / "firmware.elf"
    assert lines[0] == f"dry run: flash {shown} to board {name} with {method}; nothing is touched"
    steps = len(EXPECTED[name])
    assert lines[1:1 + steps] == ["  " + step.format(**values) for step in EXPECTED[name]]
    notes = lines[1 + steps:]
    assert all(line.startswith("  note: ") for line in notes)
    assert any("is not installed here" in line for line in notes) == (not METHODS[method].available())
    assert any("semihosting" in line for line in notes) == (method != "esptool")  # the fixture's default console
    if method == "uf2":
        assert not (firmware / "build" / "firmware.uf2").exists()  # a dry run writes nothing


def test_dry_run_with_measure_says_what_follows(firmware_project, capsys) -> None:
    lines = dry_run(capsys, str(firmware_project("nrf52840")), "--board", "nrf52840", "--measure", "--count", "3")
    then = lines.index("  then: read 3 inferences and add a `hardware` section to report.json")
    assert all(line.startswith("  note: ") for line in lines[then + 1:])


def test_the_host_board_has_nothing_to_flash(tmp_path: Path, capsys) -> None:
    with pytest.raises(TinyEdgeError) as error:
        dry_run(capsys, str(tmp_path), "--board", "host")
    assert str(error.value).startswith("board host has no flashing method")


def test_the_emulator_only_esp32c3_image_is_refused_with_the_esp_idf_route(firmware_project, capsys) -> None:
    with pytest.raises(TinyEdgeError, match="laid out for the emulator.*idf.py build"):
        dry_run(capsys, str(firmware_project("esp32c3")), "--board", "esp32c3")


def test_dry_run_names_a_missing_tool_and_how_to_install_it(firmware_project, tmp_path: Path, capsys,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    missing = "  note: pyOCD is not installed here; a real run needs it: pip install 'pyocd>=0.46,<1'"
    monkeypatch.setattr(PyocdMethod, "available", lambda self: False)
    assert missing in dry_run(capsys, str(firmware_project("nrf52840")), "--board", "nrf52840")
    monkeypatch.setattr(PyocdMethod, "available", lambda self: True)
    assert not any("not installed" in line
                   for line in dry_run(capsys, str(firmware_project("nrf52840")), "--board", "nrf52840"))
    monkeypatch.setattr(EsptoolMethod, "available", lambda self: False)
    lines = dry_run(capsys, str(firmware_for("esp32", firmware_project, tmp_path)), "--board", "esp32")
    assert lines[-1] == "  note: esptool is not installed here; a real run needs it: pip install 'esptool>=5.0,<6'"


def test_dry_run_says_a_semihosting_build_needs_a_debugger_and_a_uart_build_does_not(firmware_project, capsys,
                                                                                     monkeypatch) -> None:
    monkeypatch.setattr(PyocdMethod, "available", lambda self: True)
    semihosting = dry_run(capsys, str(firmware_project("stm32l552")), "--board", "stm32l552")
    assert semihosting[-1].startswith("  note: firmware.elf prints through semihosting: it runs only with a "
                                      "debugger attached")
    uart = firmware_project("stm32l552", console="uart")
    assert not any("semihosting" in line for line in dry_run(capsys, str(uart), "--board", "stm32l552"))
    elf_alone = dry_run(capsys, str(uart / "build" / "firmware.elf"), "--board", "stm32l552")
    assert not any(line.startswith("  note:") for line in elf_alone)
