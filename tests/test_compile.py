"""`tinyedge compile`: every emulated board builds and runs a small model bit-exact, with a full report."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from tinyedge.api import compile_model
from tinyedge.boards import load_board
from tinyedge.errors import TinyEdgeError
from tinyedge.pipeline import compile_tflite, verification_samples
from tinyedge.report import SCHEMA
from tinyedge.simulate import qemu
from tinyedge.verify import reference_outputs

EMULATED_BOARDS = ["nrf52840", "stm32f746g-disco", "stm32f4-discovery", "rp2040", "stm32l552", "esp32c3"]


@pytest.fixture(scope="module")
def small_model(tmp_path_factory, tiny_kws_tflite) -> Path:
    """The session's tiny keyword spotter (int8 .tflite) with calibration samples beside it."""
    folder = tmp_path_factory.mktemp("compile")
    path = folder / tiny_kws_tflite.name
    path.write_bytes(tiny_kws_tflite.read_bytes())
    np.save(folder / "calib.npy", np.random.default_rng(0).uniform(-1, 1, (20, 12, 8, 1)).astype(np.float32))
    return path


@pytest.mark.parametrize("board", EMULATED_BOARDS)
def test_compile_runs_bit_exact_in_the_emulator(small_model, tmp_path, board):
    result = compile_model(small_model, board, tmp_path / "out", calib=small_model.with_name("calib.npy"),
                           samples=3)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["schema"] == SCHEMA
    assert report["verification"]["bit_exact"] is True and report["verification"]["samples"] == 3
    sim = report["simulation"]
    assert sim["instructions"] > 10_000 and sim["cycles"] >= sim["instructions"] * 0.5
    clock = load_board(board).clock_hz
    assert sim["latency_ms"] == pytest.approx(sim["cycles"] / clock * 1000)
    assert [layer["op"] for layer in report["layers"]] == [layer.opcode for layer in result.model.layers]
    assert sum(layer["instructions"] for layer in report["layers"]) <= sim["instructions"]
    memory = report["memory"]
    assert memory["arena_bytes"] == result.model.plan.arena_bytes
    assert 0 < memory["stack_bytes"] < 4096
    assert memory["ram_bytes"] >= memory["arena_bytes"] + memory["stack_bytes"]
    assert memory["flash_bytes"] >= memory["weights_bytes"] > 0
    for name in ("model.tflite", "report.html", "Makefile", "CMakeLists.txt", "build/firmware.elf"):
        assert (tmp_path / "out" / name).is_file(), name
    assert (tmp_path / "out" / "build" / "firmware.bin").is_file() or board == "host"


def test_energy_is_latency_times_current_times_voltage(small_model, tmp_path):
    result = compile_model(small_model, "nrf52840", tmp_path / "out", samples=1, rate_hz=10)
    report, power = result.report, load_board("nrf52840").power
    assert power is not None
    expected = report.simulation.latency_ms * power.active.value * power.supply.value
    assert report.simulation.energy_uj == pytest.approx(expected)
    duty = report.simulation.latency_ms / 1000 * 10
    assert report.power.average_ua == pytest.approx(duty * power.active.value * 1000 + (1 - duty) * power.sleep.value)




def test_model_too_big_for_the_board_fails_with_the_numbers(small_model, tmp_path):
    """A board file with 4 KB of flash: the firmware cannot fit, and nothing is left behind."""
    source = load_board("nrf52840").path.read_text()
    tiny = source.replace("length = 0x0010_0000", "length = 0x0000_1000")
    assert tiny != source
    board_file = tmp_path / "tiny-nrf.toml"
    board_file.write_text(tiny.replace('name = "nrf52840"', 'name = "tiny-nrf"'))
    with pytest.raises(TinyEdgeError, match=r"does not fit .*flash .*\d+ B") as info:
        compile_model(small_model, str(board_file), tmp_path / "out")
    assert "4,096" in str(info.value) or "4096" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_report_html_is_self_contained(small_model, tmp_path):
    compile_model(small_model, "rp2040", tmp_path / "out", samples=1)
    html = (tmp_path / "out" / "report.html").read_text()
    assert "http://" not in html and "https://" not in html and "<script src" not in html
    assert "Cycles per layer" in html and "DEPTHWISE_CONV_2D" in html and "bit-exact" in html


def test_instruction_budget_is_checked(small_model, tmp_path):
    with pytest.raises(TinyEdgeError, match=r"over the budget of 1,000"):
        compile_model(small_model, "nrf52840", tmp_path / "out", samples=1, budget=1000)
    assert not (tmp_path / "out").exists()


def test_unknown_backend_lists_the_valid_ones(small_model, tmp_path):
    with pytest.raises(TinyEdgeError, match="builtin"):
        compile_model(small_model, "nrf52840", tmp_path / "out", backend="gem5")


def test_compile_writes_a_renode_suite_for_renode_boards(small_model, tmp_path):
    result = compile_model(small_model, "stm32f4-discovery", tmp_path / "out", samples=2)
    renode = tmp_path / "out" / "renode"
    suite = (renode / f"{result.model.graph.name}.robot").read_text()
    assert (renode / "stm32f4-discovery.resc").is_file()
    budget = 2 * result.report.simulation.instructions
    assert str(budget) in suite.replace(",", "") and "checksum" in suite


def test_qemu_backend_refuses_a_board_it_cannot_run_before_building(small_model, tmp_path):
    from tinyedge.simulate import backends

    if not backends.is_available("qemu"):
        pytest.skip("QEMU is not installed (scripts/setup.sh installs it)")
    with pytest.raises(TinyEdgeError, match="QEMU cannot run board rp2040"):
        compile_model(small_model, "rp2040", tmp_path / "out", backend="qemu")
    assert not (tmp_path / "out").exists()


def test_qemu_and_builtin_count_the_same_instructions(small_model, tmp_path):
    from tinyedge.simulate import backends

    if not backends.is_available("qemu"):
        pytest.skip("QEMU is not installed (scripts/setup.sh installs it)")
    builtin = compile_model(small_model, "nrf52840", tmp_path / "a", samples=2, backend="builtin").report
    qemu = compile_model(small_model, "nrf52840", tmp_path / "b", samples=2, backend="qemu").report
    assert qemu.verification.bit_exact and qemu.simulation.backend.startswith("qemu")
    assert qemu.simulation.instructions == builtin.simulation.instructions
    assert [layer.instructions for layer in qemu.layers] == [layer.instructions for layer in builtin.layers]


def test_compile_builds_the_uart_variant_bit_exact_with_its_checksums(small_model, tmp_path):
    out = tmp_path / "out"
    result = compile_model(small_model, "stm32f746g-disco", out, samples=2, console="uart")
    model = compile_tflite(small_model)
    inputs = verification_samples(model, None, 2)
    expected = reference_outputs(small_model.read_bytes(), model, inputs)

    assert result.report.verification.bit_exact and result.report.verification.samples == 2
    checksums = json.loads((out / "uart_samples.json").read_text())["checksums"]
    assert checksums == [f"{zlib.crc32(output):08x}" for output in expected]
    assert json.loads((out / "tinyedge_project.json").read_text())["console"] == "uart"
    assert not (out / "renode").exists()  # the Renode suite feeds input.bin through semihosting
    firmware = json.loads((out / "report.json").read_text())["firmware"]
    assert firmware["console"] == "uart" and firmware["cpu_clock_hz"] == 216_000_000  # [setup]: PLL, over-drive
    assert firmware["latency_ms_at_cpu_clock"] == pytest.approx(
        result.report.simulation.cycles / 216_000_000 * 1000)
    semihosting = compile_model(small_model, "stm32f746g-disco", tmp_path / "semihosting", samples=1)
    assert "firmware" not in semihosting.report.to_dict()


@pytest.mark.parametrize(("board", "backend", "message"), [
    ("nrf52840", "qemu", "qemu backend runs semihosting firmware only"),
    ("esp32", "auto", "--console uart is for bare-metal boards"),
    ("esp32c3", "auto", "board esp32c3 has no \\[console\\] UART"),
])
def test_the_uart_variant_is_refused_before_any_work_where_it_cannot_run(small_model, tmp_path, board, backend,
                                                                          message):
    if backend == "qemu" and not qemu.available():
        pytest.skip("QEMU is not installed")
    with pytest.raises(TinyEdgeError, match=message):
        compile_model(small_model, board, tmp_path / "out", backend=backend, console="uart")
    assert not (tmp_path / "out").exists()
