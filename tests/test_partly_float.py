"""Float islands the converter leaves in an int8 graph: ELU is mended into TFLite-Micro's int8
ELU, NEG and SQUARE into int8 MULs (LayerNormalization, UnitNormalization, `-x`), all
bit-exact; any other is refused at the quantize stage naming its Keras layer."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tinyedge import quantize
from tinyedge.errors import TinyEdgeError
from tinyedge.importer import parse_tflite

L = keras.layers


def _train(model: keras.Model) -> keras.Model:
    """Two epochs of Adam on a learnable synthetic task (as tests/ops/keras_training.train_briefly)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (96, *model.inputs[0].shape[1:])).astype(np.float32)
    flat = x.reshape(len(x), -1)
    projection = rng.normal(0, 1 / np.sqrt(flat.shape[1]), (flat.shape[1], int(np.prod(model.outputs[0].shape[1:]))))
    y = np.tanh(2 * flat @ projection).reshape(len(x), *model.outputs[0].shape[1:]).astype(np.float32)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    return model


def _opcodes(tflite) -> list[str]:
    return [op.opcode for op in parse_tflite(tflite.read_bytes()).operators]


def test_dense_with_elu_activation_becomes_an_int8_elu_and_is_bit_exact(assert_bit_exact):
    x = keras.Input((10,), batch_size=1)
    hidden = L.Dense(12, activation="elu")(x)
    model = _train(keras.Model(x, L.Dense(3)(hidden)))
    result = assert_bit_exact(model)
    assert _opcodes(result.tflite) == ["FULLY_CONNECTED", "ELU", "FULLY_CONNECTED"]
    assert {layer.opcode: call.function for layer, call in zip(result.model.layers, result.model.calls)}["ELU"] \
        == "te_lookup_s8"


def test_elu_layers_after_a_convolution_and_at_the_output_are_bit_exact(assert_bit_exact):
    x = keras.Input((6, 6, 2), batch_size=1)
    features = L.ELU()(L.Conv2D(4, 3, padding="same")(x))
    model = _train(keras.Model(x, L.Activation("elu")(L.Dense(3)(L.Flatten()(features)))))
    result = assert_bit_exact(model)
    opcodes = _opcodes(result.tflite)
    assert opcodes.count("ELU") == 2 and "DEQUANTIZE" not in opcodes and "QUANTIZE" not in opcodes


@pytest.mark.parametrize("normalization", ["LayerNormalization", "UnitNormalization"])
def test_normalization_layers_whose_neg_or_square_the_converter_leaves_float_are_bit_exact(assert_bit_exact,
                                                                                          normalization):
    # LayerNormalization's NEG and UnitNormalization's SQUARE stay float: mended into int8 MULs.
    # (GroupNormalization's SQUARE is mended too, but its MEAN over three axes is refused by tinyedge's MEAN.)
    x = keras.Input((4, 4, 8), batch_size=1)
    layer = getattr(L, normalization)()
    model = _train(keras.Model(x, L.Dense(3)(L.Flatten()(layer(L.Conv2D(8, 1)(x))))))
    result = assert_bit_exact(model)
    opcodes = _opcodes(result.tflite)
    assert "MUL" in opcodes and not {"NEG", "SQUARE", "DEQUANTIZE", "QUANTIZE"} & set(opcodes)


def test_negation_becomes_a_multiplication_by_minus_one_and_is_bit_exact(assert_bit_exact):
    x = keras.Input((8,), batch_size=1)
    negated = L.Lambda(lambda t: -t, name="negate")(L.Dense(6)(x))
    result = assert_bit_exact(_train(keras.Model(x, L.Dense(2)(negated))))
    graph = parse_tflite(result.tflite.read_bytes())
    mul = next(op for op in graph.operators if op.opcode == "MUL")
    minus_one = graph.tensor(mul.inputs[1])
    assert minus_one.data.tolist() == [-1] and minus_one.quant.scale == (1.0,)


def _floor_model() -> keras.Model:
    x = keras.Input((8,), batch_size=1)
    steps = L.Lambda(lambda t: tf.math.floor(4.0 * t), name="steps")(L.Dense(6, name="features")(x))
    return keras.Model(x, L.Dense(2, name="head")(steps))


def test_a_float_op_left_by_the_converter_is_refused_naming_its_keras_layer(tmp_path):
    with pytest.raises(TinyEdgeError, match=r"left FLOOR in float.*Keras layer 'steps' \(Lambda\).*not full int8"):
        quantize.quantize_keras_model(_floor_model(), tmp_path / "model.tflite", log=lambda _message: None)


def test_without_the_mending_an_elu_island_would_be_refused_naming_the_dense_layer(tmp_path, monkeypatch):
    monkeypatch.setattr(quantize, "requantize_float_islands", lambda flatbuffer: (flatbuffer, []))
    x = keras.Input((10,), batch_size=1)
    model = keras.Model(x, L.Dense(4, activation="elu", name="encoder")(x))
    with pytest.raises(TinyEdgeError, match=r"left ELU in float.*Keras layer 'encoder' \(Dense\(activation='elu'\)\)"):
        quantize.quantize_keras_model(model, tmp_path / "model.tflite", log=lambda _message: None)


def test_a_partly_float_int8_tflite_is_not_called_full_int8(tmp_path, monkeypatch):
    with monkeypatch.context() as patch:  # write the island the converter makes, unchecked
        patch.setattr(quantize, "check_full_int8", lambda graph, layers=(): None)
        quantize.quantize_keras_model(_floor_model(), tmp_path / "partly_float.tflite", log=lambda _message: None)
    assert "FLOOR" in _opcodes(tmp_path / "partly_float.tflite")
    with pytest.raises(TinyEdgeError, match=r"left FLOOR in float inside the int8 model \(layer \d FLOOR"):
        quantize.quantize(tmp_path / "partly_float.tflite", tmp_path / "out.tflite", log=lambda _message: None)


def test_an_elu_with_another_alpha_is_refused_naming_the_layer_and_the_alpha_that_works(tmp_path):
    x = keras.Input((8,), batch_size=1)
    model = keras.Model(x, L.Dense(2)(L.ELU(alpha=0.5, name="soft")(L.Dense(6)(x))))
    with pytest.raises(TinyEdgeError, match=r"left ELU in float.*Keras layer 'soft' \(ELU\).*alpha 1"):
        quantize.quantize_keras_model(model, tmp_path / "model.tflite", log=lambda _message: None)


def test_an_int8_exp_from_a_softplus_activation_is_refused_naming_the_layer(tmp_path):
    # The converter writes EXP in int8, which TFLite-Micro runs in float only.
    x = keras.Input((8,), batch_size=1)
    model = keras.Model(x, L.Dense(2)(L.Dense(6, activation="softplus", name="smooth")(x)))
    with pytest.raises(TinyEdgeError, match=r"holds EXP .*Keras layer 'smooth' \(Dense\(activation='softplus'\)\).*"
                                            r"float only; the activations softplus"):
        quantize.quantize_keras_model(model, tmp_path / "model.tflite", log=lambda _message: None)
