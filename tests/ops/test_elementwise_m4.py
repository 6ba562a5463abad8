"""The element-wise variants on their Cortex-M4 DSP path (SMMLAR in te_nn_requantize_rounding;
SSUB8 and SEL in MAXIMUM and MINIMUM), built for nrf52840 and run in the built-in emulator over
every (input1, input2) pair: the same bytes as TFLite-Micro, as on the host's plain C path. And
a trained squeeze-excite block on nrf52840 and on rp2040 (Cortex-M0+, the plain C path
cross-compiled)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest
from keras_training import squeeze_excite_model, train_briefly
from single_op import OpCase, TensorSpec, activation, all_pairs_case, single_op_tflite
from test_kernel_choice import ELEMENTWISE_RESCALES
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.boards import load_board
from tinyedge.codegen import compile_graph
from tinyedge.importer import parse_tflite
from tinyedge.ops.mul import MUL_ROUNDING
from tinyedge.ops.squared_difference import SQUARED_DIFFERENCE_TABLE
from tinyedge.ops.sub import SUB_TABLE
from tinyedge.pipeline import build
from tinyedge.simulate import simulate
from tinyedge.verify import random_samples, verify

BOARD = "nrf52840"

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")


def _options(options_type, fused: str):
    options = options_type()
    options.fusedActivationFunction = activation(fused)
    return options


CASES = {
    "mul, relu, extreme zero points": (MUL_ROUNDING, all_pairs_case(
        "MUL", (0.02, 0.05, 0.02 * 0.05 * 150), (-128, 127, 0), _options(schema.MulOptionsT, "RELU"), "m4")),
    "mul": (MUL_ROUNDING, all_pairs_case(
        "MUL", (0.02, 0.05, 0.02 * 0.05 * 150), (37, -5, -100), _options(schema.MulOptionsT, "NONE"), "m4")),
    "sub, relu6": (SUB_TABLE, all_pairs_case(
        "SUB", (0.03, 0.01, 0.05), (-128, 127, 5), _options(schema.SubOptionsT, "RELU6"), "m4")),
    "squared difference": (SQUARED_DIFFERENCE_TABLE, all_pairs_case(
        "SQUARED_DIFFERENCE", (0.03, 0.01, 0.03 ** 2 * 255), (12, -128, -128), None, "m4")),
}
# Output rescales outside the rounding form's right shifts 1..22 (te_nn_rescale's other forms).
for _opcode, _scales, _kernel, _form, _shift in ELEMENTWISE_RESCALES:
    CASES[f"{_opcode.lower()}, form {_form}, shift {_shift}"] = (
        _kernel, all_pairs_case(_opcode, _scales, (-128, 101, -3), None, "m4"))


def _all_pairs_same_shape(opcode: str) -> OpCase:
    """Every (input1, input2) pair once, as two operands of one shape [65539] (no broadcasting: the
    DSP path takes four at a time), the last 3 a tail for the plain loop."""
    values = np.arange(-128, 128, dtype=np.int8)
    first = np.concatenate([np.repeat(values, 256), np.array([5, -128, 127], dtype=np.int8)])
    second = np.concatenate([np.tile(values, 256), np.array([-5, 127, -128], dtype=np.int8)])
    shape = (first.size,)
    return OpCase(opcode, (TensorSpec(shape, 0.1, 3, data=first), TensorSpec(shape, 0.1, 3)), TensorSpec(shape, 0.1, 3),
                  label="m4, same shape", samples=(second.tobytes(),))


CASES["maximum, same shape"] = ("te_maximum_s8", _all_pairs_same_shape("MAXIMUM"))
CASES["minimum, same shape"] = ("te_minimum_s8", _all_pairs_same_shape("MINIMUM"))


@pytest.mark.parametrize("name", list(CASES))
def test_elementwise_variant_on_m4_over_every_input_pair(tmp_path: Path, name):
    kernel, case = CASES[name]
    flatbuffer = single_op_tflite(case)
    model = compile_graph(parse_tflite(flatbuffer, name="model"))
    assert model.layers[0].function == kernel
    firmware = build(model, BOARD, tmp_path / BOARD)
    sim = simulate(firmware.elf, load_board(BOARD), list(case.samples))
    result = verify(flatbuffer, model, list(case.samples), list(sim.outputs))
    assert result.bit_exact, f"not bit-exact on {BOARD}: {result.first_mismatch}"
    listing = subprocess.run(["arm-none-eabi-objdump", "-d", f"--disassemble={kernel}", str(firmware.elf)],
                             capture_output=True, text=True, check=True).stdout
    assert ("sel" if "imum" in kernel else "smmlar") in listing.split()


@pytest.mark.parametrize("board", [BOARD, "rp2040"])
def test_trained_squeeze_excite_block_on_m4_and_m0plus(tmp_path: Path, quantize_for_test, board):
    keras.utils.set_random_seed(0)
    flatbuffer = quantize_for_test(train_briefly(squeeze_excite_model(size=12, channels=16)),
                                   tmp_path / "se.tflite").read_bytes()
    model = compile_graph(parse_tflite(flatbuffer, name="model"))
    assert MUL_ROUNDING in [layer.function for layer in model.layers]
    firmware = build(model, board, tmp_path / board)
    inputs = random_samples(model, 2, seed=7)
    sim = simulate(firmware.elf, load_board(board), inputs)
    result = verify(flatbuffer, model, inputs, list(sim.outputs))
    assert result.bit_exact, f"not bit-exact on {board}: {result.first_mismatch}"
