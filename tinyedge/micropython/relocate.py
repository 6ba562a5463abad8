"""The relocations the native-module linker resolves, one table per instruction set.

Each entry says how one ELF relocation type patches text, from the psABIs: System V x86-64
(S + A - P, GOT entry + A - P), ELF for the Arm Architecture (REL: the addend is in the
instruction or word; Thumb BL/B.W immediates with J1/J2), RISC-V ELF psABI (auipc/jalr pairs,
%pcrel_lo finding its %pcrel_hi at the label it names, B/J/CB/CJ immediates). Absolute pointers
become loader relocations (mpy_link.LinkedModule.relocations); what cannot be relocated at run
time is refused with one line.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from tinyedge.micropython.arch import Arch, LinkError

if TYPE_CHECKING:
    from tinyedge.micropython.mpy_link import _Linker, _Section

# x86-64
X64_NONE, X64_64, X64_PC32, X64_PLT32, X64_GOTPCREL, X64_32, X64_32S = 0, 1, 2, 4, 9, 10, 11
X64_GOTPCRELX, X64_REX_GOTPCRELX = 41, 42
# Arm
ARM_NONE, ARM_ABS32, ARM_REL32, ARM_THM_CALL, ARM_BASE_PREL, ARM_GOT_BREL = 0, 2, 3, 10, 25, 26
ARM_THM_JUMP24, ARM_V4BX, ARM_GOT_PREL, ARM_THM_JUMP11, ARM_THM_JUMP8 = 30, 40, 96, 102, 103
# RISC-V
RV_32, RV_BRANCH, RV_JAL, RV_CALL, RV_CALL_PLT, RV_GOT_HI20 = 1, 16, 17, 18, 19, 20
RV_PCREL_HI20, RV_PCREL_LO12_I, RV_PCREL_LO12_S, RV_HI20, RV_LO12_I, RV_LO12_S = 23, 24, 25, 26, 27, 28
RV_ADD32, RV_SUB32, RV_ALIGN, RV_RVC_BRANCH, RV_RVC_JUMP, RV_RELAX, RV_32_PCREL = 35, 39, 43, 44, 45, 51, 57

GOT_TYPES = {"EM_X86_64": {X64_GOTPCREL, X64_GOTPCRELX, X64_REX_GOTPCRELX},
             "EM_ARM": {ARM_GOT_BREL, ARM_GOT_PREL}, "EM_RISCV": {RV_GOT_HI20}}


def got_types(arch: Arch) -> set[int]:
    return GOT_TYPES[arch.machine]


def _get(text: bytearray, at: int, fmt: str) -> int:
    return struct.unpack_from(fmt, text, at)[0]


def _put(text: bytearray, at: int, fmt: str, value: int) -> None:
    bits = struct.calcsize(fmt) * 8
    struct.pack_into(fmt.upper(), text, at, value & ((1 << bits) - 1))  # two's complement as unsigned


def _check_range(value: int, bits: int, what: str, section: _Section) -> None:
    if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise LinkError(f"{what} in {section.label} spans {value} bytes, beyond its {bits}-bit reach; the module is "
                        "too large for that branch")


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def apply(linker: _Linker, section: _Section, text: bytearray, got_at: int) -> None:
    """Resolve every relocation of one placed section in text."""
    if section.kind == "bss":
        if section.relocs:
            raise LinkError(f"{section.label} is zero-initialised but has relocations")
        return
    handler: Callable = {"EM_X86_64": _x64, "EM_ARM": _arm, "EM_RISCV": _riscv}[linker.arch.machine]
    handler(linker, section, text, got_at)


def _got_entry(linker: _Linker, section: _Section, index: int, got_at: int) -> int:
    target, value, sym = linker.resolve(section, index)
    return linker.got[linker.got_key(target, value, sym)]


# ---------------------------------------------------------------- x86-64 (RELA)

def _x64(linker: _Linker, section: _Section, text: bytearray, got_at: int) -> None:
    for offset, rtype, index, addend in section.relocs:
        place = section.address + offset
        if rtype == X64_NONE:
            continue
        if rtype in (X64_PC32, X64_PLT32):
            value = linker.address(section, index, addend, place, "a rip-relative access") - place
            _check_range(value, 32, "a rip-relative access", section)
            _put(text, place, "<i", value)
        elif rtype in (X64_GOTPCREL, X64_GOTPCRELX, X64_REX_GOTPCRELX):
            _put(text, place, "<i", _got_entry(linker, section, index, got_at) + addend - place)
        elif rtype == X64_64:
            _put(text, place, "<Q", linker.absolute(section, index, addend, place))
        else:
            _unsupported(section, rtype, "x86-64", "compile with -fpic (no -mcmodel=large)")


# ---------------------------------------------------------------- Arm Thumb (REL)

def _thumb_branch_offset(text: bytearray, place: int) -> int:
    """The signed offset a BL or B.W (encoding T4) holds: S:I1:I2:imm10:imm11:0."""
    high, low = _get(text, place, "<H"), _get(text, place + 2, "<H")
    s, imm10 = high >> 10 & 1, high & 0x3FF
    j1, j2, imm11 = low >> 13 & 1, low >> 11 & 1, low & 0x7FF
    i1, i2 = 1 - (j1 ^ s), 1 - (j2 ^ s)
    return _signed(s << 24 | i1 << 23 | i2 << 22 | imm10 << 12 | imm11 << 1, 25)


def _put_thumb_branch(text: bytearray, place: int, value: int, section: _Section) -> None:
    _check_range(value, 25, "a Thumb BL/B.W", section)
    high, low = _get(text, place, "<H"), _get(text, place + 2, "<H")
    s, i1, i2 = value >> 24 & 1, value >> 23 & 1, value >> 22 & 1
    j1, j2 = (1 - i1) ^ s, (1 - i2) ^ s
    high = (high & 0xF800) | s << 10 | (value >> 12 & 0x3FF)
    low = (low & 0xD000) | j1 << 13 | j2 << 11 | (value >> 1 & 0x7FF)
    _put(text, place, "<H", high)
    _put(text, place + 2, "<H", low)


def _arm(linker: _Linker, section: _Section, text: bytearray, got_at: int) -> None:
    for offset, rtype, index, addend in section.relocs:
        place = section.address + offset
        assert addend is None, "Arm objects use REL relocations"
        if rtype in (ARM_NONE, ARM_V4BX):
            continue
        if rtype in (ARM_THM_CALL, ARM_THM_JUMP24):
            target = linker.address(section, index, _thumb_branch_offset(text, place), place, "a branch")
            _put_thumb_branch(text, place, target - place, section)
        elif rtype == ARM_THM_JUMP11:
            inline = _signed((_get(text, place, "<H") & 0x7FF) << 1, 12)
            value = linker.address(section, index, inline, place, "a branch") - place
            _check_range(value, 12, "a Thumb B", section)
            _put(text, place, "<H", (_get(text, place, "<H") & 0xF800) | (value >> 1 & 0x7FF))
        elif rtype == ARM_THM_JUMP8:
            inline = _signed((_get(text, place, "<H") & 0xFF) << 1, 9)
            value = linker.address(section, index, inline, place, "a branch") - place
            _check_range(value, 9, "a Thumb B<cond>", section)
            _put(text, place, "<H", (_get(text, place, "<H") & 0xFF00) | (value >> 1 & 0xFF))
        elif rtype == ARM_REL32:
            inline = _get(text, place, "<i")
            _put(text, place, "<I", linker.address(section, index, inline, place, "a PC-relative literal") - place)
        elif rtype == ARM_ABS32:
            _put(text, place, "<I", linker.absolute(section, index, _get(text, place, "<i"), place))
        elif rtype == ARM_BASE_PREL:  # _GLOBAL_OFFSET_TABLE_ - P
            _put(text, place, "<I", got_at + _get(text, place, "<i") - place)
        elif rtype == ARM_GOT_BREL:  # the entry's offset from the GOT's start
            _put(text, place, "<I", _got_entry(linker, section, index, got_at) - got_at + _get(text, place, "<i"))
        elif rtype == ARM_GOT_PREL:
            _put(text, place, "<I", _got_entry(linker, section, index, got_at) + _get(text, place, "<i") - place)
        else:
            _unsupported(section, rtype, "Arm", "compile with -mthumb -fpic")


# ---------------------------------------------------------------- RISC-V (RELA)

def _split(value: int) -> tuple[int, int]:
    """%hi/%lo of a PC-relative offset: hi rounds so that the signed 12-bit lo adds back."""
    hi = (value + 0x800) >> 12
    return hi & 0xFFFFF, value - (hi << 12)


def _put_i(text: bytearray, place: int, lo: int) -> None:
    insn = _get(text, place, "<I")
    _put(text, place, "<I", (insn & 0x000FFFFF) | (lo & 0xFFF) << 20)


def _put_s(text: bytearray, place: int, lo: int) -> None:
    insn = _get(text, place, "<I")
    insn = (insn & 0x01FFF07F) | ((lo >> 5) & 0x7F) << 25 | (lo & 0x1F) << 7
    _put(text, place, "<I", insn)


def _put_u(text: bytearray, place: int, hi: int) -> None:
    _put(text, place, "<I", (_get(text, place, "<I") & 0xFFF) | hi << 12)


def _riscv(linker: _Linker, section: _Section, text: bytearray, got_at: int) -> None:
    hi_parts: dict[int, int] = {}  # auipc address -> the full offset its %pcrel_hi / %got_pcrel_hi stands for
    for offset, rtype, index, addend in section.relocs:  # first pass: the high parts the low parts name
        place = section.address + offset
        if rtype == RV_PCREL_HI20:
            hi_parts[place] = linker.address(section, index, addend, place, "a PC-relative access") - place
        elif rtype == RV_GOT_HI20:
            hi_parts[place] = _got_entry(linker, section, index, got_at) + addend - place
    for offset, rtype, index, addend in section.relocs:
        place = section.address + offset
        if rtype in (RV_ALIGN, RV_RELAX):  # no relaxation: alignment padding stays as assembled
            continue
        if rtype in (RV_PCREL_HI20, RV_GOT_HI20):
            _check_range(hi_parts[place], 32, "an auipc", section)
            _put_u(text, place, _split(hi_parts[place])[0])
        elif rtype in (RV_PCREL_LO12_I, RV_PCREL_LO12_S):
            label, value, _ = linker.resolve(section, index)
            auipc = label.address + value
            if auipc not in hi_parts:
                raise LinkError(f"{section.label}: a %pcrel_lo names no %pcrel_hi at its label")
            lo = _split(hi_parts[auipc])[1]
            (_put_i if rtype == RV_PCREL_LO12_I else _put_s)(text, place, lo)
        elif rtype in (RV_CALL, RV_CALL_PLT):
            value = linker.address(section, index, addend, place, "a call") - place
            _check_range(value, 32, "a call", section)
            hi, lo = _split(value)
            _put_u(text, place, hi)
            _put_i(text, place + 4, lo)
        elif rtype == RV_BRANCH:
            value = linker.address(section, index, addend, place, "a branch") - place
            _check_range(value, 13, "a branch", section)
            insn = _get(text, place, "<I") & 0x01FFF07F
            insn |= (value >> 12 & 1) << 31 | (value >> 5 & 0x3F) << 25 | (value >> 1 & 0xF) << 8 | \
                (value >> 11 & 1) << 7
            _put(text, place, "<I", insn)
        elif rtype == RV_JAL:
            value = linker.address(section, index, addend, place, "a jump") - place
            _check_range(value, 21, "a jal", section)
            insn = _get(text, place, "<I") & 0xFFF
            insn |= (value >> 20 & 1) << 31 | (value >> 1 & 0x3FF) << 21 | (value >> 11 & 1) << 20 | \
                (value >> 12 & 0xFF) << 12
            _put(text, place, "<I", insn)
        elif rtype == RV_RVC_BRANCH:
            value = linker.address(section, index, addend, place, "a branch") - place
            _check_range(value, 9, "a c.beqz/c.bnez", section)
            insn = _get(text, place, "<H") & 0xE383
            insn |= (value >> 8 & 1) << 12 | (value >> 3 & 3) << 10 | (value >> 6 & 3) << 5 | \
                (value >> 1 & 3) << 3 | (value >> 5 & 1) << 2
            _put(text, place, "<H", insn)
        elif rtype == RV_RVC_JUMP:
            value = linker.address(section, index, addend, place, "a jump") - place
            _check_range(value, 12, "a c.j", section)
            insn = _get(text, place, "<H") & 0xE003
            insn |= (value >> 11 & 1) << 12 | (value >> 4 & 1) << 11 | (value >> 8 & 3) << 9 | \
                (value >> 10 & 1) << 8 | (value >> 6 & 1) << 7 | (value >> 7 & 1) << 6 | \
                (value >> 1 & 7) << 3 | (value >> 5 & 1) << 2
            _put(text, place, "<H", insn)
        elif rtype == RV_32:
            _put(text, place, "<I", linker.absolute(section, index, addend, place))
        elif rtype == RV_32_PCREL:
            _put(text, place, "<i", linker.address(section, index, addend, place, "a PC-relative word") - place)
        elif rtype in (RV_ADD32, RV_SUB32):  # label differences, both ends in text: fixed now
            target = linker.address(section, index, addend, place, "a label difference")
            sign = 1 if rtype == RV_ADD32 else -1
            _put(text, place, "<I", _get(text, place, "<I") + sign * target)
        elif rtype in (RV_HI20, RV_LO12_I, RV_LO12_S):
            raise LinkError(f"{section.label} uses an absolute address (%hi/%lo), which the .mpy loader cannot "
                            "relocate; compile it with -fpic -mno-relax")
        else:
            _unsupported(section, rtype, "RISC-V", "compile with -fpic -mno-relax")


def _unsupported(section: _Section, rtype: int, isa: str, fix: str) -> None:
    raise LinkError(f"{section.label} has {isa} relocation type {rtype}, which tinyedge's .mpy linker does not "
                    f"resolve; {fix}")
