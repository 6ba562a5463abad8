"""Instructions per inference on nrf52840 (Cortex-M4F): tinyedge's reference kernels against its
optimized variants, next to TFLite-Micro's figures from docs/anchors.md.

Per MLPerf-Tiny-shaped model (tinyedge.examples): quantize, build the firmware twice (the
lowering's reference kernels only, then with the variants it chooses), run both in the
built-in emulator on the same seeded inputs, check that both equal tflite_micro byte for
byte, and print the exact instruction counts. -v adds the per-layer counts of the optimized
build. Not a test: it prints figures.

    python benchmarks/kernels_m4.py [-v] [kws vww ic ad]
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from tinyedge import examples  # noqa: E402
from tinyedge.boards import load_board  # noqa: E402
from tinyedge.codegen import CompiledModel, compile_graph  # noqa: E402
from tinyedge.importer import parse_tflite  # noqa: E402
from tinyedge.ops.conv import reference_kernels  # noqa: E402
from tinyedge.pipeline import build  # noqa: E402
from tinyedge.quantize import quantize_keras_model  # noqa: E402
from tinyedge.simulate import SimResult, simulate  # noqa: E402
from tinyedge.verify import random_samples, verify  # noqa: E402

BOARD = "nrf52840"
SAMPLES = 2


@dataclass(frozen=True)
class Anchor:
    """TFLite-Micro on Cortex-M4F, same emulator counting (docs/anchors.md)."""

    tflm_reference: int
    tflm_cmsis_nn: int


ANCHORS = {
    "kws": Anchor(43_042_773, 7_697_392),
    "vww": Anchor(100_238_538, 24_101_966),
    "ic": Anchor(107_402_175, 29_860_981),
    "ad": Anchor(1_952_415, 582_976),
}


@dataclass(frozen=True)
class Measured:
    model: CompiledModel
    sim: SimResult
    text_bytes: int
    bit_exact: bool

    @property
    def instructions(self) -> int:
        return max(self.sim.instructions)


def measure(flatbuffer: bytes, name: str, workdir: Path, samples: list[bytes] | None, plain: bool) -> Measured:
    if plain:
        with reference_kernels():
            model = compile_graph(parse_tflite(flatbuffer, name))
    else:
        model = compile_graph(parse_tflite(flatbuffer, name))
    firmware = build(model, BOARD, workdir)
    inputs = samples if samples is not None else random_samples(model, SAMPLES, seed=3)
    sim = simulate(firmware.elf, load_board(BOARD), inputs)
    exact = verify(flatbuffer, model, inputs, list(sim.outputs)).bit_exact
    return Measured(model, sim, firmware.text, exact)


def quantized(name: str, folder: Path) -> bytes:
    keras_model = examples.build(name)
    rng = np.random.default_rng(0)
    calib = [rng.uniform(-1, 1, (24, *t.shape[1:])).astype(np.float32) for t in keras_model.inputs]
    return quantize_keras_model(keras_model, folder / f"{name}.tflite", calib, log=lambda _m: None).tflite.read_bytes()


def main(argv: list[str]) -> None:
    verbose = "-v" in argv
    names = [a for a in argv if not a.startswith("-")] or list(examples.MLPERF_TINY)
    header = (f"{'model':5} {'MACs':>11} {'TFLM ref':>12} {'TFLM+CMSIS':>12} {'te ref':>12} {'te fast':>12} "
              f"{'fast/CMSIS':>10} {'instr/MAC':>9} {'.text B':>8} {'exact':>5}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in names:
            flatbuffer = quantized(name, folder)
            plain = measure(flatbuffer, name, folder / f"{name}-reference", None, plain=True)
            samples = random_samples(plain.model, SAMPLES, seed=3)
            fast = measure(flatbuffer, name, folder / f"{name}-fast", samples, plain=False)
            anchor = ANCHORS[name]
            rows.append(f"{name:5} {fast.model.macs:>11,} {anchor.tflm_reference:>12,} {anchor.tflm_cmsis_nn:>12,} "
                        f"{plain.instructions:>12,} {fast.instructions:>12,} "
                        f"{fast.instructions / anchor.tflm_cmsis_nn:>10.3f} "
                        f"{fast.instructions / fast.model.macs:>9.2f} {fast.text_bytes:>8,} "
                        f"{'yes' if plain.bit_exact and fast.bit_exact else 'NO':>5}")
            if verbose:
                print(f"{name}: per layer, optimized build")
                for layer, stats in zip(fast.model.layers, fast.sim.layers):
                    per_mac = f"{stats.instructions / layer.macs:6.2f}/MAC" if layer.macs else ""
                    print(f"  {layer.index:3} {layer.opcode:18} {layer.function:28} {layer.macs:>10,} MACs "
                          f"{stats.instructions:>11,} instr {per_mac}")
    print(f"Instructions per inference on {BOARD} (built-in emulator, exact; worst of {SAMPLES} samples)")
    print(header)
    print("-" * len(header))
    print("\n".join(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
