"""The optimized kernels on their Cortex-M4 DSP path (SXTB16, SMLAD, SMMLAR, SSAT and the
hand-scheduled blocks), built for nrf52840 with arm-none-eabi-gcc and run in the built-in
emulator: the same bytes as TFLite-Micro, as on the host's plain C path. Also that plain C
path cross-compiled for cores without the DSP extension (Cortex-M0+, RV32IMC)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import pytest
from board_run import BoardRun, run_bit_exact, run_vector_model

from tinyedge.boards import load_board
from tinyedge.codegen import compile_graph
from tinyedge.importer import parse_tflite
from tinyedge.ops.conv import (
    CONV2D_1X1,
    CONV2D_IM2COL,
    DEPTHWISE_CH4,
    reference_kernels,
    without_depthwise_3x3,
)
from tinyedge.ops.fully_connected import FULLY_CONNECTED_PACKED
from tinyedge.pipeline import build
from tinyedge.simulate import simulate
from tinyedge.verify import random_samples

BOARD = "nrf52840"
BIAS = keras.initializers.RandomUniform(-0.3, 0.3, seed=13)

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(0)


def dsp_instructions(elf: Path, function: str) -> set[str]:
    """Mnemonics of the DSP-extension instructions in one function of the ELF."""
    listing = subprocess.run(["arm-none-eabi-objdump", "-d", f"--disassemble={function}", str(elf)],
                             capture_output=True, text=True, check=True).stdout
    return {word for line in listing.splitlines() for word in line.split("\t")[2:3]
            if word.split(".")[0] in ("smlad", "smlabb", "smlatt", "sxtb16", "smmlar", "ssat")}


@pytest.fixture
def run_on_m4(tmp_path: Path, quantize_for_test) -> Callable[..., BoardRun]:
    """Quantize a Keras model (or take a .tflite), build it for nrf52840, emulate it on seeded
    random inputs and assert the outputs equal tflite_micro's byte for byte."""

    def run(model: keras.Model | bytes, samples: int = 3, board: str = BOARD) -> BoardRun:
        flatbuffer = model if isinstance(model, bytes) else \
            quantize_for_test(model, tmp_path / "model.tflite").read_bytes()
        return run_bit_exact(flatbuffer, board, tmp_path, samples)

    return run


def kernels(run: BoardRun) -> list[str]:
    return [layer.function for layer in run.model.layers]


def test_pointwise_convs_on_m4(run_on_m4):
    inputs = keras.Input((6, 6, 16), batch_size=1)
    x = keras.layers.Conv2D(32, 1, activation="relu", bias_initializer=BIAS)(inputs)  # 2x2 blocks, 4 groups
    x = keras.layers.Conv2D(7, 1, strides=2, bias_initializer=BIAS)(x)  # odd channels, 9 pixels
    x = keras.layers.Conv2D(6, 1, bias_initializer=BIAS)(x)  # depth 7: a padded group
    outputs = keras.layers.Lambda(lambda t: keras.ops.clip(t, -1.0, 1.0))(x)  # clamp narrower than int8
    run = run_on_m4(keras.Model(inputs, outputs))
    assert kernels(run) == [CONV2D_1X1] * 3
    assert {"smlad", "sxtb16", "smmlar", "ssat"} <= dsp_instructions(run.elf, CONV2D_1X1)


def test_im2col_convs_on_m4(run_on_m4):
    inputs = keras.Input((11, 10, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", bias_initializer=BIAS)(inputs)
    x = keras.layers.Conv2D(12, 3, padding="same", activation="relu", bias_initializer=BIAS)(x)
    x = keras.layers.Conv2D(5, 3, dilation_rate=2, padding="same", bias_initializer=BIAS)(x)
    outputs = keras.layers.Conv2D(3, (1, 4), padding="valid", bias_initializer=BIAS)(x)
    run = run_on_m4(keras.Model(inputs, outputs))
    assert kernels(run) == [CONV2D_IM2COL] * 4
    assert {"smlad", "sxtb16", "smmlar", "ssat"} <= dsp_instructions(run.elf, CONV2D_IM2COL)


def test_depthwise_convs_on_m4(run_on_m4):
    inputs = keras.Input((9, 8, 8), batch_size=1)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu", bias_initializer=BIAS)(inputs)
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", bias_initializer=BIAS)(x)  # 3x3 block
    x = keras.layers.DepthwiseConv2D(2, padding="valid", bias_initializer=BIAS)(x)  # general tap loop
    outputs = keras.layers.Lambda(lambda t: keras.ops.clip(t, -1.0, 1.0))(
        keras.layers.DepthwiseConv2D(3, padding="same", bias_initializer=BIAS)(x))
    with without_depthwise_3x3():  # its 3x3 layers (the 3x3 variant's: test_depthwise_3x3.py)
        run = run_on_m4(keras.Model(inputs, outputs))
    assert kernels(run) == [DEPTHWISE_CH4] * 4
    assert {"smlabb", "smlatt", "sxtb16", "smmlar", "ssat"} <= dsp_instructions(run.elf, DEPTHWISE_CH4)


def test_dense_layers_on_m4(run_on_m4):
    inputs = keras.Input((3, 21), batch_size=1)
    x = keras.layers.Dense(9, activation="relu", bias_initializer=BIAS)(inputs)  # 3 rows, a partial group
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(16, activation="relu", bias_initializer=BIAS)(x)  # 7 groups: odd, then pairs
    outputs = keras.layers.Lambda(lambda t: keras.ops.clip(t, -1.0, 1.0))(
        keras.layers.Dense(6, bias_initializer=BIAS)(x))
    run = run_on_m4(keras.Model(inputs, outputs))
    assert [f for f in kernels(run) if f != "te_reshape_s8"] == [FULLY_CONNECTED_PACKED] * 3
    assert {"smlad", "sxtb16", "smmlar", "ssat"} <= dsp_instructions(run.elf, FULLY_CONNECTED_PACKED)


@pytest.mark.parametrize("board", ["rp2040", "esp32c3"])
def test_plain_c_path_on_cores_without_dsp(run_on_m4, board):
    if shutil.which("riscv64-unknown-elf-gcc") is None and board == "esp32c3":
        pytest.skip("riscv64-unknown-elf-gcc is not installed")
    inputs = keras.Input((9, 8, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", bias_initializer=BIAS)(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu", bias_initializer=BIAS)(x)
    x = keras.layers.Conv2D(6, 1, bias_initializer=BIAS)(x)
    outputs = keras.layers.Dense(5, bias_initializer=BIAS)(keras.layers.Flatten()(x))
    run = run_on_m4(keras.Model(inputs, outputs), board=board)
    assert [f for f in kernels(run) if f != "te_reshape_s8"] == \
        [CONV2D_IM2COL, DEPTHWISE_CH4, CONV2D_1X1, FULLY_CONNECTED_PACKED]
    if board == "rp2040":  # an ARMv6-M build: the plain C path, no DSP-extension instruction
        assert dsp_instructions(run.elf, CONV2D_1X1) == set()


# -- te_nn_requantize_rounding against te_nn_requantize, value by value ----------------------

VECTORS = 2048
# Input: (acc, multiplier, right shift, output offset) per vector; output: the reference
# requantization plus offset, then te_nn_requantize_rounding with the offset folded in.
REQUANTIZE_BODY = """\
    for (int32_t i = 0; i < TINYEDGE_INPUT_BYTES / 16; ++i) {
        int32_t v[4];
        memcpy(v, input + 16 * i, sizeof v);
        const int32_t rounding = (int32_t)(1u << (v[2] - 1)) + v[3] * (1 << v[2]);
        const int32_t r[2] = {te_nn_requantize(v[0], v[1], -v[2]) + v[3],
                              te_nn_requantize_rounding(v[0], v[1], rounding, v[2])};
        memcpy(output + 8 * i, r, sizeof r);
    }
"""


def tflite_requantize(acc: int, multiplier: int, right_shift: int) -> int:
    """MultiplyByQuantizedMultiplier with a right shift, in Python integers."""
    nudged = acc * multiplier + ((1 << 30) if acc * multiplier >= 0 else 1 - (1 << 30))
    high = nudged >> 31 if nudged >= 0 else -((-nudged) >> 31)  # C division truncates
    mask = (1 << right_shift) - 1
    return (high >> right_shift) + ((high & mask) > (mask >> 1) + (high < 0))


def requantize_vectors() -> np.ndarray:
    """Random values over the whole documented range, and the ties of both roundings."""
    rng = np.random.default_rng(3)
    shift = rng.integers(1, 23, VECTORS)
    multiplier = rng.integers(1 << 30, 1 << 31, VECTORS)
    multiplier[::17] = 0
    magnitude = 2.0 ** rng.uniform(0, 30, VECTORS)
    acc = (np.minimum(magnitude, 2**30 - 1) * rng.choice([-1, 1], VECTORS)).astype(np.int64)
    # Ties: with a multiplier of one half the first rounding sees acc / 2, a tie when acc is
    # odd; acc = (2k + 1) * 2^shift makes acc / 2 a tie of the final shift.
    ties = np.arange(VECTORS // 4)
    multiplier[ties] = 1 << 30
    k = (rng.uniform(0, 1, ties.size) * 2.0 ** (29 - shift[ties])).astype(np.int64)
    acc[ties] = rng.choice([-1, 1], ties.size) * ((2 * k + 1) << shift[ties]) + (ties % 2)
    acc[-4:] = [2**30 - 1, -(2**30 - 1), -1, 0]
    offset = rng.integers(-128, 128, VECTORS)
    return np.stack([acc, multiplier, shift, offset], axis=1)


@pytest.mark.parametrize("board", ["host", BOARD])
def test_requantize_rounding_equals_the_reference_requantization(tmp_path: Path, board: str):
    vectors = requantize_vectors()
    output = run_vector_model(REQUANTIZE_BODY, vectors.astype(np.int32).tobytes(), 8 * VECTORS, board, tmp_path)
    reference, fast = np.frombuffer(output, dtype=np.int32).reshape(VECTORS, 2).T
    assert np.abs(vectors[:, 0]).max() < 2**30
    expected = [tflite_requantize(int(a), int(m), int(s)) + int(o) for a, m, s, o in vectors]
    assert reference.tolist() == expected
    mismatches = np.flatnonzero(fast != reference)
    assert mismatches.size == 0, f"first mismatch {vectors[mismatches[0]].tolist()}"


# -- the MLPerf-Tiny-shaped models ------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", ["kws", "vww", "ic", "ad"])
def test_mlperf_shaped_model_on_m4_is_bit_exact_and_faster_than_the_reference_kernels(name, mlperf_tflite,
                                                                                       run_on_m4, tmp_path):
    flatbuffer = mlperf_tflite(name).read_bytes()
    fast = run_on_m4(flatbuffer, samples=2)
    with reference_kernels():
        plain = compile_graph(parse_tflite(flatbuffer, name="model"))
    firmware = build(plain, BOARD, tmp_path / "reference")
    inputs = random_samples(plain, 2, seed=7)
    reference = simulate(firmware.elf, load_board(BOARD), inputs)
    assert reference.outputs == fast.sim.outputs
    assert max(fast.sim.instructions) < min(reference.instructions) / 2
