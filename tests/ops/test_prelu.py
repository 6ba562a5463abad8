"""PRELU against TFLite-Micro, byte for byte: 200 seeded random shapes (alpha broadcast, constant
or not), scales and zero points, hand-worked answers, and a trained Keras PReLU."""

from __future__ import annotations

import keras
import numpy as np
from keras_training import train_briefly
from single_op import (
    OpCase,
    TensorSpec,
    check_cases,
    int8_bytes,
    log_uniform,
    random_broadcast_shapes,
    random_zero_point,
)

L = keras.layers
CONFIGURATIONS = 200


def _prelu_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        shape, alpha_shape, out_shape = random_broadcast_shapes(rng)  # either may broadcast, as in TFLite-Micro
        input_scale, alpha_scale = log_uniform(rng, -3, 0), log_uniform(rng, -3, 0)
        output_scale = input_scale * log_uniform(rng, -1, 1)
        alpha = rng.integers(-128, 128, size=alpha_shape, dtype=np.int8) if rng.random() < 0.75 else None
        inputs = (TensorSpec(shape, input_scale, random_zero_point(rng)),
                  TensorSpec(alpha_shape, alpha_scale, random_zero_point(rng), data=alpha))
        output = TensorSpec(out_shape, output_scale, random_zero_point(rng))
        cases.append(OpCase("PRELU", inputs, output, None, f"seed {seed} #{number}"))
    return cases


def test_prelu_matches_tflite_micro_on_random_shapes_and_quantization(tmp_path):
    models = check_cases(_prelu_cases(seed=51, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_prelu_s8"}


def test_prelu_small_exact_answers(tmp_path):
    # Input and output scale 0.5, alpha scale 0.25 (alpha 2 -> 0.5): negatives are halved, ties away
    # from zero (the multiplier 0.25 is 2^30 with a right shift, which rounds -2.5 to -3); alpha 4 -> 1.0
    # keeps them.
    alpha = TensorSpec((2,), 0.25, 0, data=np.array([2, 4], dtype=np.int8))
    check_cases([OpCase("PRELU", (TensorSpec((2, 2), 0.5, 0), alpha), TensorSpec((2, 2), 0.5, 0), None, "halve",
                        (int8_bytes(6, -6, -5, -128),), (int8_bytes(6, -6, -3, -128),))], tmp_path)


def test_prelu_of_a_trained_model(assert_bit_exact):
    x = keras.Input((6, 6, 2), batch_size=1)
    features = L.PReLU(shared_axes=[1, 2])(L.Conv2D(4, 3, padding="same")(x))
    hidden = L.PReLU()(L.Dense(6)(L.Flatten()(features)))
    model = train_briefly(keras.Model(x, L.Dense(3)(hidden)))
    result = assert_bit_exact(model)
    assert [layer.opcode for layer in result.model.layers].count("PRELU") == 2
