"""The .mpy 6.3 container for one native module: header, qstr and constant tables, one viper raw code.

Written from MicroPython's docs/reference/mpyfiles.rst and the loader it describes
(py/persistentcode.c): MicroPython v1.23 and later load .mpy 6.3. A native module's outer raw
code is viper code: its machine code is copied into RAM, then a relocation stream adds the
run-time address of text, rodata, BSS, the qstr or constant table or an mp_fun_table entry to
pointer-sized words of it. The loader reads every variable-length integer most significant
group first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MPY_VERSION = 6
MPY_SUB_VERSION = 3
SMALL_INT_BITS = 31  # the fewest any port has: the loader refuses a file that asks for more than it has
CODE_BYTECODE, CODE_NATIVE_VIPER = 2, 4  # MP_CODE_* kinds; the file stores kind - MP_CODE_BYTECODE
SCOPE_VIPERRELOC, SCOPE_VIPERRODATA, SCOPE_VIPERBSS = 0x10, 0x20, 0x40
# Constant-table object types (MP_PERSISTENT_OBJ_*).
OBJ_STR, OBJ_INT, OBJ_FLOAT, OBJ_TUPLE = 5, 7, 8, 10
# Where a relocated word points (the loader's `op` after its low bit): text, rodata and BSS take a
# run length; the tables and mp_fun_table itself do not; FUN_TABLE_ENTRY + i is mp_fun_table[i].
DEST_TEXT, DEST_RODATA, DEST_BSS = 0, 1, 2
DEST_QSTR_TABLE, DEST_OBJ_TABLE, DEST_FUN_TABLE, FUN_TABLE_ENTRY = 6, 7, 8, 9
RELOC_END = 0xFF

Constant = int | float | str | tuple  # what the constant table holds here (nested tuples of these)


def vuint(value: int) -> bytes:
    """A variable-length unsigned integer: 7 bits a byte, most significant first, high bit = more follow."""
    if value < 0:
        raise ValueError(f"vuint of a negative number {value}")
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(groups))


def _qstr(text: str) -> bytes:
    data = text.encode()
    return vuint(len(data) << 1) + data + b"\0"  # low bit 0: the string follows (not a static qstr)


def _constant(value: Constant) -> bytes:
    if isinstance(value, bool):
        raise ValueError("bool constants are not used by tinyedge modules")
    if isinstance(value, tuple):
        return bytes([OBJ_TUPLE]) + vuint(len(value)) + b"".join(_constant(v) for v in value)
    if isinstance(value, int):
        text, kind = str(value).encode(), OBJ_INT
    elif isinstance(value, float):
        text, kind = repr(value).encode(), OBJ_FLOAT
    else:
        text, kind = value.encode(), OBJ_STR
    tail = b"\0" if kind == OBJ_STR else b""  # strings carry a terminator, numbers do not
    return bytes([kind]) + vuint(len(text)) + text + tail


@dataclass(frozen=True)
class Relocation:
    """A pointer-sized word at `offset` in text that the loader adds `dest`'s run-time address to."""

    offset: int
    dest: int  # DEST_* or FUN_TABLE_ENTRY + index


def relocation_stream(relocations: Sequence[Relocation], word: int) -> bytes:
    """The loader's relocation opcodes, consecutive words with the same destination merged into runs."""
    out = bytearray()
    ordered = sorted(relocations, key=lambda r: r.offset)
    next_word = None  # the word the loader's pointer is at after the previous opcode
    i = 0
    while i < len(ordered):
        reloc = ordered[i]
        if reloc.offset % word:
            raise ValueError(f"relocation at text offset {reloc.offset} is not {word}-byte aligned")
        index = reloc.offset // word
        run = 1
        if reloc.dest <= DEST_BSS:
            while (i + run < len(ordered) and ordered[i + run].dest == reloc.dest
                   and ordered[i + run].offset == reloc.offset + run * word):
                run += 1
            kind = reloc.dest << 1 | (run > 1)
        else:
            kind = reloc.dest
        if kind > 126:
            raise ValueError(f"relocation destination {reloc.dest} is beyond what the .mpy format encodes")
        move = index != next_word
        out.append(kind << 1 | move)
        if move:
            out += vuint(index << 1)  # low bit 0: the word is in text
        if run > 1:
            out += vuint(run)
        next_word = index + run
        i += run
    out.append(RELOC_END)
    return bytes(out)


def native_mpy(arch_number: int, text: bytes, bss_bytes: int, relocations: Sequence[Relocation],
               qstrs: Sequence[str], constants: Sequence[Constant], word: int) -> bytes:
    """A whole .mpy: qstrs[0] is the source name the loader records, the rest are the module's names.

    Rodata lives inside text (code reaches it PC-relative), so the file has no rodata part.
    """
    header = bytes([ord("M"), MPY_VERSION, arch_number << 2 | MPY_SUB_VERSION, SMALL_INT_BITS])
    tables = vuint(len(qstrs)) + vuint(len(constants))
    tables += b"".join(_qstr(q) for q in qstrs) + b"".join(_constant(c) for c in constants)
    flags = SCOPE_VIPERRELOC | (SCOPE_VIPERBSS if bss_bytes else 0)
    code = vuint(len(text) << 3 | (CODE_NATIVE_VIPER - CODE_BYTECODE)) + text + vuint(flags)
    if bss_bytes:
        code += vuint(bss_bytes)
    return header + tables + code + relocation_stream(relocations, word)
