"""DIV against TFLite-Micro, byte for byte: 200 seeded random configurations (broadcasting, scales,
zero points, fused activations; divisors never at their zero point), a hand-worked answer, the
refusal of a constant division by zero, and a trained model dividing with keras.ops.divide."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras_training import train_briefly
from single_op import (
    ACTIVATIONS,
    OpCase,
    TensorSpec,
    activation,
    check_cases,
    int8_bytes,
    log_uniform,
    random_broadcast_shapes,
    random_zero_point,
)
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower

L = keras.layers
CONFIGURATIONS = 200
SAMPLES = 2


def _options(name: str = "NONE") -> schema.DivOptionsT:
    options = schema.DivOptionsT()
    options.fusedActivationFunction = activation(name)
    return options


def _divisor_values(rng: np.random.Generator, shape: tuple[int, ...], zero_point: int) -> np.ndarray:
    """Random int8 values, none at the zero point (a division by zero)."""
    values = rng.integers(-128, 127, size=shape)
    return np.where(values >= zero_point, values + 1, values).astype(np.int8)


def _div_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        shape1, shape2, out_shape = random_broadcast_shapes(rng)
        scale1, scale2 = log_uniform(rng, -3, 0), log_uniform(rng, -3, 0)
        output_scale = scale1 / scale2 * log_uniform(rng, -2, 1)
        zero_point1 = random_zero_point(rng)
        zero_point2 = int(rng.integers(-127, 127))  # a divisor needs values other than its zero point
        constant_divisor = rng.random() < 0.25
        divisor = TensorSpec(shape2, scale2, zero_point2,
                             data=_divisor_values(rng, shape2, zero_point2) if constant_divisor else None)
        dividends = [rng.integers(-128, 128, size=shape1, dtype=np.int8) for _ in range(SAMPLES)]
        samples = tuple(d.tobytes() + (b"" if constant_divisor else _divisor_values(rng, shape2, zero_point2).tobytes())
                        for d in dividends)
        cases.append(OpCase("DIV", (TensorSpec(shape1, scale1, zero_point1), divisor),
                            TensorSpec(out_shape, output_scale, random_zero_point(rng)),
                            _options(str(rng.choice(ACTIVATIONS))), f"seed {seed} #{number}", samples))
    return cases


def test_div_matches_tflite_micro_on_random_shapes_scales_and_activations(tmp_path):
    models = check_cases(_div_cases(seed=23, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_div_s8"}


def test_div_small_exact_answer(tmp_path):
    # Scales 1, zero points 0: 6 / 3 = 2, -9 / 3 = -3, 100 / -7 = -14.3 -> -14. And 0 / 5 = 1: the
    # zero dividend has 31 leading sign bits, so the last shift is 31 + 2 - 1 = 32, past what C defines,
    # and the installed TFLite-Micro adds the rounding bit of a mask that has become all ones.
    spec = TensorSpec((4,), 1.0, 0)
    check_cases([OpCase("DIV", (spec, spec), spec, _options(), "four quotients",
                        (int8_bytes(6, -9, 100, 0, 3, 3, -7, 5),), (int8_bytes(2, -3, -14, 1),))], tmp_path)


def test_constant_division_by_zero_is_refused():
    quant = Quantization((0.1,), (3,))
    tensors = (Tensor(0, "x", (2,), "int8", quant),
               Tensor(1, "d", (2,), "int8", quant, data=np.array([5, 3], dtype=np.int8)),
               Tensor(2, "y", (2,), "int8", quant))
    graph = Graph("g", tensors, (Operator(0, "DIV", (0, 1), (2,), {"fusedActivationFunction": "NONE"}),), (0,), (2,))
    with pytest.raises(UnsupportedOpError, match="layer 0 DIV.*divisor 'd' holds its zero point 3"):
        lower(graph, graph.operators[0])


def test_trained_model_dividing_by_a_positive_branch(assert_bit_exact):
    x = keras.Input((4, 4, 2), batch_size=1)
    numerator = L.Conv2D(3, 1)(x)
    denominator = L.Conv2D(3, 1, activation="sigmoid")(x)
    y = keras.ops.divide(numerator, denominator + 1.0)
    model = train_briefly(keras.Model(x, L.Conv2D(2, 1)(y)))
    result = assert_bit_exact(model)
    assert "DIV" in [layer.opcode for layer in result.model.layers]
