"""Depthwise convolution figures per kernel and model: the real MLPerf Tiny int8 models and the
random-weight examples (tinyedge.examples kws and vww, the two with depthwise layers).

Per model and board: `tinyedge compile` (emulated, verified bit-exact against tflite_micro), then
from report.json's layers[] the DEPTHWISE_CONV_2D layers summed per kernel: layers, MACs,
instructions per MAC (exact) and estimated cycles per MAC with the memory stalls in them, and the
whole model's estimated cycles per MAC and arena. Not a test: it prints figures.

    python benchmarks/depthwise_m4.py [--boards nrf52840 rp2040] [--workdir DIR] [--real DIR] [MODEL ...]

MODEL: a .tflite path, or kws / vww for tinyedge.examples (quantized once into --workdir). Without
MODEL: every .tflite in --real (default /work/mlperf_models when it exists) and both examples.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

EXAMPLES = ("kws", "vww")


def example_tflite(name: str, workdir: Path) -> Path:
    """tinyedge.examples' `name` (random weights) quantized on 24 uniform samples, cached in workdir."""
    path = workdir / f"example_{name}.tflite"
    if not path.exists():
        from tinyedge import examples
        from tinyedge.quantize import quantize_keras_model

        model = examples.build(name)
        rng = np.random.default_rng(0)
        calib = [rng.uniform(-1, 1, (24, *t.shape[1:])).astype(np.float32) for t in model.inputs]
        path.write_bytes(quantize_keras_model(model, path, calib, log=lambda _m: None).tflite.read_bytes())
    return path


def measure(tflite: Path, board: str, workdir: Path) -> None:
    from tinyedge.pipeline import compile_model

    out = workdir / f"{tflite.stem}-{board}"
    result = compile_model(tflite, board, out, samples=2, force=True)
    report = json.loads((out / "report.json").read_text())
    per_kernel: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for layer in report["layers"]:
        if layer["op"] == "DEPTHWISE_CONV_2D":
            figures = per_kernel[layer["kernel"]]
            for i, value in enumerate((1, layer["macs"], layer["instructions"], layer["cycles"],
                                       layer["stall_cycles"])):
                figures[i] += value
    sim, model = result.report.simulation, result.report.model
    depthwise_cycles = sum(f[3] for f in per_kernel.values())
    print(f"{tflite.stem} on {board}: whole model {sim.cycles / model.macs:.2f} est. cycles/MAC "
          f"({sim.cycles:,} cycles, {sim.instructions / model.macs:.2f} instr/MAC), arena "
          f"{result.report.memory.arena_bytes:,} B, bit-exact {result.report.verification.bit_exact}, "
          f"depthwise {depthwise_cycles / sim.cycles:.0%} of the cycles")
    for kernel, (layers, macs, instructions, cycles, stalls) in sorted(per_kernel.items()):
        print(f"  {kernel:32} {layers:2} layers {macs:>10,} MACs  {instructions / macs:5.2f} instr/MAC  "
              f"{cycles / macs:5.2f} est. cycles/MAC ({stalls / macs:.2f} of them stalls)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", nargs="+", default=["nrf52840", "rp2040"])
    parser.add_argument("--workdir", type=Path, help="kept between runs (the examples' quantized models)")
    parser.add_argument("--real", type=Path, default=Path("/work/mlperf_models"))
    parser.add_argument("models", nargs="*")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        names = args.models or ([str(p) for p in sorted(args.real.glob("*.tflite"))] if args.real.is_dir() else [])
        names += [] if args.models else list(EXAMPLES)
        for name in names:
            tflite = example_tflite(name, workdir) if name in EXAMPLES else Path(name)
            for board in args.boards:
                measure(tflite, board, workdir)


if __name__ == "__main__":
    main()
