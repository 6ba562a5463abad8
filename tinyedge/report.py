"""Report stage: one versioned JSON schema, a terminal summary, and a self-contained HTML page.

Schema "tinyedge.report/2.2" (documented in docs/report.md). Every estimated figure sits
beside the name of the model that made it (`cycle_model`, `power.source`).

Boards the emulator runs get a `simulation` section (exact instructions, modelled cycles).
Boards it cannot run (Xtensa: esp32, esp32s3) get an `estimate` section instead (an
analytical estimate, labelled as one everywhere it is shown) and an `espidf` section for the
ESP-IDF project; the optional sections and fields are left out of report.json when absent,
so an emulated board's report reads exactly as before.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import jinja2

from tinyedge import __version__
from tinyedge.resources import templates_dir

# /2 added `provenance`, /2.1 `layers[].kernel` and `fallback`, /2.2 `provenance.activations` and
# `provenance.int8_agreement`, /2.3 `accuracy`; older reports read the same otherwise.
SCHEMA = "tinyedge.report/2.4"
READABLE_SCHEMAS = ("tinyedge.report/1", "tinyedge.report/2", "tinyedge.report/2.1", "tinyedge.report/2.2",
                    "tinyedge.report/2.3", SCHEMA)
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
    clock_hz: int  # the clock latency and energy are estimated at
    clock_source: str = ""  # how the flashed firmware reaches clock_hz ("" in reports from before it was named)


@dataclass(frozen=True)
class MemoryInfo:
    """Figures that were not measured (an ESP-IDF project that was not built) are None, and `note` says why."""

    flash_bytes: int | None  # text + data (initialized data is stored in flash)
    ram_bytes: int | None  # data + bss + stack
    arena_bytes: int
    stack_bytes: int | None
    weights_bytes: int
    text_bytes: int | None
    data_bytes: int | None
    bss_bytes: int | None
    flash_available: int
    ram_available: int
    note: str | None = None  # where the figures come from, when not from an emulated ELF
    flash_total_bytes: int | None = None  # the whole flash chip, where flash_available is one partition of it
    model_constants: str | None = None  # where the firmware reads the weights: "flash", "ram" (copied at start-up)
    # or "partial": the arrays whose flash reads were estimated to stall most per byte in RAM, the rest in flash
    model_constants_ram_bytes: int | None = None  # "ram" and "partial": bytes of the model's constant arrays in RAM
    optimize: str = "speed"  # what the arena was planned for (`--optimize`): "speed" or "ram"


@dataclass(frozen=True)
class SimulationInfo:
    backend: str
    instructions: int  # exact, executed between the inference markers, per inference
    cycles: int  # estimated by cycle_model, memory stalls included
    cycle_model: str
    latency_ms: float
    energy_uj: float
    guest_mips: float
    stall_cycles: int = 0  # of `cycles`: memory stalls (the board's caches and flash; 0 before schema 2.4)


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
    method: str | None = None  # what ran the outputs, when not the board's own firmware in the emulator


@dataclass(frozen=True)
class LayerFigures:
    index: int
    name: str
    op: str
    macs: int
    instructions: int
    cycles: int  # estimated, memory stalls included
    kernel: str = ""  # the C function that ran the layer
    fallback: str | None = None  # why a reference kernel ran although the op has a fast variant
    stall_cycles: int = 0  # of `cycles`: memory stalls (0 before schema 2.4)


@dataclass(frozen=True)
class EstimatedLayer:
    index: int
    name: str
    op: str
    kernel: str
    macs: int
    instructions: int  # estimated
    cycles: int  # estimated
    basis: str  # the calibration fit that priced it


@dataclass(frozen=True)
class EstimateInfo:
    """An analytical estimate of one inference for a board no emulator runs here: never a measurement."""

    source: str  # says plainly that this is an analytical estimate
    label: str  # the core, clock, proxy board, core factor and calibration date
    calibration: str  # the table and when it was measured
    fitted_on: str  # the emulated board whose per-layer fits priced the layers, and its cycle model
    assumption: str  # how that board stands for this core
    instructions: int
    cycles: int
    latency_ms: float
    energy_uj: float
    cycles_optimistic: int  # priced with the fits of a core whose kernels use DSP SIMD
    latency_ms_optimistic: float
    optimistic_basis: str
    layers: tuple[EstimatedLayer, ...]


@dataclass(frozen=True)
class EspIdfInfo:
    """The ESP-IDF project in the output folder, and whether idf.py built it here."""

    target: str  # IDF_TARGET
    project: str  # relative to the report
    built: bool
    app_bin: str | None  # relative to the report, when built
    note: str


@dataclass(frozen=True)
class FirmwareInfo:
    """The standalone UART variant (`--console uart`): what it prints on, and the clock its set-up
    leaves the core at, which the latency on the board follows (the estimates use board.clock_hz)."""

    console: str
    uart: str
    cpu_clock_hz: int
    latency_ms_at_cpu_clock: float  # the estimated cycles at cpu_clock_hz


SYNTHETIC_CALIBRATION = "synthetic, seeded: ranges and accuracy unknown"


@dataclass(frozen=True)
class AgreementInfo:
    """How closely the quantized model follows the float one on held-out samples (the quantization's cost)."""

    samples: int  # held-out samples compared
    cosine: float
    max_abs_error: float
    mean_abs_error: float
    top1: float | None  # only for outputs that are class scores
    activations: str = "int8"  # the quantized model's: "int8", or "int16" (16x8 mode)


@dataclass(frozen=True)
class Provenance:
    """Where the int8 model came from, so a report can be trusted (and reproduced) after the terminal is gone."""

    calibration: str  # the calibration file or folder as given, or SYNTHETIC_CALIBRATION
    calibration_sha256: str | None  # of the file (of a folder: of its sorted .npy files' names and bytes)
    calibration_samples: int  # samples the converter saw (0: the model came already int8)
    agreement: AgreementInfo | None  # None when the model came already quantized (nothing to compare)
    versions: dict[str, str]  # keys: "tinyedge", "tensorflow", "tflite_micro", "compiler"
    command: str  # the command line, as typed (differs between runs: excluded from reproducibility)
    activations: str = "int8"  # the model's activations: "int8", or "int16" (TensorFlow's 16x8 mode)
    # With int16 activations quantized here: the int8 conversion's agreement on the same samples, the
    # accuracy side of the trade against int16's doubled activation RAM. None otherwise.
    int8_agreement: AgreementInfo | None = None


@dataclass(frozen=True)
class AccuracyInfo:
    """Accuracy on labelled data (`compile --eval`): the int8 figures from the firmware's own C on the host,
    the float ones from TensorFlow. Classifiers get top-1 and a confusion matrix, regressors a mean abs error."""

    data: str  # the --eval file or folder as given
    samples: int
    task: str  # "classification" or "regression"
    int8_method: str
    float_method: str | None  # None when there is no float model (an int8 .tflite was given)
    int8_top1: float | None = None
    float_top1: float | None = None
    classes: tuple[str, ...] = ()
    confusion: tuple[tuple[int, ...], ...] = ()  # int8: rows the true class, columns the predicted one
    int8_mae: float | None = None
    float_mae: float | None = None


# Left out of report.json when None: sections and fields that only some boards have.
OPTIONAL_SECTIONS = ("simulation", "estimate", "espidf", "firmware", "provenance", "accuracy")
OPTIONAL_FIELDS = {"memory": ("note", "flash_total_bytes", "model_constants", "model_constants_ram_bytes"),
                   "verification": ("method",)}


@dataclass(frozen=True)
class Report:
    """`simulation` for boards the emulator runs; `estimate` and `espidf` for boards it cannot run."""

    model: ModelInfo
    board: BoardInfo
    memory: MemoryInfo
    simulation: SimulationInfo | None
    power: PowerInfo
    verification: VerificationInfo
    layers: tuple[LayerFigures, ...]  # measured per-layer figures; empty without an emulator run
    estimate: EstimateInfo | None = None
    espidf: EspIdfInfo | None = None
    firmware: FirmwareInfo | None = None  # the UART variant only
    provenance: Provenance | None = None  # calibration, agreement, versions, command line
    accuracy: AccuracyInfo | None = None  # only with labelled data (`compile --eval`)

    def to_dict(self) -> dict:
        data = asdict(self)
        for section in OPTIONAL_SECTIONS:
            if data[section] is None:
                del data[section]
        for section, fields in OPTIONAL_FIELDS.items():
            for field in fields:
                if data[section][field] is None:
                    del data[section][field]
        for layer in data["layers"]:
            if layer["fallback"] is None:
                del layer["fallback"]
        return {"schema": SCHEMA, "tinyedge_version": __version__, **data}


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
    r = report
    rows = [
        ("model", f"{r.model.name}  ({r.model.macs:,} MACs, {r.model.params:,} params)"),
        ("board", f"{r.board.name}  ({r.board.core} @ {r.board.clock_hz / 1e6:g} MHz)"),
        *([("clock", r.board.clock_source)] if r.board.clock_source else []),
        *(_estimate_rows(r) if r.estimate is not None else _simulation_rows(r)),
        ("average current", f"{r.power.average_ua:.1f} uA at {r.power.rate_hz:g} inference/s  "
                            f"({r.power.battery_life_days:.0f} days on {r.power.battery_mah:g} mAh; estimate)"),
        *_memory_rows(r.memory, partition=r.espidf is not None),
        ("verified", f"{r.verification.samples} samples, "
                     + ("bit-exact" if r.verification.bit_exact
                        else f"{r.verification.mismatched_samples} MISMATCHED")
                     + f" vs {r.verification.reference}"
                     + (f"  ({r.verification.method})" if r.verification.method else "")),
    ]
    if r.provenance is not None:
        rows.extend(_provenance_rows(r.provenance))
    if r.accuracy is not None:
        rows.append(("accuracy", accuracy_text(r.accuracy)))
    if r.espidf is not None:
        rows.append(("ESP-IDF", r.espidf.note))
    if r.firmware is not None:
        fw = r.firmware
        rows.append(("firmware", f"UART variant on {fw.uart}: core at {fw.cpu_clock_hz / 1e6:g} MHz on the board, "
                                 f"{fw.latency_ms_at_cpu_clock:.3f} ms at that clock"))
    width = max(len(k) for k, _ in rows)
    lines = [f"  {k:<{width}}  {v}" for k, v in rows]
    layers = r.estimate.layers if r.estimate is not None else r.layers
    if layers:
        lines.append("")
        if r.estimate is not None:
            lines.append("  per layer, analytical estimate (not measured):")
        instructions, cycles = layer_headings(r)
        stalls = r.estimate is None  # the memory stall column: emulated boards only
        lines.append(f"  {'layer':<5} {'op':<18} {'MACs':>11} {instructions:>17} {cycles:>12} "
                     + (f"{'of it stall':>12} " if stalls else "") + f"{'share':>6}")
        total = max(sum(layer.cycles for layer in layers), 1)
        for layer in layers:
            stall = f"{getattr(layer, 'stall_cycles', 0):>12,} " if stalls else ""
            lines.append(f"  {layer.index:<5} {layer.op:<18} {layer.macs:>11,} {layer.instructions:>17,} "
                         f"{layer.cycles:>12,} {stall}{layer.cycles / total:>6.1%}")
    fallbacks = reference_fallbacks(r)
    if fallbacks:
        lines.append("")
        lines.append(f"  {len(fallbacks)} layer(s) with MACs on a reference kernel although a fast variant exists:")
        lines.extend(f"  {layer.index:<5} {layer.op:<18} {layer.kernel}: {layer.fallback}" for layer in fallbacks)
    return "\n".join(lines)


def reference_fallbacks(r: Report) -> list[LayerFigures]:
    """The MAC-carrying layers that ran a reference kernel although their op has a fast variant."""
    return [layer for layer in r.layers if layer.macs > 0 and layer.fallback is not None]


def layer_headings(r: Report) -> tuple[str, str]:
    """The per-layer table's instruction and cycle headings: an estimate never heads a column as a count."""
    return ("est. instructions", "est. cycles") if r.estimate is not None else ("instructions", "est. cycles")


def mips_text(mips: float) -> str:
    """An emulator speed: whole MIPS, or two figures below 10 (a short run is mostly start-up)."""
    return f"{mips:,.0f}" if mips >= 10 else f"{mips:.2g}"


def _simulation_rows(r: Report) -> list[tuple[str, str]]:
    sim = r.simulation
    assert sim is not None
    return [
        ("instructions", f"{sim.instructions:,}  (exact, {sim.backend}; emulated at {mips_text(sim.guest_mips)} MIPS)"),
        ("cycles", f"{sim.cycles:,}  (estimate, {sim.stall_cycles:,} of them memory stalls: {sim.cycle_model})"),
        ("cycles / MAC", f"{sim.cycles / max(r.model.macs, 1):.2f}  (estimate)"),
        ("latency", f"{sim.latency_ms:.3f} ms  (estimate)"),
        ("energy", f"{sim.energy_uj:.1f} uJ per inference  (estimate: estimated latency x {r.power.source})"),
    ]


def _estimate_rows(r: Report) -> list[tuple[str, str]]:
    est = r.estimate
    assert est is not None
    return [
        ("estimate", est.label),
        ("cycles", f"{est.cycles:,}  (estimate; optimistic bound {est.cycles_optimistic:,})"),
        ("cycles / MAC", f"{est.cycles / max(r.model.macs, 1):.2f}  (estimate)"),
        ("latency", f"{est.latency_ms:.3f} ms  (estimate; optimistic bound {est.latency_ms_optimistic:.3f} ms)"),
        ("energy", f"{est.energy_uj:.1f} uJ per inference  (estimate: estimated latency x {r.power.source})"),
    ]


def calibration_text(prov: Provenance) -> str:
    """One line for the calibration: the file and a short hash, or the synthetic warning (terminal and HTML)."""
    if prov.calibration == SYNTHETIC_CALIBRATION:
        return f"WARNING: {SYNTHETIC_CALIBRATION} ({prov.calibration_samples} samples); pass --calib for real ranges"
    text = prov.calibration
    if prov.calibration_sha256:
        text += f"  (sha256 {prov.calibration_sha256[:12]}"
        text += f", {prov.calibration_samples} samples)" if prov.calibration_samples else ")"
    elif prov.calibration_samples:
        text += f"  ({prov.calibration_samples} samples)"
    return text


def agreement_text(agreement: AgreementInfo | None) -> str:
    """The quantized-vs-float figures in one line; top-1 only where the outputs are class scores."""
    if agreement is None:
        return "not measured: the model came already quantized (no float model to compare)"
    a = agreement
    text = (f"{a.activations} vs float on {a.samples} held-out samples: cosine {a.cosine:.4f}, "
            f"max |error| {a.max_abs_error:.4g}, mean |error| {a.mean_abs_error:.4g}")
    return text + (f", top-1 {a.top1:.1%}" if a.top1 is not None else "")


def accuracy_text(a: AccuracyInfo) -> str:
    """Int8 (the firmware's C) beside float accuracy on the labelled samples, in one line."""
    if a.task == "classification":
        int8, floating = f"top-1 {a.int8_top1:.1%}", None if a.float_top1 is None else f"{a.float_top1:.1%}"
    else:
        int8, floating = f"mean abs error {a.int8_mae:.4g}", None if a.float_mae is None else f"{a.float_mae:.4g}"
    text = f"int8 {int8} on {a.samples} labelled samples"
    return text + (f" (float {floating})" if floating is not None else " (no float model to compare)")


def confusion_svg(a: AccuracyInfo, cell: int = 28) -> dict | None:
    """The confusion matrix as SVG cells, shaded by each row's share (computed here; the template lays them out)."""
    if not a.confusion:
        return None
    label_width = 8 * max(len(name) for name in a.classes) + 12
    cells = []
    for i, row in enumerate(a.confusion):
        total = max(sum(row), 1)
        for j, count in enumerate(row):
            share = count / total
            cells.append({"x": label_width + j * cell, "y": label_width + i * cell, "count": count,
                          "fill": f"rgb({int(255 - 181 * share)},{int(255 - 132 * share)},{int(255 - 47 * share)})",
                          "text": "#fff" if share > 0.5 else "#222",
                          "title": f"true {a.classes[i]}, predicted {a.classes[j]}: {count} of {sum(row)}"})
    size = label_width + cell * len(a.classes)
    labels = [{"name": name, "at": label_width + k * cell + cell // 2} for k, name in enumerate(a.classes)]
    return {"cells": cells, "cell": cell, "size": size, "labels": labels, "inset": label_width - 6}


def _provenance_rows(prov: Provenance) -> list[tuple[str, str]]:
    rows = [("calibration", calibration_text(prov)), ("agreement", agreement_text(prov.agreement))]
    if prov.int8_agreement is not None:
        rows.append(("int8 instead", agreement_text(prov.int8_agreement) + " (activations would take half the RAM)"))
    return rows


def flash_capacity(mem: MemoryInfo, partition: bool) -> str:
    """What flash_available is: the board's flash, or (ESP-IDF) the app partition, beside the whole chip when known."""
    text = f"{mem.flash_available:,} B"
    if partition:
        text += " app partition"
    if mem.flash_total_bytes is not None and mem.flash_total_bytes != mem.flash_available:
        text += f" of {mem.flash_total_bytes:,} B flash"
    return text


def _memory_rows(mem: MemoryInfo, partition: bool = False) -> list[tuple[str, str]]:
    flash = "not known" if mem.flash_bytes is None else f"{mem.flash_bytes:,}"
    ram = "not known" if mem.ram_bytes is None else f"{mem.ram_bytes:,}"
    stack = "not measured" if mem.stack_bytes is None else f"{mem.stack_bytes:,}"
    rows = [("flash", f"{flash} / {flash_capacity(mem, partition)}  (weights {mem.weights_bytes:,})"),
            ("RAM", f"{ram} / {mem.ram_available:,} B  (arena {mem.arena_bytes:,} planned for {mem.optimize}, "
                    f"stack {stack})")]
    if mem.model_constants == "ram":
        rows.append(("weights", "in RAM: copied from flash at start-up (they fit; the board reads flash slowly)"))
    elif mem.model_constants == "partial":
        in_ram = mem.model_constants_ram_bytes or 0
        rows.append(("weights", f"partly in RAM: {in_ram:,} of {mem.weights_bytes:,} B copied from flash at start-up "
                                "(the arrays whose flash reads were estimated to stall most per byte, as many as fit "
                                "beside the arena and stack), the rest read from flash"))
    if mem.note:
        rows.append(("memory", mem.note))
    return rows


def write_html(report: Report, path: Path) -> None:
    """A self-contained page (inline CSS and SVG, no network): layer chart, memory map, energy."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "report")),
                             undefined=jinja2.StrictUndefined, autoescape=True)
    rows = report.estimate.layers if report.estimate is not None else report.layers
    total_cycles = max(sum(layer.cycles for layer in rows), 1)
    widest = max((layer.cycles for layer in rows), default=1) or 1
    layers = [{"layer": layer, "share": layer.cycles / total_cycles, "bar": 100.0 * layer.cycles / widest,
               "fallback": getattr(layer, "fallback", None)}
              for layer in rows]
    mem = report.memory
    flash_parts = ram_parts = None
    if mem.flash_bytes is not None:
        flash_parts = _percentages([("weights", mem.weights_bytes),
                                    ("code and constants", max(mem.flash_bytes - mem.weights_bytes, 0)),
                                    ("free", max(mem.flash_available - mem.flash_bytes, 0))])
    if mem.ram_bytes is not None:
        stack = mem.stack_bytes or 0
        ram_parts = _percentages([("arena", mem.arena_bytes), ("stack", stack),
                                  ("other data", max(mem.ram_bytes - mem.arena_bytes - stack, 0)),
                                  ("free", max(mem.ram_available - mem.ram_bytes, 0))])
    prov = report.provenance
    html = env.get_template("report.html.j2").render(
        r=report, layers=layers, version=__version__, flash_parts=flash_parts, ram_parts=ram_parts,
        headings=layer_headings(report), flash_capacity=flash_capacity(mem, report.espidf is not None),
        synthetic=prov is not None and prov.calibration == SYNTHETIC_CALIBRATION,
        calibration=calibration_text(prov) if prov is not None else None,
        agreement=agreement_text(prov.agreement) if prov is not None else None,
        accuracy=accuracy_text(report.accuracy) if report.accuracy is not None else None,
        confusion=confusion_svg(report.accuracy) if report.accuracy is not None else None,
        int8_agreement=agreement_text(prov.int8_agreement) if prov is not None and prov.int8_agreement else None)
    path.write_text(html)


def _percentages(parts: list[tuple[str, int]]) -> list[dict]:
    total = max(sum(size for _, size in parts), 1)
    return [{"name": name, "bytes": size, "percent": 100.0 * size / total} for name, size in parts]
