"""The QEMU backend agrees with the built-in emulator on every instruction count, and faults.

Real tinyedge firmware of a small model runs on every QEMU machine tinyedge uses: the shipped
boards QEMU can hold (nrf52840 on mps2-an386, stm32f4-discovery on netduinoplus2), and board
files derived from shipped ones with their memory moved to where QEMU's Cortex-M7, Cortex-M33
and RV32 machines have memory (no shipped board fits those). Skipped without QEMU, or with a
QEMU whose plugin API version the plugin is not written for.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from tinyedge.boards import Board, load_board
from tinyedge.codegen import CompiledModel
from tinyedge.errors import TinyEdgeError
from tinyedge.pipeline import build, compile_tflite
from tinyedge.simulate import qemu, simulate
from tinyedge.simulate.firmware_image import load_image
from tinyedge.verify import random_samples, verify


def _unsupported_qemu() -> str | None:
    """Why the installed QEMU cannot load the plugin (a plugin API version it is not written for), or None."""
    if not qemu.available():
        return None
    try:
        return qemu.unsupported()
    except TinyEdgeError as error:  # a QEMU built without TCG plugins
        return str(error)


_UNSUPPORTED = _unsupported_qemu()
pytestmark = [
    pytest.mark.skipif(not qemu.available(),
                       reason="QEMU is not installed (sudo apt-get install qemu-system-arm qemu-system-misc)"),
    pytest.mark.skipif(_UNSUPPORTED is not None, reason=_UNSUPPORTED or ""),
]

# Board files derived from shipped ones: name -> (shipped board, memories, line replacements).
# The RV32 one reads no cycle counter: QEMU's mcycle follows the host clock, so the digits the
# firmware prints (outside the inference) would differ between emulators.
_DERIVED = {
    "m7-at-zero": ("stm32f746g-disco", [("flash", 0x0000_0000, 0x10_0000, "flash"),
                                        ("sram", 0x2000_0000, 0x5_0000, "ram")], {}),
    "m33-secure-alias": ("stm32l552", [("flash", 0x1000_0000, 0x8_0000, "flash"),
                                       ("sram", 0x3800_0000, 0x4_0000, "ram")], {}),
    "rv32-at-dram": ("esp32c3", [("irom", 0x8000_0000, 0x40_0000, "flash"),
                                 ("dram", 0x8040_0000, 0x6_0000, "ram")],
                     {'cycle_counter = "mcycle"': 'cycle_counter = "none"'}),
}
# The STM32L552's clock registers are not on the MPS2 AN505 (an access there is a bus fault), so
# its derived board leaves [setup] out; the others run theirs, whose waits give up in QEMU.
_WITHOUT_SETUP = {"m33-secure-alias"}
MACHINE_OF = {"nrf52840": "mps2-an386", "stm32f4-discovery": "netduinoplus2", "m7-at-zero": "mps2-an500",
              "m33-secure-alias": "mps2-an505", "rv32-at-dram": "virt"}


def _derived_board(name: str, folder: Path) -> Board:
    """A shipped board file with its [[memory]] tables replaced (and a few lines rewritten)."""
    shipped, memories, replacements = _DERIVED[name]
    text = load_board(shipped).path.read_text()
    head, rest = text.split("[[memory]]", 1)
    tail = rest[rest.index("[layout]"):]
    tables = "".join(f'[[memory]]\nname = "{n}"\norigin = 0x{o:08x}\nlength = 0x{size:x}\nkind = "{kind}"\n\n'
                     for n, o, size, kind in memories)
    text = head.replace(f'name = "{shipped}"', f'name = "{name}"') + tables + tail
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    if name in _WITHOUT_SETUP:
        text = "\n\n".join(p for p in text.split("\n\n")
                             if not any(line.startswith(("[setup]", "[[setup.init]]")) for line in p.splitlines()))
    path = folder / f"{name}.toml"
    path.write_text(text)
    return load_board(path)


@dataclass(frozen=True)
class Built:
    model: CompiledModel
    board: Board
    elf: Path


@pytest.fixture(scope="module")
def firmware_for(tiny_kws_tflite, tmp_path_factory) -> Callable[[str], Built]:
    """The small model's firmware for a board name (shipped or _DERIVED), built once per module."""
    built: dict[str, Built] = {}

    def get(board_name: str) -> Built:
        if board_name not in built:
            folder = tmp_path_factory.mktemp(board_name)
            board = _derived_board(board_name, folder) if board_name in _DERIVED else load_board(board_name)
            if shutil.which(qemu.machine_for(board).binary) is None:
                pytest.skip(f"{qemu.machine_for(board).binary} is not installed")
            model = compile_tflite(tiny_kws_tflite)
            built[board_name] = Built(model, board, build(model, board, folder / "fw").elf)
        return built[board_name]

    return get


@pytest.mark.parametrize("board_name", list(MACHINE_OF))
def test_qemu_and_builtin_agree_on_every_count_of_real_firmware(tiny_kws_tflite, firmware_for, board_name):
    built = firmware_for(board_name)
    model, board, elf = built.model, built.board, built.elf
    inputs = random_samples(model, 3, seed=11)
    assert qemu.machine_for(board, load_image(elf)).name == MACHINE_OF[board_name]

    in_qemu = qemu.simulate(elf, board, inputs, expected_layers=len(model.layers))
    builtin = simulate(elf, board, inputs, expected_layers=len(model.layers))

    assert in_qemu.outputs == builtin.outputs
    assert verify(tiny_kws_tflite.read_bytes(), model, inputs, list(in_qemu.outputs)).bit_exact
    assert in_qemu.instructions == builtin.instructions
    assert [[layer.instructions for layer in s.layers] for s in in_qemu.samples] == \
        [[layer.instructions for layer in s.layers] for s in builtin.samples]
    # QEMU's plugin does not trace data reads: its cycles are the instruction table's alone, the
    # built-in emulator's the same plus the memory stalls its memory model simulates.
    assert [(s.cycles, [layer.cycles for layer in s.layers]) for s in in_qemu.samples] == \
        [(s.cycles - s.stall_cycles, [layer.cycles - layer.stall_cycles for layer in s.layers])
         for s in builtin.samples]
    assert all(s.stall_cycles == 0 for s in in_qemu.samples)
    waits = sum(step.wait is not None for step in board.setup.init) if board.setup is not None else 0
    if waits:  # QEMU's machines have no clock model: the start-up's waits give up after 2^20 polls each
        assert builtin.total_instructions + 3 * 2**20 < in_qemu.total_instructions < \
            builtin.total_instructions + waits * 8 * 2**20
    else:
        assert in_qemu.total_instructions == builtin.total_instructions
    assert in_qemu.stack_bytes == builtin.stack_bytes
    assert "memory stalls NOT included" in in_qemu.cycle_model
    assert in_qemu.cycle_model.split("; memory")[0] == builtin.cycle_model.split("; memory")[0]
    assert in_qemu.console == builtin.console
    assert len(model.layers) == len(in_qemu.layers) and all(layer.instructions > 0 for layer in in_qemu.layers)


@pytest.mark.parametrize(("board_name", "why"), [
    ("rp2040", r"no QEMU machine has a cortex-m0plus core"),
    ("stm32f746g-disco", r"flash 0x08000000\+1024 KB.*outside the memory of every QEMU machine with a cortex-m7 "
                         r"core \(mps2-an500"),
    ("stm32l552", r"outside the memory of every QEMU machine with a cortex-m33 core \(mps2-an505"),
    ("esp32c3", r"irom 0x42000000.*outside the memory of every QEMU machine with a rv32imc core \(virt"),
])
def test_boards_without_a_qemu_machine_are_refused_with_the_reason(board_name, why):
    with pytest.raises(TinyEdgeError, match=why) as info:
        qemu.machine_for(load_board(board_name))
    assert str(info.value).endswith("use --backend builtin")


def _patched(elf: Path, symbol: str, code: bytes, out: Path) -> Path:
    """A copy of the ELF with `code` written over the first bytes of function `symbol`."""
    address = load_image(elf).require_symbol(symbol)
    with open(elf, "rb") as stream:
        section = next(s for s in ELFFile(stream).iter_sections()
                       if s["sh_type"] == "SHT_PROGBITS" and s["sh_addr"] <= address < s["sh_addr"] + s["sh_size"])
        offset = section["sh_offset"] + address - section["sh_addr"]
    data = bytearray(elf.read_bytes())
    data[offset:offset + len(code)] = code
    out.write_bytes(data)
    return out


def test_real_firmware_fault_is_reported_by_its_own_handler_in_qemu(firmware_for, tmp_path):
    """UDF at te_inference_begin: tinyedge's fault handler prints the stacked PC and CFSR, and
    both emulators name the same instruction."""
    built = firmware_for("nrf52840")
    elf = _patched(built.elf, "te_inference_begin", bytes.fromhex("00de"), tmp_path / "udf.elf")  # udf #0
    pc = load_image(elf).require_symbol("te_inference_begin")
    inputs = random_samples(built.model, 1, seed=1)
    with pytest.raises(TinyEdgeError, match=rf"firmware fault: HardFault at PC 0x{pc:08x} in te_inference_begin "
                                            r"\(CFSR 0x00010000: UNDEFINSTR \(undefined instruction\)\)"):
        qemu.simulate(elf, built.board, inputs)
    with pytest.raises(TinyEdgeError, match=rf"invalid instruction at PC 0x{pc:08x} in te_inference_begin"):
        simulate(elf, built.board, inputs)


def test_skipped_it_block_instructions_count_as_issued(thumb_program, m4_board):
    # ITE and ITTTT blocks whose condition skips three of six instructions: 11 + 2 in the frame.
    elf = thumb_program("""
    movs r0, #1
    cmp r0, #1
    ite ne
    movne r1, #5
    moveq r1, #6
    itttt ne
    addne r1, r1, #1
    addne r1, r1, #1
    addne r1, r1, #1
    addne r1, r1, #1
    adds r2, r1, #0
""")
    assert qemu.simulate(elf, m4_board, [b""]).instructions == simulate(elf, m4_board, [b""]).instructions == (13,)


def test_fpu_used_before_cpacr_enables_it_faults_in_qemu(thumb_program, m4_board):
    """The core faults (NOCP, escalated to HardFault): QEMU names the handler and where it came from.

    (Unicorn starts its cores with the FPU enabled, so the built-in emulator runs this program.)
    """
    elf = thumb_program("""
fpu_block:
    ldr r0, =0x3f800000
    vmov s0, r0
    vadd.f32 s1, s0, s0
""")
    image = load_image(elf)
    block = re.escape(image.function_at(image.require_symbol("fpu_block")))
    with pytest.raises(TinyEdgeError, match=rf"firmware fault: the HardFault handler \(hardfault_handler\) was "
                                            rf"reached from the block at PC 0x[0-9a-f]+ in {block}; the handler "
                                            r"ran 100,000 instructions without reporting the fault"):
        qemu.simulate(elf, m4_board, [b""])  # the handler spins (`b .`): stopped long before the budget


def test_fault_that_cannot_escalate_locks_the_core_up(thumb_program, m4_board):
    """With FAULTMASK set, an undefined instruction cannot become a HardFault: QEMU stops the core
    (its lockup is fatal) and both emulators name the instruction."""
    elf = thumb_program("    cpsid f\nlocked:\n    udf #0")
    at = rf"PC 0x{load_image(elf).require_symbol('locked'):08x} in reset\+0x"
    with pytest.raises(TinyEdgeError, match=rf"firmware fault: QEMU stopped the core at {at}.*: Lockup"):
        qemu.simulate(elf, m4_board, [b""])
    with pytest.raises(TinyEdgeError, match=rf"invalid instruction at {at}"):
        simulate(elf, m4_board, [b""])


def test_halted_core_ends_the_run(thumb_program, m4_board):
    elf = thumb_program("1:  wfi\n    b 1b")
    with pytest.raises(TinyEdgeError, match=r"firmware stopped: the core halted .* in reset"):
        qemu.simulate(elf, m4_board, [b""])


def test_endless_loop_stops_at_the_budget(thumb_program, m4_board):
    elf = thumb_program("1:  b 1b")
    with pytest.raises(TinyEdgeError, match=r"firmware hang: more than 50,000 instructions .* in reset"):
        qemu.simulate(elf, m4_board, [b""], budget=50_000)


def test_guest_speed_and_counter_are_reported(thumb_program, m4_board):
    result = qemu.simulate(thumb_program("    movs r0, #1"), m4_board, [b""])
    assert result.counter == "qemu mps2-an386 + tinyedge plugin"
    assert result.guest_mips > 0 and result.wall_seconds >= result.startup_seconds > 0


# ---------------------------------------------------------------------------- plugin API versions

def _declared_api(library: Path) -> int:
    """The qemu_plugin_version a compiled plugin declares, read from its ELF."""
    with library.open("rb") as stream:
        elf = ELFFile(stream)
        (symbol,) = elf.get_section_by_name(".dynsym").get_symbol_by_name("qemu_plugin_version")
        address = symbol["st_value"]
        section = next(s for s in elf.iter_sections()
                       if s["sh_addr"] <= address < s["sh_addr"] + s["sh_size"] and s["sh_type"] == "SHT_PROGBITS")
        offset = address - section["sh_addr"]
        return int.from_bytes(section.data()[offset:offset + 4], "little")


@pytest.mark.parametrize("api", list(qemu.PLUGIN_APIS))
def test_plugin_builds_warning_free_for_every_supported_api_and_declares_it(api):
    assert _declared_api(qemu._compile_plugin(api)) == api


def test_installed_qemu_reports_its_plugin_api_and_the_plugin_is_built_for_it():
    binary = shutil.which("qemu-system-arm")
    version = re.search(r"version (\d+)\.(\d+)", subprocess.run([binary, "--version"], capture_output=True,
                                                                  text=True).stdout)
    api = qemu.plugin_api(binary)
    if (int(version[1]), int(version[2])) < (9, 0):
        assert api == 1  # QEMU before 9.0 implements plugin API version 1 only
    assert _declared_api(qemu.compiled_plugin(binary)) == api


def _fake_qemu(folder: Path, stderr: str) -> str:
    script = folder / "qemu-system-arm"
    script.write_text(f"#!/bin/sh\necho {shlex.quote(stderr)} >&2\nexit 1\n")
    script.chmod(0o755)
    return str(script)


def test_plugin_api_is_read_from_qemus_refusal_of_a_too_new_plugin(tmp_path):
    fake = _fake_qemu(tmp_path, "qemu-system-arm: Could not load plugin p.so: plugin requires API version 999999, "
                                "but this QEMU supports only up to version 4")
    assert qemu.plugin_api(fake) == 4
    assert _declared_api(qemu.compiled_plugin(fake)) == 4


def test_qemu_without_plugins_is_one_line(tmp_path):
    fake = _fake_qemu(tmp_path, "qemu-system-arm: -plugin p.so: invalid option")
    with pytest.raises(TinyEdgeError, match=r"^cannot tell which plugin API version .* \(built without TCG "
                                            r"plugins\?\): qemu-system-arm: -plugin p.so: invalid option$"):
        qemu.plugin_api(fake)


def test_qemu_with_a_newer_plugin_api_is_refused_with_the_reason(tmp_path, thumb_program, m4_board, monkeypatch):
    fake = _fake_qemu(tmp_path, "qemu-system-arm: Could not load plugin p.so: plugin requires API version 999999, "
                                "but this QEMU supports only up to version 6")
    reason = (r"^qemu-system-arm implements QEMU plugin API version 6, which tinyedge's plugin is not written for "
              r"\(versions 1 to 5\); use --backend builtin, or a QEMU with one of those$")
    with pytest.raises(TinyEdgeError, match=reason):
        qemu.compiled_plugin(fake)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    assert re.match(reason, qemu.unsupported())
    with pytest.raises(TinyEdgeError, match=reason):
        qemu.simulate(thumb_program("    movs r0, #1"), m4_board, [b""])
