"""The single-op harness itself (the models it writes are what they say, and a kernel that is one
LSB off anywhere fails the check, naming the configuration), and what the binary element-wise
lowerings refuse, before TFLite-Micro is ever asked."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from single_op import OpCase, TensorSpec, check_cases, random_binary_case, random_broadcast_shapes, single_op_tflite
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.errors import UnsupportedOpError
from tinyedge.importer import parse_tflite
from tinyedge.ops import _LOWERINGS, lower
from tinyedge.ops.sub import lower_sub


def test_single_op_model_carries_shapes_constants_quantization_and_options():
    weights = np.arange(-4, 4, dtype=np.int8).reshape(2, 4)
    options = schema.MulOptionsT()
    options.fusedActivationFunction = schema.ActivationFunctionType.RELU6
    case = OpCase("MUL", (TensorSpec((1, 3, 2, 4), 0.5, -128), TensorSpec((2, 4), (0.25, 0.125), (0, 0), weights, 0)),
                  TensorSpec((1, 3, 2, 4), 0.0625, 127), options, "hand-made")
    graph = parse_tflite(single_op_tflite(case))
    (op,) = graph.operators
    in1, in2, out = (graph.tensor(i) for i in (*op.inputs, *op.outputs))
    assert op.opcode == "MUL" and op.options["fusedActivationFunction"] == "RELU6"
    assert graph.inputs == (in1.index,) and graph.outputs == (out.index,)
    assert in1.shape == (1, 3, 2, 4) and (in1.scale, in1.zero_point) == (0.5, -128)
    assert in2.quant is not None and in2.quant.scale == (0.25, 0.125) and in2.quant.axis == 0
    assert np.array_equal(in2.data, weights) and (out.scale, out.zero_point) == (0.0625, 127)


def test_random_broadcast_shapes_broadcast_as_tflite_does():
    rng = np.random.default_rng(0)
    for _ in range(500):
        shape1, shape2, out = random_broadcast_shapes(rng)
        assert len(out) <= 4 and len(out) == max(len(shape1), len(shape2))
        assert np.broadcast_shapes(shape1, shape2) == out


def test_a_kernel_one_lsb_off_fails_naming_the_configuration(tmp_path, monkeypatch):
    def off_by_one(graph, op):
        call = lower_sub(graph, op)
        return dataclasses.replace(call, params={**call.params, "output_offset": call.params["output_offset"] + 1})

    monkeypatch.setitem(_LOWERINGS, "SUB", off_by_one)
    rng = np.random.default_rng(3)
    cases = [random_binary_case("SUB", rng, (0.05, 0.02, 0.1), schema.SubOptionsT(), f"case {n}") for n in range(3)]
    with pytest.raises(AssertionError, match=r"of 3 configurations differ:\ncase \d SUB\("):
        check_cases(cases, tmp_path)


def _lowered(case: OpCase):
    graph = parse_tflite(single_op_tflite(case))
    return lower(graph, graph.operators[0])


def test_sub_whose_output_rescale_reaches_one_is_refused_before_tflite_micro_aborts():
    # 2 * 1.0 / (2^20 * 1e-7) > 1: TFLite-Micro's QuantizeMultiplierSmallerThanOneExp would abort the process.
    case = OpCase("SUB", (TensorSpec((4,), 1.0, 0), TensorSpec((4,), 1.0, 0)), TensorSpec((4,), 1e-7, 0),
                  schema.SubOptionsT())
    with pytest.raises(UnsupportedOpError, match=r"layer 0 SUB .*output rescale factor .* outside \(0, 1\)"):
        _lowered(case)


@pytest.mark.parametrize("opcode", ["MUL", "SUB", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM"])
def test_broadcasting_beyond_four_dimensions_is_refused_naming_the_shapes(opcode):
    case = OpCase(opcode, (TensorSpec((2, 1, 3, 1, 2), 0.1, 0), TensorSpec((1, 2, 1, 2, 1), 0.1, 0)),
                  TensorSpec((2, 2, 3, 2, 2), 0.1, 0))
    with pytest.raises(UnsupportedOpError, match=rf"layer 0 {opcode} .*up to 4-D.*\[2, 1, 3, 1, 2\]"):
        _lowered(case)


def test_five_dimensional_operands_of_the_same_shape_are_one_flat_run():
    shape = (2, 1, 3, 1, 2)
    call = _lowered(OpCase("MUL", (TensorSpec(shape, 0.1, 0), TensorSpec(shape, 0.1, 0)), TensorSpec(shape, 0.1, 0)))
    geometry = {c.name: c.values.tolist() for c in call.constants}
    assert geometry == {"output_shape": [1, 1, 1, 12], "input1_strides": [0, 0, 0, 1], "input2_strides": [0, 0, 0, 1]}


def test_per_channel_quantized_mul_operand_is_refused():
    channels = TensorSpec((1, 2), (0.1, 0.2), (0, 0), axis=1)
    case = OpCase("MUL", (TensorSpec((1, 2), 0.1, 0), channels), TensorSpec((1, 2), 0.1, 0))
    with pytest.raises(UnsupportedOpError, match="layer 0 MUL .*must be quantized per tensor"):
        _lowered(case)
