"""A sweep's results: one record per job, checked against the budgets, as CSV, JSON and a Pareto page.

Budget verdicts are worked out when the results are written, not when a job runs, so a
spec whose budgets change re-judges finished jobs without running them again. The Pareto
page's SVG is computed here; templates/sweep/sweep.html.j2 only lays it out.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from tinyedge import __version__
from tinyedge.outdir import write_file_atomically
from tinyedge.resources import templates_dir

if TYPE_CHECKING:
    from tinyedge.sweep import Outcome
    from tinyedge.sweep_spec import Budgets, Job, Spec

RECORD_FORMAT = "tinyedge-sweep-job"
RESULTS_FORMAT = "tinyedge.sweep/1"
# (column, budget field, how the figure compares): the budget checks, in the table's order.
BUDGET_CHECKS = (("latency", "latency_ms", "max"), ("ram", "ram_kb", "max"), ("flash", "flash_kb", "max"),
                 ("energy", "energy_uj", "max"), ("accuracy", "min_accuracy", "min"))
COLUMNS = ("model", "board", "calib", "activations", "optimize", "samples", "status", "error", "accuracy",
           "float_accuracy", "int8_mae", "instructions", "cycles", "latency_ms", "energy_uj", "flash_bytes",
           "ram_bytes", "bit_exact", "figures", *(f"{name}_budget" for name, _, _ in BUDGET_CHECKS),
           "within_budget", "seconds", "quantize_s", "compile_s", "emulate_s", "node", "folder")
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f")


def job_record(job: Job, outcome: Outcome, spec: Spec) -> dict[str, Any]:
    """What a job's sweep_job.json keeps: its inputs, its figures (from report.json), its timings."""
    return {
        "format": RECORD_FORMAT, "version": 1, "key": job.key, "quantize_key": job.quantize_key,
        "folder": f"jobs/{job.name}", "model": job.model.label, "board": job.board.name, "calib": job.calib_label,
        "activations": job.activations, "optimize": job.optimize, "samples": job.samples, "backend": job.backend,
        "status": "ok" if outcome.error is None else "failed", "error": outcome.error,
        "error_kind": outcome.error_kind, "node": outcome.node, "seconds": round(outcome.seconds, 3),
        "quantize_seconds": round(outcome.quantize_seconds, 3), "stages": outcome.stages,
        "figures": None if outcome.report is None else figures(outcome.report),
    }


def figures(report: dict[str, Any]) -> dict[str, Any]:
    """The figures a sweep compares, from a report.json: emulated (simulation) or estimated (Xtensa boards)."""
    timing = report.get("simulation") or report.get("estimate") or {}
    accuracy = report.get("accuracy") or {}
    return {
        "measured_by": "emulator" if "simulation" in report else "analytical estimate",
        "instructions": timing.get("instructions"), "cycles": timing.get("cycles"),
        "latency_ms": timing.get("latency_ms"), "energy_uj": timing.get("energy_uj"),
        "flash_bytes": report["memory"].get("flash_bytes"), "ram_bytes": report["memory"].get("ram_bytes"),
        "bit_exact": report["verification"]["bit_exact"],
        "accuracy": accuracy.get("int8_top1"), "float_accuracy": accuracy.get("float_top1"),
        "int8_mae": accuracy.get("int8_mae"),
    }


def results_row(record: dict[str, Any], budgets: Budgets) -> dict[str, Any]:
    """One CSV/JSON row: the record flattened, with a verdict per budget ("pass", "fail", "unknown" or "")."""
    f = record["figures"] or {}
    row = {key: record[key] for key in ("model", "board", "calib", "activations", "optimize", "samples", "status",
                                        "error", "node", "folder")}
    row.update({key: f.get(key) for key in ("accuracy", "float_accuracy", "int8_mae", "instructions", "cycles",
                                            "latency_ms", "energy_uj", "flash_bytes", "ram_bytes", "bit_exact")})
    row["figures"] = f.get("measured_by")
    value = {"latency": f.get("latency_ms"), "ram": _kb(f.get("ram_bytes")), "flash": _kb(f.get("flash_bytes")),
             "energy": f.get("energy_uj"), "accuracy": f.get("accuracy")}
    verdicts = []
    for name, field, sense in BUDGET_CHECKS:
        limit = getattr(budgets, field)
        if limit is None:
            verdict = ""
        elif value[name] is None:
            verdict = "unknown"
        else:
            verdict = "pass" if (value[name] <= limit if sense == "max" else value[name] >= limit) else "fail"
        row[f"{name}_budget"] = verdict
        verdicts.append(verdict)
    row["within_budget"] = record["status"] == "ok" and bool(f.get("bit_exact")) and \
        all(v in ("", "pass") for v in verdicts)
    row["seconds"] = record["seconds"]
    row["quantize_s"] = record["quantize_seconds"]
    row["compile_s"] = record["stages"].get("compile")
    row["emulate_s"] = record["stages"].get("emulate")
    return {column: row[column] for column in COLUMNS}


def _kb(value: int | None) -> float | None:
    return None if value is None else value / 1024


def write_results(out: Path, spec: Spec, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """results.csv, results.json and sweep.html in `out`; returns the rows."""
    rows = [results_row(record, spec.budgets) for record in records]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    write_file_atomically(out / "results.csv", buffer.getvalue().encode())
    document = {"format": RESULTS_FORMAT, "tinyedge_version": __version__, "spec": str(spec.path),
                "budgets": {k: v for k, v in vars(spec.budgets).items() if v is not None}, "jobs": rows}
    write_file_atomically(out / "results.json", (json.dumps(document, indent=2) + "\n").encode())
    write_file_atomically(out / "sweep.html", render_html(spec, rows).encode())
    return rows


# ---------------------------------------------------------------- the Pareto page

@dataclass(frozen=True)
class Point:
    row: dict[str, Any]
    latency_ms: float
    accuracy: float
    ram_bytes: int


def pareto_front(points: list[Point]) -> list[Point]:
    """The points no other point beats on both: lower latency and higher accuracy (ties go to the faster)."""
    front: list[Point] = []
    for point in sorted(points, key=lambda p: (p.latency_ms, -p.accuracy)):
        if not front or point.accuracy > front[-1].accuracy:
            front.append(point)
    return front


@dataclass(frozen=True)
class Axis:
    low: float
    high: float
    log: bool

    def at(self, value: float, start: float, length: float) -> float:
        """Where `value` falls between start and start + length."""
        if self.log:
            value, low, high = math.log10(value), math.log10(self.low), math.log10(self.high)
        else:
            low, high = self.low, self.high
        return start + (value - low) / (high - low) * length

    def ticks(self) -> list[float]:
        if self.log:
            first, last = math.floor(math.log10(self.low)), math.ceil(math.log10(self.high))
            return [m * 10.0 ** e for e in range(first, last + 1) for m in (1, 2, 5)
                    if self.low <= m * 10.0 ** e <= self.high]
        step = _nice_step((self.high - self.low) / 5)
        start = math.ceil(self.low / step) * step
        return [start + i * step for i in range(int((self.high - start) / step + 1e-9) + 1)]


def _nice_step(raw: float) -> float:
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _axis(values: list[float], clamp: tuple[float, float] | None = None, log_ok: bool = False) -> Axis:
    low, high = min(values), max(values)
    if log_ok and low > 0 and high / low > 20:
        return Axis(low / 1.4, high * 1.4, True)
    pad = (high - low) * 0.08 or abs(high) * 0.1 or 0.05
    low, high = low - pad, high + pad
    if clamp is not None:
        low, high = max(clamp[0], low), min(clamp[1], high)
    return Axis(low, high, False)


def _tick_label(value: float) -> str:
    return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


def pareto_svg(rows: list[dict[str, Any]], budgets: Budgets, width: int = 760, height: int = 430) -> dict | None:
    """Everything the template draws: axes, ticks, one circle per job (area by RAM, colour by board), the front.

    None when no job has a latency and an int8 top-1 accuracy (no labelled classification data)."""
    points = [Point(r, r["latency_ms"], r["accuracy"], r["ram_bytes"] or 0) for r in rows
              if r["status"] == "ok" and r["latency_ms"] is not None and r["accuracy"] is not None]
    if not points:
        return None
    left, right, top, bottom = 70, 190, 20, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    x_values = [p.latency_ms for p in points] + ([budgets.latency_ms] if budgets.latency_ms else [])
    y_values = [p.accuracy for p in points] + ([budgets.min_accuracy] if budgets.min_accuracy else [])
    x_axis, y_axis = _axis(x_values, log_ok=True), _axis(y_values, clamp=(0.0, 1.0))
    boards = sorted({p.row["board"] for p in points})
    colour = {board: PALETTE[i % len(PALETTE)] for i, board in enumerate(boards)}
    biggest = max(p.ram_bytes for p in points) or 1

    def x(value: float) -> float:
        return round(x_axis.at(value, left, plot_w), 1)

    def y(value: float) -> float:
        return round(y_axis.at(value, top + plot_h, -plot_h), 1)

    front = pareto_front(points)
    circles = []
    for p in sorted(points, key=lambda p: -p.ram_bytes):  # the big ones first, so small ones stay visible
        r = p.row
        circles.append({
            "x": x(p.latency_ms), "y": y(p.accuracy), "r": round(4 + 14 * math.sqrt(p.ram_bytes / biggest), 1),
            "colour": colour[r["board"]], "hollow": not r["within_budget"], "front": p in front, "model": r["model"],
            "title": f"{r['model']} on {r['board']} ({r['activations']}, {r['optimize']}, calib {r['calib']}): top-1 "
                     f"{p.accuracy:.1%}, {p.latency_ms:.3g} ms, RAM {p.ram_bytes / 1024:.1f} KB"
                     + ("" if r["within_budget"] else ", outside the budget"),
        })
    steps = []
    for a, b in zip(front, front[1:]):  # a staircase: the best accuracy reachable within each latency
        steps += [(x(b.latency_ms), y(a.accuracy)), (x(b.latency_ms), y(b.accuracy))]
    path = [(x(front[0].latency_ms), y(front[0].accuracy)), *steps]
    return {
        "width": width, "height": height, "left": left, "top": top, "plot_w": plot_w, "plot_h": plot_h,
        "x_ticks": [{"at": x(t), "label": _tick_label(t)} for t in x_axis.ticks()],
        "y_ticks": [{"at": y(t), "label": f"{t:.0%}" if y_axis.high - y_axis.low > 0.05 else f"{t:.1%}"}
                    for t in y_axis.ticks()],
        "x_label": "latency per inference, ms (estimate)" + (", log scale" if x_axis.log else ""),
        "y_label": "int8 top-1 accuracy",
        "circles": circles, "front": " ".join(f"{px},{py}" for px, py in path),
        "front_labels": [{"x": c["x"] + c["r"] + 5, "y": c["y"] + 4, "text": c["model"]}
                         for c in circles if c["front"]],
        "legend": [{"board": b, "colour": colour[b], "y": top + 16 + 20 * i} for i, b in enumerate(boards)],
        "legend_x": left + plot_w + 20,
        "notes": ["marker area: RAM", f"(largest {biggest / 1024:.1f} KB)", "hollow: outside a budget",
                  "ring: on the Pareto front"],
        "latency_budget": None if budgets.latency_ms is None else x(budgets.latency_ms),
        "accuracy_budget": None if budgets.min_accuracy is None else y(budgets.min_accuracy),
        "left_out": len(rows) - len(points),
    }


def render_html(spec: Spec, rows: list[dict[str, Any]]) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "sweep")),
                             undefined=jinja2.StrictUndefined, autoescape=True)
    headers = [("model", "model", "text"), ("board", "board", "text"), ("calib", "calib", "text"),
               ("activations", "act.", "text"), ("optimize", "opt.", "text"), ("accuracy", "top-1", "num"),
               ("latency_ms", "latency ms", "num"),
               ("energy_uj", "energy \u00b5J", "num"), ("ram_bytes", "RAM B", "num"), ("flash_bytes", "flash B", "num"),
               ("instructions", "instructions", "num"), ("cycles", "cycles", "num"), ("bit_exact", "bit-exact", "text"),
               ("within_budget", "in budget", "text"), ("status", "status", "text")]
    table = [[_cell(row, name) for name, _, _ in headers] for row in rows]
    budgets = [f"{field} {'>=' if sense == 'min' else '<='} {getattr(spec.budgets, field):g}"
               for _, field, sense in BUDGET_CHECKS if getattr(spec.budgets, field) is not None]
    return env.get_template("sweep.html.j2").render(
        spec=spec.path.name, version=__version__, svg=pareto_svg(rows, spec.budgets), headers=headers, table=table,
        budgets=budgets, jobs=len(rows), ok=sum(r["status"] == "ok" for r in rows),
        within=sum(bool(r["within_budget"]) for r in rows),
        failures=[r for r in rows if r["status"] != "ok"])


def _cell(row: dict[str, Any], name: str) -> dict[str, Any]:
    """A table cell: the text shown, the value sorted on, and a class for pass/fail colouring."""
    value = row[name]
    if value is None:
        return {"text": "", "sort": "", "cls": ""}
    if name == "accuracy":
        return {"text": f"{value:.1%}", "sort": value, "cls": "bad" if row["accuracy_budget"] == "fail" else ""}
    if name in ("latency_ms", "energy_uj"):
        budget = row["latency_budget" if name == "latency_ms" else "energy_budget"]
        return {"text": f"{value:.3g}", "sort": value, "cls": "bad" if budget == "fail" else ""}
    if name in ("ram_bytes", "flash_bytes", "instructions", "cycles"):
        budget = {"ram_bytes": row["ram_budget"], "flash_bytes": row["flash_budget"]}.get(name, "")
        return {"text": f"{value:,}", "sort": value, "cls": "bad" if budget == "fail" else ""}
    if name in ("bit_exact", "within_budget"):
        return {"text": "yes" if value else "no", "sort": int(bool(value)), "cls": "ok" if value else "bad"}
    if name == "status":
        return {"text": value if value == "ok" else "failed", "sort": value, "cls": "ok" if value == "ok" else "bad"}
    return {"text": str(value), "sort": str(value), "cls": ""}
