"""The fast int8 kernels on the cores without SIMD: Cortex-M0+ (rp2040: the Thumb-1 blocks of
te_nn_dsp.h, the fully connected quad and te_depthwise_conv2d_ch4_s8's filter rows) and RV32IMC
(esp32c3: the plain C path, two channel pairs at a time), built with the board's compiler and run in the
built-in emulator, the same bytes as TFLite-Micro. The shapes cover the loops' edges: one group and many,
depths that are not a multiple of 4 (gathered im2col windows, a zero-padded last group, a fully connected
tail), odd channel and pixel counts, several rows, and channels whose output scale is 4096 times too small
(left shifts: the reference requantization inside the fast kernel). Also the Thumb-1 te_nn_smmlar2 and
te_nn_requantize_rounding (no 64-bit multiply) against int64 arithmetic, on rp2040."""

from __future__ import annotations

import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from board_run import run_vector_model
from keras_training import train_briefly
from tflite_edits import with_output_scale

from tinyedge.boards import load_board
from tinyedge.codegen import compile_graph
from tinyedge.importer import parse_tflite
from tinyedge.ops.conv import CONV2D_1X1, CONV2D_IM2COL, DEPTHWISE_CH4, without_depthwise_3x3
from tinyedge.ops.fully_connected import FULLY_CONNECTED_PACKED
from tinyedge.pipeline import build
from tinyedge.simulate import simulate
from tinyedge.verify import random_samples, verify

COMPILERS = {"rp2040": "arm-none-eabi-gcc", "esp32c3": "riscv64-unknown-elf-gcc"}
BOARDS = [pytest.param(board, marks=pytest.mark.skipif(shutil.which(gcc) is None, reason=f"{gcc} is not installed"))
          for board, gcc in COMPILERS.items()]


def matrix_model() -> keras.Model:
    """Every layer on te_conv2d_im2col_s8, te_conv2d_1x1_s8 or te_fully_connected_packed_s8."""
    inputs = keras.Input((7, 5, 3), batch_size=1)
    x = keras.layers.Conv2D(7, 3, padding="same", activation="relu")(inputs)  # 27 values: 7 groups, gathered
    x = keras.layers.Conv2D(5, 1)(x)  # depth 7: a zero-padded last group; 35 pixels: an odd last one
    x = keras.layers.Conv2D(4, 1, activation="relu")(x)  # depth 5: two groups
    x = keras.layers.Conv2D(12, (2, 2), strides=2, padding="valid")(x)  # depth 16: four groups
    x = keras.layers.Conv2D(9, 1, activation="relu")(x)  # depth 12: three groups, an odd last channel
    x = keras.layers.Reshape((3, 18))(x)  # 3 rows of the fully connected layer below
    x = keras.layers.Dense(9)(x)  # depth 18: four groups and a tail of 2; two quads and a last channel
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(6, activation="relu")(x))  # depth 27: 6 groups, tail 3


@pytest.fixture(scope="module")
def trained() -> keras.Model:
    keras.utils.set_random_seed(0)
    return train_briefly(matrix_model())


def run_on(board: str, flatbuffer: bytes, folder: Path) -> list[str]:
    compiled = compile_graph(parse_tflite(flatbuffer, name="model"))
    firmware = build(compiled, board, folder)
    inputs = random_samples(compiled, 3, seed=5)
    check = verify(flatbuffer, compiled, inputs, list(simulate(firmware.elf, load_board(board), inputs).outputs))
    assert check.bit_exact, f"not bit-exact on {board}: {check.first_mismatch}"
    return [call.function for call in compiled.calls]


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("scale", [1.0, 1 / 4096])
def test_trained_matrix_kernels_match_tflite_micro(trained, tmp_path: Path, quantize_for_test, board: str,
                                                   scale: float):
    tflite = quantize_for_test(trained, tmp_path / "model.tflite").read_bytes()
    if scale != 1.0:  # the last layer's output scale: every one of its channels general
        tflite = with_output_scale(tflite, scale)
    functions = [f for f in run_on(board, tflite, tmp_path / board) if f != "te_reshape_s8"]
    assert functions == [CONV2D_IM2COL, CONV2D_1X1, CONV2D_1X1, CONV2D_IM2COL, CONV2D_1X1,
                         FULLY_CONNECTED_PACKED, FULLY_CONNECTED_PACKED]


def depthwise_model() -> keras.Model:
    """te_depthwise_conv2d_ch4_s8 layers (the 3x3 variant kept out): 3x3 and 2x3 filters, strides 1 and 2."""
    inputs = keras.Input((7, 6, 8), batch_size=1)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(inputs)
    x = keras.layers.DepthwiseConv2D((2, 3), strides=2, padding="valid")(x)
    return keras.Model(inputs, keras.layers.DepthwiseConv2D(3, padding="same")(x))


@pytest.fixture(scope="module")
def trained_depthwise() -> keras.Model:
    keras.utils.set_random_seed(1)
    return train_briefly(depthwise_model())


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("scale", [1.0, 1 / 4096])
def test_trained_depthwise_kernels_match_tflite_micro(trained_depthwise, tmp_path: Path, quantize_for_test,
                                                      board: str, scale: float):
    tflite = quantize_for_test(trained_depthwise, tmp_path / "model.tflite").read_bytes()
    if scale != 1.0:  # the last layer's channels general
        tflite = with_output_scale(tflite, scale)
    with without_depthwise_3x3():
        assert run_on(board, tflite, tmp_path / board) == [DEPTHWISE_CH4] * 3


# -- te_nn_smmlar2 and te_nn_requantize_rounding (Thumb-1: 16x16 products) against int64 arithmetic --

VECTORS = 4096
# Input: (x, multiplier, acc, shift) per vector. Output: te_nn_smmlar2(x, multiplier, acc), the same from
# the compiler's own int64 product, te_nn_requantize_rounding(x, multiplier, acc, shift), the same from
# the int64 product.
SMMLAR2_BODY = """\
    for (int32_t i = 0; i < TINYEDGE_INPUT_BYTES / 16; ++i) {
        int32_t v[4];
        memcpy(v, input + 16 * i, sizeof v);
        const int32_t high = v[2] + (int32_t)(((int64_t)v[0] * v[1] + ((int64_t)1 << 30)) >> 31);
        const int32_t r[4] = {te_nn_smmlar2(v[0], v[1], v[2]), high,
                              te_nn_requantize_rounding(v[0], v[1], v[2], v[3]), (high + (v[0] >> 31)) >> v[3]};
        memcpy(output + 16 * i, r, sizeof r);
    }
"""


def smmlar2_vectors() -> np.ndarray:
    """Whole-range random words, small and extreme values, products whose low word's rounding carries,
    and the requantization's own range (|acc| < 2^30, multipliers 2^30 to 2^31 - 1, right shifts 1 to 22)."""
    rng = np.random.default_rng(11)
    words = rng.integers(-(2**31), 2**31, (VECTORS, 4))
    words[:, 0] >>= rng.integers(0, 32, VECTORS)  # every magnitude of x
    words[:, 3] = rng.integers(0, 32, VECTORS)
    edges = np.array([0, 1, -1, 0x7FFF, 0x8000, -0x8000, 0xFFFF, 0x10000, -0x10000, 2**30, -(2**30), 2**31 - 1,
                      -(2**31)])
    pairs = np.array(np.meshgrid(edges, edges)).reshape(2, -1).T
    words[:len(pairs), :2] = pairs
    # x * m = +-(2k + 1) * 2^30 exactly, a tie of the rounding: its constant carries into the high word
    j = rng.integers(0, 31, 256)
    odd = 2 * (rng.integers(0, 2**31, 256) >> (j + 1)) + 1
    at = slice(len(pairs), len(pairs) + 256)
    words[at, 0] = rng.choice([-1, 1], 256) << (30 - j)
    words[at, 1] = odd << j
    rest = slice(len(pairs) + 256, VECTORS // 2)
    n = rest.stop - rest.start
    words[rest, 0] = rng.integers(-(2**30) + 1, 2**30, n) >> rng.integers(0, 30, n)
    words[rest, 1] = rng.integers(2**30, 2**31, n)
    words[rest, 3] = rng.integers(1, 23, n)
    words[rest, 2] = (1 << (words[rest, 3] - 1)) + rng.integers(-128, 128, n) * (1 << words[rest, 3])
    assert words.min() >= -(2**31) and words.max() < 2**31
    return words


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")
def test_thumb1_smmlar2_and_requantize_rounding_equal_int64_arithmetic(tmp_path: Path):
    vectors = smmlar2_vectors()
    output = run_vector_model(SMMLAR2_BODY, vectors.astype(np.int32).tobytes(), 16 * VECTORS, "rp2040", tmp_path)
    fast, reference, fast_requantized, requantized = np.frombuffer(output, dtype=np.int32).reshape(VECTORS, 4).T
    x, m, acc, shift = (vectors[:, i] for i in range(4))
    high = (acc + ((x * m + (1 << 30)) >> 31) + 2**31) % 2**32 - 2**31  # Python integers: exact
    assert reference.tolist() == high.tolist()
    assert requantized.tolist() == ((high + (x >> 31) + 2**31) % 2**32 - 2**31 >> shift).tolist()
    for name, got, want in (("te_nn_smmlar2", fast, reference),
                            ("te_nn_requantize_rounding", fast_requantized, requantized)):
        mismatches = np.flatnonzero(got != want)
        assert mismatches.size == 0, f"{name}: first mismatch {vectors[mismatches[0]].tolist()}"
