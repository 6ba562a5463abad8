"""CONV_2D: generated C against TFLite-Micro, byte for byte, over padding, stride, dilation,
bias, fused activations and grouped / per-tensor weights."""

from __future__ import annotations

from collections.abc import Iterator

import keras
import pytest

from tinyedge.ops.conv import reference_kernels

BIAS = keras.initializers.RandomUniform(-0.3, 0.3, seed=3)


@pytest.fixture(autouse=True)
def _reference_kernels() -> Iterator[None]:
    """These tests cover the plain reference kernels; tests/ops/test_*_fast.py cover the fast variants."""
    with reference_kernels():
        yield


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(0)


def conv_model(input_shape: tuple[int, int, int], filters: int, kernel: int | tuple[int, int], **conv: object):
    inputs = keras.Input(input_shape, batch_size=1)
    conv.setdefault("bias_initializer", BIAS)
    outputs = keras.layers.Conv2D(filters, kernel, **conv)(inputs)
    return keras.Model(inputs, outputs)


def conv_layer_options(result) -> dict:
    (op,) = [op for op in result.model.graph.operators if op.opcode == "CONV_2D"]
    return op.options


def test_conv2d_valid_padding_with_bias(assert_bit_exact):
    result = assert_bit_exact(conv_model((7, 7, 3), 4, 3, padding="valid"))
    assert [layer.function for layer in result.model.layers] == ["te_conv2d_s8"]
    assert conv_layer_options(result)["padding"] == "VALID"
    assert result.model.macs == 5 * 5 * 4 * 3 * 3 * 3


def test_conv2d_same_padding(assert_bit_exact):
    result = assert_bit_exact(conv_model((6, 6, 3), 5, 3, padding="same"))
    assert conv_layer_options(result)["padding"] == "SAME"
    assert result.model.graph.output_tensors()[0].shape == (1, 6, 6, 5)


def test_conv2d_stride2_same_padding_odd_and_even_sizes(assert_bit_exact):
    # 7 rows pad one above and one below; 8 columns pad none left and one right.
    result = assert_bit_exact(conv_model((7, 8, 2), 3, 3, strides=2, padding="same"))
    assert result.model.graph.output_tensors()[0].shape == (1, 4, 4, 3)


def test_conv2d_stride2_valid_padding(assert_bit_exact):
    result = assert_bit_exact(conv_model((9, 9, 2), 3, 3, strides=2, padding="valid"))
    assert result.model.graph.output_tensors()[0].shape == (1, 4, 4, 3)


def test_conv2d_dilation2_same_padding(assert_bit_exact):
    result = assert_bit_exact(conv_model((8, 7, 3), 4, 3, dilation_rate=2, padding="same"))
    options = conv_layer_options(result)
    assert (options["dilationHFactor"], options["dilationWFactor"]) == (2, 2)


def test_conv2d_dilation2_valid_padding(assert_bit_exact):
    result = assert_bit_exact(conv_model((9, 9, 2), 3, 3, dilation_rate=2, padding="valid"))
    assert result.model.graph.output_tensors()[0].shape == (1, 5, 5, 3)


def test_conv2d_1x1_pointwise(assert_bit_exact):
    result = assert_bit_exact(conv_model((5, 5, 8), 6, 1))
    assert result.model.macs == 5 * 5 * 6 * 8


def test_conv2d_without_bias(assert_bit_exact):
    assert_bit_exact(conv_model((6, 6, 3), 4, 3, use_bias=False, padding="same"))


def test_conv2d_zero_initialised_bias(assert_bit_exact):
    assert_bit_exact(conv_model((6, 6, 3), 4, 3, bias_initializer="zeros"))


def test_conv2d_fused_relu(assert_bit_exact):
    result = assert_bit_exact(conv_model((6, 6, 3), 4, 3, activation="relu", padding="same"))
    assert conv_layer_options(result)["fusedActivationFunction"] == "RELU"


def test_conv2d_fused_relu6(assert_bit_exact):
    result = assert_bit_exact(conv_model((6, 6, 3), 4, 3, activation="relu6", padding="same"))
    assert conv_layer_options(result)["fusedActivationFunction"] == "RELU6"


def test_conv2d_fused_relu_n1_to_1_from_clip(assert_bit_exact):
    inputs = keras.Input((6, 6, 3), batch_size=1)
    x = keras.layers.Conv2D(4, 3, bias_initializer=BIAS)(inputs)
    outputs = keras.layers.Lambda(lambda t: keras.ops.clip(t, -1.0, 1.0))(x)
    result = assert_bit_exact(keras.Model(inputs, outputs))
    assert conv_layer_options(result)["fusedActivationFunction"] == "RELU_N1_TO_1"


def test_conv2d_non_square_kernel_and_input(assert_bit_exact):
    result = assert_bit_exact(conv_model((9, 5, 3), 4, (3, 2), strides=(2, 1), padding="same"))
    assert result.model.graph.output_tensors()[0].shape == (1, 5, 5, 4)


def test_conv2d_grouped_two_groups(assert_bit_exact):
    result = assert_bit_exact(conv_model((6, 6, 4), 6, 3, groups=2))
    (op,) = result.model.graph.operators
    assert result.model.graph.tensor(op.inputs[1]).shape == (6, 3, 3, 2)
    assert result.model.macs == 4 * 4 * 6 * 3 * 3 * 2


def test_conv2d_stacked_layers(assert_bit_exact):
    inputs = keras.Input((8, 8, 2), batch_size=1)
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", bias_initializer=BIAS)(inputs)
    outputs = keras.layers.Conv2D(3, 3, padding="valid", bias_initializer=BIAS)(x)
    result = assert_bit_exact(keras.Model(inputs, outputs))
    assert [layer.function for layer in result.model.layers] == ["te_conv2d_s8", "te_conv2d_s8"]


def test_conv2d_per_tensor_weights_as_older_converters_write(assert_bit_exact, monkeypatch):
    import tensorflow as tf

    original = tf.lite.TFLiteConverter.from_saved_model

    def per_tensor_converter(*args, **kwargs):
        converter = original(*args, **kwargs)
        converter._experimental_disable_per_channel = True
        return converter

    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_saved_model", staticmethod(per_tensor_converter))
    result = assert_bit_exact(conv_model((6, 6, 3), 4, 3, padding="same"))
    (op,) = result.model.graph.operators
    assert not result.model.graph.tensor(op.inputs[1]).quant.per_channel
