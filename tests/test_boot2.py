"""tinyedge's RP2040 boot2 (firmware/boot/, tinyedge/boot2.py): checksum, image, project source, and a run.

No RP2040 is available to these tests. The run tests execute the real boot2 bytes in Unicorn
(ARMv6-M, Cortex-M0 model) against a stand-in for the boot ROM's documented interface (RP2040
Datasheet 2.8.3: a 16-bit pointer to the function table at 0x14, a 16-bit pointer to
rom_table_lookup at 0x18, table entries of a two-character code and a 16-bit Thumb address).
They prove the control flow against that interface: which ROM routines boot2 looks up and
calls, in which order, that it leaves the XIP window alone until XIP is set up, and how it
starts the application. They do not prove that the SSI or the flash chip end up configured;
that is the ROM routines' job and needs hardware.
"""

from __future__ import annotations

import binascii
import random
import shutil
import subprocess
from dataclasses import dataclass, field

import jinja2
import pytest
import unicorn
from unicorn.arm_const import UC_ARM_REG_LR, UC_ARM_REG_PC, UC_ARM_REG_R0, UC_ARM_REG_R1, UC_ARM_REG_SP

from tinyedge import boot2
from tinyedge.boards import load_board
from tinyedge.boot2 import crc32_mpeg2
from tinyedge.build import _template_context, toolchain
from tinyedge.errors import TinyEdgeError
from tinyedge.resources import templates_dir

pytestmark = pytest.mark.skipif(shutil.which(boot2.CC) is None, reason=f"{boot2.CC} is not installed")

# Addresses the boot ROM and the chip fix (RP2040 Datasheet 2.8).
BOOT2_RUN_ADDRESS = 0x2004_1F00  # where the boot ROM copies boot2 and jumps
ROM_STACK = BOOT2_RUN_ADDRESS - 0x40  # the ROM's stack top is just below boot2; a few frames used
XIP_BASE = 0x1000_0000
APP_VECTORS = XIP_BASE + 0x100
VTOR = 0xE000_ED08

# The stand-in ROM: its own layout, the datasheet's interface.
ROM_SIZE = 0x4000
FUNC_TABLE = 0x0100
LOOKUP = 0x0200
STUBS = 0x0300
THUMB_BX_LR = 0x4770
THUMB_BRANCH_TO_SELF = 0xE7FE
# Every flash routine the function table lists, plus ones boot2 must never call (erase, program).
ROM_FUNCTIONS = ("MS", "IF", "EX", "RE", "RP", "FC", "CX", "EC")
FLASH_BOOT_ORDER = ["IF", "EX", "FC", "CX"]  # connect, exit XIP, flush cache, enter 03h-read XIP

APP_STACK = 0x2003_F800
APP_RESET = XIP_BASE + 0x200


def _code(name: str) -> int:
    return ord(name[0]) | ord(name[1]) << 8


def _reverse32(value: int) -> int:
    return int(f"{value:032b}"[::-1], 2)


def test_crc32_mpeg2_gives_the_catalogue_check_value() -> None:
    assert boot2.crc32_mpeg2(b"123456789") == 0x0376E6E7
    assert boot2.crc32_mpeg2(b"") == 0xFFFFFFFF  # initial value, no final XOR


def test_crc32_mpeg2_is_the_bit_mirror_of_zlib_crc32() -> None:
    """CRC-32/MPEG-2 is zlib's reflected CRC-32 run on bit-reversed bytes, mirrored, without its final XOR."""
    rng = random.Random(7)
    for length in (1, 4, 252, 1000):
        data = bytes(rng.randrange(256) for _ in range(length))
        mirrored = bytes(int(f"{b:08b}"[::-1], 2) for b in data)
        assert boot2.crc32_mpeg2(data) == _reverse32(binascii.crc32(mirrored) ^ 0xFFFFFFFF)


def test_boot2_image_is_256_bytes_ending_in_the_crc_the_boot_rom_checks() -> None:
    image = boot2.boot2_image()
    assert len(image) == 256
    stored = int.from_bytes(image[252:], "little")
    assert stored == boot2.crc32_mpeg2(image[:252])
    assert stored == crc32_mpeg2(image[:252])  # the flash stage's check accepts it
    assert any(image[:252])


def test_boot2_image_is_reused_from_the_cache_when_nothing_changed(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TINYEDGE_CACHE", str(tmp_path))
    first = boot2.boot2_image()
    stored = list((tmp_path / "boot2").iterdir())
    assert len(stored) == 1 and stored[0].suffix == ".bin" and stored[0].read_bytes() == first

    def no_compile(*_args: object) -> bytes:
        raise AssertionError("boot2 was compiled again although its sources did not change")

    monkeypatch.setattr(boot2, "_compile", no_compile)
    assert boot2.boot2_image() == first


def test_missing_cross_compiler_is_one_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(boot2, "CC", "tinyedge-no-such-gcc")
    with pytest.raises(TinyEdgeError, match=r"needs tinyedge-no-such-gcc, which is not on PATH: .*apt-get install"):
        boot2.boot2_image()


def test_boot2_code_over_252_bytes_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TINYEDGE_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "big_boot2.c"
    source.write_text("#include <stdint.h>\n"
                      "static const volatile uint32_t table[64] = {1u};\n"
                      '__attribute__((section(".entry"), used)) uint32_t te_boot2_entry(void) { return table[3]; }\n')
    with pytest.raises(TinyEdgeError, match="does not fit in the 252 bytes"):
        boot2.boot2_image(source)


def test_checksummed_pads_to_252_bytes_and_refuses_more() -> None:
    image = boot2.checksummed(b"\x01\x02")
    assert image[:2] == b"\x01\x02" and not any(image[2:252])
    assert int.from_bytes(image[252:], "little") == boot2.crc32_mpeg2(image[:252])
    with pytest.raises(TinyEdgeError, match="must fit in 252"):
        boot2.checksummed(bytes(253))


def test_boot2_source_compiles_to_the_image_in_section_boot2(tmp_path) -> None:
    name = boot2.write_boot2_source(tmp_path)
    text = (tmp_path / name).read_text()
    assert name == "boot2.c"
    assert "firmware/boot/rp2040_boot2.c" in text  # says what generated it
    obj = tmp_path / "boot2.o"
    flags = [*load_board("rp2040").compiler.cflags, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror",
             "-ffunction-sections", "-fdata-sections", "-ffreestanding"]
    subprocess.run([boot2.CC, *flags, "-c", str(tmp_path / name), "-o", str(obj)], check=True)
    raw = tmp_path / "boot2.bin"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "-j", ".boot2", str(obj), str(raw)], check=True)
    assert raw.read_bytes() == boot2.boot2_image()


def test_rp2040_linker_script_puts_boot2_first_and_the_vectors_after_it(tmp_path) -> None:
    board = load_board("rp2040")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "firmware")),
                             undefined=jinja2.StrictUndefined)
    (tmp_path / "linker.ld").write_text(env.get_template("linker.ld.j2").render(
        _template_context(board, toolchain(board), "")))
    boot2.write_boot2_source(tmp_path)
    (tmp_path / "app.c").write_text(
        "#include <stdint.h>\n"
        "void Reset_Handler(void) { for (;;) {} }\n"
        '__attribute__((section(".vectors"), used)) const uintptr_t te_vectors[2] = '
        "{0x20042000u, (uintptr_t)Reset_Handler};\n")
    elf = tmp_path / "fw.elf"
    subprocess.run([boot2.CC, *board.compiler.cflags, "-nostdlib", "-Tlinker.ld", "-Wl,--gc-sections",
                    "boot2.c", "app.c", "-o", str(elf)], cwd=tmp_path, check=True)
    flat = tmp_path / "fw.bin"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(flat)], check=True)
    data = flat.read_bytes()  # starts at the lowest load address, 0x10000000
    assert data[:256] == boot2.boot2_image()
    assert int.from_bytes(data[256:260], "little") == 0x20042000  # the vector table at 0x10000100


@dataclass
class RomLog:
    """What the stand-in ROM saw: lookups (table, code), calls by name, XIP reads before XIP was set up."""

    lookups: list[tuple[int, str]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    early_xip: list[int] = field(default_factory=list)


def _stand_in_rom() -> tuple[bytes, dict[int, str]]:
    rom = bytearray(ROM_SIZE)
    rom[0x10:0x14] = b"Mu\x01\x01"  # magic, table compatibility version, ROM version
    rom[0x14:0x16] = FUNC_TABLE.to_bytes(2, "little")
    rom[0x18:0x1A] = (LOOKUP | 1).to_bytes(2, "little")
    rom[LOOKUP:LOOKUP + 2] = THUMB_BX_LR.to_bytes(2, "little")  # the lookup itself is a hook, then returns
    stubs = {}
    for i, name in enumerate(ROM_FUNCTIONS):
        stub = STUBS + 2 * i
        stubs[stub] = name
        rom[stub:stub + 2] = THUMB_BX_LR.to_bytes(2, "little")
        entry = FUNC_TABLE + 4 * i
        rom[entry:entry + 4] = name.encode() + (stub | 1).to_bytes(2, "little")
    return bytes(rom), stubs  # the zero after the last entry ends the table


def _run_boot2(exit_pointer: int) -> tuple[unicorn.Uc, RomLog]:
    """Run boot2 as the boot ROM enters it: at 0x20041F00, exit pointer in LR; stop at the app or the exit."""
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(unicorn.arm_const.UC_CPU_ARM_CORTEX_M0)
    rom, stubs = _stand_in_rom()
    image = boot2.boot2_image()
    uc.mem_map(0, ROM_SIZE, unicorn.UC_PROT_READ | unicorn.UC_PROT_EXEC)
    uc.mem_write(0, rom)
    uc.mem_map(0x2000_0000, 0x4_2000)  # SRAM0-5
    uc.mem_write(BOOT2_RUN_ADDRESS, image)
    uc.mem_map(XIP_BASE, 0x1_0000, unicorn.UC_PROT_READ | unicorn.UC_PROT_EXEC)
    vectors = APP_STACK.to_bytes(4, "little") + (APP_RESET | 1).to_bytes(4, "little")
    uc.mem_write(XIP_BASE, image + vectors)
    uc.mem_write(APP_RESET, THUMB_BRANCH_TO_SELF.to_bytes(2, "little"))
    uc.mem_map(0xE000_0000, 0x10_0000)  # PPB, plain memory here
    if exit_pointer:
        uc.mem_write(exit_pointer & ~1, THUMB_BRANCH_TO_SELF.to_bytes(2, "little"))

    log = RomLog()

    def lookup(uc: unicorn.Uc, _address: int, _size: int, _data: object) -> None:
        table, code = uc.reg_read(UC_ARM_REG_R0), uc.reg_read(UC_ARM_REG_R1)
        log.lookups.append((table, code.to_bytes(2, "little").decode("latin-1")))
        found = 0
        while (entry := int.from_bytes(uc.mem_read(table, 2), "little")) != 0:
            if entry == code:
                found = int.from_bytes(uc.mem_read(table + 2, 2), "little")
                break
            table += 4
        uc.reg_write(UC_ARM_REG_R0, found)

    def rom_call(_uc: unicorn.Uc, address: int, _size: int, _data: object) -> None:
        log.calls.append(stubs[address])

    def xip_read(_uc: unicorn.Uc, _access: int, address: int, _size: int, _value: int, _data: object) -> None:
        if "CX" not in log.calls:
            log.early_xip.append(address)

    uc.hook_add(unicorn.UC_HOOK_CODE, lookup, begin=LOOKUP, end=LOOKUP)
    uc.hook_add(unicorn.UC_HOOK_CODE, rom_call, begin=STUBS, end=STUBS + 2 * len(ROM_FUNCTIONS) - 1)
    uc.hook_add(unicorn.UC_HOOK_MEM_READ, xip_read, begin=XIP_BASE, end=XIP_BASE + 0xFFFF)
    uc.reg_write(UC_ARM_REG_SP, ROM_STACK)
    uc.reg_write(UC_ARM_REG_LR, exit_pointer)
    stop = (exit_pointer & ~1) if exit_pointer else APP_RESET
    uc.emu_start(BOOT2_RUN_ADDRESS | 1, stop, count=2000)
    return uc, log


def test_boot2_run_from_the_boot_rom_sets_up_xip_and_starts_the_application() -> None:
    uc, log = _run_boot2(exit_pointer=0)  # the boot ROM passes a null exit pointer
    assert log.calls == FLASH_BOOT_ORDER
    assert log.lookups == [(FUNC_TABLE, name) for name in FLASH_BOOT_ORDER]
    assert log.early_xip == []  # no read of flash through XIP before flash_enter_cmd_xip
    assert int.from_bytes(uc.mem_read(VTOR, 4), "little") == APP_VECTORS
    assert uc.reg_read(UC_ARM_REG_SP) == APP_STACK
    assert uc.reg_read(UC_ARM_REG_PC) == APP_RESET


def test_boot2_called_with_an_exit_pointer_returns_there_with_xip_set_up() -> None:
    exit_pointer = 0x2000_0101  # Thumb address of a caller's continuation
    uc, log = _run_boot2(exit_pointer)
    assert log.calls == FLASH_BOOT_ORDER
    assert uc.reg_read(UC_ARM_REG_PC) == exit_pointer & ~1
    assert uc.reg_read(UC_ARM_REG_SP) == ROM_STACK  # its frame popped
    assert int.from_bytes(uc.mem_read(VTOR, 4), "little") == 0  # the application was not started
