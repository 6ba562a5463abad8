"""SUB against TFLite-Micro, byte for byte: 200 seeded random configurations, and a trained
model with a Keras Subtract layer."""

from __future__ import annotations

import contextlib
from collections import Counter

import keras
import numpy as np
import pytest
from keras_training import train_briefly
from single_op import (
    ACTIVATIONS,
    OpCase,
    TensorSpec,
    activation,
    all_pairs_case,
    check_cases,
    int8_bytes,
    log_uniform,
    random_binary_case,
)
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.ops.conv import reference_kernels
from tinyedge.ops.sub import SUB_TABLE

L = keras.layers
CONFIGURATIONS = 200


def _sub_cases(seed: int, count: int, max_dim: int = 6) -> list:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        scale1 = log_uniform(rng, -3, 0)
        scale2 = scale1 * log_uniform(rng, -3, 3)  # input scales up to 1000x apart, either way
        output_scale = max(scale1, scale2) * log_uniform(rng, -3, 2)
        options = schema.SubOptionsT()
        options.fusedActivationFunction = activation(str(rng.choice(ACTIVATIONS)))
        cases.append(random_binary_case("SUB", rng, (scale1, scale2, output_scale), options, f"seed {seed} #{number}",
                                        max_dim))
    return cases


def test_sub_matches_tflite_micro_on_random_shapes_scales_and_activations(tmp_path):
    models = check_cases(_sub_cases(seed=12, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} <= {SUB_TABLE, "te_sub_s8"}


def test_sub_table_kernel_matches_tflite_micro_on_large_random_shapes(tmp_path):
    models = check_cases(_sub_cases(seed=112, count=60, max_dim=20), tmp_path)
    assert Counter(m.calls[0].function for m in models)[SUB_TABLE] >= 5


def test_sub_reference_kernel_matches_tflite_micro_on_random_shapes_scales_and_activations(tmp_path):
    with reference_kernels():
        models = check_cases(_sub_cases(seed=12, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_sub_s8"}


# Quantizations where rescaling in float32 (as TFLite-Micro's newest sub_common.cc does) and in double
# (as the installed tflite_micro does) give different bytes for one or two of the 65536 input pairs;
# found by emulating both on random scales. (input1 scale, input2 scale, output scale, zero points)
FLOAT32_DIFFERS_FROM_DOUBLE = [
    (0.029878007248044014, 0.050788529217243195, 0.056875184178352356, (16, -35, 13)),
    (0.0033690931741148233, 0.0003369114419911057, 0.0024488968774676323, (-35, -123, -74)),
    (0.002936008619144559, 0.02019166387617588, 0.01737029477953911, (-122, 49, -33)),
    (0.7704858779907227, 5.222009658813477, 9.113327980041504, (-71, -112, 71)),
    (0.049546025693416595, 0.07046208530664444, 0.34953173995018005, (-38, -52, 26)),
]


def test_sub_rescales_in_double_like_the_installed_tflite_micro(tmp_path):
    cases = [all_pairs_case("SUB", (s1, s2, so), zero_points, schema.SubOptionsT(), f"float32 vs double #{number}")
             for number, (s1, s2, so, zero_points) in enumerate(FLOAT32_DIFFERS_FROM_DOUBLE)]
    check_cases(cases, tmp_path)


@pytest.mark.parametrize("variants", [True, False], ids=["table", "reference"])
def test_sub_over_every_input_pair(tmp_path, variants):
    rng = np.random.default_rng(22)
    cases = []
    for number in range(6):
        scale1, scale2 = log_uniform(rng, -3, 0), log_uniform(rng, -3, 0)
        options = schema.SubOptionsT()
        options.fusedActivationFunction = activation(ACTIVATIONS[number % len(ACTIVATIONS)])
        zero_points = (-128, 127, 0) if number == 0 else tuple(int(z) for z in rng.integers(-128, 128, 3))
        cases.append(all_pairs_case("SUB", (scale1, scale2, 2 * max(scale1, scale2) * log_uniform(rng, -1, 1)),
                                    zero_points, options, f"all pairs #{number}"))
    with contextlib.nullcontext() if variants else reference_kernels():
        models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {SUB_TABLE if variants else "te_sub_s8"}


def test_sub_of_two_trained_conv_branches(assert_bit_exact):
    x = keras.Input((6, 6, 3), batch_size=1)
    a = L.Conv2D(4, 3, padding="same")(x)
    b = L.Conv2D(4, 1, activation="relu")(x)
    model = train_briefly(keras.Model(x, L.Dense(3)(L.Flatten()(L.Subtract()([a, b])))))
    result = assert_bit_exact(model)
    assert "SUB" in [layer.opcode for layer in result.model.layers]


def test_sub_small_exact_answers(tmp_path):
    unit = (TensorSpec((4,), 1.0, 0), TensorSpec((4,), 1.0, 0))
    sample = int8_bytes(5, -3, 100, -128) + int8_bytes(2, 4, -100, 127)
    relu6 = schema.SubOptionsT()
    relu6.fusedActivationFunction = activation("RELU6")
    check_cases([
        OpCase("SUB", unit, TensorSpec((4,), 1.0, 0), schema.SubOptionsT(), "saturating", (sample,),
               (int8_bytes(3, -7, 127, -128),)),
        OpCase("SUB", unit, TensorSpec((4,), 1.0, 0), relu6, "relu6", (sample,), (int8_bytes(3, 0, 6, 0),)),
        # A [2, 1] column minus a [3] row: [[10 - 1, 10 - 2, 10 - 3], [20 - 1, 20 - 2, 20 - 3]].
        OpCase("SUB", (TensorSpec((2, 1), 1.0, 0), TensorSpec((3,), 1.0, 0)), TensorSpec((2, 3), 1.0, 0),
               schema.SubOptionsT(), "column minus row", (int8_bytes(10, 20) + int8_bytes(1, 2, 3),),
               (int8_bytes(9, 8, 7, 19, 18, 17),)),
    ], tmp_path)
