"""PAD and PADV2 against TFLite-Micro, byte for byte."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower

L = keras.layers


def test_zero_padding2d_asymmetric(assert_bit_exact):
    x = keras.Input((5, 6, 3), batch_size=1)
    result = assert_bit_exact(keras.Model(x, L.ZeroPadding2D(((1, 2), (0, 3)))(x)))
    (call,) = result.model.calls
    values = {c.name: c.values.tolist() for c in call.constants}
    assert values["left_padding"] == [0, 0, 1, 0, 0] and values["right_padding"] == [0, 0, 2, 3, 0]


def test_zero_padding2d_fills_with_a_nonzero_zero_point(assert_bit_exact):
    # Calibrated on [0, 2]: real zero is int8 -128, which the padding must hold.
    x = keras.Input((4, 4, 2), batch_size=1)
    y = L.Conv2D(3, 1)(L.ZeroPadding2D(((2, 0), (1, 1)))(x))
    calib = [np.random.default_rng(2).uniform(0, 2, (32, 4, 4, 2)).astype(np.float32)]
    result = assert_bit_exact(keras.Model(x, y), calib=calib)
    assert result.model.calls[0].params["pad_value"] == -128


def test_zero_padding1d_on_a_3d_tensor(assert_bit_exact):
    x = keras.Input((5, 3), batch_size=1)
    assert_bit_exact(keras.Model(x, L.ZeroPadding1D((2, 1))(x)))


def test_padv2_with_a_nonzero_constant(assert_bit_exact):
    x = keras.Input((6, 6, 3), batch_size=1)
    y = keras.ops.pad(x, ((0, 0), (1, 0), (2, 1), (0, 0)), constant_values=0.5)
    result = assert_bit_exact(keras.Model(x, y))
    assert result.model.layers[0].opcode == "PADV2"
    output = result.model.graph.output_tensors()[0]
    assert result.model.calls[0].params["pad_value"] == output.zero_point + round(0.5 / output.scale)


def test_pad_with_negative_padding_is_rejected():
    quant = Quantization((0.1,), (0,))
    tensors = (Tensor(0, "x", (1, 4), "int8", quant),
               Tensor(1, "paddings", (2, 2), "int32", data=np.array([[0, 0], [-1, 0]], dtype=np.int32)),
               Tensor(2, "y", (1, 3), "int8", quant))
    graph = Graph("g", tensors, (Operator(0, "PAD", (0, 1), (2,)),), (0,), (2,))
    with pytest.raises(UnsupportedOpError, match="layer 0 PAD.*do not take input"):
        lower(graph, graph.operators[0])
