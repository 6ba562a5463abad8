"""TRANSPOSE_CONV and BATCH_MATMUL's fast variants on their Cortex-M4 DSP path (SXTB16, SMLAD,
SMMLAR, SSAT, SADD16), built for nrf52840 and run in the built-in emulator, and their plain C
path cross-compiled for rp2040 (Cortex-M0+) and esp32c3 (RV32IMC): trained Keras models, and 20 seeded random
configurations of each op on nrf52840, the same bytes as TFLite-Micro, as on the host."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest
from keras_training import train_briefly
from op_batch import check_cases_on_board
from single_op import OpCase, single_op_tflite
from test_batch_matmul import random_cases as random_matmul_cases
from test_transpose_conv import random_cases as random_transpose_conv_cases
from test_transpose_conv import transpose_conv_case

from tinyedge.boards import load_board
from tinyedge.codegen import CompiledModel, compile_graph
from tinyedge.importer import parse_tflite
from tinyedge.ops.batch_matmul import BATCH_MATMUL_WIDENED
from tinyedge.ops.transpose_conv import TRANSPOSE_CONV_IM2COL
from tinyedge.pipeline import build
from tinyedge.simulate import simulate
from tinyedge.verify import random_samples, verify

L = keras.layers
BOARDS = ["nrf52840", "rp2040", pytest.param("esp32c3", marks=pytest.mark.skipif(
    shutil.which("riscv64-unknown-elf-gcc") is None, reason="riscv64-unknown-elf-gcc is not installed"))]
DSP = ("smlad", "sxtb16", "smmlar", "ssat", "sadd16")

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")


@pytest.fixture(scope="module")
def trained() -> dict[str, keras.Model]:
    """The two models, trained once for both boards."""
    keras.utils.set_random_seed(0)
    x = keras.Input((5, 6, 3), batch_size=1)
    y = L.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(x)  # depth 3: gathered taps
    y = L.Conv2DTranspose(5, (2, 3), padding="valid")(y)  # stride 1: neighbouring pixels, odd channels
    y = L.Conv2DTranspose(4, 1, strides=(2, 3), padding="same")(y)  # phases with no tap: the bias alone
    transpose_conv = train_briefly(keras.Model(x, y))

    s = keras.Input((7, 10), batch_size=1)
    q, k, v = L.Dense(5)(s), L.Dense(5)(s), L.Dense(3)(s)  # depth 5: a partial group; 3 columns: a lone one
    scores = L.Lambda(lambda t: keras.ops.matmul(t[0], keras.ops.transpose(t[1], (0, 2, 1))))([q, k])
    attended = L.Lambda(lambda t: keras.ops.matmul(t[0], t[1]))([L.Softmax()(scores), v])
    attention = train_briefly(keras.Model(s, L.Flatten()(attended)))
    return {"transpose_conv": transpose_conv, "attention": attention}


def run(model: keras.Model, board: str, folder: Path, quantize) -> tuple[CompiledModel, Path]:
    """Quantize, build for `board`, emulate on seeded random inputs; the outputs equal tflite_micro's."""
    flatbuffer = quantize(model, folder / "model.tflite").read_bytes()
    compiled = compile_graph(parse_tflite(flatbuffer, name="model"))
    firmware = build(compiled, board, folder / board)
    inputs = random_samples(compiled, 3, seed=7)
    sim = simulate(firmware.elf, load_board(board), inputs)
    result = verify(flatbuffer, compiled, inputs, list(sim.outputs))
    assert result.bit_exact, f"not bit-exact on {board}: {result.first_mismatch}"
    return compiled, firmware.elf


def dsp_instructions(elf: Path, *functions: str) -> set[str]:
    """The DSP-extension mnemonics in these functions: a kernel and the static helpers the compiler may
    keep out of line (under a name such as te_bmm_widen.constprop.0)."""
    symbols = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    names = {line.split()[-1] for line in symbols.splitlines() if line.split()[-1].split(".")[0] in functions}
    listing = "".join(subprocess.run(["arm-none-eabi-objdump", "-d", f"--disassemble={name}", str(elf)],
                                     capture_output=True, text=True, check=True).stdout for name in names)
    return {word.split(".")[0] for line in listing.splitlines() for word in line.split("\t")[2:3]} & set(DSP)


@pytest.mark.parametrize("board", BOARDS)
def test_trained_conv2d_transpose_layers_in_the_emulator(trained, tmp_path, quantize_for_test, board):
    compiled, elf = run(trained["transpose_conv"], board, tmp_path, quantize_for_test)
    functions = [call.function for op, call in zip(compiled.graph.operators, compiled.calls)
                 if op.opcode == "TRANSPOSE_CONV"]
    assert functions == [TRANSPOSE_CONV_IM2COL] * 3
    if board != "esp32c3":
        expected = {"smlad", "sxtb16", "smmlar", "ssat"} if board == "nrf52840" else set()
        assert dsp_instructions(elf, TRANSPOSE_CONV_IM2COL, "te_transpose_conv_column") == expected


def test_transpose_conv_with_a_clamp_narrower_than_int8_in_the_emulator(tmp_path):
    # The converter keeps a clip to [-1, 1] as a RELU_N1_TO_1 op of its own (which TFLite-Micro
    # lacks), so the narrow clamp comes from a single-op model with the activation fused.
    rng = np.random.default_rng(5)
    weights = rng.integers(-127, 128, (6, 3, 3, 8), dtype=np.int8)
    case = transpose_conv_case((1, 4, 5, 8), weights, (1, 8, 10, 6), (0.05, [0.01] * 6, 0.01), (-128, 3),
                               rng.integers(-500, 500, 6, dtype=np.int32), "SAME", (2, 2), "RELU_N1_TO_1", "m4")
    flatbuffer = single_op_tflite(case)
    compiled = compile_graph(parse_tflite(flatbuffer, name="model"))
    assert compiled.calls[0].function == TRANSPOSE_CONV_IM2COL
    assert (compiled.calls[0].params["activation_min"], compiled.calls[0].params["activation_max"]) == (-97, 103)
    firmware = build(compiled, "nrf52840", tmp_path)
    inputs = random_samples(compiled, 3, seed=7)
    result = verify(flatbuffer, compiled, inputs, list(simulate(firmware.elf, load_board("nrf52840"), inputs).outputs))
    assert result.bit_exact, f"not bit-exact on nrf52840: {result.first_mismatch}"


@pytest.mark.parametrize("board", BOARDS)
def test_trained_attention_matmuls_in_the_emulator(trained, tmp_path, quantize_for_test, board):
    compiled, elf = run(trained["attention"], board, tmp_path, quantize_for_test)
    functions = [call.function for op, call in zip(compiled.graph.operators, compiled.calls)
                 if op.opcode == "BATCH_MATMUL"]
    assert functions == [BATCH_MATMUL_WIDENED] * 2
    if board != "esp32c3":
        expected = {"smlad", "sxtb16", "smmlar", "ssat", "sadd16"} if board == "nrf52840" else set()
        assert dsp_instructions(elf, BATCH_MATMUL_WIDENED, "te_bmm_widen", "te_bmm_dot_2x2") == expected


def _fast_cases(cases: list[OpCase], kernel: str, count: int) -> list[OpCase]:
    """The first `count` configurations the lowering gives to `kernel`."""
    chosen = [case for case in cases
              if compile_graph(parse_tflite(single_op_tflite(case), name="case")).calls[0].function == kernel]
    return chosen[:count]


RANDOM_CASES = (_fast_cases(random_transpose_conv_cases(seed=131, count=40), TRANSPOSE_CONV_IM2COL, 20)
                + _fast_cases(random_matmul_cases(seed=141, count=20), BATCH_MATMUL_WIDENED, 20))


def test_random_configurations_on_m4(tmp_path):
    # Seeded random shapes, strides, zero points and fused activations (test_transpose_conv and
    # test_batch_matmul's generators) on the DSP path, against tflite_micro: every case side by side
    # in one firmware (one build, not one per case), each on the kernel and the samples (2, seed 11)
    # its one-op model gets; a differing byte names its case.
    assert len(RANDOM_CASES) == 40
    merged = check_cases_on_board(RANDOM_CASES, "nrf52840", tmp_path)
    assert {call.function for call in merged.calls} == {TRANSPOSE_CONV_IM2COL, BATCH_MATMUL_WIDENED}
