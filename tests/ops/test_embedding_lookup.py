"""EMBEDDING_LOOKUP against TFLite-Micro, byte for byte: 220 seeded random lookups (2-D to 4-D
tables, 1-7 constant ids; the firmware's inputs are int8, so ids are never a model input here),
a hand-worked answer and refusals."""

from __future__ import annotations

import numpy as np
import pytest
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower

CONFIGURATIONS = 220


def _ids(count: int, values: np.ndarray) -> TensorSpec:
    return TensorSpec((count,), 1.0, 0, data=values.astype(np.int32), dtype="int32")


def _lookup_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        shape = tuple(int(d) for d in rng.integers(1, 7, size=int(rng.integers(2, 5))))
        num_ids = int(rng.integers(1, 8))
        scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
        out = TensorSpec((num_ids, *shape[1:]), scale, zero_point)
        ids = _ids(num_ids, rng.integers(0, shape[0], size=num_ids))
        cases.append(OpCase("EMBEDDING_LOOKUP", (ids, TensorSpec(shape, scale, zero_point)), out, None,
                            f"seed {seed} #{number}"))
    return cases


def test_embedding_lookup_matches_tflite_micro_on_random_tables_and_ids(tmp_path):
    models = check_cases(_lookup_cases(seed=67, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_embedding_lookup_s8"}


def test_embedding_lookup_small_exact_answer(tmp_path):
    # Rows 2, 0, 2 of [[1, 2], [3, 4], [5, 6]].
    check_cases([OpCase("EMBEDDING_LOOKUP", (_ids(3, np.array([2, 0, 2])), TensorSpec((3, 2), 0.1, 0)),
                        TensorSpec((3, 2), 0.1, 0), None, "rows", (int8_bytes(1, 2, 3, 4, 5, 6),),
                        (int8_bytes(5, 6, 1, 2, 5, 6),))], tmp_path)


def _graph(ids: np.ndarray, table_shape: tuple[int, ...], output_shape: tuple[int, ...]) -> Graph:
    quant = Quantization((0.1,), (0,))
    tensors = (Tensor(0, "ids", ids.shape, "int32", data=ids.astype(np.int32)),
               Tensor(1, "table", table_shape, "int8", quant),
               Tensor(2, "y", output_shape, "int8", quant))
    return Graph("g", tensors, (Operator(0, "EMBEDDING_LOOKUP", (0, 1), (2,), {}),), (1,), (2,))


@pytest.mark.parametrize("graph, message", [
    (_graph(np.array([0, 3]), (3, 2), (2, 2)), r"ids \[0, 3\] leave the table's 3 rows"),
    (_graph(np.array([0]), (3,), (1,)), r"table 'table' \[3\] must have two dimensions"),
    (_graph(np.array([[0]]), (3, 2), (1, 2)), "ids 'ids' must be a 1-D int32 tensor"),
])
def test_embedding_lookups_tflite_micro_refuses_are_refused(graph, message):
    with pytest.raises(UnsupportedOpError, match=message):
        lower(graph, graph.operators[0])
