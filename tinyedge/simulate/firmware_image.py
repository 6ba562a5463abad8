"""What the emulator needs to know about a firmware ELF: bytes to load, symbols, code facts.

Reads the ELF once with pyelftools: the bytes of every allocated section at its load address
(LMA, as `objcopy -O binary` would place them), the RAM ranges the startup code zero-fills,
the function symbols (to name a faulting PC), the call sites inside
tinyedge_model_invoke (the layer boundaries), and for RISC-V the addresses of the `ebreak`
in every semihosting sequence (`slli x0,x0,0x1f; ebreak; srai x0,x0,7`).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import capstone
from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from tinyedge.errors import TinyEdgeError

ARCH_ARM = "arm"
ARCH_RISCV = "riscv"

BEGIN_SYMBOL = "te_inference_begin"
END_SYMBOL = "te_inference_end"
OUTPUT_SYMBOL = "te_output"  # the UART variant's output buffer (it writes no output.bin)
INVOKE_SYMBOL = "tinyedge_model_invoke"

_RISCV_SEMIHOST_PRE = bytes.fromhex("1310f001")  # slli x0, x0, 0x1f
_RISCV_EBREAK = bytes.fromhex("73001000")  # ebreak
_RISCV_SEMIHOST_POST = bytes.fromhex("13507040")  # srai x0, x0, 7


@dataclass(frozen=True)
class LoadChunk:
    section: str
    address: int  # load address (LMA)
    data: bytes


@dataclass(frozen=True)
class CodeRange:
    section: str
    address: int
    data: bytes


@dataclass(frozen=True)
class Function:
    name: str
    address: int  # Thumb bit cleared
    size: int


@dataclass(frozen=True)
class FirmwareImage:
    path: Path
    arch: str  # ARCH_ARM or ARCH_RISCV
    entry: int
    chunks: tuple[LoadChunk, ...]
    allocated: tuple[tuple[int, int], ...]  # (address, size) of every allocated section at its VMA
    code: tuple[CodeRange, ...]  # executable sections at their VMA
    functions: tuple[Function, ...]  # sorted by address
    symbols: dict[str, int]
    data_marks: tuple[tuple[int, bool], ...] = ()  # Arm mapping symbols, sorted: (address, starts data)
    object_sizes: dict[str, int] = field(default_factory=dict)  # data objects (STT_OBJECT): bytes

    def symbol(self, name: str) -> int | None:
        return self.symbols.get(name)

    def require_symbol(self, name: str) -> int:
        address = self.symbols.get(name)
        if address is None:
            raise TinyEdgeError(f"{self.path.name} has no symbol '{name}': the emulator needs it to "
                                "measure the inference; build the firmware from tinyedge's templates")
        return address

    def function_at(self, address: int) -> str:
        """`name` or `name+0xoff` of the function holding `address`; '?' outside every function.

        A function with a size must contain the address; a size-less one (an assembly label)
        is taken as the nearest one below it in the same code section.
        """
        i = bisect.bisect_right(self._starts, address) - 1
        if i < 0:
            return "?"
        f = self.functions[i]
        sized = next((g for g in reversed(self.functions[: i + 1])
                      if g.size and g.address <= address < g.address + g.size), None)
        if sized is not None:
            f = sized
        elif f.size or self._code_range(f.address) is not self._code_range(address):
            return "?"
        offset = address - f.address
        return f.name if offset == 0 else f"{f.name}+0x{offset:x}"

    @property
    def _starts(self) -> list[int]:
        return [f.address for f in self.functions]

    def _code_range(self, address: int) -> CodeRange | None:
        return next((r for r in self.code if r.address <= address < r.address + len(r.data)), None)

    def function(self, name: str) -> Function | None:
        for f in self.functions:
            if f.name == name:
                return f
        return None

    def code_bytes(self, address: int, size: int) -> bytes | None:
        for r in self.code:
            if r.address <= address and address + size <= r.address + len(r.data):
                return r.data[address - r.address: address - r.address + size]
        return None

    def call_sites(self, function_name: str) -> tuple[int, ...]:
        """Addresses of the call instructions (BL/BLX, JAL/JALR with a link register) in a function."""
        f = self.function(function_name)
        if f is None:
            return ()
        code = self.code_bytes(f.address, f.size)
        if code is None:
            raise TinyEdgeError(f"{self.path.name}: function {function_name} lies outside every code section")
        sites = []
        for start, end in self.instruction_spans(f.address, f.address + f.size):
            for insn in disassembler(self.arch).disasm(code[start - f.address: end - f.address], start):
                name = insn.insn_name()
                if self.arch == ARCH_ARM and name in ("bl", "blx"):
                    sites.append(insn.address)
                elif self.arch == ARCH_RISCV and _links(insn):
                    sites.append(insn.address)
        return tuple(sites)

    def instruction_spans(self, start: int, end: int) -> list[tuple[int, int]]:
        """[start, end) minus the literal pools the Arm mapping symbols ($d ... $t) mark as data."""
        spans = []
        in_data = False
        position = start
        for address, starts_data in self.data_marks:
            if address <= start:
                in_data = starts_data
                continue
            if address >= end:
                break
            if starts_data and not in_data:
                spans.append((position, address))
            elif not starts_data and in_data:
                position = address
            in_data = starts_data
        if not in_data:
            spans.append((position, end))
        return [(a, b) for a, b in spans if b > a]

    def semihosting_ebreaks(self) -> tuple[int, ...]:
        """RISC-V: address of the ebreak in every `slli x0,x0,0x1f; ebreak; srai x0,x0,7`."""
        found = []
        for r in self.code:
            start = 0
            while True:
                at = r.data.find(_RISCV_EBREAK, start)
                if at < 0:
                    break
                start = at + 2
                if (at >= 4 and r.data[at - 4: at] == _RISCV_SEMIHOST_PRE
                        and r.data[at + 4: at + 8] == _RISCV_SEMIHOST_POST):
                    found.append(r.address + at)
        return tuple(found)


@cache
def disassembler(arch: str) -> capstone.Cs:
    """Capstone for the firmware's instruction set (Thumb-2 M-profile, or RV32 with C), with details."""
    if arch == ARCH_ARM:
        md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    else:
        md = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV32 | capstone.CS_MODE_RISCVC)
    md.detail = True
    return md


def _links(insn: capstone.CsInsn) -> bool:
    """A RISC-V jump that writes a return address (a call), not a plain jump, tail call or return.

    Decoded from the encoding: capstone prints `jalr ra` and `jr t1` alike.
    """
    name = insn.insn_name()
    if name in ("c.jal", "c.jalr"):
        return True  # both write ra
    word = int.from_bytes(insn.bytes, "little")
    rd = (word >> 7) & 0x1F
    return name in ("jal", "jalr") and insn.size == 4 and rd != 0


def load_image(path: Path) -> FirmwareImage:
    try:
        with open(path, "rb") as stream:
            elf = ELFFile(stream)
            return _read(path, elf)
    except FileNotFoundError as exc:
        raise TinyEdgeError(f"firmware ELF not found: {path}") from exc
    except ELFError as exc:
        raise TinyEdgeError(f"{path} is not a valid ELF file: {exc}") from exc


def _read(path: Path, elf: ELFFile) -> FirmwareImage:
    machine = elf["e_machine"]
    if machine == "EM_ARM":
        arch = ARCH_ARM
    elif machine == "EM_RISCV":
        arch = ARCH_RISCV
    else:
        raise TinyEdgeError(f"{path.name} is built for {machine}; the built-in emulator runs "
                            "Cortex-M (EM_ARM) and RV32 (EM_RISCV) firmware")
    if elf.elfclass != 32:
        raise TinyEdgeError(f"{path.name} is a {elf.elfclass}-bit ELF; microcontroller firmware is 32-bit")

    segments = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
    chunks: list[LoadChunk] = []
    allocated: list[tuple[int, int]] = []
    code: list[CodeRange] = []
    for section in elf.iter_sections():
        flags = section["sh_flags"]
        if not flags & SH_FLAGS.SHF_ALLOC or section["sh_size"] == 0:
            continue
        vma = section["sh_addr"]
        allocated.append((vma, section["sh_size"]))
        if section["sh_type"] == "SHT_NOBITS":
            continue
        data = section.data()
        chunks.append(LoadChunk(section.name, _load_address(vma, section["sh_offset"], segments), data))
        if flags & SH_FLAGS.SHF_EXECINSTR:
            code.append(CodeRange(section.name, vma, data))

    functions: list[Function] = []
    symbols: dict[str, int] = {}
    marks: list[tuple[int, bool]] = []
    object_sizes: dict[str, int] = {}
    symtab = elf.get_section_by_name(".symtab")
    if symtab is not None:
        for sym in symtab.iter_symbols():
            kind = sym["st_info"]["type"]
            if arch == ARCH_ARM and (sym.name in ("$d", "$t", "$a") or sym.name.startswith(("$d.", "$t."))):
                marks.append((sym["st_value"], sym.name.startswith("$d")))
                continue
            if not sym.name or sym["st_shndx"] == "SHN_UNDEF" or kind not in ("STT_FUNC", "STT_OBJECT",
                                                                               "STT_NOTYPE"):
                continue
            value = sym["st_value"]
            if kind == "STT_FUNC":
                value &= ~1 if arch == ARCH_ARM else ~0
                functions.append(Function(sym.name, value, sym["st_size"]))
            if kind == "STT_FUNC" or sym.name not in symbols:
                symbols[sym.name] = value
            if kind == "STT_OBJECT":
                object_sizes.setdefault(sym.name, sym["st_size"])
    functions.sort(key=lambda f: (f.address, -f.size))
    return FirmwareImage(path, arch, elf["e_entry"], tuple(chunks), tuple(allocated), tuple(code),
                         tuple(functions), symbols, tuple(sorted(marks)), object_sizes)


def _load_address(vma: int, offset: int, segments: list) -> int:
    """Where the section's bytes sit in memory before startup runs (the segment's physical address)."""
    for seg in segments:
        if seg["p_offset"] <= offset < seg["p_offset"] + max(seg["p_filesz"], 1) and seg["p_filesz"]:
            return seg["p_paddr"] + (offset - seg["p_offset"])
    return vma
