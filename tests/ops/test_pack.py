"""PACK against TFLite-Micro, byte for byte: 220 seeded random stacks (1 to 6 inputs of 0-D to
4-D, every axis, negative axes, constant inputs), a hand-worked answer, and a trained model
stacking two branches with keras.ops.stack."""

from __future__ import annotations

import keras
import numpy as np
from keras_training import train_briefly
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

L = keras.layers
CONFIGURATIONS = 220


def _options(count: int, axis: int) -> schema.PackOptionsT:
    options = schema.PackOptionsT()
    options.valuesCount, options.axis = count, axis
    return options


def _pack_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        rank = int(rng.integers(0, 5))
        shape = tuple(int(d) for d in rng.integers(1, 6, size=rank))
        values = int(rng.integers(1, 7))
        axis = int(rng.integers(0, rank + 1))
        scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
        inputs = []
        for _ in range(values):
            data = rng.integers(-128, 128, size=shape, dtype=np.int8) if rng.random() < 0.2 else None
            inputs.append(TensorSpec(shape, scale, zero_point, data=data))
        if all(spec.data is not None for spec in inputs):
            inputs[0] = TensorSpec(shape, scale, zero_point)
        written_axis = axis - (rank + 1) if rng.random() < 0.3 else axis
        cases.append(OpCase("PACK", tuple(inputs), TensorSpec((*shape[:axis], values, *shape[axis:]), scale,
                                                              zero_point),
                            _options(values, written_axis), f"seed {seed} #{number}"))
    return cases


def test_pack_matches_tflite_micro_on_random_stacks(tmp_path):
    models = check_cases(_pack_cases(seed=61, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_concatenation_s8"}


def test_pack_small_exact_answer(tmp_path):
    # Two rows [1, 2, 3] and [4, 5, 6] stacked along axis 1: [[1, 4], [2, 5], [3, 6]].
    row = TensorSpec((3,), 0.5, 0)
    check_cases([OpCase("PACK", (row, row), TensorSpec((3, 2), 0.5, 0), _options(2, 1), "axis 1",
                        (int8_bytes(1, 2, 3, 4, 5, 6),), (int8_bytes(1, 4, 2, 5, 3, 6),))], tmp_path)


def test_trained_model_stacking_two_branches(assert_bit_exact):
    x = keras.Input((4, 4, 3), batch_size=1)
    a = L.Conv2D(2, 3, padding="same")(x)
    b = L.Conv2D(2, 1, activation="relu")(x)
    y = L.Activation("linear")(keras.ops.stack([a, b], axis=3))
    model = train_briefly(keras.Model(x, L.Dense(3)(L.Flatten()(y))))
    result = assert_bit_exact(model)
    assert "PACK" in [layer.opcode for layer in result.model.layers]
