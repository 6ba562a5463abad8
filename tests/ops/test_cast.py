"""CAST against TFLite-Micro, byte for byte: 200 seeded random configurations over every
conversion tinyedge takes (int8 to int16/int32 and back, int8 to int8, constant int16/int32
values outside int8 that wrap, the bool of a comparison to int8), hand-worked answers, and the
casts tinyedge leaves out refused."""

from __future__ import annotations

import numpy as np
import pytest
from op_chain import PREVIOUS, ChainCase, Then, bool_spec, chain_tflite, chains
from single_op import TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point

from tinyedge.codegen import compile_graph
from tinyedge.errors import TinyEdgeError
from tinyedge.importer import parse_tflite

CONFIGURATIONS = 200


def _int(shape: tuple[int, ...], dtype: str, data: np.ndarray | None = None) -> TensorSpec:
    return TensorSpec(shape, 1.0, 0, data=data, dtype=dtype)


def _case(rng: np.random.Generator, label: str) -> ChainCase:
    shape = tuple(int(d) for d in rng.integers(1, 6, size=int(rng.integers(1, 5))))
    int8 = TensorSpec(shape, log_uniform(rng, -3, 0), random_zero_point(rng))
    kind = int(rng.integers(0, 4))
    if kind == 0:  # int8 -> int16 or int32 -> int8
        wide = _int(shape, str(rng.choice(["int16", "int32"])))
        return ChainCase("CAST", (int8,), wide, None, label, then=(Then("CAST", (PREVIOUS,), int8),))
    if kind == 1:  # int8 -> int8
        return ChainCase("CAST", (int8,), int8, None, label)
    if kind == 2:  # constant int16 / int32 -> int8 (wrapping), picked against a model input by SELECT_V2
        dtype = str(rng.choice(["int16", "int32"]))
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
        condition = bool_spec(shape, rng.random(shape) < 0.75)
        return ChainCase("CAST", (_int(shape, dtype, values),), int8, None, label,
                         then=(Then("SELECT_V2", (condition, PREVIOUS, int8), int8),))
    # bool -> int8: the bool a GREATER gives
    return ChainCase("GREATER", (int8, int8), bool_spec(shape), None, label,
                     then=(Then("CAST", (PREVIOUS,), int8),))


def test_cast_matches_tflite_micro_on_random_conversions(tmp_path):
    rng = np.random.default_rng(71)
    with chains():
        check_cases([_case(rng, f"seed 71 #{number}") for number in range(CONFIGURATIONS)], tmp_path, samples=3)


def test_cast_small_exact_answers(tmp_path):
    # int32 300, -129, 127, -128 wrap to 44, 127, 127, -128; where the condition is false the input shows.
    values = np.array([300, -129, 127, -128], dtype=np.int32)
    int8 = TensorSpec((4,), 0.1, 0)
    condition = bool_spec((4,), np.array([True, True, True, False]))
    with chains():
        check_cases([ChainCase("CAST", (_int((4,), "int32", values),), int8, None, "wrap", (int8_bytes(1, 2, 3, 4),),
                               (int8_bytes(44, 127, 127, 4),),
                               then=(Then("SELECT_V2", (condition, PREVIOUS, int8), int8),))], tmp_path)


@pytest.mark.parametrize("source, target", [("int16", "int32"), ("int8", "float32")])
def test_cast_refuses_conversions_without_int8_or_to_float(source, target):
    case = ChainCase("CAST", (TensorSpec((4,), 0.1, 0),), _int((4,), source), None, "refused",
                     then=(Then("CAST", (PREVIOUS,), TensorSpec((4,), 1.0, 0, dtype=target)),))
    with pytest.raises(TinyEdgeError, match="tinyedge casts"):
        compile_graph(parse_tflite(chain_tflite(case)))
