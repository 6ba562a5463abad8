"""ZEROS_LIKE and FILL against TFLite-Micro, byte for byte: 200 seeded random configurations
each (shapes of rank 0-5, 1-5 for FILL, quantizations at the extremes, FILL's dims in each integer type
TFLite-Micro reads), hand-worked answers, and the FILL operands TFLite-Micro refuses refused."""

from __future__ import annotations

import numpy as np
import pytest
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point, single_op_tflite

from tinyedge.codegen import compile_graph
from tinyedge.errors import TinyEdgeError
from tinyedge.importer import parse_tflite

CONFIGURATIONS = 200


def _shape(rng: np.random.Generator, min_rank: int = 0) -> tuple[int, ...]:
    return tuple(int(d) for d in rng.integers(1, 6, size=int(rng.integers(min_rank, 6))))


def _zeros_like_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        shape = _shape(rng)
        quant = [(log_uniform(rng, -3, 1), random_zero_point(rng)) for _ in range(2)]
        cases.append(OpCase("ZEROS_LIKE", (TensorSpec(shape, *quant[0]),), TensorSpec(shape, *quant[1]), None,
                            f"seed {seed} #{number}"))
    return cases


def _dims(shape: tuple[int, ...], dtype: str) -> TensorSpec:
    return TensorSpec((len(shape),), 1.0, 0, data=np.array(shape, dtype=dtype), dtype=dtype)


def _fill_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        shape = _shape(rng, min_rank=1)  # a scalar's dims [] would be a tensor of shape [0], which tinyedge refuses
        scale, zero_point = log_uniform(rng, -3, 1), random_zero_point(rng)
        dims = _dims(shape, str(rng.choice(["int8", "int16", "int32"])))
        cases.append(OpCase("FILL", (dims, TensorSpec((), scale, zero_point)), TensorSpec(shape, scale, zero_point),
                            None, f"seed {seed} #{number}"))
    return cases


def test_zeros_like_matches_tflite_micro_on_random_shapes(tmp_path):
    check_cases(_zeros_like_cases(seed=61, count=CONFIGURATIONS), tmp_path)


def test_fill_matches_tflite_micro_on_random_shapes(tmp_path):
    check_cases(_fill_cases(seed=62, count=CONFIGURATIONS), tmp_path, samples=3)


def test_zeros_like_and_fill_small_exact_answers(tmp_path):
    # ZEROS_LIKE writes the integer 0, not the zero point 5; FILL repeats the value's byte.
    check_cases([
        OpCase("ZEROS_LIKE", (TensorSpec((2, 2), 0.1, -3),), TensorSpec((2, 2), 0.1, 5), None, "zeros",
               (int8_bytes(1, 2, 3, 4),), (int8_bytes(0, 0, 0, 0),)),
        OpCase("FILL", (_dims((3,), "int32"), TensorSpec((), 0.1, 0)), TensorSpec((3,), 0.1, 0), None, "fill",
               (int8_bytes(-7),), (int8_bytes(-7, -7, -7),)),
    ], tmp_path)


@pytest.mark.parametrize("inputs, output, match", [
    ((_dims((2, 3), "int32"), TensorSpec((), 0.1, 0)), (3, 2), "differ from the output shape"),
    ((_dims((3,), "int32"), TensorSpec((1,), 0.1, 0)), (3,), "requires a scalar"),
    ((TensorSpec((1,), 1.0, 0, dtype="int32"), TensorSpec((), 0.1, 0)), (3,), "constant 1-D integer"),
])
def test_fill_refuses_what_tflite_micro_refuses(inputs, output, match):
    case = OpCase("FILL", inputs, TensorSpec(output, 0.1, 0))
    with pytest.raises(TinyEdgeError, match=match):
        compile_graph(parse_tflite(single_op_tflite(case)))
