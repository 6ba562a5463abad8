"""SOFTMAX: generated C against TFLite-Micro, byte for byte (classifier heads, a wide vector, the
last axis of a rank-3 tensor, betas other than 1), and CalculateSoftmaxParams' arithmetic."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from tinyedge.errors import UnsupportedOpError
from tinyedge.importer import parse_tflite
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower
from tinyedge.ops.softmax import softmax_scaling
from tinyedge.quantize import quantize_keras_model


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(0)


def classifier_head(features: int, classes: int) -> keras.Model:
    inputs = keras.Input((features,), batch_size=1)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(inputs))


def softmax_call(result):
    (call,) = [call for op, call in zip(result.model.graph.operators, result.model.calls) if op.opcode == "SOFTMAX"]
    return call


@pytest.mark.parametrize("classes", [10, 12])
def test_softmax_classifier_head_after_dense(assert_bit_exact, classes):
    result = assert_bit_exact(classifier_head(24, classes), samples=8)
    assert [layer.function for layer in result.model.layers] == ["te_fully_connected_packed_s8", "te_softmax_s8"]
    assert softmax_call(result).params["depth"] == classes


def test_softmax_over_a_wide_640_vector(assert_bit_exact):
    inputs = keras.Input((640,), batch_size=1)
    calib = [np.random.default_rng(2).uniform(-6, 6, (32, 640)).astype(np.float32)]
    result = assert_bit_exact(keras.Model(inputs, keras.layers.Softmax()(inputs)), calib=calib, samples=8)
    params = softmax_call(result).params
    assert (params["outer_size"], params["depth"]) == (1, 640)


def test_softmax_runs_over_the_last_axis_of_a_rank3_tensor(assert_bit_exact):
    inputs = keras.Input((3, 5, 12), batch_size=1)
    calib = [np.random.default_rng(2).uniform(-4, 4, (32, 3, 5, 12)).astype(np.float32)]
    result = assert_bit_exact(keras.Model(inputs, keras.layers.Softmax(axis=-1)(inputs)), calib=calib)
    params = softmax_call(result).params
    assert (params["outer_size"], params["depth"]) == (15, 12)


def with_beta(flatbuffer: bytes, beta: float) -> bytes:
    """The same model with every SOFTMAX's beta option set to `beta` (Keras always writes 1.0)."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    for op in model.subgraphs[0].operators:
        if model.operatorCodes[op.opcodeIndex].builtinCode == schema.BuiltinOperator.SOFTMAX:
            op.builtinOptions.beta = beta
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize("beta", [0.25, 3.0, 40.0])
def test_softmax_with_beta_other_than_one(tmp_path: Path, beta, assert_tflite_bit_exact):
    inputs = keras.Input((20,), batch_size=1)
    calib = [np.random.default_rng(4).uniform(-3, 3, (32, 20)).astype(np.float32)]
    quantize_keras_model(keras.Model(inputs, keras.layers.Softmax()(inputs)), tmp_path / "model.tflite", calib,
                         log=lambda _message: None)
    flatbuffer = with_beta((tmp_path / "model.tflite").read_bytes(), beta)
    graph = parse_tflite(flatbuffer, name="model")
    assert graph.operators[0].options["beta"] == pytest.approx(beta)

    model = assert_tflite_bit_exact(flatbuffer, samples=8).model
    multiplier, shift, _diff_min = softmax_scaling(beta, graph.tensor(graph.inputs[0]).scale)
    assert model.calls[0].params["input_multiplier"] == multiplier
    assert model.calls[0].params["input_left_shift"] == shift


def test_softmax_scaling_of_a_power_of_two_input_scale():
    # beta * 2^-4 * 2^26 = 2^22 = 0.5 * 2^23: multiplier 2^30, shift 23;
    # radius floor(31 * 2^26 / 2^23) = 248.
    assert softmax_scaling(1.0, 2.0**-4) == (1 << 30, 23, -248)


def test_softmax_scaling_caps_the_multiplier_below_two_to_the_31():
    # 64 * 2^26 = 2^32 is capped at 2^31 - 1 = (1 - 2^-31) * 2^31: multiplier 2^31 - 1,
    # shift 31; radius floor(31 * 2^26 / 2^31) = 0, so only the row maximum counts.
    assert softmax_scaling(1.0, 64.0) == ((1 << 31) - 1, 31, 0)


def test_softmax_output_other_than_one_over_256_is_rejected_with_the_layer_named():
    tensors = (Tensor(0, "logits", (1, 10), "int8", Quantization((0.1,), (0,))),
               Tensor(1, "probabilities", (1, 10), "int8", Quantization((1 / 128,), (0,))))
    graph = Graph("g", tensors, (Operator(0, "SOFTMAX", (0,), (1,), {"beta": 1.0}),), (0,), (1,))
    with pytest.raises(UnsupportedOpError, match=r"layer 0 SOFTMAX \(output 'probabilities'\).*1/256"):
        lower(graph, graph.operators[0])
