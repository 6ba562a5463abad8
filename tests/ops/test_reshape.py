"""RESHAPE (Keras Flatten and Reshape), SQUEEZE and EXPAND_DIMS against TFLite-Micro."""

from __future__ import annotations

import keras
import pytest

from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower

L = keras.layers


def test_flatten_between_conv_and_dense_runs_in_place(assert_bit_exact):
    x = keras.Input((4, 4, 3), batch_size=1)
    y = L.Dense(5)(L.Flatten()(L.Conv2D(2, 3)(x)))
    result = assert_bit_exact(keras.Model(x, y))
    reshape = next(layer.index for layer in result.model.layers if layer.opcode == "RESHAPE")
    assert reshape in result.model.plan.in_place


def test_reshape_of_the_model_input_to_the_model_output_copies(assert_bit_exact):
    # Input and output live in the caller's buffers, so the kernel copies.
    x = keras.Input((6, 4), batch_size=1)
    result = assert_bit_exact(keras.Model(x, L.Reshape((3, 8))(x)))
    assert [layer.opcode for layer in result.model.layers] == ["RESHAPE"]
    assert not result.model.plan.in_place


def test_reshape_between_two_convs(assert_bit_exact):
    x = keras.Input((4, 6, 2), batch_size=1)
    y = L.Reshape((6, 4, 3))(L.Conv2D(3, 1)(x))
    assert_bit_exact(keras.Model(x, L.Conv2D(2, 3)(y)))


@pytest.mark.parametrize("opcode, shapes", [("SQUEEZE", ((1, 3, 1, 2), (1, 3, 2))),
                                            ("EXPAND_DIMS", ((1, 6), (1, 1, 6)))])
def test_squeeze_and_expand_dims_copy_bytes_in_place(opcode, shapes):
    quant = Quantization((0.05,), (-3,))
    tensors = (Tensor(0, "x", shapes[0], "int8", quant), Tensor(1, "y", shapes[1], "int8", quant))
    call = lower(Graph("g", tensors, (Operator(0, opcode, (0,), (1,)),), (0,), (1,)),
                 Operator(0, opcode, (0,), (1,)))
    assert call.function == "te_reshape_s8" and call.params == {"size": 6} and call.in_place
