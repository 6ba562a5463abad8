"""Report stage: one versioned JSON schema, a terminal summary, and a self-contained HTML page.

Schema "tinyedge.report/1" (documented in docs/report.md). Every estimated figure sits
beside the name of the model that made it (`cycle_model`, `power.source`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import jinja2

from tinyedge import __version__
from tinyedge.resources import templates_dir

SCHEMA = "tinyedge.report/1"
DEFAULT_BATTERY_MAH = 220.0  # a CR2032 coin cell


@dataclass(frozen=True)
class ModelInfo:
    name: str
    macs: int
    params: int
    tflite: str
    sha256: str


@dataclass(frozen=True)
class BoardInfo:
    name: str
    core: str
    clock_hz: int


@dataclass(frozen=True)
class MemoryInfo:
    flash_bytes: int  # text + data (initialized data is stored in flash)
    ram_bytes: int  # data + bss + stack
    arena_bytes: int
    stack_bytes: int
    weights_bytes: int
    text_bytes: int
    data_bytes: int
    bss_bytes: int
    flash_available: int
    ram_available: int


@dataclass(frozen=True)
class SimulationInfo:
    backend: str
    instructions: int  # exact, executed between the inference markers, per inference
    cycles: int  # estimated by cycle_model
    cycle_model: str
    latency_ms: float
    energy_uj: float
    guest_mips: float


@dataclass(frozen=True)
class PowerInfo:
    active_ma: float
    sleep_ua: float
    voltage_v: float
    source: str
    rate_hz: float
    average_ua: float
    battery_mah: float
    battery_life_days: float


@dataclass(frozen=True)
class VerificationInfo:
    reference: str
    samples: int
    bit_exact: bool
    mismatched_samples: int


@dataclass(frozen=True)
class LayerFigures:
    index: int
    name: str
    op: str
    macs: int
    instructions: int
    cycles: int


@dataclass(frozen=True)
class Report:
    model: ModelInfo
    board: BoardInfo
    memory: MemoryInfo
    simulation: SimulationInfo
    power: PowerInfo
    verification: VerificationInfo
    layers: tuple[LayerFigures, ...]

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "tinyedge_version": __version__, **asdict(self)}


def energy_uj(latency_ms: float, active_ma: float, voltage_v: float) -> float:
    """Energy of one inference: latency x active current x supply voltage (mA x V x ms = uJ)."""
    return latency_ms * active_ma * voltage_v


def power_at_rate(latency_ms: float, active_ma: float, sleep_ua: float, voltage_v: float, source: str,
                  rate_hz: float, battery_mah: float = DEFAULT_BATTERY_MAH) -> PowerInfo:
    """Average current when running `rate_hz` inferences a second and sleeping in between."""
    duty = min(1.0, latency_ms / 1000.0 * rate_hz)
    average_ua = duty * active_ma * 1000.0 + (1.0 - duty) * sleep_ua
    life_days = battery_mah * 1000.0 / average_ua / 24.0 if average_ua > 0 else float("inf")
    return PowerInfo(active_ma, sleep_ua, voltage_v, source, rate_hz, average_ua, battery_mah, life_days)


def write_json(report: Report, path: Path) -> None:
    path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")


def summary_table(report: Report) -> str:
    """The terminal summary: headline figures, then the layers that cost the most."""
    r, sim, mem = report, report.simulation, report.memory
    rows = [
        ("model", f"{r.model.name}  ({r.model.macs:,} MACs, {r.model.params:,} params)"),
        ("board", f"{r.board.name}  ({r.board.core} @ {r.board.clock_hz / 1e6:g} MHz)"),
        ("instructions", f"{sim.instructions:,}  (exact, {sim.backend})"),
        ("cycles", f"{sim.cycles:,}  (estimate: {sim.cycle_model})"),
        ("cycles / MAC", f"{sim.cycles / max(r.model.macs, 1):.2f}"),
        ("latency", f"{sim.latency_ms:.3f} ms"),
        ("energy", f"{sim.energy_uj:.1f} uJ per inference  ({r.power.source})"),
        ("average current", f"{r.power.average_ua:.1f} uA at {r.power.rate_hz:g} inference/s  "
                            f"({r.power.battery_life_days:.0f} days on {r.power.battery_mah:g} mAh)"),
        ("flash", f"{mem.flash_bytes:,} / {mem.flash_available:,} B  (weights {mem.weights_bytes:,})"),
        ("RAM", f"{mem.ram_bytes:,} / {mem.ram_available:,} B  (arena {mem.arena_bytes:,}, "
                f"stack {mem.stack_bytes:,})"),
        ("verified", f"{r.verification.samples} samples, "
                     + ("bit-exact" if r.verification.bit_exact
                        else f"{r.verification.mismatched_samples} MISMATCHED")
                     + f" vs {r.verification.reference}"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"  {k:<{width}}  {v}" for k, v in rows]
    if r.layers:
        lines.append("")
        lines.append(f"  {'layer':<5} {'op':<18} {'MACs':>11} {'instructions':>13} {'cycles':>12} {'share':>6}")
        total = max(sum(layer.cycles for layer in r.layers), 1)
        for layer in r.layers:
            lines.append(f"  {layer.index:<5} {layer.op:<18} {layer.macs:>11,} {layer.instructions:>13,} "
                         f"{layer.cycles:>12,} {layer.cycles / total:>6.1%}")
    return "\n".join(lines)


def write_html(report: Report, path: Path) -> None:
    """A self-contained page (inline CSS and SVG, no network): layer chart, memory map, energy."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "report")),
                             undefined=jinja2.StrictUndefined, autoescape=True)
    total_cycles = max(sum(layer.cycles for layer in report.layers), 1)
    widest = max((layer.cycles for layer in report.layers), default=1) or 1
    layers = [{"layer": layer, "share": layer.cycles / total_cycles, "bar": 100.0 * layer.cycles / widest}
              for layer in report.layers]
    mem = report.memory
    flash_parts = [("weights", mem.weights_bytes), ("code and constants", max(mem.flash_bytes - mem.weights_bytes, 0)),
                   ("free", max(mem.flash_available - mem.flash_bytes, 0))]
    ram_parts = [("arena", mem.arena_bytes), ("stack", mem.stack_bytes),
                 ("other data", max(mem.ram_bytes - mem.arena_bytes - mem.stack_bytes, 0)),
                 ("free", max(mem.ram_available - mem.ram_bytes, 0))]
    html = env.get_template("report.html.j2").render(
        r=report, layers=layers, version=__version__,
        flash_parts=_percentages(flash_parts), ram_parts=_percentages(ram_parts))
    path.write_text(html)


def _percentages(parts: list[tuple[str, int]]) -> list[dict]:
    total = max(sum(size for _, size in parts), 1)
    return [{"name": name, "bytes": size, "percent": 100.0 * size / total} for name, size in parts]
