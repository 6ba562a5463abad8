"""LOG_SOFTMAX against TFLite-Micro, byte for byte: 200 seeded random shapes and input
quantizations, rows with every int8 value, the refused output quantization, and a trained
Keras model ending in log_softmax."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras_training import train_briefly
from single_op import OpCase, TensorSpec, check_cases, log_uniform, random_zero_point, single_op_tflite

from tinyedge.errors import TinyEdgeError, UnsupportedOpError
from tinyedge.importer import parse_tflite
from tinyedge.ops import lower
from tinyedge.reference import run_reference

L = keras.layers
CONFIGURATIONS = 200
OUTPUT = (16 / 256, 127)


def log_softmax_case(shape: tuple[int, ...], input_q: tuple[float, int], label: str,
                     samples: tuple[bytes, ...] = (), output_q: tuple[float, int] = OUTPUT) -> OpCase:
    return OpCase("LOG_SOFTMAX", (TensorSpec(shape, *input_q),), TensorSpec(shape, *output_q), None, label, samples)


def test_log_softmax_matches_tflite_micro_on_random_shapes_and_quantization(tmp_path):
    rng = np.random.default_rng(71)
    cases = []
    for number in range(CONFIGURATIONS):
        shape = tuple(int(d) for d in rng.integers(1, 9, size=int(rng.integers(1, 5))))
        # Input scales from 1e-3 (a narrow range: every difference counts) to 1 (most saturate).
        cases.append(log_softmax_case(shape, (log_uniform(rng, -3, 0), random_zero_point(rng)), f"seed 71 #{number}"))
    models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {"te_log_softmax_s8"}


def test_log_softmax_over_rows_of_every_int8_value(tmp_path):
    values = np.arange(-128, 128, dtype=np.int8)
    rng = np.random.default_rng(72)
    cases = [log_softmax_case((16, 16), (scale, 0), f"scale {scale:g}", (rng.permutation(values).tobytes(),))
             for scale in (1e-3, 0.01, 0.05, 0.1, 0.5, 1.0)]
    check_cases(cases, tmp_path)


def test_log_softmax_with_another_output_quantization_is_refused_like_tflite_micro():
    flatbuffer = single_op_tflite(log_softmax_case((1, 10), (0.1, 0), "softmax-like output", output_q=(1 / 256, -128)))
    graph = parse_tflite(flatbuffer)
    with pytest.raises(UnsupportedOpError, match="layer 0 LOG_SOFTMAX.*16/256 and zero point 127"):
        lower(graph, graph.operators[0])
    with pytest.raises(TinyEdgeError):
        run_reference(flatbuffer, [[np.zeros((1, 10), dtype=np.int8)]])


def test_log_softmax_of_a_trained_classifier(assert_bit_exact):
    x = keras.Input((12,), batch_size=1)
    logits = L.Dense(5)(L.Dense(8, activation="relu")(x))
    model = train_briefly(keras.Model(x, L.Lambda(lambda t: keras.ops.log_softmax(t))(logits)))
    result = assert_bit_exact(model, samples=8)
    assert [layer.opcode for layer in result.model.layers][-1] == "LOG_SOFTMAX"
