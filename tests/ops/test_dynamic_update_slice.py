"""DYNAMIC_UPDATE_SLICE against TFLite-Micro, byte for byte: 200 seeded random configurations
(rank 1-6, start indices int32 or int64 and often outside the operand so that TFLite-Micro
clamps them, operand or update constant now and then), a hand-worked answer, and the operands
TFLite-Micro refuses refused."""

from __future__ import annotations

import numpy as np
import pytest
from op_chain import ChainCase, chain_tflite, chains
from single_op import TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point

from tinyedge.codegen import compile_graph
from tinyedge.errors import TinyEdgeError
from tinyedge.importer import parse_tflite

CONFIGURATIONS = 200


def _starts(values, dtype: str = "int32") -> TensorSpec:
    return TensorSpec((len(values),), 1.0, 0, data=np.array(values, dtype=dtype), dtype=dtype)


def _cases(seed: int, count: int) -> list[ChainCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        rank = int(rng.integers(1, 7))
        shape = tuple(int(d) for d in rng.integers(1, 5, size=rank))
        update_shape = tuple(int(rng.integers(1, d + 1)) for d in shape)
        starts = [int(rng.integers(-2, d + 3)) for d in shape]
        scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
        constant = int(rng.integers(0, 6))  # 0: operand constant, 1: update constant
        operand, update = (TensorSpec(s, scale, zero_point,
                                      rng.integers(-128, 128, size=s, dtype=np.int8) if constant == n else None)
                           for n, s in enumerate((shape, update_shape)))
        cases.append(ChainCase("DYNAMIC_UPDATE_SLICE",
                               (operand, update, _starts(starts, str(rng.choice(["int32", "int64"])))),
                               TensorSpec(shape, scale, zero_point), None, f"seed {seed} #{number}"))
    return cases


def test_dynamic_update_slice_matches_tflite_micro_on_random_shapes(tmp_path):
    with chains():
        check_cases(_cases(seed=83, count=CONFIGURATIONS), tmp_path, samples=3)


def test_dynamic_update_slice_small_exact_answer(tmp_path):
    # A [1, 2] update into a [2, 3] operand at start (1, 5): the column is clamped to 3 - 2 = 1.
    operand, update = TensorSpec((2, 3), 0.1, 0), TensorSpec((1, 2), 0.1, 0)
    sample = int8_bytes(1, 2, 3, 4, 5, 6) + int8_bytes(-1, -2)
    with chains():
        check_cases([ChainCase("DYNAMIC_UPDATE_SLICE", (operand, update, _starts([1, 5])),
                               TensorSpec((2, 3), 0.1, 0), None, "clamped", (sample,),
                               (int8_bytes(1, 2, 3, 4, -1, -2),))], tmp_path)


@pytest.mark.parametrize("update_shape, starts, match", [
    ((3, 1), [0, 0], "fit inside"),  # larger than the operand
    ((2,), [0, 0], "fit inside"),  # another rank
    ((1, 1), [0, 0, 0], "one per operand dimension"),
])
def test_dynamic_update_slice_refuses_what_tflite_micro_refuses(update_shape, starts, match):
    case = ChainCase("DYNAMIC_UPDATE_SLICE", (TensorSpec((2, 3), 0.1, 0), TensorSpec(update_shape, 0.1, 0),
                                              _starts(starts)), TensorSpec((2, 3), 0.1, 0))
    with pytest.raises(TinyEdgeError, match=match):
        compile_graph(parse_tflite(chain_tflite(case)))
