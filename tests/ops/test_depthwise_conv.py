"""DEPTHWISE_CONV_2D: generated C against TFLite-Micro, byte for byte, over depth multipliers,
padding, stride, dilation, bias and fused activations."""

from __future__ import annotations

from collections.abc import Iterator

import keras
import pytest

from tinyedge.ops.conv import reference_kernels

BIAS = keras.initializers.RandomUniform(-0.3, 0.3, seed=5)


@pytest.fixture(autouse=True)
def _reference_kernels() -> Iterator[None]:
    """These tests cover the plain reference kernels; tests/ops/test_*_fast.py cover the fast variants."""
    with reference_kernels():
        yield


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(0)


def depthwise_model(input_shape: tuple[int, int, int], kernel: int | tuple[int, int], **layer: object):
    inputs = keras.Input(input_shape, batch_size=1)
    layer.setdefault("bias_initializer", BIAS)
    outputs = keras.layers.DepthwiseConv2D(kernel, **layer)(inputs)
    return keras.Model(inputs, outputs)


def depthwise_options(result) -> dict:
    (op,) = [op for op in result.model.graph.operators if op.opcode == "DEPTHWISE_CONV_2D"]
    return op.options


def test_depthwise_multiplier1_valid_padding(assert_bit_exact):
    result = assert_bit_exact(depthwise_model((7, 7, 4), 3, padding="valid"))
    assert [layer.function for layer in result.model.layers] == ["te_depthwise_conv2d_s8"]
    assert depthwise_options(result)["depthMultiplier"] == 1
    assert result.model.macs == 5 * 5 * 4 * 3 * 3


def test_depthwise_multiplier2_same_padding(assert_bit_exact):
    result = assert_bit_exact(depthwise_model((6, 6, 3), 3, depth_multiplier=2, padding="same"))
    assert depthwise_options(result)["depthMultiplier"] == 2
    assert result.model.graph.output_tensors()[0].shape == (1, 6, 6, 6)
    assert result.model.macs == 6 * 6 * 6 * 3 * 3


def test_depthwise_multiplier3_single_input_channel(assert_bit_exact):
    result = assert_bit_exact(depthwise_model((5, 5, 1), 3, depth_multiplier=3, padding="same"))
    assert result.model.graph.output_tensors()[0].shape == (1, 5, 5, 3)


def test_depthwise_stride2_same_padding(assert_bit_exact):
    result = assert_bit_exact(depthwise_model((9, 8, 4), 3, strides=2, padding="same"))
    assert result.model.graph.output_tensors()[0].shape == (1, 5, 4, 4)


def test_depthwise_stride2_multiplier2_valid_padding(assert_bit_exact):
    result = assert_bit_exact(depthwise_model((9, 9, 2), 3, strides=2, depth_multiplier=2, padding="valid"))
    assert result.model.graph.output_tensors()[0].shape == (1, 4, 4, 4)


def test_depthwise_dilation2_same_padding(assert_bit_exact):
    result = assert_bit_exact(depthwise_model((8, 8, 3), 3, dilation_rate=2, padding="same"))
    options = depthwise_options(result)
    assert (options["dilationHFactor"], options["dilationWFactor"]) == (2, 2)


def test_depthwise_non_square_kernel_and_input(assert_bit_exact):
    result = assert_bit_exact(depthwise_model((10, 6, 3), (3, 5), padding="same"))
    assert result.model.graph.output_tensors()[0].shape == (1, 10, 6, 3)


def test_depthwise_without_bias(assert_bit_exact):
    assert_bit_exact(depthwise_model((6, 6, 4), 3, use_bias=False, depth_multiplier=2))


def test_depthwise_fused_relu(assert_bit_exact):
    result = assert_bit_exact(depthwise_model((6, 6, 4), 3, activation="relu", padding="same"))
    assert depthwise_options(result)["fusedActivationFunction"] == "RELU"


def test_depthwise_fused_relu6(assert_bit_exact):
    result = assert_bit_exact(depthwise_model((6, 6, 4), 3, activation="relu6", padding="same"))
    assert depthwise_options(result)["fusedActivationFunction"] == "RELU6"


def test_depthwise_then_pointwise_conv_block(assert_bit_exact):
    inputs = keras.Input((8, 8, 4), batch_size=1)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu", bias_initializer=BIAS)(inputs)
    outputs = keras.layers.Conv2D(6, 1, activation="relu", bias_initializer=BIAS)(x)
    result = assert_bit_exact(keras.Model(inputs, outputs))
    assert [layer.function for layer in result.model.layers] == ["te_depthwise_conv2d_s8", "te_conv2d_s8"]
