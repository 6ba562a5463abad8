"""Instructions per multiply-accumulate on nrf52840 (Cortex-M4F) for the 16x8 MAC ops (int16
activations, int8 weights, int64 biases, as TensorFlow's 16x8 mode writes them): the reference
kernels (TFLite-Micro's arithmetic) against the fast variants the lowerings choose.

Each layer is a single-op 16x8 model (tests/ops/single_op.py) with seeded random weights; it is
built for nrf52840 twice (reference kernels only, then the chosen variant), run in the built-in
emulator on the same seeded inputs, checked byte for byte against tflite_micro, and the layer's
exact instruction count is divided by its MACs. Not a test: it prints figures.

    python benchmarks/mac_ops_16x8_m4.py

Measured (instructions per MAC, reference -> chosen variant): 3x3 conv 16->16 6.90 -> 2.13
(te_conv2d_im2col_s16), 1x1 conv 32->32 9.07 -> 2.90, depthwise 3x3 x32 33.55 -> 9.87 (one
requantization per nine MACs dominates), dense 256->64 9.28 -> 1.93, Conv2DTranspose 8x8x16 ->
16x16x8 11.87 -> 3.85, int16 matmul 32x64x32 20.76 -> 2.79.
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


def _layer(opcode: str, input_shape: tuple[int, ...], filter_shape: tuple[int, ...], output_shape: tuple[int, ...],
           options: object, label: str, channels_axis: int = 0, seed: int = 0, taps: int = 1) -> OpCase:
    """A 16x8 layer: int16 input and output (zero point 0), per-channel int8 weights, int64 bias."""
    rng = np.random.default_rng(seed)
    channels = filter_shape[channels_axis]
    scales = [float(s) for s in rng.uniform(0.002, 0.01, channels)]
    bias = TensorSpec((channels,), [1e-4 * s for s in scales], [0] * channels,
                      data=rng.integers(-50000, 50000, channels).astype(np.int64), dtype="int64")
    inputs = (TensorSpec(input_shape, 1e-4, 0, dtype="int16"),
              TensorSpec(filter_shape, scales, [0] * channels, data=rng.integers(-127, 128, filter_shape, np.int8),
                         axis=channels_axis), bias)
    output_scale = 1e-4 * 0.006 * 18900 * 73 * np.sqrt(taps) / 3000
    return OpCase(opcode, inputs, TensorSpec(output_shape, output_scale, 0, dtype="int16"), options, label)


def layers() -> list[OpCase]:
    conv3 = schema.Conv2DOptionsT()
    conv3.padding, conv3.strideH, conv3.strideW = schema.Padding.SAME, 1, 1
    conv1 = schema.Conv2DOptionsT()
    conv1.padding, conv1.strideH, conv1.strideW = schema.Padding.VALID, 1, 1
    depthwise = schema.DepthwiseConv2DOptionsT()
    depthwise.padding, depthwise.strideH, depthwise.strideW, depthwise.depthMultiplier = schema.Padding.SAME, 1, 1, 1
    transpose = schema.TransposeConvOptionsT()
    transpose.padding, transpose.strideH, transpose.strideW = schema.Padding.SAME, 2, 2
    tconv = _layer("TRANSPOSE_CONV", (1, 8, 8, 16), (8, 3, 3, 16), (1, 16, 16, 8), transpose,
                   "Conv2DTranspose 8x8x16 -> 16x16x8", taps=36)
    tconv = OpCase(tconv.opcode, (TensorSpec((4,), (), (), data=np.array([1, 16, 16, 8], np.int32), dtype="int32"),
                                  tconv.inputs[1], tconv.inputs[0], tconv.inputs[2]),
                   tconv.output, tconv.options, tconv.label)
    rng = np.random.default_rng(5)
    matmul = OpCase("BATCH_MATMUL", (TensorSpec((1, 32, 64), 1e-3, 0, dtype="int16"),
                                     TensorSpec((1, 64, 32), 1e-3, 0, data=rng.integers(-32768, 32768, (1, 64, 32),
                                                                                          dtype=np.int16),
                                                dtype="int16")),
                    TensorSpec((1, 32, 32), 1e-6 * 18900 ** 2 * 8 / 3000, 0, dtype="int16"),
                    schema.BatchMatMulOptionsT(), "matmul 32x64 by 64x32 (int16 x int16)")
    return [
        _layer("CONV_2D", (1, 16, 16, 16), (16, 3, 3, 16), (1, 16, 16, 16), conv3, "Conv2D 3x3 16 -> 16, 16x16",
               taps=144),
        _layer("CONV_2D", (1, 16, 16, 32), (32, 1, 1, 32), (1, 16, 16, 32), conv1, "Conv2D 1x1 32 -> 32, 16x16",
               taps=32),
        _layer("DEPTHWISE_CONV_2D", (1, 16, 16, 32), (1, 3, 3, 32), (1, 16, 16, 32), depthwise,
               "DepthwiseConv2D 3x3, 32 channels, 16x16", channels_axis=3, taps=9),
        _layer("FULLY_CONNECTED", (1, 256), (64, 256), (1, 64), schema.FullyConnectedOptionsT(),
               "Dense 256 -> 64", taps=256),
        tconv, matmul,
    ]


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
        print(f"{'layer (16x8)':42} {'kernel':30} {'MACs':>8} {'instructions':>13} {'per MAC':>8}")
        for number, case in enumerate(layers()):
            for reference in (True, False):
                kernel, instructions, macs = measure(case, Path(scratch) / f"{number}{reference}", reference)
                print(f"{case.label:42} {kernel:30} {macs:8,} {instructions:13,} {instructions / macs:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
