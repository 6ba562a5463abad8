"""AVERAGE_POOL_2D and MAX_POOL_2D against TFLite-Micro, byte for byte."""

from __future__ import annotations

import keras
import pytest

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower

POOLS = {"avg": keras.layers.AveragePooling2D, "max": keras.layers.MaxPooling2D}
OPCODES = {"avg": "AVERAGE_POOL_2D", "max": "MAX_POOL_2D"}


def pool_model(kind: str, input_shape: tuple[int, int, int], pool: int, stride: int, padding: str,
               activation: str | None = None) -> keras.Model:
    x = keras.Input(input_shape, batch_size=1)
    y = POOLS[kind](pool_size=pool, strides=stride, padding=padding)(x)
    if activation is not None:
        y = keras.layers.Activation(activation)(y)
    return keras.Model(x, y)


@pytest.mark.parametrize("kind", sorted(POOLS))
def test_pool_2x2_valid_stride2(assert_bit_exact, kind):
    result = assert_bit_exact(pool_model(kind, (8, 8, 3), pool=2, stride=2, padding="valid"))
    assert [layer.opcode for layer in result.model.layers] == [OPCODES[kind]]


@pytest.mark.parametrize("kind", sorted(POOLS))
def test_pool_3x3_valid_stride2_drops_last_column(assert_bit_exact, kind):
    assert_bit_exact(pool_model(kind, (8, 9, 4), pool=3, stride=2, padding="valid"))


@pytest.mark.parametrize("kind", sorted(POOLS))
def test_pool_3x3_same_stride2_partial_edge_windows(assert_bit_exact, kind):
    # 7x6 input, stride 2: SAME padding puts one padded row/column on each side for height
    # and one after for width, so edge windows average over fewer than 9 inputs.
    result = assert_bit_exact(pool_model(kind, (7, 6, 3), pool=3, stride=2, padding="same"))
    call = result.model.calls[0]
    assert call.params["pad_height"] == 1 and call.params["pad_width"] == 0


@pytest.mark.parametrize("kind", sorted(POOLS))
def test_pool_2x2_same_stride1_pads_bottom_right_only(assert_bit_exact, kind):
    assert_bit_exact(pool_model(kind, (5, 5, 2), pool=2, stride=1, padding="same"))


@pytest.mark.parametrize("kind", sorted(POOLS))
def test_pool_3x3_same_stride1_fused_relu6_clamp(assert_bit_exact, kind):
    # Calibrated on [-1, 1] so ReLU6 leaves the upper clamp loose and the lower one tight.
    result = assert_bit_exact(pool_model(kind, (6, 6, 3), pool=3, stride=1, padding="same", activation="relu6"))
    # The converter fuses the ReLU6 into the pool.
    assert [layer.opcode for layer in result.model.layers] == [OPCODES[kind]]
    assert result.model.calls[0].params["activation_min"] > -128


def _tensor(index: int, shape: tuple[int, ...], scale: float, zero_point: int) -> Tensor:
    return Tensor(index, f"t{index}", shape, "int8", Quantization((scale,), (zero_point,)))


def test_pool_with_output_quantization_differing_from_input_is_rejected():
    graph = Graph("g", (_tensor(0, (1, 4, 4, 1), 0.1, 0), _tensor(1, (1, 2, 2, 1), 0.2, 0)),
                  (Operator(0, "MAX_POOL_2D", (0,), (1,), {"padding": "VALID", "strideH": 2, "strideW": 2,
                                                           "filterHeight": 2, "filterWidth": 2}),),
                  (0,), (1,))
    with pytest.raises(UnsupportedOpError, match="layer 0 MAX_POOL_2D.*quantization differ"):
        lower(graph, graph.operators[0])
