"""CONCATENATION against TFLite-Micro, byte for byte."""

from __future__ import annotations

import keras
import pytest

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower

L = keras.layers


def test_concatenate_two_conv_branches_on_channels(assert_bit_exact):
    x = keras.Input((6, 6, 3), batch_size=1)
    a = L.Conv2D(4, 3, padding="same")(x)
    b = L.Conv2D(2, 1)(x)
    result = assert_bit_exact(keras.Model(x, L.Concatenate()([a, b])))
    call = result.model.calls[-1]
    assert result.model.layers[-1].opcode == "CONCATENATION"
    assert call.params["outer_size"] == 36 and call.constants[0].values.tolist() == [4, 2]


def test_concatenate_on_axis1_of_three_inputs(assert_bit_exact):
    x = keras.Input((4, 5, 2), batch_size=1)
    a = L.Conv2D(3, 1)(x)  # [1, 4, 5, 3]
    b = L.ZeroPadding2D(((0, 0), (1, 1)))(L.Conv2D(3, 3)(x))  # [1, 2, 3, 3] padded to [1, 2, 5, 3]
    c = L.Conv2D(3, (3, 1))(x)  # [1, 2, 5, 3]
    result = assert_bit_exact(keras.Model(x, L.Concatenate(axis=1)([a, b, c])))
    call = result.model.calls[-1]
    assert call.params["outer_size"] == 1 and call.constants[0].values.tolist() == [60, 30, 30]


def test_concatenate_a_tensor_with_itself_and_the_model_input(assert_bit_exact):
    x = keras.Input((3, 4, 2), batch_size=1)
    y = L.MaxPooling2D(1)(x)  # same quantization as x, so no requantization is needed
    assert_bit_exact(keras.Model(x, L.Concatenate(axis=2)([y, x, y])))


def test_concatenation_with_fused_relu_is_rejected():
    quant = Quantization((0.1,), (0,))
    tensors = (Tensor(0, "a", (1, 2), "int8", quant), Tensor(1, "b", (1, 2), "int8", quant),
               Tensor(2, "y", (1, 4), "int8", quant))
    graph = Graph("g", tensors, (Operator(0, "CONCATENATION", (0, 1), (2,),
                                          {"axis": 1, "fusedActivationFunction": "RELU"}),), (0, 1), (2,))
    with pytest.raises(UnsupportedOpError, match="layer 0 CONCATENATION.*RELU"):
        lower(graph, graph.operators[0])


def test_concatenation_of_mismatched_shapes_is_rejected():
    quant = Quantization((0.1,), (0,))
    tensors = (Tensor(0, "a", (1, 2, 3), "int8", quant), Tensor(1, "b", (1, 3, 3), "int8", quant),
               Tensor(2, "y", (1, 2, 6), "int8", quant))
    graph = Graph("g", tensors, (Operator(0, "CONCATENATION", (0, 1), (2,), {"axis": -1}),), (0, 1), (2,))
    with pytest.raises(UnsupportedOpError, match="layer 0 CONCATENATION.*'b'"):
        lower(graph, graph.operators[0])
