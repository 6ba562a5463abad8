"""ELU against TFLite-Micro, byte for byte: 200 seeded random shapes and quantizations, every
int8 input for a few, and hand-worked answers. (A trained Keras model with ELU is in
tests/test_partly_float.py: the converter leaves ELU float, and the quantize stage mends it.)"""

from __future__ import annotations

import numpy as np
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point

from tinyedge.ops._lut import float_lookup_table, roundf
from tinyedge.ops.elu import elu

CONFIGURATIONS = 200


def unary_case(opcode: str, shape: tuple[int, ...], input_q: tuple[float, int], output_q: tuple[float, int],
               label: str, samples: tuple[bytes, ...] = (), expected: tuple[bytes, ...] = (),
               options: object | None = None) -> OpCase:
    return OpCase(opcode, (TensorSpec(shape, *input_q),), TensorSpec(shape, *output_q), options, label, samples,
                  expected)


def random_shape(rng: np.random.Generator, max_dim: int = 6) -> tuple[int, ...]:
    return tuple(int(d) for d in rng.integers(1, max_dim + 1, size=int(rng.integers(1, 5))))


def every_input_case(opcode: str, input_q: tuple[float, int], output_q: tuple[float, int], label: str,
                     options: object | None = None) -> OpCase:
    values = np.arange(-128, 128, dtype=np.int8)
    return unary_case(opcode, (256,), input_q, output_q, label, (values.tobytes(),), options=options)


def test_elu_matches_tflite_micro_on_random_shapes_and_quantization(tmp_path):
    rng = np.random.default_rng(41)
    cases = []
    for number in range(CONFIGURATIONS):
        input_scale = log_uniform(rng, -3, 0)
        output_scale = input_scale * log_uniform(rng, -1.5, 1.5)
        cases.append(unary_case("ELU", random_shape(rng), (input_scale, random_zero_point(rng)),
                                (output_scale, random_zero_point(rng)), f"seed 41 #{number}"))
    models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {"te_lookup_s8"}


def test_elu_over_every_int8_input(tmp_path):
    rng = np.random.default_rng(42)
    cases = [every_input_case("ELU", (0.05, -128), (0.05, 127), "extreme zero points"),
             every_input_case("ELU", (0.02, 0), (1e-4, 0), "output scale 200x finer: saturates")]
    for number in range(8):
        scale = log_uniform(rng, -3, 0)
        output_q = (scale * log_uniform(rng, -1, 1), random_zero_point(rng))
        cases.append(every_input_case("ELU", (scale, random_zero_point(rng)), output_q, f"all inputs #{number}"))
    check_cases(cases, tmp_path)


def test_elu_small_exact_answers(tmp_path):
    # Scale 0.5 in and out: 2 -> 1.0 -> 2; -2 -> exp(-1) - 1 = -0.632 -> -1.26 -> -1; -128 -> -64 -> -1 -> -2.
    check_cases([unary_case("ELU", (4,), (0.5, 0), (0.5, 0), "unit", (int8_bytes(2, 0, -2, -128),),
                            (int8_bytes(2, 0, -1, -2),))], tmp_path)


def test_elu_table_rounds_in_float32_half_away_from_zero():
    assert roundf(np.float32(-2.5)) == -3 and roundf(np.float32(0.49999997)) == 0
    table = float_lookup_table(1.0, 0, 1.0, 0, elu)
    assert table[1] == 1 and table[0xFF] == -1  # exp(-1) - 1 = -0.632 -> -1
