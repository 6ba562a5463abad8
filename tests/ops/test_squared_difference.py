"""SQUARED_DIFFERENCE against TFLite-Micro, byte for byte: 200 seeded random configurations,
and a trained model that computes tf.math.squared_difference."""

from __future__ import annotations

import contextlib
from collections import Counter

import keras
import numpy as np
import pytest
from keras_training import train_briefly
from single_op import OpCase, TensorSpec, all_pairs_case, check_cases, int8_bytes, log_uniform, random_binary_case

from tinyedge.ops.conv import reference_kernels
from tinyedge.ops.squared_difference import SQUARED_DIFFERENCE_TABLE

L = keras.layers
CONFIGURATIONS = 200


def _squared_difference_cases(seed: int, count: int, max_dim: int = 6) -> list:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        scale1 = log_uniform(rng, -3, 0)
        scale2 = scale1 * log_uniform(rng, -2, 2)
        # A converter gives about 255 * scale^2 (the square's range over 255 steps); around that by decades.
        output_scale = max(scale1, scale2) ** 2 * log_uniform(rng, -3, 3)
        cases.append(random_binary_case("SQUARED_DIFFERENCE", rng, (scale1, scale2, output_scale), None,
                                        f"seed {seed} #{number}", max_dim))
    return cases


def test_squared_difference_matches_tflite_micro_on_random_shapes_and_scales(tmp_path):
    models = check_cases(_squared_difference_cases(seed=13, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} <= {SQUARED_DIFFERENCE_TABLE, "te_squared_difference_s8"}


def test_squared_difference_table_kernel_matches_tflite_micro_on_large_random_shapes(tmp_path):
    models = check_cases(_squared_difference_cases(seed=113, count=60, max_dim=20), tmp_path)
    assert Counter(m.calls[0].function for m in models)[SQUARED_DIFFERENCE_TABLE] >= 5


def test_squared_difference_reference_kernel_matches_tflite_micro_on_random_shapes_and_scales(tmp_path):
    with reference_kernels():
        models = check_cases(_squared_difference_cases(seed=13, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_squared_difference_s8"}


@pytest.mark.parametrize("variants", [True, False], ids=["table", "reference"])
def test_squared_difference_over_every_input_pair(tmp_path, variants):
    rng = np.random.default_rng(23)
    cases = []
    for number in range(6):
        scale1, scale2 = log_uniform(rng, -3, 0), log_uniform(rng, -3, 0)
        zero_points = (-128, 127, -128) if number == 0 else tuple(int(z) for z in rng.integers(-128, 128, 3))
        output_scale = max(scale1, scale2) ** 2 * 255 * log_uniform(rng, -1, 1)
        cases.append(all_pairs_case("SQUARED_DIFFERENCE", (scale1, scale2, output_scale), zero_points, None,
                                    f"all pairs #{number}"))
    with contextlib.nullcontext() if variants else reference_kernels():
        models = check_cases(cases, tmp_path)
    expected = SQUARED_DIFFERENCE_TABLE if variants else "te_squared_difference_s8"
    assert {m.calls[0].function for m in models} == {expected}


def test_squared_difference_of_a_trained_model(assert_bit_exact):
    import tensorflow as tf

    x = keras.Input((16,), batch_size=1)
    a = L.Dense(8)(x)
    b = L.Dense(8, activation="tanh")(x)
    distance = L.Lambda(lambda pair: tf.math.squared_difference(pair[0], pair[1]))([a, b])
    model = train_briefly(keras.Model(x, L.Dense(2)(distance)))
    result = assert_bit_exact(model)
    assert "SQUARED_DIFFERENCE" in [layer.opcode for layer in result.model.layers]


def test_squared_difference_small_exact_answers(tmp_path):
    # Unit scales: (3 - 1)^2 = 4, (-2 - 2)^2 = 16, (12 - 0)^2 = 144 saturates at 127; output zero point -128
    # shifts everything down by 128.
    inputs = (TensorSpec((3,), 1.0, 0), TensorSpec((3,), 1.0, 0))
    sample = int8_bytes(3, -2, 12) + int8_bytes(1, 2, 0)
    check_cases([
        OpCase("SQUARED_DIFFERENCE", inputs, TensorSpec((3,), 1.0, 0), None, "unit scales", (sample,),
               (int8_bytes(4, 16, 127),)),
        OpCase("SQUARED_DIFFERENCE", inputs, TensorSpec((3,), 1.0, -128), None, "output zero point -128", (sample,),
               (int8_bytes(-124, -112, 16),)),
    ], tmp_path)
