"""End to end on a board: the four MLPerf-Tiny-shaped models through `tinyedge compile`.

Per model: exact instructions per inference, estimated cycles (and per MAC), latency,
energy, flash, RAM, emulator speed and the whole compile's wall time (quantize, generate,
cross-compile, emulate, verify, report), next to TFLite-Micro's instruction counts from
docs/anchors.md (same counting method: Unicorn, between markers around the inference).
Not a test: it prints figures.

    python benchmarks/mlperf_nrf52840.py [--board nrf52840] [kws vww ic ad]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from tinyedge import examples  # noqa: E402
from tinyedge.pipeline import compile_model  # noqa: E402

# docs/anchors.md: TFLite-Micro on Cortex-M4F, instructions per inference (reference / CMSIS-NN)
TFLM_INSTRUCTIONS = {"kws": (43_042_773, 7_697_392), "vww": (100_238_538, 24_101_966),
                     "ic": (107_402_175, 29_860_981), "ad": (1_952_415, 582_976)}
COLUMNS = [("model", 5), ("instructions", 13), ("vs CMSIS-NN", 11), ("cycles", 12), ("cyc/MAC", 7),
           ("latency ms", 10), ("energy uJ", 10), ("flash B", 9), ("RAM B", 8), ("emu MIPS", 8),
           ("compile s", 9), ("bit-exact", 9)]


def row(values: list[str]) -> str:
    return " ".join(f"{v:>{width}}" for v, (_, width) in zip(values, COLUMNS))


def measure(name: str, board: str, workdir: Path) -> list[str]:
    model_path = workdir / f"{name}.keras"
    keras_model = examples.build(name)
    keras_model.save(model_path)
    calib = workdir / f"{name}-calib.npy"
    np.save(calib, np.random.default_rng(0).uniform(-1, 1, (40, *keras_model.inputs[0].shape[1:])).astype(np.float32))
    start = time.perf_counter()
    result = compile_model(model_path, board, workdir / f"{name}-{board}", calib=calib, samples=2)
    seconds = time.perf_counter() - start
    r = result.report
    cmsis = TFLM_INSTRUCTIONS[name][1]
    return [name, f"{r.simulation.instructions:,}", f"{r.simulation.instructions / cmsis:.2f}x",
            f"{r.simulation.cycles:,}", f"{r.simulation.cycles / r.model.macs:.2f}", f"{r.simulation.latency_ms:.1f}",
            f"{r.simulation.energy_uj:.0f}", f"{r.memory.flash_bytes:,}", f"{r.memory.ram_bytes:,}",
            f"{r.simulation.guest_mips:.0f}", f"{seconds:.1f}", "yes" if r.verification.bit_exact else "NO"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="nrf52840")
    parser.add_argument("models", nargs="*", default=list(examples.MLPERF_TINY))
    args = parser.parse_args()
    header = row([title for title, _ in COLUMNS])
    print(f"board {args.board}; 'vs CMSIS-NN' = instructions / TFLite-Micro+CMSIS-NN's (docs/anchors.md, Cortex-M4F)")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            print(row(measure(name, args.board, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
