"""The UF2 writer against the format's rules, and the UF2 method against a stand-in drive."""

from __future__ import annotations

import struct
import threading
import time
from pathlib import Path

import pytest

from tinyedge.boards import load_board
from tinyedge.errors import TinyEdgeError
from tinyedge.flash import flash
from tinyedge.flash.image import Image, Segment, load_elf
from tinyedge.flash.uf2 import (
    BLOCK_BYTES,
    FAMILIES,
    FLAG_FAMILY_ID,
    MAGIC_END,
    MAGIC_START0,
    MAGIC_START1,
    PAYLOAD_BYTES,
    Uf2Method,
    find_drives,
    parse_uf2,
    to_uf2,
)


def image_of(*segments: tuple[int, bytes]) -> Image:
    return Image(Path("test.elf"), tuple(Segment(a, d) for a, d in segments), segments[0][0], frozenset())


def test_every_block_has_the_magics_flags_family_and_a_256_byte_payload_at_a_256_aligned_address() -> None:
    data = bytes(range(256)) * 5 + b"tail"  # 1284 bytes: five full pages and four bytes
    uf2 = to_uf2(image_of((0x1000_0000, data)), FAMILIES["RP2040"])

    assert len(uf2) == 6 * BLOCK_BYTES
    for number in range(6):
        raw = uf2[number * BLOCK_BYTES:(number + 1) * BLOCK_BYTES]
        magic0, magic1, flags, address, size, block_no, count, family = struct.unpack_from("<8I", raw)
        assert (magic0, magic1) == (0x0A324655, 0x9E5D5157) == (MAGIC_START0, MAGIC_START1)
        assert struct.unpack_from("<I", raw, 508)[0] == 0x0AB16F30 == MAGIC_END
        assert flags == FLAG_FAMILY_ID == 0x2000
        assert family == 0xE48BFF56
        assert (address, size, block_no, count) == (0x1000_0000 + 256 * number, PAYLOAD_BYTES, number, 6)
        assert raw[32 + 256:508] == bytes(476 - 256)  # zero padding after the payload


def test_payloads_put_back_at_their_addresses_equal_the_binary() -> None:
    data = bytes((i * 31 + 7) & 0xFF for i in range(3000))
    blocks = parse_uf2(to_uf2(image_of((0x0002_0010, data)), FAMILIES["NRF52840"]))

    rebuilt = b"".join(b.payload for b in blocks)
    start = blocks[0].address
    assert start == 0x0002_0000  # the page holding the first byte
    assert rebuilt[0x10:0x10 + len(data)] == data
    assert rebuilt[:0x10] == bytes(16) and set(rebuilt[0x10 + len(data):]) <= {0}
    assert all(b.family_id == 0xADA52840 for b in blocks)


def test_a_gap_of_whole_pages_between_segments_gets_no_blocks() -> None:
    image = image_of((0x1000_0000, b"\x11" * 256), (0x1000_1000, b"\x22" * 300))
    blocks = parse_uf2(to_uf2(image, FAMILIES["RP2040"]))

    assert [b.address for b in blocks] == [0x1000_0000, 0x1000_1000, 0x1000_1100]
    assert [b.number for b in blocks] == [0, 1, 2] and {b.count for b in blocks} == {3}
    assert blocks[2].payload == b"\x22" * 44 + bytes(212)


def test_a_built_rp2040_firmware_converts_to_blocks_whose_payload_is_the_objcopy_binary(firmware_project) -> None:
    project = firmware_project("rp2040")
    image = load_elf(project / "build" / "firmware.elf")
    blocks = parse_uf2(to_uf2(image, FAMILIES["RP2040"]))
    binary = (project / "build" / "firmware.bin").read_bytes()

    assert blocks[0].address == 0x1000_0000  # boot2 first, where the boot ROM reads it
    assert len(blocks) == -(-len(binary) // PAYLOAD_BYTES)
    assert b"".join(b.payload for b in blocks)[:len(binary)] == binary


def test_parse_rejects_a_block_with_a_wrong_magic() -> None:
    uf2 = bytearray(to_uf2(image_of((0, b"\x01" * 4)), FAMILIES["RP2040"]))
    uf2[508] ^= 0xFF
    with pytest.raises(TinyEdgeError, match="wrong magic"):
        parse_uf2(bytes(uf2))


def test_family_ids_are_the_published_ones() -> None:
    assert FAMILIES["RP2040"] == 0xE48BFF56
    assert FAMILIES["NRF52840"] == 0xADA52840
    assert FAMILIES["ESP32S2"] == 0xBFDD4EEE
    assert FAMILIES["ESP32S3"] == 0xC47E5767
    assert FAMILIES["ESP32C3"] == 0xD42BA06C
    assert load_board("rp2040").flashing.uf2_family_id == FAMILIES["RP2040"]


def make_drive(root: Path, label: str = "RPI-RP2", board_id: str = "RPI-RP2") -> Path:
    drive = root / "user" / label
    drive.mkdir(parents=True)
    (drive / "INFO_UF2.TXT").write_text(f"UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: {board_id}\n")
    return drive


def bootloader(drive: Path, received: list[bytes]) -> threading.Thread:
    """Stands in for the boot ROM: takes the .uf2 once written, then the drive goes away."""

    def serve() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            files = list(drive.glob("*.uf2"))
            if files:
                time.sleep(0.05)
                received.append(files[0].read_bytes())
                (drive / "INFO_UF2.TXT").unlink()
                return
            time.sleep(0.02)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_uf2_flash_writes_the_file_copies_it_to_the_one_drive_and_sees_the_drive_go(firmware_project, tmp_path,
                                                                                      monkeypatch) -> None:
    project = firmware_project("rp2040")
    drive = make_drive(tmp_path / "media")
    monkeypatch.setattr("tinyedge.flash.METHODS", {"uf2": Uf2Method(roots=(tmp_path / "media",), unmount_wait_s=5)})
    received: list[bytes] = []
    thread = bootloader(drive, received)

    result = flash(project, "rp2040")
    thread.join()

    uf2 = project / "build" / "firmware.uf2"
    assert received == [uf2.read_bytes()]
    assert result.method == "uf2" and result.verified and not result.dry_run
    assert b"".join(b.payload for b in parse_uf2(uf2.read_bytes())).startswith(
        (project / "build" / "firmware.bin").read_bytes())


def test_no_uf2_drive_says_to_hold_bootsel(firmware_project, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("tinyedge.flash.METHODS", {"uf2": Uf2Method(roots=(tmp_path,), unmount_wait_s=1)})
    with pytest.raises(TinyEdgeError) as error:
        flash(firmware_project("rp2040"), "rp2040")
    assert "BOOTSEL" in str(error.value) and "\n" not in str(error.value)


def test_two_uf2_drives_without_probe_is_an_error_naming_both(firmware_project, tmp_path, monkeypatch) -> None:
    first, second = make_drive(tmp_path, "A"), make_drive(tmp_path, "B")
    monkeypatch.setattr("tinyedge.flash.METHODS", {"uf2": Uf2Method(roots=(tmp_path,), unmount_wait_s=1)})
    with pytest.raises(TinyEdgeError, match="several UF2 drives") as error:
        flash(firmware_project("rp2040"), "rp2040")
    assert str(first) in str(error.value) and str(second) in str(error.value)
    assert find_drives((tmp_path,)) == [first, second]


def test_a_drive_of_another_chip_is_the_wrong_target(firmware_project, tmp_path, monkeypatch) -> None:
    make_drive(tmp_path, "FTHR840BOOT", board_id="nRF52840-Feather-revD")
    monkeypatch.setattr("tinyedge.flash.METHODS", {"uf2": Uf2Method(roots=(tmp_path,), unmount_wait_s=1)})
    with pytest.raises(TinyEdgeError, match="nRF52840-Feather-revD.*not a RP2040"):
        flash(firmware_project("rp2040"), "rp2040")


def test_a_drive_that_stays_mounted_means_the_bootloader_refused_the_file(firmware_project, tmp_path,
                                                                          monkeypatch) -> None:
    make_drive(tmp_path)
    monkeypatch.setattr("tinyedge.flash.METHODS", {"uf2": Uf2Method(roots=(tmp_path,), unmount_wait_s=0.5)})
    with pytest.raises(TinyEdgeError, match="still mounted.*partly written image"):
        flash(firmware_project("rp2040"), "rp2040")
