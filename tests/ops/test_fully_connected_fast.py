"""The optimized FULLY_CONNECTED kernel, te_fully_connected_packed_s8: which layers take it,
the same bytes as TFLite-Micro on the host (the plain C path; the Cortex-M4 path is in
test_kernels_m4.py), and its packed weights."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from tflite_edits import with_output_scale

from tinyedge.ops.conv import reference_kernels
from tinyedge.ops.fully_connected import FULLY_CONNECTED_PACKED, FULLY_CONNECTED_REFERENCE, pack_quads

BIAS = keras.initializers.RandomUniform(-0.3, 0.3, seed=11)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(0)


def dense_model(input_shape: tuple[int, ...], units: int, **dense: object):
    inputs = keras.Input(input_shape, batch_size=1)
    dense.setdefault("bias_initializer", BIAS)
    return keras.Model(inputs, keras.layers.Dense(units, **dense)(inputs))


def kernels(result) -> list[str]:
    return [layer.function for layer in result.model.layers]


@pytest.mark.parametrize("units", [7, 2, 1])
def test_dense_depth_not_a_multiple_of_4_and_leftover_channels(assert_bit_exact, units):
    result = assert_bit_exact(dense_model((21,), units, activation="relu"), samples=6)
    assert kernels(result) == [FULLY_CONNECTED_PACKED]


def test_dense_narrow_clamp_relu_n1_to_1(assert_bit_exact):
    inputs = keras.Input((16,), batch_size=1)
    x = keras.layers.Dense(9, bias_initializer=BIAS)(inputs)
    result = assert_bit_exact(keras.Model(inputs, keras.layers.Lambda(lambda t: keras.ops.clip(t, -1.0, 1.0))(x)))
    assert kernels(result) == [FULLY_CONNECTED_PACKED]


def test_dense_over_rows_and_whole_channel_quads(assert_bit_exact):
    result = assert_bit_exact(dense_model((5, 12), 8))
    assert kernels(result) == [FULLY_CONNECTED_PACKED]
    (call,) = result.model.calls
    assert (call.params["rows"], call.params["accum_depth"]) == (5, 12)
    (scratch,) = [a for a in call.args if type(a).__name__ == "ScratchArg"]
    assert scratch.nbytes == 2 * 12  # the split input row (te_fully_connected_packed_s8.h)


def test_dense_without_bias(assert_bit_exact):
    result = assert_bit_exact(dense_model((16,), 8, use_bias=False))
    assert kernels(result) == [FULLY_CONNECTED_PACKED]


def test_dense_per_tensor_weights(assert_bit_exact, monkeypatch):
    import tensorflow as tf

    original = tf.lite.TFLiteConverter.from_saved_model

    def per_tensor_converter(*args, **kwargs):
        converter = original(*args, **kwargs)
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
        return converter

    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_saved_model", staticmethod(per_tensor_converter))
    result = assert_bit_exact(dense_model((24,), 10))
    (op,) = result.model.graph.operators
    assert not result.model.graph.tensor(op.inputs[1]).quant.per_channel
    assert kernels(result) == [FULLY_CONNECTED_PACKED]


def test_dense_left_shifting_requantization_keeps_the_packed_kernel(tmp_path, quantize_for_test,
                                                                   assert_tflite_bit_exact):
    # 6 channels: one general quad and two general last channels (te_nn_requantize inside the kernel).
    tflite = quantize_for_test(dense_model((16,), 6), tmp_path / "fc.tflite")
    result = assert_tflite_bit_exact(with_output_scale(tflite.read_bytes(), 1 / 4096))
    assert kernels(result) == [FULLY_CONNECTED_PACKED]
    (call,) = result.model.calls
    assert call.fallback is None


def test_reference_kernels_context_keeps_the_plain_fully_connected_kernel(assert_bit_exact):
    with reference_kernels():
        result = assert_bit_exact(dense_model((16,), 4))
    assert kernels(result) == [FULLY_CONNECTED_REFERENCE]


def test_pack_quads_interleaves_four_rows_word_by_word_then_the_rest():
    weights = np.arange(1, 31, dtype=np.int8).reshape(5, 6)  # 5 channels of depth 6
    packed = pack_quads(weights)
    row = {c: list(range(6 * c + 1, 6 * c + 7)) + [0, 0] for c in range(5)}
    quad = [v for word in range(2) for c in range(4) for v in row[c][4 * word:4 * word + 4]]
    assert packed.tolist() == quad + row[4]
