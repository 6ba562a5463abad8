"""Report rendering: provenance reaches report.json, the HTML and the terminal; the synthetic warning shows only
when the calibration was synthetic; a report without provenance still renders; the JSON is byte-stable."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tinyedge.report import (
    SCHEMA,
    SYNTHETIC_CALIBRATION,
    AgreementInfo,
    BoardInfo,
    EspIdfInfo,
    LayerFigures,
    MemoryInfo,
    ModelInfo,
    PowerInfo,
    Provenance,
    Report,
    SimulationInfo,
    VerificationInfo,
    summary_table,
    write_html,
    write_json,
)

VERSIONS = {"tinyedge": "0.4.0", "tensorflow": "2.16.1", "tflite_micro": "0.dev1", "compiler": "arm-none-eabi-gcc 13.2"}
FILE_PROVENANCE = Provenance(
    calibration="data/calib.npy", calibration_sha256="ab12cd34ef56" + "0" * 52, calibration_samples=200,
    agreement=AgreementInfo(samples=50, cosine=0.99871, max_abs_error=0.0625, mean_abs_error=0.0041, top1=0.98),
    versions=VERSIONS, command="tinyedge compile model.keras --board nrf52840 --calib data/calib.npy")
SYNTHETIC_PROVENANCE = replace(FILE_PROVENANCE, calibration=SYNTHETIC_CALIBRATION, calibration_sha256=None,
                               calibration_samples=40, command="tinyedge compile model.keras --board nrf52840")


def make_report(provenance: Provenance | None) -> Report:
    return Report(
        model=ModelInfo("kws", 50_000, 3_000, "model.tflite", "0" * 64),
        board=BoardInfo("nrf52840", "cortex-m4f", 64_000_000),
        memory=MemoryInfo(flash_bytes=100_000, ram_bytes=20_000, arena_bytes=10_000, stack_bytes=1_000,
                          weights_bytes=50_000, text_bytes=100_000, data_bytes=0, bss_bytes=19_000,
                          flash_available=1 << 20, ram_available=1 << 18),
        simulation=SimulationInfo("builtin", 30_000, 45_000, "test cycle model", 0.703, 6.3, 10.0),
        power=PowerInfo(3.0, 2.0, 3.0, "test datasheet", 1.0, 5.0, 220.0, 1000.0),
        verification=VerificationInfo("tflite_micro.runtime.Interpreter", 4, True, 0),
        layers=(LayerFigures(0, "tensor_0", "CONV_2D", 50_000, 30_000, 45_000),),
        provenance=provenance,
    )


def test_report_json_carries_every_provenance_field(tmp_path: Path):
    write_json(make_report(FILE_PROVENANCE), tmp_path / "report.json")
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["schema"] == SCHEMA == "tinyedge.report/2.4"
    prov = data["provenance"]
    assert prov == {
        "calibration": "data/calib.npy", "calibration_sha256": FILE_PROVENANCE.calibration_sha256,
        "calibration_samples": 200,
        "agreement": {"samples": 50, "cosine": 0.99871, "max_abs_error": 0.0625, "mean_abs_error": 0.0041,
                      "top1": 0.98, "activations": "int8"},
        "versions": VERSIONS, "command": FILE_PROVENANCE.command, "activations": "int8", "int8_agreement": None}


def test_a_16x8_report_shows_the_int8_alternative_beside_its_own_agreement(tmp_path: Path):
    int16 = replace(FILE_PROVENANCE, activations="int16",
                    agreement=AgreementInfo(50, 0.99993, 0.004, 0.0003, 1.0, "int16"),
                    int8_agreement=AgreementInfo(50, 0.99871, 0.0625, 0.0041, 0.98, "int8"))
    summary = summary_table(make_report(int16))
    assert "int16 vs float on 50 held-out samples: cosine 0.9999" in summary
    assert "int8 instead" in summary and "int8 vs float on 50 held-out samples: cosine 0.9987" in summary
    write_html(make_report(int16), tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    assert "16x8 mode" in html and "int8 activations instead" in html and "top-1 98.0%" in html


def test_already_int8_model_keeps_a_null_agreement_and_no_provenance_is_left_out(tmp_path: Path):
    int8 = replace(FILE_PROVENANCE, calibration="none: the model came already quantized", calibration_sha256=None,
                   calibration_samples=0, agreement=None)
    assert make_report(int8).to_dict()["provenance"]["agreement"] is None
    assert "provenance" not in make_report(None).to_dict()
    assert "came already quantized" in summary_table(make_report(int8))


def test_json_is_byte_identical_for_the_same_report(tmp_path: Path):
    write_json(make_report(FILE_PROVENANCE), tmp_path / "a.json")
    write_json(make_report(FILE_PROVENANCE), tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


@pytest.mark.parametrize("provenance, warned", [(SYNTHETIC_PROVENANCE, True), (FILE_PROVENANCE, False)])
def test_html_warns_about_synthetic_calibration_only_when_synthetic(tmp_path: Path, provenance: Provenance,
                                                                    warned: bool):
    write_html(make_report(provenance), tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    summary = html[:html.index("<table>")]  # the warning belongs above the first figures
    assert ("calibration: synthetic, seeded: ranges and accuracy unknown" in summary) == warned
    assert ('class="warning"' in html) == warned
    assert "<h2>Provenance</h2>" in html and "arm-none-eabi-gcc 13.2" in html and "cosine 0.9987" in html
    assert ("ab12cd34ef56" in html) != warned


def test_report_without_provenance_still_renders(tmp_path: Path):
    report = make_report(None)
    write_html(report, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    assert "Provenance" not in html and "synthetic" not in html and "Cycles per layer" in html
    assert "calibration" not in summary_table(report)


def test_summary_shows_calibration_file_with_short_hash_and_agreement():
    lines = summary_table(make_report(FILE_PROVENANCE)).splitlines()
    calibration = next(line for line in lines if line.strip().startswith("calibration"))
    agreement = next(line for line in lines if line.strip().startswith("agreement"))
    assert "data/calib.npy" in calibration and "sha256 ab12cd34ef56" in calibration and "200 samples" in calibration
    assert "cosine 0.9987" in agreement and "top-1 98.0%" in agreement and "50 held-out samples" in agreement


def test_summary_warns_about_synthetic_calibration_and_omits_top1_for_non_class_outputs():
    report = make_report(replace(SYNTHETIC_PROVENANCE, agreement=replace(FILE_PROVENANCE.agreement, top1=None)))
    text = summary_table(report)
    assert f"WARNING: {SYNTHETIC_CALIBRATION}" in text
    assert "top-1" not in text and "cosine" in text


def test_flash_line_names_the_app_partition_and_the_whole_chip_when_known(tmp_path: Path):
    report = make_report(None)
    partition = replace(report, memory=replace(report.memory, flash_total_bytes=4 << 20),
                        espidf=EspIdfInfo("esp32", ".", False, None, "generated, not built"))
    assert partition.to_dict()["memory"]["flash_total_bytes"] == 4 << 20
    assert "flash_total_bytes" not in report.to_dict()["memory"]
    assert "100,000 / 1,048,576 B app partition of 4,194,304 B flash" in summary_table(partition)
    assert "100,000 / 1,048,576 B  (weights" in summary_table(report)
    write_html(partition, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    assert "Flash: 100,000 B of 1,048,576 B app partition of 4,194,304 B flash" in html


def test_every_estimated_figure_says_estimate_and_the_memory_stalls_sit_beside_the_cycles(tmp_path: Path):
    report = replace(make_report(None),
                     simulation=replace(make_report(None).simulation, stall_cycles=12_000),
                     layers=(LayerFigures(0, "tensor_0", "CONV_2D", 50_000, 30_000, 45_000, stall_cycles=12_000),))
    rows = {line.split()[0]: line for line in summary_table(report).splitlines()
            if line.strip() and "/ MAC" not in line}
    for figure in ("cycles", "latency", "energy", "average"):
        assert "estimate" in rows[figure], rows[figure]
    assert "12,000 of them memory stalls" in rows["cycles"]
    assert "(estimate)" in next(line for line in summary_table(report).splitlines() if "cycles / MAC" in line)
    header = next(line for line in summary_table(report).splitlines() if line.strip().startswith("layer"))
    assert "est. cycles" in header and "of it stall" in header
    assert "45,000       12,000" in summary_table(report)
    write_json(report, tmp_path / "report.json")
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["simulation"]["stall_cycles"] == 12_000 and data["layers"][0]["stall_cycles"] == 12_000
    write_html(report, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    for label in ("cycles per MAC (estimate)", "latency (estimate)", "energy per inference (estimate)",
                  "of them memory stalls (estimate)", "Cycles per layer (estimate)", "<th>of them memory stalls</th>",
                  "<td>12,000</td>", "average current (estimate)", "mAh (estimate)"):
        assert label in html, label
