"""MUL against TFLite-Micro, byte for byte: 200 seeded random configurations, and a trained
squeeze-excite block."""

from __future__ import annotations

import contextlib
from collections import Counter

import keras
import numpy as np
import pytest
from keras_training import squeeze_excite_model, train_briefly
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

from tinyedge.ops._binary import RESCALE_LEFT, RESCALE_ROUNDING
from tinyedge.ops.conv import reference_kernels
from tinyedge.ops.mul import MUL_ROUNDING

L = keras.layers
CONFIGURATIONS = 200


def _mul_cases(seed: int, count: int) -> list:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        scale1, scale2 = log_uniform(rng, -3, 0), log_uniform(rng, -3, 0)
        # The output multiplier scale1 * scale2 / output scale from 1e-3 (right shifts) to 1e2 (left shifts).
        output_scale = scale1 * scale2 * log_uniform(rng, -2, 3)
        options = schema.MulOptionsT()
        options.fusedActivationFunction = activation(str(rng.choice(ACTIVATIONS)))
        cases.append(random_binary_case("MUL", rng, (scale1, scale2, output_scale), options, f"seed {seed} #{number}"))
    return cases


def test_mul_matches_tflite_micro_on_random_shapes_scales_and_activations(tmp_path):
    models = check_cases(_mul_cases(seed=11, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {MUL_ROUNDING}
    forms = Counter(m.calls[0].params["form"] for m in models)
    assert forms[RESCALE_ROUNDING] > CONFIGURATIONS // 3 and forms[RESCALE_LEFT] > 0, forms


def test_mul_reference_kernel_matches_tflite_micro_on_the_same_configurations(tmp_path):
    with reference_kernels():
        models = check_cases(_mul_cases(seed=11, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_mul_s8"}
    shifts = [m.calls[0].params["output_shift"] for m in models]
    assert min(shifts) < 0 < max(shifts), "both right and left output shifts are covered"


@pytest.mark.parametrize("variants", [True, False], ids=["fast", "reference"])
def test_mul_over_every_input_pair(tmp_path, variants):
    rng = np.random.default_rng(21)
    cases = []
    for number in range(6):
        scale1, scale2 = log_uniform(rng, -3, 0), log_uniform(rng, -3, 0)
        options = schema.MulOptionsT()
        options.fusedActivationFunction = activation(ACTIVATIONS[number % len(ACTIVATIONS)])
        zero_points = (-128, 127, 0) if number == 0 else tuple(int(z) for z in rng.integers(-128, 128, 3))
        # Output scale about the product's range over 255 steps, give or take a decade.
        output_scale = scale1 * scale2 * 128 * log_uniform(rng, -1, 1)
        cases.append(all_pairs_case("MUL", (scale1, scale2, output_scale), zero_points, options,
                                    f"all pairs #{number}"))
    with contextlib.nullcontext() if variants else reference_kernels():
        models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {MUL_ROUNDING if variants else "te_mul_s8"}


def test_mul_of_a_trained_squeeze_excite_block(assert_bit_exact):
    model = train_briefly(squeeze_excite_model(size=8, channels=8))
    result = assert_bit_exact(model)
    mul = next(call for layer, call in zip(result.model.layers, result.model.calls) if layer.opcode == "MUL")
    strides = {c.name: c.values.tolist() for c in mul.constants}
    assert strides["output_shape"] == [1, 8, 8, 8] and 0 in strides["input1_strides"] + strides["input2_strides"]


def test_mul_small_exact_answers(tmp_path):
    # Scales 0.5 * 0.5 / 0.25: the multiplier is exactly 1, so the output is the integer product.
    relu = schema.MulOptionsT()
    relu.fusedActivationFunction = activation("RELU")
    same = (TensorSpec((4,), 0.5, 0), TensorSpec((4,), 0.5, 0))
    sample = int8_bytes(1, 2, 3, -4) + int8_bytes(2, -3, 4, 5)
    check_cases([
        OpCase("MUL", same, TensorSpec((4,), 0.25, 0), schema.MulOptionsT(), "product", (sample,),
               (int8_bytes(2, -6, 12, -20),)),
        OpCase("MUL", same, TensorSpec((4,), 0.25, 0), relu, "product, relu", (sample,), (int8_bytes(2, 0, 12, 0),)),
        # Zero points: real values (x - 10) * (y + 5); the product saturates at 127.
        OpCase("MUL", (TensorSpec((2, 2), 0.5, 10), TensorSpec((2,), 0.5, -5)), TensorSpec((2, 2), 0.25, 0),
               schema.MulOptionsT(), "offsets, broadcast", (int8_bytes(12, 10, 0, 30) + int8_bytes(-4, 5),),
               (int8_bytes(2, 0, -10, 127),)),
    ], tmp_path)


def test_mul_of_a_trained_hard_sigmoid_activation(assert_bit_exact):
    # Keras' hard_sigmoid after a convolution: the converter keeps a MUL by a scalar constant (shape []).
    x = keras.Input((6, 6, 3), batch_size=1)
    model = train_briefly(keras.Model(x, L.Dense(3)(L.Flatten()(L.Activation("hard_sigmoid")(L.Conv2D(4, 3)(x))))))
    result = assert_bit_exact(model)
    (mul,) = [op for op in result.model.graph.operators if op.opcode == "MUL"]
    assert () in [result.model.graph.tensor(i).shape for i in mul.inputs]
