"""MicroPython's .mpy loader modelled in Python, and one function of a loaded native module run in Unicorn.

The loader part follows py/persistentcode.c (load_raw_code, mp_native_relocate): it reads the
file tinyedge wrote, not the linker's data, so the format and the relocation stream are checked
too. The module is placed at bases that differ from 0 and from each other, as the heap does;
the tables the loader provides point at unmapped memory, so a stray use of them faults. This
is how `tinyedge micropython` checks an Arm or RISC-V module bit for bit and counts the
instructions of one invoke (the model's code; MicroPython's call overhead is not in it).
"""

from __future__ import annotations

from dataclasses import dataclass

import capstone
import unicorn
from unicorn import arm_const, riscv_const, x86_const

from tinyedge.errors import TinyEdgeError

TEXT_BASE, BSS_BASE, STACK_TOP, IO_BASE, TRAP = 0x0012_3000, 0x0040_0000, 0x0080_0000, 0x0060_0000, 0x0070_0000
UNMAPPED_TABLES = 0x0F00_0000  # qstr, constant and function tables: not there in this harness


@dataclass
class LoadedMpy:
    arch: int
    qstrs: list[str]
    constants: list
    text: bytearray
    bss_bytes: int
    relocations: list[tuple[int, int]]  # (word index in text, destination op)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def byte(self) -> int:
        self.pos += 1
        return self.data[self.pos - 1]

    def bytes(self, n: int) -> bytes:
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def uint(self) -> int:
        value = 0
        while True:
            b = self.byte()
            value = value << 7 | (b & 0x7F)
            if not b & 0x80:
                return value


def _obj(r: _Reader):
    kind = r.byte()
    n = r.uint()
    if kind == 10:
        return tuple(_obj(r) for _ in range(n))
    text = r.bytes(n).decode()
    if kind == 5:
        assert r.byte() == 0
        return text
    return int(text) if kind == 7 else float(text)


def parse(blob: bytes) -> LoadedMpy:
    r = _Reader(blob)
    magic, version, flags, small_int_bits = r.bytes(4)
    assert (magic, version, flags & 3, small_int_bits) == (ord("M"), 6, 3, 31)
    n_qstr, n_obj = r.uint(), r.uint()
    qstrs = []
    for _ in range(n_qstr):
        length = r.uint()
        assert not length & 1, "tinyedge stores every qstr as a string"
        qstrs.append(r.bytes(length >> 1).decode())
        assert r.byte() == 0
    constants = [_obj(r) for _ in range(n_obj)]
    kind_len = r.uint()
    assert kind_len & 3 == 2 and not kind_len & 4, "one viper raw code without children"
    text = bytearray(r.bytes(kind_len >> 3))
    scope = r.uint()
    assert scope & 0x10 and not scope & 0x20
    bss = r.uint() if scope & 0x40 else 0
    relocations, at = [], None
    while (op := r.byte()) != 0xFF:
        if op & 1:
            address = r.uint()
            assert not address & 1, "relocations in text only"
            at = address >> 1
        op >>= 1
        n = 1
        if op <= 5:
            if op & 1:
                n = r.uint()
            op >>= 1
        else:
            op = op + 100  # 106 qstr table, 107 obj table, 108 mp_fun_table, 109+ its entries
        for _ in range(n):
            relocations.append((at, op))
            at += 1
    assert r.pos == len(blob), "bytes after the relocations"
    return LoadedMpy(flags >> 2, qstrs, constants, text, bss, relocations)


def relocated_text(loaded: LoadedMpy, word: int) -> bytes:
    """The text as mp_native_relocate leaves it with text at TEXT_BASE and BSS at BSS_BASE."""
    text = bytearray(loaded.text)
    bases = {0: TEXT_BASE, 2: BSS_BASE}
    for index, dest in loaded.relocations:
        base = bases.get(dest, UNMAPPED_TABLES + dest * 0x1000)
        at = index * word
        value = int.from_bytes(text[at:at + word], "little") + base
        text[at:at + word] = (value & ((1 << 8 * word) - 1)).to_bytes(word, "little")
    return bytes(text)


CPU_MODELS = {"armv6m": arm_const.UC_CPU_ARM_CORTEX_M0, "armv7m": arm_const.UC_CPU_ARM_CORTEX_M3,
              "armv7emsp": arm_const.UC_CPU_ARM_CORTEX_M4, "armv7emdp": arm_const.UC_CPU_ARM_CORTEX_M7}


def _decoder(arch: str) -> capstone.Cs:
    if arch == "x64":
        return capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    if arch.startswith("arm"):
        return capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    return capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV32 | capstone.CS_MODE_RISCVC)


def _page(n: int) -> int:
    return max(0x1000, (n + 0xFFF) & ~0xFFF)


def call(blob: bytes, arch: str, function: int, input_bytes: bytes, output_bytes: int) -> tuple[bytes, int]:
    """Run function(input, output) of the module loaded from blob; returns the output and instructions run."""
    word = 8 if arch == "x64" else 4
    loaded = parse(blob)
    if arch == "x64":
        uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_64)
    elif arch.startswith("arm"):
        uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
        uc.ctl_set_cpu_model(CPU_MODELS[arch])
    else:
        uc = unicorn.Uc(unicorn.UC_ARCH_RISCV, unicorn.UC_MODE_RISCV32)
    uc.mem_map(TEXT_BASE, _page(len(loaded.text)))
    uc.mem_write(TEXT_BASE, relocated_text(loaded, word))
    uc.mem_map(BSS_BASE, _page(loaded.bss_bytes))
    uc.mem_map(STACK_TOP - 0x10000, 0x10000)
    uc.mem_map(IO_BASE, _page(len(input_bytes) + output_bytes + 64))
    uc.mem_map(TRAP, 0x1000)
    out_at = IO_BASE + ((len(input_bytes) + 31) & ~15)
    uc.mem_write(IO_BASE, input_bytes)
    count = [0]
    decoder = _decoder(arch)
    lengths: dict[tuple[int, int], int] = {}  # block (address, size) -> instructions in it

    def on_block(_uc, address, size, _data):
        key = (address, size)
        if key not in lengths:
            code = bytes(uc.mem_read(address, size))
            lengths[key] = sum(1 for _ in decoder.disasm_lite(code, address))
        count[0] += lengths[key]

    uc.hook_add(unicorn.UC_HOOK_BLOCK, on_block)
    start = TEXT_BASE + function
    if arch == "x64":
        sp = STACK_TOP - 0x100
        uc.mem_write(sp, TRAP.to_bytes(8, "little"))
        for reg, value in ((x86_const.UC_X86_REG_RDI, IO_BASE), (x86_const.UC_X86_REG_RSI, out_at),
                           (x86_const.UC_X86_REG_RSP, sp)):
            uc.reg_write(reg, value)
    elif arch.startswith("arm"):
        for reg, value in ((arm_const.UC_ARM_REG_R0, IO_BASE), (arm_const.UC_ARM_REG_R1, out_at),
                           (arm_const.UC_ARM_REG_SP, STACK_TOP - 0x100), (arm_const.UC_ARM_REG_LR, TRAP | 1)):
            uc.reg_write(reg, value)
        start |= 1
    else:
        for reg, value in ((riscv_const.UC_RISCV_REG_A0, IO_BASE), (riscv_const.UC_RISCV_REG_A1, out_at),
                           (riscv_const.UC_RISCV_REG_SP, STACK_TOP - 0x100), (riscv_const.UC_RISCV_REG_RA, TRAP)):
            uc.reg_write(reg, value)
    try:
        uc.emu_start(start, TRAP, count=500_000_000)
    except unicorn.UcError as exc:
        pc = uc.reg_read(x86_const.UC_X86_REG_RIP if arch == "x64" else arm_const.UC_ARM_REG_PC
                         if arch.startswith("arm") else riscv_const.UC_RISCV_REG_PC)
        raise TinyEdgeError(f"the {arch} module faulted in the built-in emulator at text offset "
                            f"0x{pc - TEXT_BASE:x}: {exc}") from None
    return bytes(uc.mem_read(out_at, output_bytes)), count[0]
