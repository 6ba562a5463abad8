"""UF2: the drag-and-drop format of USB mass-storage bootloaders, written here from the image.

A UF2 file is a sequence of independent 512-byte blocks, every field a little-endian uint32:

    0    magic 0x0A324655 ("UF2\\n")       16   payload size (256 here)
    4    magic 0x9E5D5157                   20   block number, from 0
    8    flags (0x2000: family ID present)  24   number of blocks in the file
    12   target address in flash            28   family ID (with flag 0x2000)
    32   476 bytes: the payload, then zero padding
    508  magic 0x0AB16F30

Blocks carry 256-byte payloads at 256-aligned addresses, which every UF2 bootloader accepts
(the RP2040 boot ROM accepts nothing else). Only pages that hold image bytes get a block.
A bootloader ignores blocks of another family ID, so the ID must be the chip's.

The UF2 method writes <elf stem>.uf2 beside the ELF and copies it to the one mounted UF2 drive
(a volume with INFO_UF2.TXT at its root); the bootloader writes the flash and restarts, and the
drive goes away, which is how the copy is checked. Without a drive, the error says how to put
the board in its bootloader.
"""

from __future__ import annotations

import os
import shutil
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tinyedge.boards import Board
from tinyedge.errors import TinyEdgeError
from tinyedge.flash.image import RP2040_FAMILY_ID, Image
from tinyedge.flash.steps import Job, Method, Step, choose_one

MAGIC_START0 = 0x0A324655
MAGIC_START1 = 0x9E5D5157
MAGIC_END = 0x0AB16F30
FLAG_NOT_MAIN_FLASH = 0x00000001
FLAG_FILE_CONTAINER = 0x00001000
FLAG_FAMILY_ID = 0x00002000
FLAG_MD5 = 0x00004000
FLAG_EXTENSION_TAGS = 0x00008000
BLOCK_BYTES = 512
DATA_BYTES = 476
PAYLOAD_BYTES = 256
HEADER = struct.Struct("<8I")
INFO_FILE = "INFO_UF2.TXT"

# Family IDs of the chips tinyedge's boards use or may use (microsoft/uf2, utils/uf2families.json).
FAMILIES: dict[str, int] = {
    "ESP32": 0x1C5F21B0,
    "ESP32C3": 0xD42BA06C,
    "ESP32S2": 0xBFDD4EEE,
    "ESP32S3": 0xC47E5767,
    "NRF52": 0x1B57745F,
    "NRF52833": 0x621E937A,
    "NRF52840": 0xADA52840,
    "RP2040": RP2040_FAMILY_ID,
    "SAMD21": 0x68ED2B88,
    "SAMD51": 0x55114460,
    "STM32F4": 0x57755A57,
    "STM32F7": 0x53B80F00,
    "STM32L4": 0x00FF6919,
    "STM32L5": 0x04240BDF,
}
FAMILY_NAMES = {family_id: name for name, family_id in FAMILIES.items()}
# How each family's bootloader names its board in INFO_UF2.TXT ("Board-ID: ..."), to tell a
# drive of another chip. Families not listed are not checked.
BOARD_ID_PREFIXES: dict[str, tuple[str, ...]] = {
    "RP2040": ("RPI-RP2",),
    "NRF52840": ("NRF52840",),
    "ESP32S2": ("ESP32S2", "ESP32-S2"),
    "ESP32S3": ("ESP32S3", "ESP32-S3"),
}
# Where operating systems mount removable volumes.
MOUNT_ROOTS = (Path("/media"), Path("/run/media"), Path("/mnt"), Path("/Volumes"))
UNMOUNT_WAIT_S = 10.0


@dataclass(frozen=True)
class Block:
    flags: int
    address: int
    payload: bytes
    number: int
    count: int
    family_id: int  # the word at offset 28 (file size when FLAG_FAMILY_ID is clear)


def family_name(family_id: int) -> str:
    return FAMILY_NAMES.get(family_id, f"0x{family_id:08x}")


def to_uf2(image: Image, family_id: int) -> bytes:
    pages = image.pages(PAYLOAD_BYTES)
    blocks = []
    for number, (address, payload) in enumerate(pages):
        header = HEADER.pack(MAGIC_START0, MAGIC_START1, FLAG_FAMILY_ID, address, len(payload), number,
                             len(pages), family_id)
        blocks.append(header + payload.ljust(DATA_BYTES, b"\0") + struct.pack("<I", MAGIC_END))
    return b"".join(blocks)


def parse_uf2(data: bytes) -> list[Block]:
    """The blocks of a UF2 file; a TinyEdgeError names the first block that breaks the format."""
    if len(data) % BLOCK_BYTES:
        raise TinyEdgeError(f"UF2 data is {len(data)} bytes, not a multiple of {BLOCK_BYTES}")
    blocks = []
    for offset in range(0, len(data), BLOCK_BYTES):
        raw = data[offset:offset + BLOCK_BYTES]
        magic0, magic1, flags, address, size, number, count, family = HEADER.unpack_from(raw)
        (magic_end,) = struct.unpack_from("<I", raw, BLOCK_BYTES - 4)
        if (magic0, magic1, magic_end) != (MAGIC_START0, MAGIC_START1, MAGIC_END):
            raise TinyEdgeError(f"UF2 block at byte {offset} has wrong magic numbers")
        if size > DATA_BYTES:
            raise TinyEdgeError(f"UF2 block at byte {offset} claims {size} payload bytes (at most {DATA_BYTES})")
        blocks.append(Block(flags, address, raw[32:32 + size], number, count, family))
    return blocks


def read_info(drive: Path) -> dict[str, str]:
    """The "Key: value" lines of a drive's INFO_UF2.TXT."""
    info = {}
    for line in (drive / INFO_FILE).read_text(errors="replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def find_drives(roots: tuple[Path, ...] = MOUNT_ROOTS) -> list[Path]:
    """Mounted volumes holding INFO_UF2.TXT: up to two levels under the mount roots (/media/<user>/<label>),
    and the drive letters on Windows."""
    candidates: list[Path] = []
    for root in roots:
        if root.is_dir():
            for child in _subdirs(root):
                candidates.append(child)
                candidates.extend(_subdirs(child))
    if sys.platform == "win32":
        candidates.extend(Path(f"{letter}:\\") for letter in "DEFGHIJKLMNOPQRSTUVWXYZ")
    return sorted({c for c in candidates if _has_info(c)})


def _subdirs(path: Path) -> list[Path]:
    try:
        return [p for p in path.iterdir() if p.is_dir()]
    except OSError:
        return []


def _has_info(path: Path) -> bool:
    try:
        return (path / INFO_FILE).is_file() or (path / INFO_FILE.lower()).is_file()
    except OSError:
        return False


class Uf2Method(Method):
    name = "uf2"
    tool = "a UF2 bootloader drive"
    install = "put the board in its UF2 bootloader (RP2040: hold BOOTSEL while plugging in USB)"
    verifies = "the drive unmounts once the bootloader has taken every block"

    def __init__(self, roots: tuple[Path, ...] = MOUNT_ROOTS, unmount_wait_s: float = UNMOUNT_WAIT_S):
        self.roots = roots
        self.unmount_wait_s = unmount_wait_s

    def unsupported(self, board: Board) -> str | None:
        if board.flashing is None or board.flashing.uf2_family_id is None:
            return f"board {board.name} has no UF2 bootloader (no flashing.uf2_family_id in its board file)"
        return None

    def available(self) -> bool:
        return True  # plain file copies

    def target(self, board: Board) -> str:
        assert board.flashing is not None and board.flashing.uf2_family_id is not None
        return family_name(board.flashing.uf2_family_id)

    def uf2_path(self, job: Job) -> Path:
        return job.firmware.with_suffix(".uf2")

    def steps(self, job: Job) -> list[Step]:
        assert job.board.flashing is not None and job.board.flashing.uf2_family_id is not None
        family_id = job.board.flashing.uf2_family_id
        uf2 = self.uf2_path(job)
        blocks = len(job.elf.pages(PAYLOAD_BYTES))
        state: dict[str, Path] = {}

        def write() -> str:
            uf2.write_bytes(to_uf2(job.elf, family_id))
            return f"wrote {uf2} ({blocks} blocks)"

        def find() -> str:
            state["drive"] = self.choose_drive(job)
            return f"UF2 drive {state['drive']}"

        def copy() -> str:
            return copy_to_drive(uf2, state["drive"])

        def wait() -> str:
            return wait_for_unmount(state["drive"], self.unmount_wait_s)

        where = job.probe or f"the one volume with {INFO_FILE} under {', '.join(map(str, self.roots))}"
        steps = [
            Step("write UF2", action=write,
                 detail=f"{uf2} ({blocks} blocks of {PAYLOAD_BYTES} bytes, family {family_name(family_id)} "
                        f"0x{family_id:08x}, 0x{job.elf.base:08x}-0x{job.elf.end:08x})"),
            Step("find drive", action=find, detail=where),
            Step("copy", action=copy, detail=f"{uf2.name} to the drive's root", writes=True),
        ]
        if job.verify:
            steps.append(Step("verify", action=wait,
                              detail=f"the drive unmounts within {self.unmount_wait_s:g} s (bootloader took the file)"))
        return steps

    def choose_drive(self, job: Job) -> Path:
        if job.probe is not None and Path(job.probe).is_dir():
            drive = Path(job.probe)
            if not _has_info(drive):
                raise TinyEdgeError(f"{drive} is not a UF2 drive (no {INFO_FILE}); give the bootloader's volume")
        else:
            drives = [str(d) for d in find_drives(self.roots)]
            drive = Path(choose_one(drives, job.probe, "UF2 drive", _no_drive_fix(job.board)))
        self.check_drive_family(drive, job.board)
        return drive

    def check_drive_family(self, drive: Path, board: Board) -> None:
        board_id = read_info(drive).get("Board-ID", "")
        family = self.target(board)
        prefixes = BOARD_ID_PREFIXES.get(family)
        if prefixes and board_id and not board_id.upper().startswith(tuple(p.upper() for p in prefixes)):
            raise TinyEdgeError(f"the UF2 drive {drive} belongs to a '{board_id}' bootloader, not a {family} "
                                f"(board {board.name}): connect the right board or pick its drive with --probe")


def _no_drive_fix(board: Board) -> str:
    if board.flashing is not None and board.flashing.uf2_family_id == FAMILIES["RP2040"]:
        how = "hold BOOTSEL while plugging the board into USB"
    else:
        how = "double-tap the board's reset button"
    return f"no mounted volume holds {INFO_FILE}: {how} so its bootloader drive appears, then flash again"


def copy_to_drive(uf2: Path, drive: Path) -> str:
    target = drive / uf2.name
    try:
        with uf2.open("rb") as source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink)
            sink.flush()
            os.fsync(sink.fileno())
    except PermissionError:
        raise TinyEdgeError(f"permission denied writing to the UF2 drive {drive}: mount it writable for your "
                            "user (or copy the .uf2 file there by hand)") from None
    except OSError as exc:
        raise TinyEdgeError(f"copying {uf2.name} to {drive} failed: {exc.strerror or exc}") from None
    return f"copied {uf2.name} to {drive}"


def wait_for_unmount(drive: Path, wait_s: float) -> str:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not _has_info(drive):
            return f"{drive} went away: the bootloader took the image and restarted the board"
        time.sleep(0.2)
    raise TinyEdgeError(f"the UF2 drive {drive} is still mounted {wait_s:g} s after the copy: the bootloader did "
                        "not take the file (wrong family ID or address for this chip?)")
