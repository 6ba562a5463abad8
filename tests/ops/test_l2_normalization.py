"""L2_NORMALIZATION against TFLite-Micro, byte for byte: 200 seeded random shapes and input
quantizations, hand-worked answers, the refused fused activation, and a trained Keras model
with tf.math.l2_normalize."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras_training import train_briefly
from single_op import (
    OpCase,
    TensorSpec,
    activation,
    check_cases,
    int8_bytes,
    log_uniform,
    random_zero_point,
    single_op_tflite,
)
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.errors import TinyEdgeError, UnsupportedOpError
from tinyedge.importer import parse_tflite
from tinyedge.ops import lower
from tinyedge.reference import run_reference

L = keras.layers
CONFIGURATIONS = 200


def l2_case(shape: tuple[int, ...], input_q: tuple[float, int], label: str, samples: tuple[bytes, ...] = (),
            expected: tuple[bytes, ...] = (), output_q: tuple[float, int] = (1 / 128, 0),
            fused: str = "NONE") -> OpCase:
    options = schema.L2NormOptionsT()
    options.fusedActivationFunction = activation(fused)
    return OpCase("L2_NORMALIZATION", (TensorSpec(shape, *input_q),), TensorSpec(shape, *output_q), options, label,
                  samples, expected)


def test_l2_normalization_matches_tflite_micro_on_random_shapes_and_quantization(tmp_path):
    rng = np.random.default_rng(81)
    cases = []
    for number in range(CONFIGURATIONS):
        shape = tuple(int(d) for d in rng.integers(1, 9, size=int(rng.integers(1, 5))))
        # TFLite-Micro never reads the output quantization: a tenth of the cases give it another one.
        output_q = (log_uniform(rng, -3, 0), random_zero_point(rng)) if number % 10 == 0 else (1 / 128, 0)
        cases.append(l2_case(shape, (log_uniform(rng, -3, 0), random_zero_point(rng)), f"seed 81 #{number}",
                             output_q=output_q))
    models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {"te_l2_normalization_s8"}


def test_l2_normalization_small_exact_answers(tmp_path):
    # (3, 4) / 5 = (0.6, 0.8) -> 77, 102 (units of 1/128); a zero row stays 0; (-100, 0) -> -1 -> -128;
    # zero point 10: (13, 14) is (3, 4) again.
    check_cases([
        l2_case((4, 2), (0.1, 0), "rows", (int8_bytes(3, 4, 0, 0, -100, 0, 1, 0),),
                (int8_bytes(77, 102, 0, 0, -128, 0, 127, 0),)),
        l2_case((2,), (0.1, 10), "zero point", (int8_bytes(13, 14),), (int8_bytes(77, 102),)),
    ], tmp_path)


def test_l2_normalization_with_a_fused_activation_is_refused_like_tflite_micro():
    flatbuffer = single_op_tflite(l2_case((1, 8), (0.1, 0), "fused relu", fused="RELU"))
    graph = parse_tflite(flatbuffer)
    with pytest.raises(UnsupportedOpError, match="layer 0 L2_NORMALIZATION.*RELU"):
        lower(graph, graph.operators[0])
    with pytest.raises(TinyEdgeError):
        run_reference(flatbuffer, [[np.zeros((1, 8), dtype=np.int8)]])


def test_l2_normalize_of_a_trained_model(assert_bit_exact):
    x = keras.Input((10,), batch_size=1)
    embedding = L.Lambda(lambda t: tf.math.l2_normalize(t, axis=-1))(L.Dense(8)(x))
    result = assert_bit_exact(train_briefly(keras.Model(x, L.Dense(3)(embedding))))
    assert "L2_NORMALIZATION" in [layer.opcode for layer in result.model.layers]
