"""Each flashing method's exact command lines, and each failure a user can meet as one line with the fix.

The tools are stand-ins: small scripts that print what the real tool prints in that situation
(texts taken from pyOCD 0.46, esptool 5, OpenOCD 0.12 and nrfjprog) and exit as it does.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path

import pytest

from tinyedge.boards import load_board
from tinyedge.errors import TinyEdgeError
from tinyedge.flash import METHODS, flash, make_job, write_derived_files
from tinyedge.flash.esptool import EsptoolMethod
from tinyedge.flash.nordic import NrfjprogMethod, NrfutilMethod
from tinyedge.flash.openocd import OpenocdMethod
from tinyedge.flash.pyocd import PyocdMethod, compare_segments

PY = sys.executable


def fake_tool(directory: Path, name: str, body: str) -> Path:
    """An executable that runs `body` (bash) with the tool's arguments in "$@"."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/bash\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def fake_pyocd(monkeypatch, tmp_path: Path, probes: list[dict], load: str = "exit 0", stderr: str = "") -> None:
    listing = json.dumps({"pyocd_version": "0.46.0", "version": {"major": 1, "minor": 1}, "status": 0,
                          "boards": probes})
    body = (f'if [ "$1" = json ]; then echo {json.dumps(stderr)} >&2; echo {json.dumps(listing)}; exit 0; fi\n'
            f'if [ "$1" = load ]; then {load}; fi\nexit 0')
    tool = fake_tool(tmp_path / "bin", "pyocd", body)
    monkeypatch.setattr(PyocdMethod, "command", staticmethod(lambda: (str(tool),)))
    monkeypatch.setattr(PyocdMethod, "available", lambda self: True)  # the stand-in, even without pyOCD


def probe(uid: str, target: str = "cortex_m", info: str = "ARM DAPLink CMSIS-DAP") -> dict:
    return {"unique_id": uid, "info": info, "board_name": "Generic", "target": target,
            "vendor_name": "ARM", "product_name": "CMSIS-DAP"}


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and message
    return message


# ---------------------------------------------------------------- exact command lines

def test_pyocd_lists_probes_loads_the_elf_for_the_target_and_reads_back(firmware_project) -> None:
    project = firmware_project("stm32f4-discovery")
    job = make_job(project, load_board("stm32f4-discovery"), PyocdMethod(), "0669FF", True)
    steps = PyocdMethod().steps(job)
    elf = str(project / "build" / "firmware.elf")
    assert [s.argv for s in steps[:2]] == [
        (PY, "-m", "pyocd", "json", "--probes"),
        (PY, "-m", "pyocd", "load", "--no-wait", "--target", "stm32f407vgtx", "--probe", "0669FF", elf),
    ]
    assert steps[2].what == "verify" and steps[2].action is not None
    assert [s.what for s in PyocdMethod().steps(make_job(project, load_board("stm32f4-discovery"), PyocdMethod(),
                                                         None, False))] == ["list probes", "program"]


def test_nrfjprog_programs_the_hex_with_verify_then_resets(firmware_project) -> None:
    project = firmware_project("nrf52840")
    job = make_job(project, load_board("nrf52840"), NrfjprogMethod(), "683000001", True)
    hex_file = str(project / "build" / "firmware.hex")
    assert [s.argv for s in NrfjprogMethod().steps(job)] == [
        ("nrfjprog", "--ids"),
        ("nrfjprog", "--program", hex_file, "-f", "NRF52", "--sectorerase", "--verify", "--snr", "683000001"),
        ("nrfjprog", "--reset", "-f", "NRF52", "--snr", "683000001"),
    ]


def test_nrfutil_programs_with_read_back_verify_and_reset(firmware_project) -> None:
    project = firmware_project("nrf52840")
    job = make_job(project, load_board("nrf52840"), NrfutilMethod(), None, True)
    assert [s.argv for s in NrfutilMethod().steps(job)] == [
        ("nrfutil", "--json", "device", "list"),
        ("nrfutil", "device", "program", "--firmware", str(project / "build" / "firmware.hex"), "--options",
         "chip_erase_mode=ERASE_RANGES_TOUCHED_BY_FIRMWARE,verify=VERIFY_READ,reset=RESET_SYSTEM"),
    ]


@pytest.mark.parametrize("name, configs", [
    ("nrf52840", ["-f", "board/nordic_nrf52_dk.cfg"]),
    ("rp2040", ["-f", "interface/cmsis-dap.cfg", "-f", "target/rp2040.cfg", "-c", "adapter speed 5000"]),
    ("stm32f746g-disco", ["-f", "board/stm32f7discovery.cfg"]),
])
def test_openocd_programs_verifies_and_resets_in_one_call(name: str, configs: list[str], firmware_project) -> None:
    project = firmware_project(name)
    job = make_job(project, load_board(name), OpenocdMethod(), "E6614103", True)
    elf = project / "build" / "firmware.elf"
    assert [s.argv for s in OpenocdMethod().steps(job)] == [
        ("openocd", *configs, "-c", "adapter serial E6614103", "-c", f"program {{{elf}}} verify reset exit"),
    ]


def esp_idf_build(root: Path, chip: str = "esp32c3", bootloader: str = "0x0") -> Path:
    build = root / "build"
    (build / "bootloader").mkdir(parents=True)
    (build / "partition_table").mkdir()
    for name in ("bootloader/bootloader.bin", "partition_table/partition-table.bin", "app.bin"):
        (build / name).write_bytes(b"\xe9" + bytes(63))
    (build / "flasher_args.json").write_text(json.dumps({
        "write_flash_args": ["--flash_mode", "dio", "--flash_size", "4MB", "--flash_freq", "80m"],
        "flash_files": {"0x10000": "app.bin", bootloader: "bootloader/bootloader.bin",
                        "0x8000": "partition_table/partition-table.bin"},
        "extra_esptool_args": {"after": "hard_reset", "before": "default_reset", "stub": True, "chip": chip},
    }))
    return build


@pytest.mark.parametrize("chip, bootloader", [("esp32c3", "0x0"), ("esp32", "0x1000")])
def test_esptool_writes_the_esp_idf_files_at_their_offsets(chip: str, bootloader: str, tmp_path: Path) -> None:
    build = esp_idf_build(tmp_path, chip, bootloader)
    job = make_job(tmp_path, load_board(chip), EsptoolMethod(), "/dev/ttyUSB0", True)
    assert [s.argv for s in EsptoolMethod().steps(job)] == [
        (PY, "-m", "esptool", "--chip", chip, "--port", "/dev/ttyUSB0", "--baud", "460800", "--before",
         "default-reset", "--after", "hard-reset", "write-flash", "--flash-mode", "dio", "--flash-size", "4MB",
         "--flash-freq", "80m", bootloader, str(build / "bootloader/bootloader.bin"),
         "0x8000", str(build / "partition_table/partition-table.bin"), "0x10000", str(build / "app.bin")),
    ]


def test_esptool_refuses_an_esp_idf_build_for_another_chip(tmp_path: Path) -> None:
    esp_idf_build(tmp_path, "esp32s3")
    with pytest.raises(TinyEdgeError, match="built for esp32s3, not esp32c3.*idf.py set-target esp32c3"):
        flash(tmp_path, "esp32c3", dry_run=True)


# ---------------------------------------------------------------- failures, one line each

def test_no_probe_connected(firmware_project, tmp_path, monkeypatch) -> None:
    fake_pyocd(monkeypatch, tmp_path, [])
    with pytest.raises(TinyEdgeError) as error:
        flash(firmware_project("nrf52840"), "nrf52840")
    assert one_line(error).startswith("no debug probe found; connect the board's debug USB port")


def test_several_probes_without_probe_names_them_and_the_option(firmware_project, tmp_path, monkeypatch) -> None:
    fake_pyocd(monkeypatch, tmp_path, [probe("0240000034544e45"), probe("E6614103E7176A23")])
    with pytest.raises(TinyEdgeError) as error:
        flash(firmware_project("nrf52840"), "nrf52840")
    assert one_line(error) == ("several debug probes are connected (0240000034544e45, E6614103E7176A23); choose one "
                               "with --probe ID")


def test_probe_that_matches_nothing_lists_the_connected_ones(firmware_project, tmp_path, monkeypatch) -> None:
    fake_pyocd(monkeypatch, tmp_path, [probe("0240000034544e45")])
    with pytest.raises(TinyEdgeError) as error:
        flash(firmware_project("nrf52840"), "nrf52840", probe="FFFF")
    assert one_line(error).startswith("no debug probe matches --probe FFFF (connected: 0240000034544e45)")


def test_a_probe_on_another_chip_is_the_wrong_target(firmware_project, tmp_path, monkeypatch) -> None:
    fake_pyocd(monkeypatch, tmp_path, [probe("066EFF", "stm32f407vg", "STMicroelectronics DISCO-F407VG")])
    with pytest.raises(TinyEdgeError) as error:
        flash(firmware_project("nrf52840"), "nrf52840")
    assert "is on a STMicroelectronics DISCO-F407VG (stm32f407vg), not a nrf52840" in one_line(error)


def test_a_probe_of_the_same_chip_line_is_accepted(firmware_project, tmp_path, monkeypatch) -> None:
    fake_pyocd(monkeypatch, tmp_path, [probe("066EFF", "stm32f407vg", "STMicroelectronics DISCO-F407VG")])
    result = flash(firmware_project("stm32f4-discovery"), "stm32f4-discovery", verify=False)
    assert result.steps[1].endswith(str(firmware_project("stm32f4-discovery") / "build" / "firmware.elf"))
    assert not result.verified


def test_permission_denied_on_the_usb_probe(firmware_project, tmp_path, monkeypatch) -> None:
    fake_pyocd(monkeypatch, tmp_path, [], stderr=(
        "0000402 W [Errno 13] Access denied (insufficient permissions) while trying to interrogate a USB device "
        "(VID=0d28 PID=0204). This can probably be remedied with a udev rule."))
    with pytest.raises(TinyEdgeError) as error:
        flash(firmware_project("nrf52840"), "nrf52840")
    assert one_line(error).startswith("permission denied on the USB debug probe: install pyOCD's udev rules")


def test_a_pack_target_pyocd_does_not_know_names_the_pack_to_install(firmware_project, tmp_path, monkeypatch) -> None:
    fake_pyocd(monkeypatch, tmp_path, [probe("066EFF")], load=(
        "echo \"0001234 C Target type stm32f407vgtx not recognized. Use 'pyocd list --targets' to see currently "
        "available target types.\" >&2; exit 1"))
    with pytest.raises(TinyEdgeError) as error:
        flash(firmware_project("stm32f4-discovery"), "stm32f4-discovery")
    message = one_line(error)
    assert "pyocd pack install stm32f407vg" in message and "partly written" not in message


def test_a_flash_failure_while_writing_says_the_board_may_hold_a_partial_image(firmware_project, tmp_path,
                                                                               monkeypatch) -> None:
    fake_pyocd(monkeypatch, tmp_path, [probe("066EFF")], load=(
        "echo '0003456 C Error: FlashProgramFailure: flash program page failure (address 0x08000400)' >&2; exit 1"))
    with pytest.raises(TinyEdgeError) as error:
        flash(firmware_project("stm32f4-discovery"), "stm32f4-discovery")
    assert one_line(error).endswith("the board may hold a partly written image: fix this and flash again")


def test_read_back_compares_every_segment_and_names_the_first_bad_byte(firmware_project) -> None:
    project = firmware_project("nrf52840")
    job = make_job(project, load_board("nrf52840"), PyocdMethod(), None, True)
    flash_memory = {s.address: s.data for s in job.elf.segments}
    assert compare_segments(job, lambda address, size: flash_memory[address][:size]).startswith("verified")
    first = job.elf.segments[0]
    flash_memory[first.address] = first.data[:100] + bytes([first.data[100] ^ 0xFF]) + first.data[101:]
    with pytest.raises(TinyEdgeError, match=f"flash at 0x{first.address + 100:08x} holds"):
        compare_segments(job, lambda address, size: flash_memory[address][:size])


def test_missing_pyocd_names_the_package_to_install(firmware_project, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyocd" else real(name, *a))
    with pytest.raises(TinyEdgeError) as error:
        flash(firmware_project("nrf52840"), "nrf52840")
    assert one_line(error) == "pyOCD is not installed; install it with: pip install 'pyocd>=0.46,<1'"


def test_install_lines_name_the_flash_extras_tools_at_pyprojects_ranges() -> None:
    """Never `tinyedge[flash]`: outside the checkout that name is another project's on PyPI."""
    import tomllib

    from tinyedge.flash import METHODS

    extra = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["flash"]
    assert sorted(extra) == sorted(re.fullmatch(r"pip install '(.+)'", METHODS[name].install).group(1)
                                   for name in ("pyocd", "esptool"))
    assert not any("tinyedge" in method.install for method in METHODS.values())


def test_missing_nrfjprog_names_where_to_get_it(firmware_project, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TinyEdgeError) as error:
        flash(firmware_project("nrf52840"), "nrf52840", method="nrfjprog")
    assert one_line(error).startswith("nrfjprog is not installed; install it with: install Nordic's nRF Command Line")


def test_nrfjprog_without_debuggers(firmware_project, tmp_path, monkeypatch) -> None:
    fake_tool(tmp_path / "bin", "nrfjprog", 'if [ "$1" = --ids ]; then exit 0; fi; exit 1')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    with pytest.raises(TinyEdgeError) as error:
        flash(firmware_project("nrf52840"), "nrf52840", method="nrfjprog")
    assert one_line(error).startswith("no J-Link debugger found")


def test_nrfjprog_on_another_nrf_family_is_the_wrong_target(firmware_project, tmp_path, monkeypatch) -> None:
    fake_tool(tmp_path / "bin", "nrfjprog", (
        'if [ "$1" = --ids ]; then echo 683000001; exit 0; fi\n'
        "echo 'ERROR: The --family option given with the command (or the default from nrfjprog.ini)' >&2\n"
        "echo 'ERROR: does not match the device connected.' >&2; exit 18"))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    with pytest.raises(TinyEdgeError) as error:
        flash(firmware_project("nrf52840"), "nrf52840", method="nrfjprog")
    message = one_line(error)
    assert message == "the connected chip is not a nrf52840: flash it with its own --board"
    assert (firmware_project("nrf52840") / "build" / "firmware.hex").is_file()


def test_openocd_without_a_probe(firmware_project, tmp_path, monkeypatch) -> None:
    fake_tool(tmp_path / "bin", "openocd", (
        "echo 'Open On-Chip Debugger 0.12.0' >&2; echo 'Error: unable to find a matching CMSIS-DAP device' >&2\n"
        "echo '** OpenOCD init failed **' >&2; exit 1"))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    with pytest.raises(TinyEdgeError) as error:
        flash(firmware_project("rp2040"), "rp2040", method="openocd")
    assert one_line(error).startswith("no debug probe found")


def fake_esptool(monkeypatch, tmp_path: Path, output: str) -> Path:
    tool = fake_tool(tmp_path / "bin", "esptool", f"echo {json.dumps(output)} >&2; exit 2")
    monkeypatch.setattr(EsptoolMethod, "command", staticmethod(lambda: (str(tool),)))
    monkeypatch.setattr(EsptoolMethod, "available", lambda self: True)
    port = tmp_path / "ttyUSB0"
    port.write_text("")
    return port


def test_esptool_on_another_chip_is_the_wrong_target(tmp_path, monkeypatch) -> None:
    esp_idf_build(tmp_path / "idf")
    port = fake_esptool(monkeypatch, tmp_path, "A fatal error occurred: This chip is ESP32-S3, not ESP32-C3. "
                                               "Wrong --chip argument?")
    with pytest.raises(TinyEdgeError) as error:
        flash(tmp_path / "idf", "esp32c3", probe=str(port))
    assert one_line(error).startswith(f"the chip on {port} is not a esp32c3")


def test_esptool_permission_denied_on_the_serial_port(tmp_path, monkeypatch) -> None:
    esp_idf_build(tmp_path / "idf")
    port = fake_esptool(monkeypatch, tmp_path, f"A fatal error occurred: Could not open {tmp_path}/ttyUSB0, the port "
                                               "is busy or doesn't exist. ([Errno 13] Permission denied)")
    with pytest.raises(TinyEdgeError) as error:
        flash(tmp_path / "idf", "esp32c3", probe=str(port))
    assert one_line(error) == (f"permission denied on serial port {port}: add your user to the 'dialout' group "
                               "(sudo usermod -aG dialout $USER, then log in again)")


def test_a_method_the_board_cannot_use_lists_the_ones_it_can(firmware_project) -> None:
    with pytest.raises(TinyEdgeError) as error:
        flash(firmware_project("stm32f4-discovery"), "stm32f4-discovery", method="nrfjprog", dry_run=True)
    assert one_line(error) == ("--method nrfjprog cannot flash board stm32f4-discovery: board stm32f4-discovery is "
                               "not a Nordic nRF chip; methods for this board: openocd, pyocd")


def test_an_unknown_method_lists_the_valid_ones(firmware_project) -> None:
    with pytest.raises(TinyEdgeError) as error:
        flash(firmware_project("nrf52840"), "nrf52840", method="jlink", dry_run=True)
    assert one_line(error) == ("unknown flashing method 'jlink'; valid methods: esptool, nrfjprog, nrfutil, openocd, "
                               "pyocd, uf2")


def test_an_elf_of_the_users_own_never_gets_its_hex_overwritten(firmware_project, tmp_path, monkeypatch) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    elf = mine / "app.elf"
    elf.write_bytes((firmware_project("nrf52840") / "build" / "firmware.elf").read_bytes())
    (mine / "app.hex").write_text(":00000001FF\n")  # the user's own, older than the ELF
    os.utime(mine / "app.hex", (1, 1))
    monkeypatch.setenv("TINYEDGE_CACHE", str(tmp_path / "cache"))
    job = make_job(elf, load_board("nrf52840"), METHODS["nrfjprog"], None, True)
    assert job.hex is not None and job.hex.parent == tmp_path / "cache" / "hex"
    write_derived_files(job)
    assert (mine / "app.hex").read_text() == ":00000001FF\n"
    assert job.hex.read_text().startswith(":")
    assert sorted(p.name for p in mine.iterdir()) == ["app.elf", "app.hex"]
