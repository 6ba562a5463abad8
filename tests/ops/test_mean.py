"""MEAN against TFLite-Micro, byte for byte.

Older TFLite-Micro releases divided the raw sum (truncating) when input and output share
scale and zero point; current ones requantize in every case. The converter always gives
GlobalAveragePooling2D's output its own quantization, so the equal-quantization case is
reached by rewriting the output's quantization in the .tflite file to the input's.
"""

from __future__ import annotations

import flatbuffers
import keras
import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.ops.mean import mean_multiplier
from tinyedge.quantize import quantize_keras_model

L = keras.layers


def gap_model(input_shape: tuple[int, int, int], keepdims: bool) -> keras.Model:
    x = keras.Input(input_shape, batch_size=1)
    return keras.Model(x, L.GlobalAveragePooling2D(keepdims=keepdims)(x))


def test_global_average_pooling_keepdims_false_requantizes(assert_bit_exact):
    result = assert_bit_exact(gap_model((6, 5, 4), keepdims=False))
    assert [layer.opcode for layer in result.model.layers] == ["MEAN"]
    assert result.model.graph.output_tensors()[0].shape == (1, 4)


def test_global_average_pooling_keepdims_true_requantizes(assert_bit_exact):
    result = assert_bit_exact(gap_model((7, 7, 3), keepdims=True))
    assert result.model.graph.output_tensors()[0].shape == (1, 1, 1, 3)


def test_global_average_pooling_with_nonzero_input_zero_point(assert_bit_exact):
    # Calibrated on [0, 2]: the input zero point is -128, so the sum needs its offset.
    calib = [np.random.default_rng(3).uniform(0, 2, (32, 4, 4, 8)).astype(np.float32)]
    result = assert_bit_exact(gap_model((4, 4, 8), keepdims=False), calib=calib)
    assert result.model.calls[0].params["sum_offset"] == 128 * 16


def test_mean_over_one_axis(assert_bit_exact):
    x = keras.Input((4, 6, 3), batch_size=1)
    result = assert_bit_exact(keras.Model(x, keras.ops.mean(x, axis=2)))
    strides = {c.name: c.values.tolist() for c in result.model.calls[0].constants}["output_strides"]
    assert strides == [0, 12, 3, 0, 1]  # batch, height and channels kept; width summed


def _with_output_quantization_of_input(tflite: bytes) -> bytes:
    """The same model with every MEAN output quantized exactly as its input."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(tflite), 0)
    opcodes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    subgraph = model.subgraphs[0]
    patched = 0
    for op in subgraph.operators:
        if opcodes[op.opcodeIndex] == schema.BuiltinOperator.MEAN:
            source = subgraph.tensors[op.inputs[0]].quantization
            target = subgraph.tensors[op.outputs[0]].quantization
            target.scale, target.zeroPoint = list(source.scale), list(source.zeroPoint)
            patched += 1
    assert patched, "no MEAN in the model"
    builder = flatbuffers.Builder(len(tflite) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize("keepdims", [False, True])
def test_mean_with_equal_quantization_requantizes_too(tmp_path, keepdims, assert_tflite_bit_exact):
    calib = [np.random.default_rng(5).uniform(-0.5, 1.5, (32, 5, 3, 6)).astype(np.float32)]
    tflite = tmp_path / "converted.tflite"
    quantize_keras_model(gap_model((5, 3, 6), keepdims), tflite, calib, log=lambda _message: None)
    patched = _with_output_quantization_of_input(tflite.read_bytes())
    model = assert_tflite_bit_exact(patched).model
    mean = model.graph.operators[0]
    assert model.graph.tensor(mean.inputs[0]).quant == model.graph.tensor(mean.outputs[0]).quant


def test_mean_multiplier_folds_the_count_into_the_significand():
    # Count 36 = 2^5 + 4: the significand is shifted left 5 bits, then divided by 36.
    multiplier, shift = mean_multiplier(0.5, 0.25, 36)  # ratio 2 = 2^30 * 2^-30 -> (2^30, 2)
    assert (multiplier, shift) == (((1 << 30) << 5) // 36, 2 - 5)
    # The left shift stops at 32 bits.
    assert mean_multiplier(1.0, 1.0, 1 << 40)[1] == 1 - 32


def test_mean_over_three_to_five_axes_matches_tflite_micro(tmp_path):
    # GroupNormalization reduces three axes; TFLite-Micro runs it (an older note here said two at most).
    from single_op import check_cases, log_uniform, random_zero_point
    from test_reduce import reduce_case

    rng = np.random.default_rng(7)
    cases = []
    for number in range(200):
        rank = int(rng.integers(3, 6))
        shape = tuple(int(d) for d in rng.integers(1, 6, size=rank))
        axes = [int(a) - (rank if rng.random() < 0.3 else 0)
                for a in rng.choice(rank, size=int(rng.integers(3, rank + 1)), replace=False)]
        scale = log_uniform(rng, -3, 0)
        scales = (scale, scale * log_uniform(rng, -1, 0.5))
        cases.append(reduce_case("MEAN", shape, axes, bool(rng.random() < 0.5), scales,
                                 (random_zero_point(rng), random_zero_point(rng)), f"seed 7 #{number}"))
    models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {"te_mean_s8"}


def test_group_normalization_of_a_trained_model_is_bit_exact(assert_bit_exact):
    # GroupNormalization: MEAN over three axes of the grouped activations (and a SQUARE mended into MUL).
    from keras_training import train_briefly

    x = keras.Input((8, 8, 4), batch_size=1)
    y = keras.layers.Conv2D(8, 3, padding="same")(x)
    y = keras.layers.GroupNormalization(groups=2)(y)
    model = train_briefly(keras.Model(x, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(y))))
    result = assert_bit_exact(model)
    assert any(layer.opcode == "MEAN" for layer in result.model.layers)
