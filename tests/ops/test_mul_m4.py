"""te_mul_rounding_s8 on its Cortex-M4 DSP path (SMMLAR), built for nrf52840 and run in the
built-in emulator over every (input1, input2) pair: the same bytes as TFLite-Micro, as on the
host's plain C path."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from single_op import activation, all_pairs_case, single_op_tflite
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.boards import load_board
from tinyedge.codegen import compile_graph
from tinyedge.importer import parse_tflite
from tinyedge.ops.mul import MUL_ROUNDING
from tinyedge.pipeline import build
from tinyedge.simulate import simulate
from tinyedge.verify import verify

BOARD = "nrf52840"

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")


@pytest.mark.parametrize("zero_points, fused", [((-128, 127, 0), "RELU"), ((37, -5, -100), "NONE")])
def test_mul_rounding_kernel_on_m4_over_every_input_pair(tmp_path: Path, zero_points, fused):
    options = schema.MulOptionsT()
    options.fusedActivationFunction = activation(fused)
    case = all_pairs_case("MUL", (0.02, 0.05, 0.02 * 0.05 * 150), zero_points, options, "on m4")
    flatbuffer = single_op_tflite(case)
    model = compile_graph(parse_tflite(flatbuffer, name="model"))
    assert model.layers[0].function == MUL_ROUNDING
    firmware = build(model, BOARD, tmp_path / BOARD)
    sim = simulate(firmware.elf, load_board(BOARD), list(case.samples))
    result = verify(flatbuffer, model, list(case.samples), list(sim.outputs))
    assert result.bit_exact, f"not bit-exact on {BOARD}: {result.first_mismatch}"
    listing = subprocess.run(["arm-none-eabi-objdump", "-d", f"--disassemble={MUL_ROUNDING}", str(firmware.elf)],
                             capture_output=True, text=True, check=True).stdout
    assert "smmlar" in listing
