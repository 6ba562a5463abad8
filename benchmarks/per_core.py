"""Instructions and estimated cycles per MAC on every core tinyedge emulates, per model and per kernel.

The four MLPerf-Tiny-shaped models (tinyedge.examples) are trained a few epochs on synthetic data
here (random weights hide what trained ones have: dead channels, uneven per-channel scales), quantized
once each, and that same int8 .tflite is compiled for one board per core: Cortex-M0+ rp2040, Cortex-M4F
nrf52840, Cortex-M7 stm32f746g-disco, Cortex-M33 stm32l552, RV32IMC esp32c3. Each run is the built-in
emulator's exact instruction count and the board's cycle model's estimate (its label printed: each
figure says which model made it), outputs checked against tflite_micro byte for byte.

Per kernel: report.json layers[] summed by kernel over the four models. On the cores without SIMD
(M0+, RV32IMC; --reference-boards) the same models are also built with the plain reference kernels
(tinyedge.ops.conv.reference_kernels(): TFLite-Micro's reference arithmetic, tinyedge's own C), as a
measured stand-in for TFLite-Micro's reference kernels on that core, which ANCHORS.md measured on
Cortex-M4F only; on nrf52840 that stand-in sits beside ANCHORS.md's TFLite-Micro figures to show
how close it is. On --optimize-board (nrf52840) each model is also compiled with --optimize ram:
arena, RAM (data + bss + measured stack) and instructions beside the default speed plan's, against
TFLite-Micro's arena (ANCHORS.md, the smaller of its reference and CMSIS-NN figures).
With --mlperf-dir, MLPerf Tiny's own trained int8 models are measured instead of the synthetic-trained
ones (benchmarks/mlperf_tiny.py: where they come from; tests never need them).
Not a test: it prints figures (docs/performance.md holds one run).

    python benchmarks/per_core.py [--epochs 3 | --mlperf-dir DIR] [--boards rp2040 ...] [--reference-boards ...]
        [--optimize-board nrf52840] [kws vww ic ad]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from mlperf_tiny import mlperf_model  # noqa: E402

from tinyedge import examples  # noqa: E402
from tinyedge.ops.conv import reference_kernels  # noqa: E402
from tinyedge.pipeline import compile_model  # noqa: E402
from tinyedge.report import Report  # noqa: E402

CORES = {"rp2040": "Cortex-M0+", "nrf52840": "Cortex-M4F", "stm32f746g-disco": "Cortex-M7",
         "stm32l552": "Cortex-M33", "esp32c3": "RV32IMC"}
NO_SIMD = ("rp2040", "esp32c3")
# ANCHORS.md: TFLite-Micro with its reference kernels on Cortex-M4F (nrf52840's core), instructions per inference.
TFLM_REFERENCE_M4F = {"kws": 43_042_773, "vww": 100_238_538, "ic": 107_402_175, "ad": 1_952_415}
# ANCHORS.md: TFLite-Micro's arena, bytes used (the smaller of reference and CMSIS-NN), Cortex-M4F.
TFLM_ARENA = {"kws": 22_772, "vww": 100_660, "ic": 54_340, "ad": 2_260}
GOAL = 3.0  # issue 14: at least 3x fewer instructions than TFLite-Micro's reference kernels on a core without SIMD
TRAIN_SAMPLES = 512
CALIBRATION_SAMPLES = 32


@dataclass(frozen=True)
class Run:
    board: str
    model: str
    kernels: str  # "fast" (what tinyedge chooses), "reference", or "ram" (fast, --optimize ram)
    report: Report
    seconds: float


def synthetic_task(model: Any, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Inputs uniform in [-1, 1]; targets the input itself (an autoencoder) or one-hot labels, the argmax of a
    fixed random projection of the input (learnable a little in a few epochs); and the loss to train with."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (samples, *model.inputs[0].shape[1:])).astype(np.float32)
    if tuple(model.outputs[0].shape[1:]) == tuple(model.inputs[0].shape[1:]):
        return x, x, "mse"
    classes = int(model.outputs[0].shape[-1])
    labels = np.argmax(x.reshape(samples, -1) @ rng.normal(0, 1, (x[0].size, classes)), axis=1)
    return x, np.eye(classes, dtype=np.float32)[labels], "categorical_crossentropy"


def trained_tflite(name: str, epochs: int, workdir: Path) -> Path:
    """examples.build(name) trained `epochs` epochs on synthetic_task, quantized to int8 once for every board."""
    import keras

    from tinyedge.quantize import quantize_keras_model

    model = examples.build(name)
    x, y, loss = synthetic_task(model, TRAIN_SAMPLES, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(0.005), loss=loss)
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    calibration = np.random.default_rng(1).uniform(-1, 1, (CALIBRATION_SAMPLES, *x.shape[1:])).astype(np.float32)
    return quantize_keras_model(model, workdir / f"{name}.tflite", [calibration], log=lambda message: None).tflite


@contextmanager
def kernels(which: str) -> Iterator[None]:
    with reference_kernels() if which == "reference" else nullcontext():
        yield


def measure(tflite: Path, name: str, board: str, which: str, workdir: Path) -> Run:
    start = time.perf_counter()
    with kernels(which):
        result = compile_model(tflite, board, workdir / f"{name}-{board}-{which}", samples=1, backend="builtin",
                               optimize="ram" if which == "ram" else "speed")
    return Run(board, name, which, result.report, time.perf_counter() - start)


def per_mac(value: float, macs: int) -> str:
    return f"{value / macs:.2f}" if macs else "-"


def model_table(runs: list[Run]) -> list[str]:
    lines = ["| core (board) | model | MACs | instructions | instr/MAC | est. cycles/MAC (of it stalls) | "
             "reference instr/MAC | reference / tinyedge | bit-exact |", "|---|---|---|---|---|---|---|---|---|"]
    fast = [r for r in runs if r.kernels == "fast"]
    reference = {(r.board, r.model): r for r in runs if r.kernels == "reference"}
    for run in fast:
        sim, macs = run.report.simulation, run.report.model.macs
        assert sim is not None
        ref_text, ratio_text = "-", "-"
        if (run.board, run.model) in reference:
            ref_sim = reference[run.board, run.model].report.simulation
            assert ref_sim is not None
            ref_text = f"{per_mac(ref_sim.instructions, macs)} (tinyedge plain)"
            ratio_text = f"{ref_sim.instructions / sim.instructions:.2f}x"
        if run.board == "nrf52840" and run.model in TFLM_REFERENCE_M4F:
            tflm = TFLM_REFERENCE_M4F[run.model]
            ref_text += f"; TFLM {per_mac(tflm, macs)} (ANCHORS.md)"
            ratio_text += f"; {tflm / sim.instructions:.2f}x TFLM"
        exact = all(r.report.verification.bit_exact for r in runs if (r.board, r.model) == (run.board, run.model))
        lines.append(f"| {CORES[run.board]} ({run.board}) | {run.model} | {macs:,} | {sim.instructions:,} | "
                     f"{per_mac(sim.instructions, macs)} | {per_mac(sim.cycles, macs)} "
                     f"({per_mac(sim.stall_cycles, macs)}) | {ref_text} | {ratio_text} | {'yes' if exact else 'NO'} |")
    return lines


def kernel_table(runs: list[Run]) -> list[str]:
    """Per core and kernel, the MAC-carrying layers of the four models summed (report.json layers[])."""
    lines = ["| core (board) | kernel | layers | MACs | instr/MAC | est. cycles/MAC |", "|---|---|---|---|---|---|"]
    for board in dict.fromkeys(r.board for r in runs):
        totals: dict[str, list[int]] = {}
        for run in runs:
            if run.board != board or run.kernels != "fast":
                continue
            for layer in run.report.layers:
                if layer.macs:
                    total = totals.setdefault(layer.kernel, [0, 0, 0, 0])
                    total[0] += 1
                    total[1] += layer.macs
                    total[2] += layer.instructions
                    total[3] += layer.cycles
        for kernel, (count, macs, instructions, cycles) in sorted(totals.items(), key=lambda kv: -kv[1][1]):
            lines.append(f"| {CORES[board]} ({board}) | {kernel} | {count} | {macs:,} | "
                         f"{per_mac(instructions, macs)} | {per_mac(cycles, macs)} |")
    return lines


def optimize_table(runs: list[Run]) -> list[str]:
    """--optimize speed against ram on one board: arena, RAM with the stack, instructions, the layers moved."""
    lines = ["| model | arena speed / ram B | RAM speed / ram B | x TFLM arena (speed / ram) | "
             "instructions speed / ram | layers on a kernel without scratch (ram) |", "|---|---|---|---|---|---|"]
    speed = {(r.board, r.model): r.report for r in runs if r.kernels == "fast"}
    for run in (r for r in runs if r.kernels == "ram" and (r.board, r.model) in speed):
        s, m = speed[run.board, run.model], run.report
        assert s.simulation is not None and m.simulation is not None and s.memory.ram_bytes and m.memory.ram_bytes
        arena = TFLM_ARENA[run.model]
        moved = ", ".join(f"{layer.index} {layer.op} {layer.kernel}" for layer in m.layers
                          if (layer.fallback or "").startswith("--optimize ram")) or "none"
        exact = "" if s.verification.bit_exact and m.verification.bit_exact else " NOT BIT-EXACT"
        lines.append(f"| {run.model} | {s.memory.arena_bytes:,} / {m.memory.arena_bytes:,} | {s.memory.ram_bytes:,} / "
                     f"{m.memory.ram_bytes:,} | {s.memory.ram_bytes / arena:.2f} / {m.memory.ram_bytes / arena:.2f} | "
                     f"{s.simulation.instructions:,} / {m.simulation.instructions:,} | {moved}{exact} |")
    return lines


def goal_lines(runs: list[Run]) -> list[str]:
    """The issue's goal on the cores without SIMD, model by model, against the measured stand-in."""
    lines = []
    fast = {(r.board, r.model): r for r in runs if r.kernels == "fast"}
    for run in runs:
        if run.kernels != "reference" or run.board not in NO_SIMD or (run.board, run.model) not in fast:
            continue
        ours, ref = fast[run.board, run.model].report.simulation, run.report.simulation
        assert ours is not None and ref is not None
        ratio = ref.instructions / ours.instructions
        lines.append(f"- {CORES[run.board]} {run.model}: {ratio:.2f}x fewer instructions than the plain reference "
                     f"kernels ({'meets' if ratio >= GOAL else 'misses'} {GOAL:g}x)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="training epochs on synthetic data")
    parser.add_argument("--boards", nargs="+", choices=list(CORES), default=list(CORES))
    parser.add_argument("--reference-boards", nargs="*", choices=list(CORES), default=[*NO_SIMD, "nrf52840"],
                        help="boards also measured with the plain reference kernels")
    parser.add_argument("--optimize-board", choices=list(CORES), default="nrf52840",
                        help="the board also compiled with --optimize ram")
    parser.add_argument("--mlperf-dir", type=Path,
                        help="measure MLPerf Tiny's own trained int8 models from here instead (mlperf_tiny.py)")
    parser.add_argument("models", nargs="*", default=list(examples.MLPERF_TINY))
    args = parser.parse_args()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="tinyedge-per-core-") as tmp:
        workdir = Path(tmp)
        for name in args.models:
            if args.mlperf_dir:
                tflite = mlperf_model(args.mlperf_dir, name)
            else:
                tflite = trained_tflite(name, args.epochs, workdir)  # once per run, for every board
            for board in args.boards:
                variants = ["fast"] + ["reference"] * (board in args.reference_boards)
                for which in variants + ["ram"] * (board == args.optimize_board):
                    run = measure(tflite, name, board, which, workdir)
                    sim = run.report.simulation
                    assert sim is not None
                    print(f"# {name} {board} {which}: {sim.instructions:,} instructions, cycle model "
                          f"'{sim.cycle_model}', bit-exact {run.report.verification.bit_exact}, {run.seconds:.0f} s",
                          flush=True)
                    runs.append(run)
    labels = {r.board: r.report.simulation.cycle_model for r in runs if r.report.simulation is not None}
    models = ("MLPerf Tiny's own trained int8 models" if args.mlperf_dir
              else f"Models trained {args.epochs} epochs on synthetic data")
    print(f"\n{models}; instructions exact (built-in emulator), cycles estimated by each board's cycle model:")
    print(*(f"- {CORES[board]} ({board}): {label}" for board, label in labels.items()), sep="\n")
    print("\nPer model\n", *model_table(runs), sep="\n")
    print("\nPer kernel (MAC-carrying layers of the four models)\n", *kernel_table(runs), sep="\n")
    print(f"\n--optimize speed / ram on {args.optimize_board} (RAM: data + bss + measured stack; TFLM arena: "
          "ANCHORS.md)\n", *optimize_table(runs), sep="\n")
    goals = goal_lines(runs)
    if goals:
        print("\nGoal on the cores without SIMD (issue 14)\n", *goals, sep="\n")


if __name__ == "__main__":
    main()
