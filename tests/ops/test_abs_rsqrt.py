"""ABS and RSQRT against TFLite-Micro, byte for byte: 200 seeded random shapes and quantizations
each, every valid int8 input for a few, through the lookup-table variant and through the
reference kernels; hand-worked answers, and trained Keras models."""

from __future__ import annotations

import contextlib

import keras
import numpy as np
import pytest
from keras_training import train_briefly
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point

from tinyedge.ops.abs_rsqrt import TABLE_MIN_ELEMENTS
from tinyedge.ops.activations import IDENTITY_MULTIPLIER
from tinyedge.ops.conv import reference_kernels

L = keras.layers
CONFIGURATIONS = 200


def unary_case(opcode: str, shape: tuple[int, ...], input_q: tuple[float, int], output_q: tuple[float, int],
               label: str, samples: tuple[bytes, ...] = (), expected: tuple[bytes, ...] = ()) -> OpCase:
    return OpCase(opcode, (TensorSpec(shape, *input_q),), TensorSpec(shape, *output_q), None, label, samples, expected)


def random_shape(rng: np.random.Generator) -> tuple[int, ...]:
    return tuple(int(d) for d in rng.integers(1, 7, size=int(rng.integers(1, 5))))


@pytest.fixture(params=["table", "reference"])
def kernels(request) -> str:
    """Lower with the table variant where it applies, or with the reference kernels only."""
    with contextlib.nullcontext() if request.param == "table" else reference_kernels():
        yield request.param


def _functions(models: list, kernels: str, name: str) -> None:
    functions = {m.calls[0].function for m in models}
    assert functions == ({"te_lookup_s8", f"te_{name}_s8"} if kernels == "table" else {f"te_{name}_s8"}), functions


def test_abs_matches_tflite_micro_on_random_shapes_and_quantization(tmp_path, kernels):
    rng = np.random.default_rng(61)
    cases = []
    for number in range(CONFIGURATIONS):
        input_scale = log_uniform(rng, -3, 0)
        # A quarter with the output quantized like the input: TFLite-Micro then skips the requantization.
        output_scale = input_scale if number % 4 == 0 else input_scale * log_uniform(rng, -1, 1)
        cases.append(unary_case("ABS", random_shape(rng), (input_scale, random_zero_point(rng)),
                                (output_scale, random_zero_point(rng)), f"seed 61 #{number}"))
    models = check_cases(cases, tmp_path)
    _functions(models, kernels, "abs")
    identity = [m for m in models if m.calls[0].function == "te_abs_s8" and m.calls[0].params["multiplier"] ==
                IDENTITY_MULTIPLIER]
    assert kernels == "table" or len(identity) >= CONFIGURATIONS // 4


def _rsqrt_input_samples(rng: np.random.Generator, size: int, zero_point: int) -> tuple[bytes, ...]:
    """Inputs at or above the zero point: TFLite-Micro's Invoke fails on the rsqrt of a negative value."""
    return tuple(rng.integers(zero_point, 128, size=size, dtype=np.int8).tobytes() for _ in range(2))


def test_rsqrt_matches_tflite_micro_on_random_shapes_and_quantization(tmp_path, kernels):
    rng = np.random.default_rng(62)
    cases = []
    for number in range(CONFIGURATIONS):
        shape, input_scale = random_shape(rng), log_uniform(rng, -3, 0)
        input_zp = int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))
        output_scale = float(1 / np.sqrt(input_scale)) / 127 * log_uniform(rng, -1, 1)
        samples = _rsqrt_input_samples(rng, int(np.prod(shape)), input_zp)
        cases.append(unary_case("RSQRT", shape, (input_scale, input_zp), (output_scale, random_zero_point(rng)),
                                f"seed 62 #{number}", samples))
    _functions(check_cases(cases, tmp_path), kernels, "rsqrt")


def test_abs_and_rsqrt_over_every_valid_int8_input(tmp_path, kernels):
    rng = np.random.default_rng(63)
    cases = []
    for number in range(6):
        input_q = (log_uniform(rng, -3, 0), random_zero_point(rng) if number else -128)
        values = np.arange(-128, 128, dtype=np.int8)
        cases.append(unary_case("ABS", (256,), input_q, (input_q[0] * log_uniform(rng, -1, 1), random_zero_point(rng)),
                                f"abs, all inputs #{number}", (values.tobytes(),)))
        valid = np.arange(input_q[1], 128, dtype=np.int8)
        output_scale = float(1 / np.sqrt(input_q[0])) / 127 * log_uniform(rng, -1, 1)
        cases.append(unary_case("RSQRT", (len(valid),), input_q, (output_scale, random_zero_point(rng)),
                                f"rsqrt, all valid inputs #{number}", (valid.tobytes(),)))
    models = check_cases(cases, tmp_path)
    assert kernels == "reference" or all(m.calls[0].function == "te_lookup_s8" for m in models
                                         if m.graph.tensors[0].size >= TABLE_MIN_ELEMENTS["rsqrt"])


def test_abs_and_rsqrt_small_exact_answers(tmp_path):
    check_cases([
        # |x - 3| with the same scale: no requantization; the output zero point -10 shifts it.
        unary_case("ABS", (4,), (0.5, 3), (0.5, -10), "abs", (int8_bytes(3, 10, -4, -128),),
                   (int8_bytes(-10, -3, -3, 121),)),
        # Scale 1 in, 1/16 out: 1/sqrt(4) = 0.5 -> 8, 1/sqrt(1) -> 16, 1/sqrt(16) = 0.25 -> 4, 0 -> 127.
        unary_case("RSQRT", (4,), (1.0, 0), (1 / 16, 0), "rsqrt", (int8_bytes(4, 1, 16, 0),),
                   (int8_bytes(8, 16, 4, 127),)),
    ], tmp_path)


def test_abs_of_a_trained_model(assert_bit_exact):
    x = keras.Input((8,), batch_size=1)
    magnitude = L.Lambda(lambda t: keras.ops.abs(t))(L.Dense(6)(x))
    result = assert_bit_exact(train_briefly(keras.Model(x, L.Dense(3)(magnitude))))
    assert "ABS" in [layer.opcode for layer in result.model.layers]


def test_rsqrt_of_a_trained_model(assert_bit_exact):
    x = keras.Input((8,), batch_size=1)
    hidden = L.Dense(6)(x)
    scaled = L.Lambda(lambda t: keras.ops.rsqrt(t * t + 1.0))(hidden)
    model = train_briefly(keras.Model(x, L.Dense(3)(scaled)))
    calib = [np.random.default_rng(4).uniform(-1, 1, (32, 8)).astype(np.float32)]
    result = assert_bit_exact(model, calib=calib)
    assert "RSQRT" in [layer.opcode for layer in result.model.layers]
