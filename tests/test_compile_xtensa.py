"""`tinyedge compile` for the Xtensa boards: ESP-IDF project, host check of the same C, an estimate labelled as one."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from tinyedge import espidf
from tinyedge.api import compile_model
from tinyedge.boards import load_board
from tinyedge.cli import main
from tinyedge.errors import TinyEdgeError
from tinyedge.estimate import estimate
from tinyedge.pipeline import compile_tflite, verification_samples
from tinyedge.report import SCHEMA, summary_table
from tinyedge.verify import reference_outputs
from tinyedge.xtensa import run_component_on_host

XTENSA_BOARDS = ["esp32", "esp32s3"]
COMPONENT = Path("components") / espidf.COMPONENT


@pytest.fixture(scope="module")
def small_model(tmp_path_factory, tiny_kws_tflite) -> Path:
    """The session's tiny keyword spotter (int8 .tflite) with calibration samples beside it."""
    folder = tmp_path_factory.mktemp("xtensa")
    path = folder / tiny_kws_tflite.name
    path.write_bytes(tiny_kws_tflite.read_bytes())
    np.save(folder / "calib.npy", np.random.default_rng(3).uniform(-1, 1, (10, 12, 8, 1)).astype(np.float32))
    return path


@pytest.fixture
def no_esp_idf(monkeypatch: pytest.MonkeyPatch) -> None:
    """ESP-IDF is not installed (whatever this machine has)."""
    monkeypatch.setattr(espidf, "idf_command", lambda: None)


def fake_idf(folder: Path, app_bin: Path | None = None, app_elf: Path | None = None, exit_code: int = 0) -> Path:
    """An idf.py on PATH that leaves the given app image and ELF in the build folder (`-B`), or fails."""
    folder.mkdir(parents=True)
    copies = "" if app_bin is None or app_elf is None else \
        f'cp "{app_bin}" "$4/tinyedge_app.bin" && cp "{app_elf}" "$4/tinyedge_app.elf"'
    script = folder / "idf.py"
    script.write_text(f"""#!/bin/sh
if [ {exit_code} -ne 0 ]; then echo "ninja: build stopped: subcommand failed." >&2; exit {exit_code}; fi
mkdir -p "$4" && touch "$4/flasher_args.json"
{copies}
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


@pytest.mark.parametrize("board", XTENSA_BOARDS)
def test_compile_reports_an_estimate_verified_on_a_host_build_of_the_same_sources(
        small_model: Path, tmp_path: Path, board: str, no_esp_idf: None) -> None:
    out = tmp_path / "out"
    result = compile_model(small_model, board, out, calib=small_model.with_name("calib.npy"), samples=3)
    report = json.loads((out / "report.json").read_text())
    assert report["schema"] == SCHEMA and "simulation" not in report and report["layers"] == []
    est, expected = report["estimate"], estimate(result.model, board)
    assert est["source"].startswith("analytical estimate") and "not a measurement" in est["source"]
    assert est["label"] == expected.label and "not a measurement" in est["label"]
    assert "estimate_xtensa.toml" in est["calibration"] and est["fitted_on"].startswith("esp32c3 (")
    assert (est["cycles"], est["instructions"], est["cycles_optimistic"]) == (
        expected.cycles, expected.instructions, expected.cycles_optimistic)
    assert est["cycles"] == sum(layer["cycles"] for layer in est["layers"]) > est["cycles_optimistic"] > 0
    assert est["latency_ms"] == pytest.approx(est["cycles"] / load_board(board).clock_hz * 1000)
    assert "set by the ESP-IDF project's sdkconfig.defaults" in report["board"]["clock_source"]
    assert [layer["op"] for layer in est["layers"]] == [layer.opcode for layer in result.model.layers]
    verification = report["verification"]
    assert verification["bit_exact"] is True and verification["samples"] == 3
    assert verification["method"].startswith("host build of the same sources")
    memory = report["memory"]
    assert memory["flash_bytes"] is None and memory["ram_bytes"] is None and "not built" in memory["note"]
    assert (memory["arena_bytes"], memory["weights_bytes"]) == (result.model.plan.arena_bytes,
                                                               result.model.weight_bytes)
    assert report["espidf"] == {"target": board, "project": ".", "built": False, "app_bin": None,
                                "note": "generated, not built: ESP-IDF is not installed here"}
    assert result.elf is None and result.contents == "ESP-IDF project (not built)"
    for name in ("CMakeLists.txt", "sdkconfig.defaults", "main/main.c", espidf.PROJECT_FILE,
                 f"{COMPONENT}/model/tinyedge_model.c", "report.html"):
        assert (out / name).is_file(), name
    html = (out / "report.html").read_text()
    assert "Estimate, not a measurement" in html and "Estimated cycles per layer" in html
    assert "exact," not in html and "http://" not in html
    summary = summary_table(result.report)
    assert "(estimate; optimistic bound" in summary and "analytical estimate (not measured)" in summary
    assert "(exact" not in summary and "host build of the same sources" in summary


def test_the_app_embeds_the_checksums_the_host_build_matched(small_model: Path, tmp_path: Path,
                                                              no_esp_idf: None) -> None:
    out = tmp_path / "out"
    result = compile_model(small_model, "esp32", out, samples=2)
    meta = json.loads((out / espidf.PROJECT_FILE).read_text())
    samples = verification_samples(result.model, None, 2)
    expected = reference_outputs((out / "model.tflite").read_bytes(), result.model, samples)
    assert meta["expected_checksums"] == [zlib.crc32(o) for o in expected]
    assert run_component_on_host(out / COMPONENT, result.model, samples)[0] == expected


def test_host_check_refuses_a_component_whose_kernels_differ(small_model: Path, tmp_path: Path,
                                                             no_esp_idf: None) -> None:
    model = compile_tflite(small_model)
    project = tmp_path / "p"
    espidf.render_espidf_project(project, "esp32", model, bytes(model.input_bytes))
    kernel = project / COMPONENT / "kernels" / model.kernel_sources[0]
    kernel.write_text(kernel.read_text() + "/* edited */\n")
    with pytest.raises(TinyEdgeError, match=f"kernels/{model.kernel_sources[0]} differs from the ESP-IDF component"):
        run_component_on_host(project / COMPONENT, model, [bytes(model.input_bytes)])


def test_esp32_summary_names_the_app_partition_and_heads_estimated_columns_as_estimates(
        small_model: Path, tmp_path: Path, no_esp_idf: None) -> None:
    out = tmp_path / "out"
    result = compile_model(small_model, "esp32", out, calib=small_model.with_name("calib.npy"), samples=1)
    memory = result.report.memory
    summary = summary_table(result.report)
    flash_line = next(line for line in summary.splitlines() if line.strip().startswith("flash"))
    assert f"/ {memory.flash_available:,} B app partition" in flash_line
    assert f"of {memory.flash_total_bytes:,} B flash" in flash_line and memory.flash_total_bytes == 4 << 20
    header = next(line for line in summary.splitlines() if line.strip().startswith("layer"))
    assert "est. instructions" in header and "est. cycles" in header
    assert re.search(r"(?<!est\. )(instructions|cycles)", header) is None
    html = (out / "report.html").read_text()
    assert "<th>est. instructions</th><th>est. cycles</th>" in html and "<th>instructions</th>" not in html
    assert f"of {memory.flash_available:,} B app partition" in html


def test_cli_without_esp_idf_exits_0_and_says_what_to_install(small_model: Path, tmp_path: Path, no_esp_idf: None,
                                                              capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    assert main(["compile", str(small_model), "--board", "esp32s3", "-o", str(out), "--samples", "1"]) == 0
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert [line.split("]")[0] for line in errors if line.startswith("[")] == [f"[{i}/6" for i in range(1, 7)]
    assert "build with idf.py: skipped, ESP-IDF is not installed" in captured.err
    assert [line for line in errors if not line.startswith("[")] == [f"tinyedge: {espidf.missing_message(out)}"]
    assert "estimate" in captured.out and "analytical estimate" in captured.out
    assert f"wrote {out}: ESP-IDF project (not built), report.json, report.html" in captured.out
    assert not list(tmp_path.glob(".out-*"))


def riscv_elf(folder: Path) -> Path:
    """A 32-bit ELF laid out like an ESP32 app: code in flash (irom), 400 B of data and 200 B of bss in DRAM."""
    gcc = shutil.which("riscv64-unknown-elf-gcc")
    if gcc is None:
        pytest.skip("riscv64-unknown-elf-gcc is not installed")
    source = folder / "app.c"
    source.write_text("int data_words[100] = {1};\nint bss_words[50];\n"
                      "void _start(void) { for (;;) { bss_words[0] += data_words[bss_words[1]]; } }\n")
    elf = folder / "app.elf"
    subprocess.run([gcc, "-march=rv32imc", "-mabi=ilp32", "-O1", "-msmall-data-limit=0", "-nostdlib", "-static",
                    "-Wl,-Ttext=0x400d0000", "-Wl,-Tdata=0x3ffb0000", "-o", str(elf), str(source)], check=True)
    return elf


def test_an_idf_build_gives_the_apps_flash_and_static_ram(small_model: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    elf = riscv_elf(tmp_path)
    app_bin = tmp_path / "app.bin"
    app_bin.write_bytes(bytes(12_345))
    monkeypatch.setenv("PATH", f"{fake_idf(tmp_path / 'bin', app_bin, elf)}:{os.environ['PATH']}")
    out = tmp_path / "out"
    result = compile_model(small_model, "esp32", out, samples=1)
    memory, info = result.report.memory, result.report.espidf
    assert info is not None and info.built and info.app_bin == "build/tinyedge_app.bin"
    assert memory.flash_bytes == 12_345 and memory.ram_bytes == 400 + 200
    assert memory.data_bytes == 400 and memory.bss_bytes == 200 and memory.text_bytes
    assert result.elf == out / "build" / "tinyedge_app.elf" and result.elf.is_file()
    assert "static IRAM, DRAM and bss" in (memory.note or "")
    assert result.report.estimate is not None and result.report.simulation is None


def test_a_failing_idf_build_leaves_no_output_folder(small_model: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{fake_idf(tmp_path / 'bin', exit_code=2)}:{os.environ['PATH']}")
    with pytest.raises(TinyEdgeError, match=r"`idf.py build` failed"):
        compile_model(small_model, "esp32s3", tmp_path / "out", samples=1)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out-*"))


@pytest.mark.parametrize(("board", "options", "message"), [
    ("esp32", {"budget": 1000}, "--budget checks the instructions the emulator counts"),
    ("esp32s3", {"backend": "qemu"}, "--backend qemu: no emulator runs board esp32s3"),
    ("host", {}, "board 'host' cannot be emulated here"),
])
def test_options_and_boards_without_meaning_here_are_refused_before_any_work(
        small_model: Path, tmp_path: Path, board: str, options: dict, message: str) -> None:
    with pytest.raises(TinyEdgeError, match=message):
        compile_model(small_model, board, tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()
