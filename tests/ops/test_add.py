"""ADD against TFLite-Micro, byte for byte: same shapes, broadcasting, fused ReLU, residuals; every
(input1, input2) pair through te_add_s8 and te_add_table_s8 on the host and on nrf52840's DSP
path (SMMLAR in te_add_requantize) in the built-in emulator."""

from __future__ import annotations

import contextlib
import shutil
import subprocess

import keras
import pytest
from single_op import activation, all_pairs_case, check_cases, single_op_tflite
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.boards import load_board
from tinyedge.codegen import compile_graph
from tinyedge.errors import UnsupportedOpError
from tinyedge.importer import parse_tflite
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower
from tinyedge.ops.add import ADD_TABLE
from tinyedge.ops.conv import reference_kernels
from tinyedge.pipeline import build
from tinyedge.simulate import simulate
from tinyedge.verify import verify

L = keras.layers


def test_add_same_shape_differently_quantized_inputs(assert_bit_exact):
    # A pool and a conv of one input: the sum's inputs have different scales and zero points
    # (the conv's bias moves its range well above the pool's, which stays around zero).
    x = keras.Input((6, 6, 3), batch_size=1)
    a = L.AveragePooling2D(3, 1, padding="same")(x)
    b = L.Conv2D(3, 1, bias_initializer=keras.initializers.Constant(2.0))(x)
    result = assert_bit_exact(keras.Model(x, L.Add()([a, b])))
    add = result.model.calls[-1]
    assert result.model.layers[-1].opcode == "ADD"
    assert add.params["input1_offset"] != add.params["input2_offset"]


def test_add_of_a_tensor_to_itself(assert_bit_exact):
    x = keras.Input((4, 5, 3), batch_size=1)
    assert_bit_exact(keras.Model(x, L.Add()([x, x])))


def test_add_broadcasts_channel_vector_over_image(assert_bit_exact):
    # x + mean(x) over H, W: the converter gives ADD [1, 6, 6, 3] + [3].
    x = keras.Input((6, 6, 3), batch_size=1)
    result = assert_bit_exact(keras.Model(x, L.Add()([x, L.GlobalAveragePooling2D(keepdims=True)(x)])))
    add = result.model.calls[-1]
    strides = {c.name: c.values.tolist() for c in add.constants}
    assert strides["input2_strides"] == [0, 0, 0, 1] and strides["output_shape"] == [1, 6, 6, 3]


def test_add_broadcasts_first_input_over_second(assert_bit_exact):
    # The broadcast operand first: [1, 1, 1, C] + [1, H, W, C].
    x = keras.Input((5, 4, 2), batch_size=1)
    mean = L.GlobalAveragePooling2D(keepdims=True)(x)
    result = assert_bit_exact(keras.Model(x, L.Add()([mean, L.AveragePooling2D(2, 1)(x)])))
    add = result.model.calls[-1]
    strides = {c.name: c.values.tolist() for c in add.constants}
    assert strides["input1_strides"][:3] == [0, 0, 0] and not add.in_place


def test_add_broadcasts_row_over_columns(assert_bit_exact):
    # [1, H, 1, C] + [1, H, W, C]: a middle dimension broadcast.
    x = keras.Input((4, 6, 3), batch_size=1)
    row = keras.ops.mean(x, axis=2, keepdims=True)
    result = assert_bit_exact(keras.Model(x, L.Add()([x, row])))
    strides = {c.name: c.values.tolist() for c in result.model.calls[-1].constants}
    assert strides["input2_strides"][2] == 0 and strides["output_shape"] == [1, 4, 6, 3]


def test_add_two_conv_branches_with_fused_relu(assert_bit_exact):
    x = keras.Input((6, 6, 3), batch_size=1)
    a = L.Conv2D(4, 3, padding="same")(x)
    b = L.Conv2D(4, 1)(x)
    result = assert_bit_exact(keras.Model(x, L.ReLU()(L.Add()([a, b]))))
    assert result.model.layers[-1].opcode == "ADD"
    assert result.model.graph.operators[-1].options["fusedActivationFunction"] == "RELU"


def test_add_residual_block_runs_in_place(assert_bit_exact):
    # input -> conv -> (conv -> conv) + skip: the skip branch dies at the add.
    x = keras.Input((6, 6, 4), batch_size=1)
    skip = L.Conv2D(4, 1)(x)
    y = L.Conv2D(4, 3, padding="same")(skip)
    y = L.Conv2D(4, 3, padding="same")(y)
    z = L.Add()([skip, y])
    result = assert_bit_exact(keras.Model(x, L.Conv2D(2, 1)(z)))
    add_index = next(layer.index for layer in result.model.layers if layer.opcode == "ADD")
    assert add_index in result.model.plan.in_place


def _tensor(index: int, shape: tuple[int, ...]) -> Tensor:
    return Tensor(index, f"t{index}", shape, "int8", Quantization((0.1,), (0,)))


def test_add_of_shapes_that_do_not_broadcast_is_rejected():
    graph = Graph("g", (_tensor(0, (1, 4, 3)), _tensor(1, (1, 2, 3)), _tensor(2, (1, 4, 3))),
                  (Operator(0, "ADD", (0, 1), (2,), {"fusedActivationFunction": "NONE"}),), (0, 1), (2,))
    with pytest.raises(UnsupportedOpError, match="layer 0 ADD.*do not broadcast"):
        lower(graph, graph.operators[0])


def test_add_with_fused_tanh_is_rejected():
    graph = Graph("g", (_tensor(0, (1, 4)), _tensor(1, (1, 4)), _tensor(2, (1, 4))),
                  (Operator(0, "ADD", (0, 1), (2,), {"fusedActivationFunction": "TANH"}),), (0, 1), (2,))
    with pytest.raises(UnsupportedOpError, match="layer 0 ADD.*TANH"):
        lower(graph, graph.operators[0])


@pytest.mark.parametrize("shape", [(16, 16, 4), (8, 8, 16)])
def test_large_adds_use_the_table_kernel_and_stay_bit_exact(assert_bit_exact, shape):
    # A residual sum of 1024 elements: past ADD_TABLE_MIN_ELEMENTS, so the table variant runs.
    x = keras.Input(shape, batch_size=1)
    y = L.Conv2D(shape[-1], 1, bias_initializer=keras.initializers.Constant(0.5))(x)
    result = assert_bit_exact(keras.Model(x, L.Add()([x, L.ReLU()(y)])), samples=3)
    assert result.model.calls[-1].function == ADD_TABLE


def test_the_table_kernel_matches_the_reference_kernel_on_broadcasts(assert_bit_exact):
    x = keras.Input((16, 16, 4), batch_size=1)
    result = assert_bit_exact(keras.Model(x, L.Add()([x, L.GlobalAveragePooling2D(keepdims=True)(x)])))
    assert result.model.calls[-1].function == ADD_TABLE
    with reference_kernels():
        reference = assert_bit_exact(keras.Model(x, L.Add()([x, L.GlobalAveragePooling2D(keepdims=True)(x)])))
    assert reference.model.calls[-1].function == "te_add_s8"


def _add_options(fused: str) -> schema.AddOptionsT:
    options = schema.AddOptionsT()
    options.fusedActivationFunction = activation(fused)
    return options


# Scales chosen for each requantization's rounding: powers of two that make rounding ties of
# the sum (output multiplier 2^30, right shift 19: its odd values are ties) and of input 2
# (multiplier 3 * 2^29, output right shift 1), uneven scales, scales two decades apart, and zero
# points at the extremes.
ALL_PAIRS = (
    all_pairs_case("ADD", (2.0**-4, 2.0**-4, 2.0**-3), (37, -5, -100), _add_options("NONE"), "all pairs, ties"),
    all_pairs_case("ADD", (2.0**-4, 3 * 2.0**-6, 2.0**-21), (3, -5, 0), _add_options("NONE"),
                   "all pairs, ties of input 2"),
    all_pairs_case("ADD", (0.02, 0.05, 0.06), (-128, 127, 0), _add_options("RELU"), "all pairs, extreme zero points"),
    all_pairs_case("ADD", (0.003, 0.4, 0.5), (5, -128, 127), _add_options("RELU6"), "all pairs, far-apart scales"),
)


def _lowered_with(kernel: str):
    return reference_kernels() if kernel == "te_add_s8" else contextlib.nullcontext()


@pytest.mark.parametrize("kernel", ["te_add_s8", ADD_TABLE])
def test_add_over_every_input_pair_on_the_host(tmp_path, kernel):
    with _lowered_with(kernel):
        models = check_cases(ALL_PAIRS, tmp_path)
    assert {m.calls[0].function for m in models} == {kernel}


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")
@pytest.mark.parametrize("kernel", ["te_add_s8", ADD_TABLE])
def test_add_over_every_input_pair_on_the_m4_dsp_path(tmp_path, kernel):
    board = "nrf52840"
    for number, case in enumerate(ALL_PAIRS):
        flatbuffer = single_op_tflite(case)
        with _lowered_with(kernel):
            model = compile_graph(parse_tflite(flatbuffer, name="model"))
        assert model.layers[0].function == kernel
        firmware = build(model, board, tmp_path / f"{board}{number}")
        sim = simulate(firmware.elf, load_board(board), list(case.samples))
        result = verify(flatbuffer, model, list(case.samples), list(sim.outputs))
        assert result.bit_exact, f"{case.label}: not bit-exact on {board}: {result.first_mismatch}"
    listing = subprocess.run(["arm-none-eabi-objdump", "-d", f"--disassemble={kernel}", str(firmware.elf)],
                             capture_output=True, text=True, check=True).stdout
    assert "smmlar" in listing.split()
