"""Budget regression between two reports: `tinyedge compare old/report.json new/report.json` (or the two folders).

    comparison = compare(old_dict, new_dict, threshold_pct=2.0)
    print(format_comparison(comparison))
    comparison.regressed        # a gated total grew by more than the threshold

Layers are paired by aligning the two op sequences (difflib), so a layer added or removed
in the middle of the model shows as added or removed and the layers after it still pair
with their old selves. (Next to a run of equal ops, which one of them is the new one is
ambiguous; the alignment picks one.) Only totals gate the exit code; per-layer deltas show where a
change came from.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tinyedge.errors import TinyEdgeError
from tinyedge.report import READABLE_SCHEMAS

DEFAULT_THRESHOLD_PCT = 2.0
REGRESSION_EXIT = 4  # distinct from 1 (an error) and 3 (`compile`: not bit-exact)


@dataclass(frozen=True)
class Metric:
    name: str
    section: str  # where the total sits in report.json
    field: str
    unit: str
    per_layer: bool  # layers[] carries the same figure under `name`
    decimals: int = 0  # counts are whole; latency and energy are not
    gated_by_default: bool = True


# Latency and energy are shown beside the counts but not gated by default: both follow the cycles
# (latency = cycles / clock, energy = latency x a datasheet current), so they would fail with them.
METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("instructions", "simulation", "instructions", "", per_layer=True),
    Metric("cycles", "simulation", "cycles", "", per_layer=True),
    Metric("latency", "simulation", "latency_ms", " ms", per_layer=False, decimals=3, gated_by_default=False),
    Metric("energy", "simulation", "energy_uj", " uJ", per_layer=False, decimals=1, gated_by_default=False),
    Metric("ram", "memory", "ram_bytes", " B", per_layer=False),
    Metric("flash", "memory", "flash_bytes", " B", per_layer=False),
)}
DEFAULT_METRICS = tuple(m.name for m in METRICS.values() if m.gated_by_default)
LAYER_METRICS = tuple(m.name for m in METRICS.values() if m.per_layer)
REPORT_FILE = "report.json"


@dataclass(frozen=True)
class Delta:
    old: float | None  # None: the layer does not exist on that side
    new: float | None

    @property
    def change(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old

    @property
    def percent(self) -> float | None:
        """Growth in percent of the old figure; inf when it grew from zero."""
        change = self.change
        if change is None:
            return None
        if self.old == 0:
            return 0.0 if change == 0 else math.inf
        return 100.0 * change / self.old


@dataclass(frozen=True)
class TotalDelta:
    metric: str
    delta: Delta
    gated: bool  # this total decides the exit code
    regressed: bool  # gated, and grew by more than the threshold


@dataclass(frozen=True)
class LayerDelta:
    op: str
    name: str
    old_index: int | None  # None: added in the new model
    new_index: int | None  # None: removed from the old model
    deltas: Mapping[str, Delta]  # per LAYER_METRICS

    @property
    def status(self) -> str:
        return "added" if self.old_index is None else "removed" if self.new_index is None else "kept"


@dataclass(frozen=True)
class Comparison:
    model: str
    board: str
    threshold_pct: float
    totals: tuple[TotalDelta, ...]
    layers: tuple[LayerDelta, ...]
    notes: tuple[str, ...]  # what differs between the reports besides the figures

    @property
    def regressions(self) -> tuple[TotalDelta, ...]:
        return tuple(t for t in self.totals if t.regressed)

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)


def compare(old: Mapping, new: Mapping, threshold_pct: float = DEFAULT_THRESHOLD_PCT, *,
            metrics: Sequence[str] = DEFAULT_METRICS, allow_mismatch: bool = False,
            labels: tuple[str, str] = ("old report", "new report")) -> Comparison:
    """Compare two report.json dicts (any of READABLE_SCHEMAS: /2 added `provenance`, /2.1 the layers' kernels).

    metrics: the totals that gate (regressed when they grow by more than threshold_pct);
    every total is compared and shown either way.
    allow_mismatch: compare reports of different models or boards instead of refusing.
    """
    if threshold_pct < 0 or not math.isfinite(threshold_pct):
        raise TinyEdgeError(f"threshold {threshold_pct}% is not a growth; give a percentage >= 0")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise TinyEdgeError(f"unknown metric '{unknown[0]}'; valid metrics: {', '.join(METRICS)}")
    for report, label in ((old, labels[0]), (new, labels[1])):
        _check_report(report, label)
    identity_old, identity_new = _identity(old, labels[0]), _identity(new, labels[1])
    if identity_old != identity_new and not allow_mismatch:
        raise TinyEdgeError(f"the {labels[0]} is {_describe(identity_old)} but the {labels[1]} is "
                            f"{_describe(identity_new)}; compare reports of the same model and board "
                            "(or pass --allow-mismatch)")
    totals = []
    for metric in METRICS.values():
        delta = Delta(_figure(old, metric, labels[0]), _figure(new, metric, labels[1]))
        gated = metric.name in metrics
        growth = delta.percent
        totals.append(TotalDelta(metric.name, delta, gated, gated and growth is not None and growth > threshold_pct))
    return Comparison(
        model=identity_new[0] if identity_old == identity_new else f"{identity_old[0]} -> {identity_new[0]}",
        board=identity_new[1] if identity_old[1] == identity_new[1] else f"{identity_old[1]} -> {identity_new[1]}",
        threshold_pct=threshold_pct, totals=tuple(totals),
        layers=_pair_layers(_layers(old, labels[0]), _layers(new, labels[1])),
        notes=_notes(old, new, identity_old, identity_new))


def _check_report(report: Mapping, label: str) -> None:
    if not isinstance(report, Mapping) or "schema" not in report:
        raise TinyEdgeError(f"the {label} is not a tinyedge report.json (it has no 'schema' field)")
    if report["schema"] not in READABLE_SCHEMAS:
        raise TinyEdgeError(f"the {label} has schema '{report['schema']}'; this tinyedge compares "
                            f"{' or '.join(repr(s) for s in READABLE_SCHEMAS)} "
                            "reports (recompile both with the same tinyedge)")
    if not report.get("simulation") and report.get("estimate"):
        raise TinyEdgeError(f"the {label} holds an analytical estimate for board "
                            f"{report.get('board', {}).get('name')}, not emulator counts; compare gates on measured "
                            "figures: compare reports of an emulated board")


def _field(report: Mapping, section: str, field: str, label: str) -> object:
    try:
        return report[section][field]
    except (KeyError, TypeError):
        raise TinyEdgeError(f"the {label} has no '{section}.{field}'; is it a complete report.json?") from None


def _identity(report: Mapping, label: str) -> tuple[str, str]:
    return str(_field(report, "model", "name", label)), str(_field(report, "board", "name", label))


def _describe(identity: tuple[str, str]) -> str:
    return f"model '{identity[0]}' on board '{identity[1]}'"


def _figure(report: Mapping, metric: Metric, label: str) -> float:
    value = _field(report, metric.section, metric.field, label)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TinyEdgeError(f"the {label} has a non-numeric '{metric.section}.{metric.field}': {value!r}")
    return int(value) if metric.decimals == 0 else float(value)


def _layers(report: Mapping, label: str) -> Sequence[Mapping]:
    layers = report.get("layers")
    if not isinstance(layers, list | tuple):  # a list from JSON, a tuple from Report.to_dict()
        raise TinyEdgeError(f"the {label} has no 'layers' list; is it a complete report.json?")
    for layer in layers:
        if not isinstance(layer, Mapping):
            raise TinyEdgeError(f"the {label} has a layer that is not an object: {layer!r}")
        missing = [k for k in ("index", "op", "name", *LAYER_METRICS) if k not in layer]
        if missing:
            raise TinyEdgeError(f"the {label} has a layer without '{missing[0]}': {layer!r}")
    return layers


def _pair_layers(old: Sequence[Mapping], new: Sequence[Mapping]) -> tuple[LayerDelta, ...]:
    """Pair layers by aligning the op sequences; unmatched ones are removed or added."""
    matcher = difflib.SequenceMatcher(a=[layer["op"] for layer in old], b=[layer["op"] for layer in new],
                                      autojunk=False)
    paired: list[LayerDelta] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            paired.extend(_layer_delta(a, b) for a, b in zip(old[i1:i2], new[j1:j2]))
        else:  # replace, delete, insert: the old side went away, the new side appeared
            paired.extend(_layer_delta(a, None) for a in old[i1:i2])
            paired.extend(_layer_delta(None, b) for b in new[j1:j2])
    return tuple(paired)


def _layer_delta(old: Mapping | None, new: Mapping | None) -> LayerDelta:
    either = new if new is not None else old
    assert either is not None
    return LayerDelta(
        op=either["op"], name=either["name"],
        old_index=None if old is None else int(old["index"]), new_index=None if new is None else int(new["index"]),
        deltas={m: Delta(None if old is None else int(old[m]), None if new is None else int(new[m]))
                for m in LAYER_METRICS})


def _notes(old: Mapping, new: Mapping, identity_old: tuple[str, str], identity_new: tuple[str, str]) -> tuple[str, ...]:
    """Differences a reader should know before trusting the deltas."""
    notes = []
    if identity_old != identity_new:
        notes.append(f"comparing {_describe(identity_old)} with {_describe(identity_new)}")
    for section, field, what in (("simulation", "backend", "emulator"), ("simulation", "cycle_model", "cycle model"),
                                 ("board", "clock_hz", "clock (latency follows it)"),
                                 ("power", "source", "current figures (energy follows them)"),
                                 (None, "tinyedge_version", "tinyedge version")):
        a = old.get(field) if section is None else old.get(section, {}).get(field)
        b = new.get(field) if section is None else new.get(section, {}).get(field)
        if a != b:
            notes.append(f"{what} differs: {a} -> {b}")
    if new.get("verification", {}).get("bit_exact") is False:
        notes.append("the new firmware is NOT bit-exact against TFLite-Micro")
    return tuple(notes)


# ---------------------------------------------------------------- the table

def format_comparison(comparison: Comparison) -> str:
    c = comparison
    gated = [t.metric for t in c.totals if t.gated]
    lines = [f"tinyedge compare: {c.model} on {c.board}; fails when {', '.join(gated)} grow by more than "
             f"{c.threshold_pct:g}%"]
    lines += [f"  note: {note}" for note in c.notes]
    if c.layers:
        lines.append("")
        header = f"  {'layer':<9} {'op':<20}"
        sub = f"  {'':<9} {'':<20}"
        for metric in LAYER_METRICS:
            header += f" {metric:>35}"
            sub += f" {'old':>11} {'new':>11} {'change':>11}"
        lines += [header, sub]
        for layer in c.layers:
            row = f"  {_layer_label(layer):<9} {layer.op:<20}"
            for metric in LAYER_METRICS:
                delta = layer.deltas[metric]
                row += f" {_count(delta.old):>11} {_count(delta.new):>11} {_layer_change(layer, delta):>11}"
            lines.append(row.rstrip())
    lines.append("")
    lines.append(f"  {'total':<13} {'old':>14} {'new':>14} {'change':>24}")
    for total in c.totals:
        metric = METRICS[total.metric]
        d = total.delta
        verdict = (f"REGRESSION (> +{c.threshold_pct:g}%)" if total.regressed
                   else "" if total.gated else "(not checked)")
        old, new = _count(d.old, metric.decimals) + metric.unit, _count(d.new, metric.decimals) + metric.unit
        lines.append(f"  {total.metric:<13} {old:>14} {new:>14} {_total_change(d, metric):>24}  {verdict}".rstrip())
    lines.append("")
    if c.regressed:
        lines.append("FAIL: " + "; ".join(f"{t.metric} grew {_percent(t.delta.percent)}" for t in c.regressions)
                     + f", past the {c.threshold_pct:g}% threshold")
    else:
        lines.append(f"ok: no checked total grew by more than {c.threshold_pct:g}%")
    return "\n".join(lines)


def _layer_label(layer: LayerDelta) -> str:
    """The layer's index; `old->new` when a layer added or removed before it moved it."""
    if layer.old_index is None or layer.new_index is None or layer.old_index == layer.new_index:
        return str(layer.new_index if layer.old_index is None else layer.old_index)
    return f"{layer.old_index}->{layer.new_index}"


def _count(value: float | None, decimals: int = 0) -> str:
    return "-" if value is None else f"{value:,.{decimals}f}"


def _percent(percent: float | None) -> str:
    if percent is None:
        return ""
    if math.isinf(percent):
        return "from 0"
    return "0%" if percent == 0 else f"{percent:+.1f}%"


def _layer_change(layer: LayerDelta, delta: Delta) -> str:
    return layer.status if layer.status != "kept" else _percent(delta.percent)


def _total_change(delta: Delta, metric: Metric) -> str:
    assert delta.change is not None
    return f"{delta.change:+,.{metric.decimals}f}{metric.unit} ({_percent(delta.percent)})"


# ---------------------------------------------------------------- command line

def load_report(path: Path) -> dict:
    """Read a report.json, or the report.json of a `tinyedge compile` output folder."""
    path = Path(path)
    if path.is_dir():
        if not (path / REPORT_FILE).is_file():
            raise TinyEdgeError(f"{path} has no {REPORT_FILE}; give a `tinyedge compile` output folder or a "
                                f"{REPORT_FILE}")
        path = path / REPORT_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise TinyEdgeError(f"{path}: no such report; `tinyedge compile` writes report.json into its output "
                            "folder") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TinyEdgeError(f"cannot read report {path}: {exc}") from None
    if not isinstance(data, dict):
        raise TinyEdgeError(f"{path} is not a tinyedge report.json (it holds a {type(data).__name__})")
    return data


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", type=Path, help="the baseline report.json, or the output folder holding it")
    parser.add_argument("new", type=Path, help="the report.json (or output folder) to check against it")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD_PCT, metavar="PCT",
                        help=f"fail when a checked total grows by more than PCT percent "
                             f"(default {DEFAULT_THRESHOLD_PCT:g})")
    parser.add_argument("--metric", action="append", choices=tuple(METRICS), dest="metrics",
                        help="a total to check; repeat for several (default: "
                             f"{', '.join(DEFAULT_METRICS)}; every total is shown either way)")
    parser.add_argument("--allow-mismatch", action="store_true",
                        help="compare reports of different models or boards instead of refusing")


def run(args: argparse.Namespace) -> int:
    """Print the comparison; exit 4 when a checked total grew past the threshold."""
    comparison = compare(load_report(args.old), load_report(args.new), args.threshold,
                         metrics=args.metrics or DEFAULT_METRICS, allow_mismatch=args.allow_mismatch,
                         labels=(f"old report ({args.old})", f"new report ({args.new})"))
    print(format_comparison(comparison))
    return REGRESSION_EXIT if comparison.regressed else 0
