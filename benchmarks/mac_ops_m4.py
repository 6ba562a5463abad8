"""Instructions per multiply-accumulate on nrf52840 (Cortex-M4F) for TRANSPOSE_CONV and BATCH_MATMUL:
the reference kernels against the variants the lowerings choose, on realistic layers.

Each layer is a single-op int8 model (tests/ops/single_op.py) with seeded random weights and
quantization; it is built for nrf52840 twice (reference kernels only, then the chosen variant),
run in the built-in emulator on the same seeded inputs, checked byte for byte against
tflite_micro, and the layer's exact instruction count is divided by its MACs. Not a test: it
prints figures.

    python benchmarks/mac_ops_m4.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "ops"))

import numpy as np  # noqa: E402
from single_op import OpCase, TensorSpec, single_op_tflite  # noqa: E402
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema  # noqa: E402

from tinyedge.boards import load_board  # noqa: E402
from tinyedge.codegen import compile_graph  # noqa: E402
from tinyedge.importer import parse_tflite  # noqa: E402
from tinyedge.ops.conv import reference_kernels  # noqa: E402
from tinyedge.pipeline import build  # noqa: E402
from tinyedge.simulate import simulate  # noqa: E402
from tinyedge.verify import random_samples, verify  # noqa: E402

BOARD = "nrf52840"
SAMPLES = 2


def conv2d_transpose_layer() -> OpCase:
    """Keras Conv2DTranspose(8, 3, strides=2, padding="same"): [1, 8, 8, 16] -> [1, 16, 16, 8]."""
    rng = np.random.default_rng(0)
    options = schema.TransposeConvOptionsT()
    options.padding, options.strideH, options.strideW = schema.Padding.SAME, 2, 2
    scales = [float(s) for s in rng.uniform(0.002, 0.01, 8)]
    return OpCase("TRANSPOSE_CONV", (
        TensorSpec((4,), (), (), data=np.array([1, 16, 16, 8], dtype=np.int32), dtype="int32"),
        TensorSpec((8, 3, 3, 16), scales, [0] * 8, data=rng.integers(-127, 128, (8, 3, 3, 16), dtype=np.int8)),
        TensorSpec((1, 8, 8, 16), 0.02, -5),
        TensorSpec((8,), [0.02 * s for s in scales], [0] * 8, data=rng.integers(-3000, 3000, 8, dtype=np.int32),
                   dtype="int32"),
    ), TensorSpec((1, 16, 16, 8), 0.15, 3), options, "Conv2DTranspose 8x8x16 -> 16x16x8")


def matmul_layer(constant_rhs: bool) -> OpCase:
    """[32, 64] x [64, 32], both activations (attention-like) or the rhs a constant matrix."""
    rng = np.random.default_rng(1)
    rhs_data = rng.integers(-127, 128, (64, 32), dtype=np.int8) if constant_rhs else None
    return OpCase("BATCH_MATMUL", (TensorSpec((1, 32, 64), 0.02, 7),
                                   TensorSpec((1, 64, 32), 0.03, 0 if constant_rhs else -9, data=rhs_data)),
                  TensorSpec((1, 32, 32), 0.02 * 0.03 * 8 * 128 / 3, -2), schema.BatchMatMulOptionsT(),
                  f"matmul 32x64 by 64x32, {'constant' if constant_rhs else 'activation'} rhs")


def measure(case: OpCase, folder: Path, reference: bool) -> tuple[str, int, int]:
    """(kernel, instructions of the layer, MACs); asserts the outputs equal tflite_micro's."""
    flatbuffer = single_op_tflite(case)
    if reference:
        with reference_kernels():
            model = compile_graph(parse_tflite(flatbuffer, name="layer"))
    else:
        model = compile_graph(parse_tflite(flatbuffer, name="layer"))
    firmware = build(model, BOARD, folder)
    inputs = random_samples(model, SAMPLES, seed=3)
    sim = simulate(firmware.elf, load_board(BOARD), inputs)
    result = verify(flatbuffer, model, inputs, list(sim.outputs))
    assert result.bit_exact, f"{case.label}: not bit-exact on {BOARD}: {result.first_mismatch}"
    return model.calls[0].function, max(sample.layers[0].instructions for sample in sim.samples), model.macs


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        print(f"{'layer':44} {'kernel':30} {'MACs':>8} {'instructions':>13} {'per MAC':>8}")
        for number, case in enumerate([conv2d_transpose_layer(), matmul_layer(False), matmul_layer(True)]):
            for reference in (True, False):
                kernel, instructions, macs = measure(case, Path(scratch) / f"{number}{reference}", reference)
                print(f"{case.label:44} {kernel:30} {macs:8,} {instructions:13,} {instructions / macs:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
