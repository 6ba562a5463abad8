"""ESP32-C6 (RV32IMAC HP core): the board file, its core across the emulator's tables, a tiny model end to end
in the built-in emulator, the ELF's instruction set, and the ESP-IDF project."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
import unicorn
from elftools.elf.elffile import ELFFile

from tinyedge.boards import load_board
from tinyedge.errors import TinyEdgeError
from tinyedge.espidf import PROJECT_FILE, add_arguments, run
from tinyedge.pipeline import CompileResult, compile_model
from tinyedge.simulate import qemu
from tinyedge.simulate.cycle_model import CycleModel, core_timing
from tinyedge.simulate.firmware_image import ARCH_RISCV, disassembler
from tinyedge.simulate.target import core_spec, cpu_model

EF_RISCV_RVC = 0x1  # ELF e_flags bit: the file contains compressed instructions
SHF_EXECINSTR = 0x4


@pytest.fixture(scope="module")
def compiled(tmp_path_factory, tiny_kws_tflite: Path) -> CompileResult:
    return compile_model(tiny_kws_tflite, "esp32c6", tmp_path_factory.mktemp("esp32c6") / "out", samples=2)


def test_board_has_the_c6_memory_map_core_and_sourced_figures():
    board = load_board("esp32c6")
    assert (board.core, board.family, board.clock_hz, board.emulated) == ("rv32imac", "riscv", 160_000_000, True)
    code, data = board.code_region, board.data_region
    assert (code.origin, code.kind) == (0x4200_0000, "flash")  # SOC_IROM_LOW = SOC_DROM_LOW
    assert (data.origin, data.end, data.kind) == (0x4080_0000, 0x4088_0000, "ram")  # SOC_DRAM_LOW..HIGH, 512 KB
    assert board.fetch_wait_states == 0  # behind the 32 KB cache
    assert board.power is not None
    for figure in (board.power.supply, board.power.active, board.power.sleep):
        assert "ESP32-C6" in figure.source
    assert board.flashing is not None and board.flashing.esptool_chip == "esp32c6"
    assert board.console is None  # ESP32 chips print from the ESP-IDF app
    assert board.compiler.cflags[:2] == ("-march=rv32imac", "-mabi=ilp32")


def test_rv32imac_runs_on_unicorns_rv32imac_model_with_its_own_labelled_timing_table():
    board = load_board("esp32c6")
    spec = core_spec("rv32imac")
    assert spec.arch == ARCH_RISCV
    assert cpu_model(board, spec) == spec.cpu_model == unicorn.riscv_const.UC_CPU_RISCV32_SIFIVE_E31
    timing = core_timing("esp32c6")  # the board name is an alias of the core's table
    assert timing.core == "rv32imac" and "ESP32-C6" in timing.title
    assert "approximation" in timing.table and "rv32imc" in timing.table  # says where its rows come from
    assert "atomic" in timing.costs and "atomic" not in core_timing("rv32imc").costs


def test_atomics_are_priced_on_rv32imac_and_refused_on_rv32imc():
    amoadd_w = bytes.fromhex("2f25b600")  # amoadd.w a0, a1, (a2)
    insns = list(disassembler(ARCH_RISCV).disasm(amoadd_w, 0))
    assert [i.insn_name() for i in insns] == ["amoadd.w"]
    model = CycleModel(core_timing("rv32imac"), ARCH_RISCV, 0, ())
    assert model.instructions_cost(insns) == core_timing("rv32imac").costs["atomic"].cycles
    with pytest.raises(TinyEdgeError, match="no 'atomic' class for 'amoadd.w"):
        CycleModel(core_timing("rv32imc"), ARCH_RISCV, 0, ()).instructions_cost(insns)


def test_qemu_refuses_the_board_naming_its_memory_and_the_rv32imac_machine():
    with pytest.raises(TinyEdgeError, match=r"irom 0x42000000.*every QEMU machine with a rv32imac core \(virt"):
        qemu.check_board(load_board("esp32c6"))


def test_tiny_model_runs_bit_exact_in_the_emulator_with_the_c6_figures(compiled: CompileResult):
    report = json.loads((compiled.out_dir / "report.json").read_text())
    assert report["verification"]["bit_exact"] is True and report["verification"]["samples"] == 2
    sim = report["simulation"]
    assert sim["instructions"] > 10_000 and sim["cycles"] >= sim["instructions"]
    assert "RV32IMAC (ESP32-C6 HP core)" in sim["cycle_model"] and "approximation" in sim["cycle_model"]
    assert sim["latency_ms"] == pytest.approx(sim["cycles"] / 160e6 * 1000)
    assert sim["energy_uj"] == pytest.approx(sim["latency_ms"] * 27.0 * 3.3)
    assert report["memory"]["ram_available"] == 512 * 1024


def test_elf_is_rv32imac_code_with_compressed_instructions_and_no_atomics(compiled: CompileResult):
    assert compiled.elf is not None
    with compiled.elf.open("rb") as stream:
        elf = ELFFile(stream)
        assert elf.header.e_flags & EF_RISCV_RVC
        attributes = elf.get_section_by_name(".riscv.attributes").data().decode("ascii", "replace")
        assert re.search(r"rv32i\d+p\d+_m\d+p\d+_a\d+p\d+_c\d+p\d+", attributes), attributes
        names = _function_instructions(elf)
    assert any(name.startswith("c.") for name in names)  # compressed code as built
    assert not [name for name in names if name.startswith(("amo", "lr.", "sc."))]  # atomic-free kernels


def _function_instructions(elf: ELFFile) -> set[str]:
    """Every instruction name in the ELF's functions (by symbol, so constants in flash are not decoded)."""
    md = disassembler(ARCH_RISCV)
    sections = [s for s in elf.iter_sections() if s["sh_flags"] & SHF_EXECINSTR]
    names: set[str] = set()
    functions = [s for s in elf.get_section_by_name(".symtab").iter_symbols()
                 if s["st_info"]["type"] == "STT_FUNC" and s["st_size"]]
    assert functions
    for symbol in functions:
        address, size = symbol["st_value"], symbol["st_size"]
        section = next(s for s in sections if s["sh_addr"] <= address < s["sh_addr"] + s["sh_size"])
        start = address - section["sh_addr"]
        code = section.data()[start:start + size]
        insns = list(md.disasm(code, address))
        assert sum(insn.size for insn in insns) == size, symbol.name  # the whole function decoded
        names.update(insn.insn_name() for insn in insns)
    return names


def test_espidf_renders_an_esp32c6_project(tiny_kws_tflite: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out = tmp_path / "idf"
    assert run(parser.parse_args([str(tiny_kws_tflite), "--board", "esp32c6", "-o", str(out), "--no-build"])) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}: ESP-IDF project for esp32c6, 1 sample(s)")
    sdkconfig = (out / "sdkconfig.defaults").read_text().splitlines()
    for line in ('CONFIG_IDF_TARGET="esp32c6"', "CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_160=y",
                 "CONFIG_ESPTOOLPY_FLASHSIZE_8MB=y"):
        assert line in sdkconfig
    meta = json.loads((out / PROJECT_FILE).read_text())
    assert (meta["board"], meta["target"]) == ("esp32c6", "esp32c6")
    assert len(meta["expected_checksums"]) == 1
