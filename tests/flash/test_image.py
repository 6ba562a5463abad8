"""Firmware images: the ELF's load segments give the same bytes as the build's objcopy outputs,
and the checks that run before any hardware is touched."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from tinyedge.boards import list_boards, load_board
from tinyedge.build import toolchain
from tinyedge.errors import TinyEdgeError
from tinyedge.flash import flash
from tinyedge.flash.image import (
    Image,
    Segment,
    check_boot_stage,
    check_fits_flash,
    intel_hex,
    load_elf,
)

CROSS_BOARDS = [name for name in list_boards() if load_board(name).family in ("arm", "riscv")]


@pytest.mark.parametrize("name", CROSS_BOARDS)
def test_flat_image_and_intel_hex_equal_what_objcopy_makes(name: str, firmware_project, tmp_path: Path) -> None:
    project = firmware_project(name)
    image = load_elf(project / "build" / "firmware.elf")
    assert image.flat() == (project / "build" / "firmware.bin").read_bytes()

    (tmp_path / "ours.hex").write_text(intel_hex(image))
    objcopy = toolchain(load_board(name)).tool("objcopy")
    subprocess.run([objcopy, "-I", "ihex", "-O", "binary", str(tmp_path / "ours.hex"), str(tmp_path / "ours.bin")],
                   check=True)
    assert (tmp_path / "ours.bin").read_bytes() == image.flat()


def test_intel_hex_splits_records_at_64k_windows() -> None:
    image = Image(Path("t.elf"), (Segment(0x0800_FFF8, bytes(range(16))),), 0, frozenset())
    lines = intel_hex(image).splitlines()
    # checksum: two's complement of the byte sum, e.g. 08+FF+F8+00+(0+1+...+7) = 0x21B -> 0xE5
    assert lines == [":020000040800F2", ":08FFF8000001020304050607E5", ":020000040801F1",
                     ":0800000008090A0B0C0D0E0F9C", ":00000001FF"]


def test_the_built_images_read_and_print_through_semihosting(firmware_project) -> None:
    assert load_elf(firmware_project("nrf52840") / "build" / "firmware.elf").uses_semihosting


def test_an_image_outside_the_boards_flash_is_refused_before_flashing(firmware_project) -> None:
    with pytest.raises(TinyEdgeError, match="outside the flash of board stm32f4-discovery"):
        check_fits_flash(load_elf(firmware_project("nrf52840") / "build" / "firmware.elf"),
                         load_board("stm32f4-discovery"))


def test_a_firmware_built_for_another_board_is_refused_naming_both(firmware_project) -> None:
    with pytest.raises(TinyEdgeError, match="built for board nrf52840, not stm32f4-discovery"):
        flash(firmware_project("nrf52840"), "stm32f4-discovery", dry_run=True)


def test_rp2040_without_boot2_is_refused_with_the_fix(firmware_project) -> None:
    with pytest.raises(TinyEdgeError, match="no boot stage.*boot2.c"):
        flash(firmware_project("rp2040", boot2=False), "rp2040", dry_run=True)


def test_rp2040_boot2_with_a_wrong_checksum_is_refused(firmware_project) -> None:
    image = load_elf(firmware_project("rp2040") / "build" / "firmware.elf")
    first = image.segments[0]
    assert first.address == 0x1000_0000
    check_boot_stage(image, load_board("rp2040"))  # tinyedge's boot2 carries the right CRC
    broken = first.data[:10] + bytes([first.data[10] ^ 1]) + first.data[11:]
    bad = dataclasses.replace(image, segments=(Segment(first.address, broken), *image.segments[1:]))
    with pytest.raises(TinyEdgeError, match="boot ROM would reject it"):
        check_boot_stage(bad, load_board("rp2040"))



def test_a_missing_elf_names_the_build_command(tmp_path: Path) -> None:
    with pytest.raises(TinyEdgeError, match="build the firmware first"):
        flash(tmp_path, "nrf52840", dry_run=True)


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")
def test_a_file_that_is_not_an_elf_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "firmware.elf").write_text("not an elf")
    with pytest.raises(TinyEdgeError, match="is not a firmware ELF"):
        flash(tmp_path / "firmware.elf", "nrf52840", dry_run=True)
