"""Analytical estimate of one inference on a core tinyedge cannot emulate (Xtensa: esp32, esp32s3).

No Xtensa compiler or emulator can be installed here, so these boards get no measurement.
What they get is an estimate built from measurements of the same C on cores that are
emulated, always labelled as such:

1. Calibration (`python -m tinyedge.estimate --calibrate`, written to estimate_xtensa.toml):
   the MLPerf-Tiny-shaped models of tinyedge.examples are compiled and run in the built-in
   emulator on esp32c3 (RV32IMC) and nrf52840 (Cortex-M4F). Each layer's emulator figures
   (exact instructions, cycle-model cycles) are fitted as a non-negative linear function of
   the layer's work:
       MAC ops (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED):
           cost = per_mac * MACs + per_output * output elements + per_call
       every other op:
           cost = per_element * (input + output elements) + per_call
   one fit per (op, kernel) pair seen, and one per op kind (conv, depthwise, fc, other) for
   pairs the calibration never ran. MAC ops always keep a positive per-MAC term, so the
   estimate grows with the MACs. The table keeps every layer measurement beside the fits, so
   the fits can be made again from them (tests/test_estimate.py does), and each model's
   held-out error: its cycles predicted by fits made without it, against the measured ones.
   The worst held-out error of the proxy board is printed in every estimate's label.
2. Scaling: the table's [cores.<core>] entry names the proxy board whose fits stand for the
   core (esp32c3: RV32IMC compiles the kernels' portable C paths, as an Xtensa build does)
   and a cycle factor for the core difference (an assumption, stated in the table and in
   every label). Latency = cycles / the board's clock; energy = latency x the board file's
   active current x supply voltage. The Cortex-M4F fits give an optimistic bound (its
   kernels use DSP SIMD instructions that the Xtensa build does not).
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import math
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyedge import __version__
from tinyedge.boards import Board, load_board
from tinyedge.codegen import CompiledModel
from tinyedge.errors import TinyEdgeError
from tinyedge.report import energy_uj

CALIBRATION_FILE = Path(__file__).with_name("estimate_xtensa.toml")
TABLE_VERSION = 1
MAC_KINDS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise", "FULLY_CONNECTED": "fc"}
OTHER_KIND = "other"
ANY = "*"  # op and kernel of a per-kind fallback fit
CALIBRATION_BOARDS = ("esp32c3", "nrf52840")
TERMS = ("per_mac", "per_output", "per_element", "per_call")
# The terms a fit may use, by the kind of op; the first one is always kept (monotonic in the work).
FIT_TERMS = {True: ("per_mac", "per_output", "per_call"), False: ("per_element", "per_call")}


@dataclass(frozen=True)
class Work:
    """What one layer computes, in the units the fits use."""

    macs: int
    outputs: int  # output tensor elements
    elements: int  # non-constant input elements + output elements

    def feature(self, term: str) -> float:
        return {"per_mac": self.macs, "per_output": self.outputs, "per_element": self.elements,
                "per_call": 1}[term]


@dataclass(frozen=True)
class CostFit:
    """cost = per_mac * MACs + per_output * outputs + per_element * elements + per_call."""

    per_mac: float = 0.0
    per_output: float = 0.0
    per_element: float = 0.0
    per_call: float = 0.0

    def __call__(self, work: Work) -> float:
        return sum(getattr(self, term) * work.feature(term) for term in TERMS)


@dataclass(frozen=True)
class Fit:
    op: str  # TFLite op name, or ANY for a per-kind fallback
    kernel: str  # C kernel function, or ANY
    kind: str  # conv, depthwise, fc or other
    layers: int  # calibration layers it was fitted on
    cycles: CostFit
    instructions: CostFit

    @property
    def basis(self) -> str:
        return f"{self.kind} fallback" if self.op == ANY else f"{self.op}/{self.kernel}"


@dataclass(frozen=True)
class CoreScaling:
    """How a core without an emulator is estimated from a calibrated board."""

    core: str
    proxy: str  # calibration board whose fits stand for this core
    optimistic: str  # calibration board whose fits give the optimistic bound
    cycle_factor: float
    instruction_factor: float
    assumption: str


@dataclass(frozen=True)
class LayerSample:
    """One layer of one calibration run."""

    model: str
    board: str
    op: str
    kernel: str
    work: Work
    instructions: int
    cycles: int


@dataclass(frozen=True)
class Calibration:
    path: Path
    measured_on: str
    tinyedge_version: str
    method: str
    fits: dict[str, tuple[Fit, ...]]  # by calibration board
    cycle_models: dict[str, str]  # by calibration board: the emulator's cycle model
    cores: dict[str, CoreScaling]
    samples: dict[str, tuple[LayerSample, ...]] = field(default_factory=dict)  # the measurements fitted
    checks: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # board -> model -> figures

    def held_out_errors(self, board: str) -> dict[str, float]:
        """Per calibration model: (cycles predicted by fits made without it) / measured - 1."""
        return {model: figures["left_out"] / figures["measured"] - 1.0
                for model, figures in self.checks.get(board, {}).items() if "left_out" in figures}

    def fit_for(self, board: str, op: str, kernel: str) -> Fit:
        fits = self.fits[board]
        for fit in fits:
            if (fit.op, fit.kernel) == (op, kernel):
                return fit
        kind = op_kind(op)
        for fit in fits:
            if fit.op == ANY and fit.kind == kind:
                return fit
        raise TinyEdgeError(f"{self.path}: no fit for {op}/{kernel} and no '{kind}' fallback for board {board}; "
                            "recalibrate with `python -m tinyedge.estimate --calibrate`")


@dataclass(frozen=True)
class LayerEstimate:
    index: int
    name: str
    op: str
    kernel: str
    macs: int
    instructions: int
    cycles: int
    basis: str  # which fit priced it


@dataclass(frozen=True)
class Estimate:
    """An analytical estimate of one inference: never a measurement (see `label`)."""

    board: str
    core: str
    clock_hz: int
    instructions: int
    cycles: int
    cycles_optimistic: int  # with the optimistic board's fits (a core whose kernels use DSP SIMD)
    latency_ms: float
    energy_uj: float
    label: str  # "analytical estimate (...)": what the figures are and what made them
    assumption: str
    calibration: str  # the table and when it was measured
    layers: tuple[LayerEstimate, ...]
    proxy: str  # the calibration board whose fits priced the layers
    proxy_cycle_model: str  # the emulator's cycle model behind those fits' cycles
    optimistic_board: str  # the calibration board whose fits give cycles_optimistic

    @property
    def latency_ms_optimistic(self) -> float:
        return self.cycles_optimistic / self.clock_hz * 1000.0


def op_kind(op: str) -> str:
    return MAC_KINDS.get(op, OTHER_KIND)


def layer_work(model: CompiledModel) -> list[Work]:
    """Per layer, the MACs, output elements and touched activation elements."""
    graph, work = model.graph, []
    for layer, op in zip(model.layers, graph.operators):
        outputs = sum(graph.tensor(t).size for t in op.outputs)
        inputs = sum(graph.tensor(t).size for t in op.inputs if t >= 0 and not graph.tensor(t).is_constant)
        work.append(Work(layer.macs, outputs, inputs + outputs))
    return work


# ---------------------------------------------------------------- estimate

def estimate(model: CompiledModel, board: Board | str, calibration: Calibration | None = None) -> Estimate:
    """Estimated instructions, cycles, latency and energy of one inference of `model` on `board`."""
    board = load_board(board) if isinstance(board, str) else board
    calibration = calibration or load_calibration()
    scaling = core_scaling(board, calibration)
    assert board.clock_hz and board.power is not None
    layers, optimistic = [], 0.0
    for layer, work in zip(model.layers, layer_work(model)):
        fit = calibration.fit_for(scaling.proxy, layer.opcode, layer.function)
        bound = calibration.fit_for(scaling.optimistic, layer.opcode, layer.function)
        optimistic += bound.cycles(work) * scaling.cycle_factor
        layers.append(LayerEstimate(layer.index, layer.name, layer.opcode, layer.function, layer.macs,
                                    round(fit.instructions(work) * scaling.instruction_factor),
                                    round(fit.cycles(work) * scaling.cycle_factor), fit.basis))
    cycles = sum(layer.cycles for layer in layers)
    latency_ms = cycles / board.clock_hz * 1000.0
    power = board.power
    held_out = calibration.held_out_errors(scaling.proxy)
    worst = max(held_out.items(), key=lambda item: abs(item[1]), default=None)
    error = (f"held-out error up to {abs(worst[1]):.0%} ({worst[0]} predicted by fits made without it: "
             f"{worst[1]:+.0%})" if worst is not None else "held-out error unknown (no check in the table)")
    label = (f"analytical estimate ({board.core} at {board.clock_hz / 1e6:g} MHz: per-layer cycles fitted on "
             f"{scaling.proxy} emulator runs x {scaling.cycle_factor:.2f} assumed core factor; {error}; "
             f"calibrated {calibration.measured_on}; not a measurement)")
    return Estimate(
        board=board.name, core=board.core, clock_hz=board.clock_hz,
        instructions=sum(layer.instructions for layer in layers), cycles=cycles,
        cycles_optimistic=round(optimistic), latency_ms=latency_ms,
        energy_uj=energy_uj(latency_ms, power.active.value, power.supply.value),
        label=label, assumption=scaling.assumption,
        calibration=f"{calibration.path.name}, measured {calibration.measured_on} with tinyedge "
                    f"{calibration.tinyedge_version}",
        layers=tuple(layers), proxy=scaling.proxy, proxy_cycle_model=calibration.cycle_models[scaling.proxy],
        optimistic_board=scaling.optimistic)


def core_scaling(board: Board, calibration: Calibration | None = None) -> CoreScaling:
    """How `board`'s core is estimated; an error naming the cores that can be, or the missing board figures."""
    calibration = calibration or load_calibration()
    scaling = calibration.cores.get(board.core)
    if scaling is None:
        raise TinyEdgeError(f"no analytical estimate for core {board.core} (board {board.name}); cores with one: "
                            f"{', '.join(sorted(calibration.cores))}; other boards are measured in the emulator")
    if not board.clock_hz or board.power is None:
        raise TinyEdgeError(f"board {board.name} needs clock_hz and power figures for an estimate")
    return scaling


def load_calibration(path: Path | None = None) -> Calibration:
    path = Path(path) if path is not None else CALIBRATION_FILE
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise TinyEdgeError(f"calibration table {path} is missing; create it with "
                            "`python -m tinyedge.estimate --calibrate`") from None
    except tomllib.TOMLDecodeError as exc:
        raise TinyEdgeError(f"{path}: not valid TOML: {exc}") from None
    if data.get("version") != TABLE_VERSION:
        raise TinyEdgeError(f"{path}: table version {data.get('version')!r}, this tinyedge reads version "
                            f"{TABLE_VERSION}; recalibrate with `python -m tinyedge.estimate --calibrate`")
    try:
        fits = {name: tuple(Fit(f["op"], f["kernel"], f["kind"], f["layers"], CostFit(**f["cycles"]),
                                CostFit(**f["instructions"])) for f in board["fits"])
                for name, board in data["boards"].items()}
        cores = {name: CoreScaling(name, **entry) for name, entry in data["cores"].items()}
        cycle_models = {name: board["cycle_model"] for name, board in data["boards"].items()}
        samples = {name: tuple(LayerSample(row["model"], name, row["op"], row["kernel"],
                                           Work(row["macs"], row["outputs"], row["elements"]),
                                           row["instructions"], row["cycles"]) for row in board.get("samples", ()))
                   for name, board in data["boards"].items()}
        checks = {name: dict(board.get("check", {})) for name, board in data["boards"].items()}
        result = Calibration(path, data["measured_on"], data["tinyedge_version"], data["method"], fits,
                             cycle_models, cores, samples, checks)
    except (KeyError, TypeError) as exc:
        raise TinyEdgeError(f"{path}: malformed calibration table ({exc}); recalibrate with "
                            "`python -m tinyedge.estimate --calibrate`") from None
    for scaling in cores.values():
        for board in (scaling.proxy, scaling.optimistic):
            if board not in fits:
                raise TinyEdgeError(f"{path}: core {scaling.core} names board {board}, which has no fits")
    return result


# ---------------------------------------------------------------- calibration

def measure(names: Sequence[str], boards: Sequence[str], workdir: Path,
            log: Callable[[str], None]) -> tuple[list[LayerSample], dict[str, str]]:
    """Compile and emulate each example model on each board; per-layer figures and each board's cycle model."""
    from tinyedge import examples
    from tinyedge.pipeline import compile_model
    from tinyedge.quantize import quantize_keras_model

    samples: list[LayerSample] = []
    cycle_models: dict[str, str] = {}
    for name in names:
        keras_model = examples.build(name)
        calib = np.random.default_rng(0).uniform(-1, 1, (40, *keras_model.inputs[0].shape[1:])).astype(np.float32)
        np.save(workdir / f"{name}-calib.npy", calib)
        tflite = workdir / f"{name}.tflite"
        quantize_keras_model(keras_model, tflite, [calib], log=lambda _message: None)
        for board in boards:
            result = compile_model(tflite, board, workdir / f"{name}-{board}", calib=workdir / f"{name}-calib.npy",
                                   samples=1)
            report = result.report
            if not report.verification.bit_exact:
                raise TinyEdgeError(f"calibration run {name} on {board} is not bit-exact: fix that first")
            cycle_models[board] = report.simulation.cycle_model
            for layer, work, figures in zip(result.model.layers, layer_work(result.model), report.layers):
                samples.append(LayerSample(name, board, layer.opcode, layer.function, work, figures.instructions,
                                           figures.cycles))
            log(f"calibration: {name} on {board}: {report.simulation.instructions:,} instructions, "
                f"{report.simulation.cycles:,} cycles")
    return samples, cycle_models


def fit_costs(works: Sequence[Work], costs: Sequence[float], mac_op: bool) -> CostFit:
    """The non-negative fit with the smallest relative error; it always keeps the leading term.

    Every subset of the allowed terms that holds the leading one is solved by least squares
    (relative residuals, so small layers count as much as large ones); subsets with a
    negative coefficient are rejected.
    """
    lead, *rest = FIT_TERMS[mac_op]
    y = np.maximum(np.asarray(costs, dtype=float), 1.0)
    best: tuple[float, dict[str, float]] | None = None
    for size in range(len(rest) + 1):
        for extra in itertools.combinations(rest, size):
            terms = (lead, *extra)
            if len(terms) > len(works):
                continue
            x = np.array([[w.feature(t) for t in terms] for w in works], dtype=float)
            coefficients, *_ = np.linalg.lstsq(x / y[:, None], np.ones_like(y), rcond=None)
            if (coefficients < 0).any():
                continue
            error = float(np.sum((x @ coefficients / y - 1.0) ** 2))
            if best is None or error < best[0] - 1e-12:
                best = (error, dict(zip(terms, (float(c) for c in coefficients))))
    assert best is not None  # the leading term alone is a ratio of positive sums
    return CostFit(**best[1])


def fit_board(samples: Sequence[LayerSample]) -> list[Fit]:
    """Fits per (op, kernel) pair, then per op kind as the fallback, for one board's samples."""
    groups: dict[tuple[str, str, str], list[LayerSample]] = {}
    for s in samples:
        groups.setdefault((s.op, s.kernel, op_kind(s.op)), []).append(s)
        groups.setdefault((ANY, ANY, op_kind(s.op)), []).append(s)
    fits = []
    for (op, kernel, kind), group in sorted(groups.items(), key=lambda item: (item[0][0] == ANY, item[0])):
        mac_op = kind != OTHER_KIND
        works = [s.work for s in group]
        fits.append(Fit(op, kernel, kind, len(group), fit_costs(works, [s.cycles for s in group], mac_op),
                        fit_costs(works, [s.instructions for s in group], mac_op)))
    return fits


def _predict(fits: list[Fit], samples: Iterable[LayerSample]) -> float:
    by_pair = {(f.op, f.kernel): f for f in fits}
    by_kind = {f.kind: f for f in fits if f.op == ANY}
    return sum((by_pair.get((s.op, s.kernel)) or by_kind[op_kind(s.op)]).cycles(s.work) for s in samples)


def check_fits(samples: Sequence[LayerSample]) -> dict[str, dict[str, int]]:
    """Per model: measured cycles, the fits' in-sample prediction, and the prediction of fits made
    without that model (leave one model out) -- how far the estimate is from a measurement."""
    result = {}
    for name in dict.fromkeys(s.model for s in samples):
        own = [s for s in samples if s.model == name]
        others = [s for s in samples if s.model != name]
        result[name] = {"measured": sum(s.cycles for s in own), "fitted": round(_predict(fit_board(samples), own))}
        if others:
            result[name]["left_out"] = round(_predict(fit_board(others), own))
    return result


DEFAULT_CORES = {
    "xtensa-lx6": CoreScaling(
        "xtensa-lx6", proxy="esp32c3", optimistic="nrf52840", cycle_factor=1.0, instruction_factor=1.0,
        assumption="ESP32's Xtensa LX6 taken as a single-issue in-order core with single-cycle ALU operations and "
                   "a 32x32 multiplier, like the RV32IMC model; both compile the kernels' portable C (no "
                   "DSP SIMD path), so RV32IMC cycles per layer stand for LX6 cycles (factor 1.0). Not modelled: "
                   "windowed-register spills, flash cache misses, the MAC16 unit (GCC does not use it for C)"),
    "xtensa-lx7": CoreScaling(
        "xtensa-lx7", proxy="esp32c3", optimistic="nrf52840", cycle_factor=1.0, instruction_factor=1.0,
        assumption="ESP32-S3's Xtensa LX7 taken as a single-issue in-order core with single-cycle ALU operations "
                   "and a 32x32 multiplier, like the RV32IMC model; both compile the kernels' portable C (the "
                   "PIE SIMD unit is not used), so RV32IMC cycles per layer stand for LX7 cycles (factor 1.0). "
                   "Not modelled: windowed-register spills, flash cache misses"),
}


def calibrate(names: Sequence[str], boards: Sequence[str] = CALIBRATION_BOARDS, output: Path = CALIBRATION_FILE,
              log: Callable[[str], None] | None = None) -> Calibration:
    """Measure, fit, check and write the calibration table; returns it as loaded back."""
    log = log or (lambda message: print(message, file=sys.stderr))
    with tempfile.TemporaryDirectory(prefix="tinyedge-calibrate-") as tmp:
        samples, cycle_models = measure(names, boards, Path(tmp), log)
    tables = {board: (fit_board([s for s in samples if s.board == board]),
                      check_fits([s for s in samples if s.board == board])) for board in boards}
    output.write_text(_table_toml(names, tables, cycle_models, samples))
    return load_calibration(output)


def _number(value: float) -> str:
    return repr(float(f"{value:.6g}"))


def _inline(fit: CostFit) -> str:
    return "{ " + ", ".join(f"{t} = {_number(getattr(fit, t))}" for t in TERMS) + " }"


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _table_toml(names: Sequence[str], tables: dict[str, tuple[list[Fit], dict[str, dict[str, int]]]],
                cycle_models: dict[str, str], samples: Sequence[LayerSample] = ()) -> str:
    today = datetime.date.today().isoformat()
    method = ("tinyedge.examples models " + ", ".join(names) + " (seeded weights, 40 uniform calibration samples), "
              "quantized to int8, compiled and run once each in the built-in emulator on each board "
              "(tinyedge.pipeline.compile_model, bit-exact against TFLite-Micro); per layer, exact "
              "instructions and cycle-model cycles fitted as non-negative linear functions of the layer's work "
              "(MAC ops: per_mac * MACs + per_output * output elements + per_call; other ops: "
              "per_element * (input + output elements) + per_call), relative least squares")
    lines = [
        "# tinyedge analytical-estimate calibration: per-layer costs measured in the built-in emulator.",
        "# Written by `python -m tinyedge.estimate --calibrate`; read by tinyedge/estimate.py. Do not edit",
        "# the fits by hand: recalibrate after kernel changes. [cores.*] holds the stated assumptions.",
        f"version = {TABLE_VERSION}",
        f"measured_on = {_string(today)}",
        f"tinyedge_version = {_string(__version__)}",
        f"method = {_string(method)}",
        "",
    ]
    for board, (fits, check) in tables.items():
        lines += [f"[boards.{board}]", f"cycle_model = {_string(cycle_models[board])}", "",
                  f"[boards.{board}.check]  # cycles per model: measured, fitted, fitted without that model"]
        for name, figures in check.items():
            lines.append(f"{name} = {{ " + ", ".join(f"{k} = {v}" for k, v in figures.items()) + " }")
        lines.append("")
        lines.append(f"# [[boards.{board}.samples]]: the layer measurements the fits were made from")
        for s in (s for s in samples if s.board == board):
            lines.append(f"[[boards.{board}.samples]]\nmodel = {_string(s.model)}\nop = {_string(s.op)}\n"
                         f"kernel = {_string(s.kernel)}\nmacs = {s.work.macs}\noutputs = {s.work.outputs}\n"
                         f"elements = {s.work.elements}\ninstructions = {s.instructions}\ncycles = {s.cycles}\n")
        for fit in fits:
            lines += [f"[[boards.{board}.fits]]",
                      f"op = {_string(fit.op)}", f"kernel = {_string(fit.kernel)}", f"kind = {_string(fit.kind)}",
                      f"layers = {fit.layers}", f"cycles = {_inline(fit.cycles)}",
                      f"instructions = {_inline(fit.instructions)}", ""]
    for core, scaling in DEFAULT_CORES.items():
        lines += [f"[cores.{core}]", f"proxy = {_string(scaling.proxy)}",
                  f"optimistic = {_string(scaling.optimistic)}", f"cycle_factor = {_number(scaling.cycle_factor)}",
                  f"instruction_factor = {_number(scaling.instruction_factor)}",
                  f"assumption = {_string(scaling.assumption)}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from tinyedge.examples import MLPERF_TINY

    parser = argparse.ArgumentParser(prog="python -m tinyedge.estimate", description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", action="store_true", help="measure the example models and rewrite the table")
    parser.add_argument("--models", nargs="+", default=list(MLPERF_TINY), help="example models to measure")
    parser.add_argument("--output", type=Path, default=CALIBRATION_FILE, help="table to write")
    args = parser.parse_args(argv)
    if not args.calibrate:
        parser.error("nothing to do: pass --calibrate")
    calibration = calibrate(args.models, output=args.output)
    for board, fits in calibration.fits.items():
        for fit in fits:
            per = "MAC" if fit.kind != OTHER_KIND else "element"
            lead = fit.cycles.per_mac if fit.kind != OTHER_KIND else fit.cycles.per_element
            if not math.isclose(lead, 0.0):
                print(f"{board:10} {fit.basis:45} {lead:7.2f} cycles/{per}  ({fit.layers} layers)")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
