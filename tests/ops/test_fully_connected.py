"""FULLY_CONNECTED: generated C against TFLite-Micro, byte for byte, with per-channel weights
(TensorFlow 2.x) and per-tensor weights (older converters), with and without bias, fused
activations, and inputs of rank 2 to 4."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import flatbuffers
import keras
import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.importer import parse_tflite
from tinyedge.ops._quant import quantize_multiplier
from tinyedge.ops.conv import reference_kernels
from tinyedge.quantize import quantize_keras_model

BIAS = keras.initializers.RandomUniform(-0.3, 0.3, seed=7)


@pytest.fixture(autouse=True)
def _reference_kernels() -> Iterator[None]:
    """These tests cover the plain reference kernels; tests/ops/test_*_fast.py cover the fast variants."""
    with reference_kernels():
        yield



@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(0)


@pytest.fixture
def per_tensor_dense_weights(monkeypatch):
    """Quantize Dense weights with one scale per tensor, as converters before per-channel FC did."""
    import tensorflow as tf

    original = tf.lite.TFLiteConverter.from_saved_model

    def per_tensor_converter(*args, **kwargs):
        converter = original(*args, **kwargs)
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
        return converter

    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_saved_model", staticmethod(per_tensor_converter))


def dense_model(features: int, units: int, **dense: object):
    inputs = keras.Input((features,), batch_size=1)
    dense.setdefault("bias_initializer", BIAS)
    return keras.Model(inputs, keras.layers.Dense(units, **dense)(inputs))


def fc_ops_of(graph) -> list:
    return [op for op in graph.operators if op.opcode == "FULLY_CONNECTED"]


def fc_ops(result) -> list:
    return fc_ops_of(result.model.graph)


def fc_weights(result, op):
    return result.model.graph.tensor(op.inputs[1])


def test_fully_connected_per_channel_weights_with_bias(assert_bit_exact):
    result = assert_bit_exact(dense_model(20, 7))
    (op,) = fc_ops(result)
    assert fc_weights(result, op).quant.per_channel
    assert op.inputs[2] >= 0
    assert [layer.function for layer in result.model.layers] == ["te_fully_connected_s8"]
    assert result.model.macs == 20 * 7


def test_fully_connected_zero_bias_dropped_by_converter(assert_bit_exact):
    result = assert_bit_exact(dense_model(16, 5, bias_initializer="zeros"))
    (op,) = fc_ops(result)
    assert len(op.inputs) < 3 or op.inputs[2] == -1


def test_fully_connected_without_bias(assert_bit_exact):
    assert_bit_exact(dense_model(16, 5, use_bias=False))


def test_fully_connected_fused_relu(assert_bit_exact):
    result = assert_bit_exact(dense_model(12, 9, activation="relu"))
    (op,) = fc_ops(result)
    assert op.options["fusedActivationFunction"] == "RELU"


def test_fully_connected_fused_relu6(assert_bit_exact):
    result = assert_bit_exact(dense_model(12, 9, activation="relu6"))
    (op,) = fc_ops(result)
    assert op.options["fusedActivationFunction"] == "RELU6"


def test_fully_connected_after_flatten_of_4d_input(assert_bit_exact):
    inputs = keras.Input((4, 3, 2), batch_size=1)
    outputs = keras.layers.Dense(6, bias_initializer=BIAS)(keras.layers.Flatten()(inputs))
    result = assert_bit_exact(keras.Model(inputs, outputs))
    (op,) = fc_ops(result)
    assert result.model.graph.tensor(op.inputs[0]).size == 24
    assert result.model.macs == 24 * 6


def test_fully_connected_on_rank3_input_keeps_dims(assert_bit_exact):
    # Dense on [1, 5, 8] becomes one FULLY_CONNECTED over 5 rows of 8 values.
    inputs = keras.Input((5, 8), batch_size=1)
    outputs = keras.layers.Dense(3, bias_initializer=BIAS)(inputs)
    result = assert_bit_exact(keras.Model(inputs, outputs))
    (op,) = fc_ops(result)
    assert op.options["keepNumDims"]
    (layer,) = [layer for layer in result.model.layers if layer.index == op.index]
    assert layer.macs == 5 * 3 * 8


def test_fully_connected_two_stacked_dense_layers(assert_bit_exact):
    inputs = keras.Input((10,), batch_size=1)
    x = keras.layers.Dense(8, activation="relu", bias_initializer=BIAS)(inputs)
    outputs = keras.layers.Dense(4, bias_initializer=BIAS)(x)
    result = assert_bit_exact(keras.Model(inputs, outputs))
    assert [layer.function for layer in result.model.layers] == ["te_fully_connected_s8"] * 2


def test_fully_connected_per_tensor_weights_with_bias(assert_bit_exact, per_tensor_dense_weights):
    result = assert_bit_exact(dense_model(20, 7))
    (op,) = fc_ops(result)
    assert not fc_weights(result, op).quant.per_channel
    assert op.inputs[2] >= 0


def test_fully_connected_per_tensor_weights_relu_stacked(assert_bit_exact, per_tensor_dense_weights):
    inputs = keras.Input((12,), batch_size=1)
    x = keras.layers.Dense(9, activation="relu", bias_initializer=BIAS)(inputs)
    outputs = keras.layers.Dense(5, use_bias=False)(x)
    result = assert_bit_exact(keras.Model(inputs, outputs))
    assert all(not fc_weights(result, op).quant.per_channel for op in fc_ops(result))


def requantize(acc: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """TFLite's MultiplyByQuantizedMultiplier for shift <= 0, vectorised (int64 holds acc * multiplier)."""
    product = acc.astype(np.int64) * multiplier
    nudged = product + np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    high = np.sign(nudged) * (np.abs(nudged) >> 31)
    mask = (1 << -shift) - 1
    threshold = (mask >> 1) + (high < 0)
    return (high >> -shift) + ((high & mask) > threshold)


def with_scales(flatbuffer: bytes, scales: dict[int, float]) -> bytes:
    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    for index, scale in scales.items():
        model.subgraphs[0].tensors[index].quantization.scale = [scale]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def input_for_accumulator(target: int, weights: np.ndarray, bias: int, zero_point: int) -> np.ndarray | None:
    """An int8 vector x with bias + sum((x - zero_point) * weights) == target, by coordinate descent."""
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, weights.size).astype(np.int64)
    values = np.arange(-128, 128)
    for _sweep in range(30):
        for d in rng.permutation(weights.size):
            rest = bias + int(((x - zero_point) * weights).sum()) - (x[d] - zero_point) * weights[d]
            x[d] = values[np.argmin(np.abs(target - rest - (values - zero_point) * weights[d]))]
        if bias + int(((x - zero_point) * weights).sum()) == target:
            return x.astype(np.int8)
    return None


def discriminating_inputs(weights: np.ndarray, bias: np.ndarray, input_zero_point: int, output_zero_point: int,
                          multipliers: tuple[tuple[int, int], tuple[int, int]]) -> list[np.ndarray]:
    """Inputs for which some output byte differs between the two (multiplier, shift) choices."""
    found = []
    for w, b in zip(weights.astype(np.int64), bias.astype(np.int64)):
        reach = int(np.abs(w).sum() * 255)
        accumulators = np.arange(-reach, reach)
        first, second = (np.clip(requantize(accumulators, *m) + output_zero_point, -128, 127) for m in multipliers)
        for target in accumulators[first != second]:
            x = input_for_accumulator(int(target), w, int(b), input_zero_point)
            if x is not None:
                found.append(x)
    return found


def test_fully_connected_per_tensor_multiplier_uses_double_scale_product(tmp_path: Path, per_tensor_dense_weights,
                                                                         assert_tflite_bit_exact):
    # TFLite's source forms input_scale * filter_scale in float32 for per-tensor weights; the
    # tflite_micro reference matches the product in double. Pick an input scale whose float32
    # product rounds far, output scales that put large accumulators in range, and inputs
    # whose accumulators round differently under the two multipliers.
    inputs = keras.Input((64,), batch_size=1)
    model = keras.Model(inputs, keras.layers.Dense(4, bias_initializer=BIAS)(inputs))
    calibration = [np.random.default_rng(0).uniform(-1, 1, (16, 64)).astype(np.float32)]
    quantize_keras_model(model, tmp_path / "fc.tflite", calibration, log=lambda _message: None)
    graph = parse_tflite((tmp_path / "fc.tflite").read_bytes())
    (op,) = fc_ops_of(graph)
    input_, weights, bias = (graph.tensor(i) for i in op.inputs)
    output = graph.tensor(op.outputs[0])
    assert not weights.quant.per_channel

    filter_scale = np.float32(weights.scale)
    candidates = (np.float32(input_.scale) * (1 + np.arange(-20000, 20000) * 1e-7)).astype(np.float32)
    rounding = np.abs((candidates * filter_scale).astype(np.float64) - candidates * np.float64(filter_scale))
    input_scale = candidates[np.argmax(rounding / candidates)]
    reach = int(np.abs(weights.data.astype(np.int64)).sum(axis=1).max() * 255)
    samples: list[np.ndarray] = []
    for fraction in (0.6, 0.7, 0.8, 0.9, 0.5):
        output_scale = np.float32(float(input_scale) * float(filter_scale) * fraction * reach / 128)
        in_double = quantize_multiplier(float(input_scale) * float(filter_scale) / float(output_scale))
        in_float32 = quantize_multiplier(float(input_scale * filter_scale) / float(output_scale))
        samples = discriminating_inputs(weights.data, bias.data, input_.zero_point, output.zero_point,
                                        (in_double, in_float32))
        if samples:
            break
    assert samples, "no input separates the float32-product multiplier from the double-product one"

    flatbuffer = with_scales((tmp_path / "fc.tflite").read_bytes(),
                             {op.inputs[0]: float(input_scale), op.outputs[0]: float(output_scale)})
    assert_tflite_bit_exact(flatbuffer, samples=[x.tobytes() for x in samples])
