"""MAXIMUM and MINIMUM against TFLite-Micro, byte for byte: 200 seeded random configurations
each, and trained models with Keras Maximum and Minimum layers."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras_training import train_briefly
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_binary_case, random_zero_point

L = keras.layers
CONFIGURATIONS = 200


def _cases(opcode: str, seed: int, count: int) -> list:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        # As the converter makes them, one scale for all three tensors; now and then (the kernel
        # compares raw values whatever they are) three different ones.
        scale = log_uniform(rng, -3, 0)
        scales = (scale,) * 3 if rng.random() < 0.75 else tuple(log_uniform(rng, -3, 0) for _ in range(3))
        case = random_binary_case(opcode, rng, scales, None, f"seed {seed} #{number}")
        if scales[0] == scales[1]:  # one zero point too
            zero_point = random_zero_point(rng)
            case = type(case)(case.opcode, tuple(type(t)(t.shape, t.scale, zero_point, t.data) for t in case.inputs),
                              type(case.output)(case.output.shape, case.output.scale, zero_point), None, case.label)
        cases.append(case)
    return cases


@pytest.mark.parametrize("opcode", ["MAXIMUM", "MINIMUM"])
def test_maximum_minimum_match_tflite_micro_on_random_shapes(tmp_path, opcode):
    check_cases(_cases(opcode, seed=14, count=CONFIGURATIONS), tmp_path)


@pytest.mark.parametrize("keras_layer", [L.Maximum, L.Minimum])
def test_maximum_minimum_of_trained_dense_branches(assert_bit_exact, keras_layer):
    x = keras.Input((12,), batch_size=1)
    a = L.Dense(8)(x)
    b = L.Dense(8, activation="relu")(x)
    model = train_briefly(keras.Model(x, L.Dense(3)(keras_layer()([a, b]))))
    result = assert_bit_exact(model)
    assert keras_layer.__name__.upper() in [layer.opcode for layer in result.model.layers]


def test_maximum_minimum_small_exact_answers(tmp_path):
    # A [2, 3] matrix against a [3] row, raw int8 values compared.
    inputs = (TensorSpec((2, 3), 0.1, 0), TensorSpec((3,), 0.1, 0))
    sample = int8_bytes(1, -5, 7, -128, 127, 0) + int8_bytes(3, -6, 7)
    check_cases([
        OpCase("MAXIMUM", inputs, TensorSpec((2, 3), 0.1, 0), None, "maximum", (sample,),
               (int8_bytes(3, -5, 7, 3, 127, 7),)),
        OpCase("MINIMUM", inputs, TensorSpec((2, 3), 0.1, 0), None, "minimum", (sample,),
               (int8_bytes(1, -6, 7, -128, -6, 0),)),
    ], tmp_path)
