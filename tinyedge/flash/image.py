"""The bytes a flashing tool writes: the load segments of a firmware ELF.

`load_elf` reads the ELF's allocated sections that carry bytes, each at its load address (LMA:
its run address moved by its PT_LOAD segment's physical minus virtual address), which is where
`objcopy -O binary` places them too: the .data initial values sit at their load address in
flash, not at their run address in RAM. Sections, not segments: a linker may map the ELF
header itself into the first segment, bytes no tool writes. Adjacent sections merge into one
Segment.
From those segments come the flat binary (gaps zero-filled, as objcopy fills them), Intel
HEX, UF2 blocks, and the checks a board needs before anything touches hardware: every byte
inside the board's flash, and on the RP2040 a boot2 stage the boot ROM will accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from tinyedge.boards import Board
from tinyedge.boot2 import crc32_mpeg2
from tinyedge.errors import TinyEdgeError

# The semihosting client (firmware/runtime/te_semihost.c): an image that holds it reads its
# inputs and prints through a debugger and cannot run on a board without one.
SEMIHOSTING_SYMBOL = "te_semihost"

# RP2040 boot ROM: the first 256 bytes of flash are the boot2 stage; its last 4 bytes are a
# CRC-32 (polynomial 0x04C11DB7, no reflection, initial value 0xFFFFFFFF, no final XOR) of the
# first 252, little-endian (RP2040 Datasheet, section 2.8.1.3.1). A bad CRC and the chip stays
# in its USB boot mode.
RP2040_BOOT2_BYTES = 256
# The RP2040's UF2 family ID (microsoft/uf2, utils/uf2families.json); tinyedge.flash.uf2 lists it with the others.
RP2040_FAMILY_ID = 0xE48BFF56


@dataclass(frozen=True)
class Segment:
    address: int  # load address
    data: bytes

    @property
    def end(self) -> int:
        return self.address + len(self.data)


@dataclass(frozen=True)
class Image:
    path: Path
    segments: tuple[Segment, ...]  # sorted by address, none overlapping
    entry: int
    symbols: frozenset[str]  # names in the ELF symbol table

    @property
    def base(self) -> int:
        return self.segments[0].address

    @property
    def end(self) -> int:
        return self.segments[-1].end

    @property
    def size(self) -> int:
        """Bytes of data (gaps between segments not counted)."""
        return sum(len(s.data) for s in self.segments)

    @property
    def uses_semihosting(self) -> bool:
        return SEMIHOSTING_SYMBOL in self.symbols

    def flat(self) -> bytes:
        """base..end with the gaps between segments zero-filled: what `objcopy -O binary` writes."""
        out = bytearray(self.end - self.base)
        for segment in self.segments:
            out[segment.address - self.base:segment.end - self.base] = segment.data
        return bytes(out)

    def read(self, address: int, size: int) -> bytes | None:
        """The image's bytes at address..address+size, or None where any of them is not in a segment."""
        for segment in self.segments:
            if segment.address <= address and address + size <= segment.end:
                return segment.data[address - segment.address:address - segment.address + size]
        return None

    def pages(self, size: int) -> list[tuple[int, bytes]]:
        """The size-aligned pages that hold image bytes, in address order; bytes of a page outside
        every segment are zero (the value `flat()` gives them)."""
        starts = sorted({page for s in self.segments
                         for page in range(s.address - s.address % size, s.end, size)})
        flat = self.flat()
        pages = []
        for start in starts:
            page = bytearray(size)
            lo, hi = max(start, self.base), min(start + size, self.end)
            page[lo - start:hi - start] = flat[lo - self.base:hi - self.base]
            pages.append((start, bytes(page)))
        return pages


def load_elf(path: Path) -> Image:
    path = Path(path)
    try:
        with path.open("rb") as stream:
            elf = ELFFile(stream)
            segments = _load_sections(elf)
            table = elf.get_section_by_name(".symtab")
            symbols = frozenset(s.name for s in table.iter_symbols() if s.name) \
                if isinstance(table, SymbolTableSection) else frozenset()
            entry = elf.header["e_entry"]
    except FileNotFoundError:
        raise TinyEdgeError(f"firmware {path} does not exist") from None
    except (ELFError, OSError) as exc:
        raise TinyEdgeError(f"{path} is not a firmware ELF ({exc}); give the ELF a build wrote "
                            "(build/firmware.elf) or the build folder") from None
    if not segments:
        raise TinyEdgeError(f"{path} has no loadable bytes; give the ELF a build wrote (build/firmware.elf)")
    segments.sort(key=lambda s: s.address)
    merged = [segments[0]]
    for segment in segments[1:]:
        last = merged[-1]
        if segment.address < last.end:
            raise TinyEdgeError(f"{path}: sections at 0x{last.address:08x} and 0x{segment.address:08x} overlap")
        if segment.address == last.end:
            merged[-1] = Segment(last.address, last.data + segment.data)
        else:
            merged.append(segment)
    return Image(path, tuple(merged), entry, symbols)


def _load_sections(elf: ELFFile) -> list[Segment]:
    loads = [seg for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD"]
    sections = []
    for section in elf.iter_sections():
        if not section["sh_flags"] & SH_FLAGS.SHF_ALLOC or section["sh_type"] == "SHT_NOBITS" \
                or section["sh_size"] == 0:
            continue
        address = section["sh_addr"]
        load = next((seg for seg in loads if seg["p_offset"] <= section["sh_offset"] < seg["p_offset"] +
                     seg["p_filesz"]), None)
        if load is not None:
            address = address - load["p_vaddr"] + load["p_paddr"]
        sections.append(Segment(address, section.data()))
    return sections


def intel_hex(image: Image) -> str:
    """Intel HEX: type 04 records for each 64 KB window, 16-byte type 00 data records, type 01 at the end."""
    lines = []
    window = None
    for segment in image.segments:
        for offset in range(0, len(segment.data), 16):
            address = segment.address + offset
            chunk = segment.data[offset:offset + 16]
            chunk = chunk[:0x10000 - (address & 0xFFFF)]  # a record never crosses a 64 KB window
            if address >> 16 != window:
                window = address >> 16
                lines.append(_hex_record(0, 0x04, window.to_bytes(2, "big")))
            lines.append(_hex_record(address & 0xFFFF, 0x00, chunk))
            rest = segment.data[offset + len(chunk):offset + 16]
            if rest:  # the part past the window boundary
                window = (address + len(chunk)) >> 16
                lines.append(_hex_record(0, 0x04, window.to_bytes(2, "big")))
                lines.append(_hex_record(0, 0x00, rest))
    lines.append(_hex_record(0, 0x01, b""))
    return "\n".join(lines) + "\n"


def _hex_record(address: int, kind: int, data: bytes) -> str:
    body = bytes([len(data), address >> 8, address & 0xFF, kind]) + data
    return ":" + (body + bytes([-sum(body) & 0xFF])).hex().upper()


def check_fits_flash(image: Image, board: Board) -> None:
    """Every loaded byte must land in one of the board's flash regions."""
    flash = [r for r in board.memories if r.kind == "flash"]
    for segment in image.segments:
        if not any(r.contains(segment.address, len(segment.data)) for r in flash):
            where = ", ".join(f"{r.name} 0x{r.origin:08x}-0x{r.end:08x}" for r in flash) or "none"
            raise TinyEdgeError(f"{image.path} puts {len(segment.data)} bytes at 0x{segment.address:08x}, outside "
                                f"the flash of board {board.name} ({where}): was it built for another board?")



def check_boot_stage(image: Image, board: Board) -> None:
    """A board whose layout keeps boot_bytes for a boot stage must get one the chip accepts."""
    if board.layout is None or board.layout.boot_bytes == 0:
        return
    start = board.code_region.origin
    boot = image.read(start, board.layout.boot_bytes)
    if boot is None or not any(boot):
        raise TinyEdgeError(f"{image.path} has no boot stage in its first {board.layout.boot_bytes} bytes "
                            f"(0x{start:08x}): board {board.name} would not start it; render the project "
                            "again with tinyedge (it writes boot2.c, tinyedge's RP2040 boot2) and rebuild")
    if is_rp2040(board) and len(boot) == RP2040_BOOT2_BYTES:
        stored = int.from_bytes(boot[252:256], "little")
        if stored != crc32_mpeg2(boot[:252]):
            raise TinyEdgeError(f"{image.path}: the boot2 stage at 0x{start:08x} has checksum 0x{stored:08x}, not "
                                f"0x{crc32_mpeg2(boot[:252]):08x}: the RP2040 boot ROM would reject it; render "
                                "the project again so boot2.c is rewritten")


def is_rp2040(board: Board) -> bool:
    flashing = board.flashing
    return flashing is not None and (flashing.pyocd_target == "rp2040" or flashing.uf2_family_id == RP2040_FAMILY_ID)
