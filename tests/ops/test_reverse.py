"""REVERSE_V2 against TFLite-Micro, byte for byte: 220 seeded random tensors of 1-D to 6-D reversed
over a random run of neighbouring axes (negative axes too), a hand-worked answer and refusals. The
trained Bidirectional(..., return_sequences=True) model that needs it is in test_recurrent."""

from __future__ import annotations

import numpy as np
import pytest
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point, single_op_tflite

from tinyedge.codegen import compile_graph
from tinyedge.errors import UnsupportedOpError
from tinyedge.importer import parse_tflite

CONFIGURATIONS = 220


def _axes(values: list[int]) -> TensorSpec:
    return TensorSpec((len(values),), 1.0, 0, data=np.array(values, dtype=np.int32), dtype="int32")


def _reverse_case(shape: tuple[int, ...], axes: list[int], scale: float, zero_point: int, label: str,
                  **kwargs) -> OpCase:
    return OpCase("REVERSE_V2", (TensorSpec(shape, scale, zero_point), _axes(axes)),
                  TensorSpec(shape, scale, zero_point), None, label, **kwargs)


def _random_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        rank = int(rng.integers(1, 7))
        shape = tuple(int(d) for d in rng.integers(1, 6, size=rank))
        first = int(rng.integers(0, rank))
        run = list(range(first, int(rng.integers(first + 1, rank + 1))))
        axes = [a - rank if rng.random() < 0.3 else a for a in rng.permutation(run)]  # any order, some negative
        cases.append(_reverse_case(shape, axes, log_uniform(rng, -3, 0), random_zero_point(rng),
                                   f"seed {seed} #{number}"))
    return cases


def test_reverse_matches_tflite_micro_on_random_shapes_and_axes(tmp_path):
    models = check_cases(_random_cases(seed=17, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_reverse_s8"}
    assert {m.calls[0].params["inner"] > 1 for m in models} == {True, False}


def test_reverse_small_exact_answers(tmp_path):
    sample = int8_bytes(1, 2, 3, 4, 5, 6)
    check_cases([
        _reverse_case((2, 3), [1], 0.1, 0, "rows reversed", samples=(sample,),
                      expected=(int8_bytes(3, 2, 1, 6, 5, 4),)),
        _reverse_case((2, 3), [0], 0.1, 0, "row order reversed", samples=(sample,),
                      expected=(int8_bytes(4, 5, 6, 1, 2, 3),)),
        _reverse_case((2, 3), [-1, 0], 0.1, 0, "both axes", samples=(sample,),
                      expected=(int8_bytes(6, 5, 4, 3, 2, 1),)),
    ], tmp_path)


@pytest.mark.parametrize("axes, message", [([0, 2], "not neighbours"), ([3], "not axes of a 3-D input")])
def test_reverse_refuses_what_tflite_micro_refuses(axes, message):
    case = _reverse_case((2, 3, 4), axes, 0.1, 0, "refused")
    with pytest.raises(UnsupportedOpError, match=message):
        compile_graph(parse_tflite(single_op_tflite(case)))
