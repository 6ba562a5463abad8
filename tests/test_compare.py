"""`tinyedge compare`: totals gate past the threshold, layers pair across inserts and removals, bad input is refused."""

from __future__ import annotations

import argparse
import json
import math

import pytest

from tinyedge.compare import (
    DEFAULT_METRICS,
    REGRESSION_EXIT,
    Delta,
    add_arguments,
    compare,
    format_comparison,
    load_report,
    run,
)
from tinyedge.errors import TinyEdgeError
from tinyedge.report import (
    BoardInfo,
    LayerFigures,
    MemoryInfo,
    ModelInfo,
    PowerInfo,
    Report,
    SimulationInfo,
    VerificationInfo,
)

KWS = [("CONV_2D", 10_000, 15_000), ("DEPTHWISE_CONV_2D", 6_000, 9_000), ("FULLY_CONNECTED", 800, 1_100),
       ("SOFTMAX", 2_000, 2_600)]


def make_report(layers: list[tuple[str, int, int]] = KWS, *, model: str = "kws", board: str = "nrf52840",
                ram: int = 20_000, flash: int = 100_000, extra_cycles: int = 0) -> dict:
    """A report.json dict; totals are the layers' sums plus 100 instructions (150 cycles) of glue; latency at 64 MHz,
    energy at 3 mA and 3 V."""
    figures = tuple(LayerFigures(i, f"tensor_{i}", op, 1_000 * (i + 1), instructions, cycles)
                    for i, (op, instructions, cycles) in enumerate(layers))
    instructions = sum(f.instructions for f in figures) + 100
    cycles = sum(f.cycles for f in figures) + 150 + extra_cycles
    return Report(
        model=ModelInfo(model, 50_000, 3_000, "model.tflite", "0" * 64),
        board=BoardInfo(board, "cortex-m4f", 64_000_000),
        memory=MemoryInfo(flash_bytes=flash, ram_bytes=ram, arena_bytes=ram // 2, stack_bytes=1_000,
                          weights_bytes=flash // 2, text_bytes=flash, data_bytes=0, bss_bytes=ram - 1_000,
                          flash_available=1 << 20, ram_available=1 << 18),
        simulation=SimulationInfo("builtin", instructions, cycles, "test cycle model", cycles / 64_000.0,
                                  cycles / 64_000.0 * 9.0, 10.0),
        power=PowerInfo(3.0, 2.0, 3.0, "test datasheet", 1.0, 5.0, 220.0, 1000.0),
        verification=VerificationInfo("tflite_micro.runtime.Interpreter", 4, True, 0),
        layers=figures,
    ).to_dict()


def total(comparison, metric: str):
    return next(t for t in comparison.totals if t.metric == metric)


def test_identical_reports_pass_with_zero_change():
    comparison = compare(make_report(), make_report())
    assert not comparison.regressed
    assert all(t.delta.change == 0 and t.gated == (t.metric in DEFAULT_METRICS) for t in comparison.totals)
    assert [layer.status for layer in comparison.layers] == ["kept"] * 4
    assert format_comparison(comparison).endswith("ok: no checked total grew by more than 2%")


def test_cycles_growing_past_the_threshold_is_a_regression():
    old = make_report()
    new = make_report(extra_cycles=900)  # 27,850 -> 28,750 cycles: +3.2%
    comparison = compare(old, new, threshold_pct=2.0)
    cycles = total(comparison, "cycles")
    assert (cycles.delta.old, cycles.delta.new, cycles.delta.change) == (27_850, 28_750, 900)
    assert cycles.delta.percent == pytest.approx(100 * 900 / 27_850)
    assert cycles.regressed and comparison.regressions == (cycles,)
    text = format_comparison(comparison)
    assert "cycles" in text and "+900 (+3.2%)" in text and "REGRESSION (> +2%)" in text
    assert "FAIL: cycles grew +3.2%, past the 2% threshold" in text


def test_growth_up_to_the_threshold_passes():
    old = make_report(flash=100_000)
    assert not compare(old, make_report(flash=102_000), threshold_pct=2.0).regressed  # exactly +2%
    assert compare(old, make_report(flash=102_001), threshold_pct=2.0).regressed


def test_shrinking_never_regresses_even_at_zero_threshold():
    comparison = compare(make_report(ram=20_000), make_report(ram=15_000), threshold_pct=0.0)
    assert not comparison.regressed
    assert total(comparison, "ram").delta.percent == pytest.approx(-25.0)


def test_only_the_chosen_metrics_gate():
    old, new = make_report(flash=100_000), make_report(flash=150_000)
    comparison = compare(old, new, metrics=("instructions", "cycles"))
    flash = total(comparison, "flash")
    assert not flash.gated and not flash.regressed and not comparison.regressed
    assert "(not checked)" in format_comparison(comparison)
    assert compare(old, new, metrics=("flash",)).regressed


def test_layer_inserted_in_the_middle_leaves_the_layers_after_it_paired():
    new_layers = [*KWS[:2], ("ADD", 6_000, 9_000), *KWS[2:]]
    comparison = compare(make_report(), make_report(new_layers))
    assert [(layer.old_index, layer.new_index, layer.status) for layer in comparison.layers] == [
        (0, 0, "kept"), (1, 1, "kept"), (None, 2, "added"), (2, 3, "kept"), (3, 4, "kept")]
    added = comparison.layers[2]
    assert added.deltas["instructions"] == Delta(None, 6_000) and added.deltas["instructions"].change is None
    assert total(comparison, "instructions").regressed  # 18,900 -> 24,900
    text = format_comparison(comparison)
    assert "2->3" in text and "added" in text


def test_layer_removed_and_op_replaced():
    new_layers = [KWS[0], ("CONV_2D", 6_500, 9_500), KWS[2]]  # depthwise became a conv; softmax dropped
    comparison = compare(make_report(), make_report(new_layers))
    assert [(layer.op, layer.old_index, layer.new_index, layer.status) for layer in comparison.layers] == [
        ("CONV_2D", 0, 0, "kept"), ("DEPTHWISE_CONV_2D", 1, None, "removed"), ("CONV_2D", None, 1, "added"),
        ("FULLY_CONNECTED", 2, 2, "kept"), ("SOFTMAX", 3, None, "removed")]
    assert "removed" in format_comparison(comparison)


def test_kept_layer_change_is_shown_per_layer():
    new_layers = [("CONV_2D", 11_000, 16_500), *KWS[1:]]
    comparison = compare(make_report(), make_report(new_layers))
    conv = comparison.layers[0]
    assert conv.deltas["instructions"].percent == pytest.approx(10.0)
    assert conv.deltas["cycles"].change == 1_500
    assert "+10.0%" in format_comparison(comparison)


def test_growth_from_zero_is_infinite_and_regresses():
    assert Delta(0, 5).percent == math.inf and Delta(0, 0).percent == 0.0 and Delta(None, 5).percent is None
    old = make_report()
    old["memory"]["flash_bytes"] = 0
    assert total(compare(old, make_report()), "flash").regressed


def test_other_schema_is_refused_but_a_schema_1_report_still_compares():
    new = make_report()
    new["schema"] = "tinyedge.report/9"
    with pytest.raises(TinyEdgeError, match=r"new report has schema 'tinyedge.report/9'.*'tinyedge.report/1'"):
        compare(make_report(), new)
    old = make_report()
    old["schema"] = "tinyedge.report/1"
    assert not compare(old, make_report()).regressed
    with pytest.raises(TinyEdgeError, match="old report is not a tinyedge report.json"):
        compare({"layers": []}, make_report())


def test_different_model_or_board_is_refused_unless_allowed():
    with pytest.raises(TinyEdgeError, match=r"model 'kws' on board 'nrf52840' but .* model 'vww' on board "
                                            r"'nrf52840'.*--allow-mismatch"):
        compare(make_report(), make_report(model="vww"))
    with pytest.raises(TinyEdgeError, match="board 'rp2040'"):
        compare(make_report(), make_report(board="rp2040"))
    comparison = compare(make_report(), make_report(board="rp2040"), allow_mismatch=True)
    assert comparison.board == "nrf52840 -> rp2040"
    assert any("comparing" in note for note in comparison.notes)


def test_incomplete_report_names_the_missing_field():
    new = make_report()
    del new["simulation"]["cycles"]
    with pytest.raises(TinyEdgeError, match=r"new report has no 'simulation.cycles'"):
        compare(make_report(), new)
    new = make_report()
    del new["layers"][1]["instructions"]
    with pytest.raises(TinyEdgeError, match="layer without 'instructions'"):
        compare(make_report(), new)


def test_bad_threshold_and_metric_are_refused():
    with pytest.raises(TinyEdgeError, match="percentage >= 0"):
        compare(make_report(), make_report(), threshold_pct=-1)
    with pytest.raises(TinyEdgeError, match="valid metrics: instructions, cycles, latency, energy, ram, flash"):
        compare(make_report(), make_report(), metrics=("speed",))


def test_latency_and_energy_are_shown_beside_the_counts_and_gate_only_when_asked():
    old, new = make_report(), make_report(extra_cycles=6_400)  # +0.1 ms at 64 MHz, +0.9 uJ
    comparison = compare(old, new, threshold_pct=50)
    latency, energy = (next(t for t in comparison.totals if t.metric == m) for m in ("latency", "energy"))
    assert not latency.gated and not energy.gated and not comparison.regressed
    assert latency.delta.change == pytest.approx(0.1) and energy.delta.change == pytest.approx(0.9)
    lines = format_comparison(comparison).splitlines()
    latency_line = next(line for line in lines if line.strip().startswith("latency"))
    energy_line = next(line for line in lines if line.strip().startswith("energy"))
    assert f"{old['simulation']['latency_ms']:.3f} ms" in latency_line and "+0.100 ms" in latency_line
    assert "+0.9 uJ" in energy_line and "(not checked)" in energy_line
    gated = compare(old, new, threshold_pct=2, metrics=("latency",))
    assert [t.metric for t in gated.regressions] == ["latency"]


def test_notes_say_when_clock_or_current_figures_changed():
    new = make_report()
    new["board"]["clock_hz"] = 128_000_000
    new["power"]["source"] = "another datasheet"
    notes = compare(make_report(), new).notes
    assert "clock (latency follows it) differs: 64000000 -> 128000000" in notes
    assert "current figures (energy follows them) differs: test datasheet -> another datasheet" in notes


def test_notes_say_when_the_emulator_changed_or_the_firmware_is_not_bit_exact():
    new = make_report()
    new["simulation"]["backend"] = "renode"
    new["verification"]["bit_exact"] = False
    notes = compare(make_report(), new).notes
    assert "emulator differs: builtin -> renode" in notes
    assert "the new firmware is NOT bit-exact against TFLite-Micro" in notes


# ---------------------------------------------------------------- the command handler

def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return run(parser.parse_args(list(argv)))


def test_command_exits_4_on_regression_and_0_within_threshold(tmp_path, capsys):
    (tmp_path / "old.json").write_text(json.dumps(make_report()))
    (tmp_path / "new.json").write_text(json.dumps(make_report(extra_cycles=900)))
    assert _run(str(tmp_path / "old.json"), str(tmp_path / "new.json")) == REGRESSION_EXIT == 4
    out = capsys.readouterr().out
    assert "tinyedge compare: kws on nrf52840" in out and "REGRESSION" in out
    assert _run(str(tmp_path / "old.json"), str(tmp_path / "new.json"), "--threshold", "5") == 0
    assert _run(str(tmp_path / "old.json"), str(tmp_path / "new.json"), "--metric", "instructions") == 0


def test_command_names_the_file_it_cannot_use(tmp_path):
    (tmp_path / "old.json").write_text(json.dumps(make_report()))
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(TinyEdgeError, match="cannot read report .*broken.json"):
        _run(str(tmp_path / "old.json"), str(tmp_path / "broken.json"))
    with pytest.raises(TinyEdgeError, match="missing.json: no such report"):
        _run(str(tmp_path / "old.json"), str(tmp_path / "missing.json"))
    (tmp_path / "vww.json").write_text(json.dumps(make_report(model="vww")))
    with pytest.raises(TinyEdgeError, match=r"new report \(.*vww.json\) is model 'vww'"):
        _run(str(tmp_path / "old.json"), str(tmp_path / "vww.json"))


def test_command_takes_output_folders_and_names_one_without_a_report(tmp_path, capsys):
    for name, extra in (("old", 0), ("new", 900)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(json.dumps(make_report(extra_cycles=extra)))
    assert load_report(tmp_path / "old") == json.loads(json.dumps(make_report()))
    assert _run(str(tmp_path / "old"), str(tmp_path / "new")) == REGRESSION_EXIT
    assert "REGRESSION" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    with pytest.raises(TinyEdgeError, match=r"^\S*empty has no report.json; give a `tinyedge compile` output folder"):
        _run(str(tmp_path / "old"), str(tmp_path / "empty"))



def test_estimate_only_reports_are_refused_with_the_reason():
    estimated = {"schema": "tinyedge.report/1", "model": {"name": "kws"}, "board": {"name": "esp32"},
                 "simulation": None, "estimate": {"cycles": 1000, "label": "analytical estimate"}, "layers": []}
    with pytest.raises(TinyEdgeError, match="analytical estimate for board esp32, not emulator counts"):
        compare(estimated, estimated)
