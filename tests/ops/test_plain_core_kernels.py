"""The fast int8 kernels on the cores without SIMD: Cortex-M0+ (rp2040: the Thumb-1 inner loops of
te_nn_dot_2x2 and the fully connected quad, te_nn_dsp.h and te_fully_connected_packed_s8.c) and RV32IMC
(esp32c3: the plain C path), built with the board's compiler and run in the built-in emulator, the
same bytes as TFLite-Micro. The shapes cover the loops' edges: one group and many, depths that are not
a multiple of 4 (gathered im2col windows, a zero-padded last group, a fully connected tail), odd channel
and pixel counts, several rows, and channels whose output scale is 4096 times too small (left shifts:
the reference requantization inside the fast kernel). Also the Thumb-1 te_nn_smmlar2 (no 64-bit multiply)
against the int64 product it replaces, on rp2040."""

from __future__ import annotations

import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from keras_training import train_briefly
from tflite_edits import with_output_scale

from tinyedge.boards import load_board
from tinyedge.build import build_firmware, render_project
from tinyedge.codegen import compile_graph
from tinyedge.importer import parse_tflite
from tinyedge.ops.conv import CONV2D_1X1, CONV2D_IM2COL
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


# -- te_nn_smmlar2 (four 16x16 products on Thumb-1) against the int64 product, value by value --

VECTORS = 4096
SMMLAR2_H = f"""\
#ifndef TINYEDGE_MODEL_H
#define TINYEDGE_MODEL_H
#include <stdint.h>
#define TINYEDGE_INPUT_BYTES {12 * VECTORS}
#define TINYEDGE_OUTPUT_BYTES {8 * VECTORS}
#define TINYEDGE_ARENA_BYTES 0
#define TINYEDGE_NUM_LAYERS 0
int8_t *tinyedge_model_input(void);
int tinyedge_model_invoke(const int8_t *input, int8_t *output);
#endif
"""
# Input: (x, multiplier, acc) per vector; output: te_nn_smmlar2, then acc + the high word of the rounded
# int64 product (the compiler's own 64-bit multiply).
SMMLAR2_C = """\
#include <stdint.h>
#include <string.h>
#include "te_nn_dsp.h"
#include "tinyedge_model.h"

static int8_t te_input[TINYEDGE_INPUT_BYTES] __attribute__((aligned(16)));

int8_t *tinyedge_model_input(void)
{
    return te_input;
}

int tinyedge_model_invoke(const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < TINYEDGE_INPUT_BYTES / 12; ++i) {
        int32_t v[3];
        memcpy(v, input + 12 * i, sizeof v);
        const int32_t r[2] = {te_nn_smmlar2(v[0], v[1], v[2]),
                              v[2] + (int32_t)(((int64_t)v[0] * v[1] + ((int64_t)1 << 30)) >> 31)};
        memcpy(output + 8 * i, r, sizeof r);
    }
    return 0;
}
"""


def smmlar2_vectors() -> np.ndarray:
    """Whole-range random words, small and extreme values, and products whose low word's rounding carries."""
    rng = np.random.default_rng(11)
    words = rng.integers(-(2**31), 2**31, (VECTORS, 3))
    words[:, 0] >>= rng.integers(0, 32, VECTORS)  # every magnitude of x
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
    assert words.min() >= -(2**31) and words.max() < 2**31
    return words


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")
def test_thumb1_smmlar2_equals_the_int64_product(tmp_path: Path):
    vectors = smmlar2_vectors()
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "tinyedge_model.h").write_text(SMMLAR2_H)
    (tmp_path / "model" / "tinyedge_model.c").write_text(SMMLAR2_C)
    render_project(tmp_path, "rp2040", kernel_sources=())
    firmware = build_firmware(tmp_path, "rp2040")
    (output,) = simulate(firmware.elf, load_board("rp2040"), [vectors.astype(np.int32).tobytes()]).outputs
    fast, reference = np.frombuffer(output, dtype=np.int32).reshape(VECTORS, 2).T
    x, m, acc = (vectors[:, i] for i in range(3))
    expected = (acc + ((x * m + (1 << 30)) >> 31) + 2**31) % 2**32 - 2**31  # Python integers: exact
    assert reference.tolist() == expected.tolist()
    mismatches = np.flatnonzero(fast != reference)
    assert mismatches.size == 0, f"first mismatch {vectors[mismatches[0]].tolist()}"
