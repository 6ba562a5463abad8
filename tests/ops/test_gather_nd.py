"""GATHER_ND against TFLite-Micro, byte for byte: 220 seeded random gathers (1-D to 4-D inputs,
index depths 1 to the rank, 1-D to 3-D positions, some indices running past their own dimension
but inside the input, as TFLite-Micro allows), a hand-worked answer and refusals."""

from __future__ import annotations

import numpy as np
import pytest
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower

CONFIGURATIONS = 220


def _positions(values: np.ndarray) -> TensorSpec:
    return TensorSpec(values.shape, 1.0, 0, data=values.astype(np.int32), dtype="int32")


def _gather_nd_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        rank = int(rng.integers(1, 5))
        shape = tuple(int(d) for d in rng.integers(1, 6, size=rank))
        depth = int(rng.integers(1, rank + 1))
        rows = tuple(int(d) for d in rng.integers(1, 5, size=int(rng.integers(0, 3))))
        positions = np.stack([rng.integers(0, shape[j], size=rows) for j in range(depth)], axis=-1)
        if depth > 1 and rng.random() < 0.15:
            # The last index past its own dimension: the flat start still leaves room for the slice.
            flat = positions @ np.array([int(np.prod(shape[j + 1:])) for j in range(depth)])
            room = int(np.prod(shape)) - int(np.prod(shape[depth:])) - int(flat.max())
            positions[..., -1] += int(room // int(np.prod(shape[depth:])))
        out_shape = rows + shape[depth:]
        scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
        cases.append(OpCase("GATHER_ND", (TensorSpec(shape, scale, zero_point), _positions(positions)),
                            TensorSpec(out_shape, scale, zero_point), None, f"seed {seed} #{number}"))
    return cases


def test_gather_nd_matches_tflite_micro_on_random_positions(tmp_path):
    models = check_cases(_gather_nd_cases(seed=53, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_gather_nd_s8"}


def test_gather_nd_small_exact_answer(tmp_path):
    # [[1, 2, 3], [4, 5, 6]]: elements (1, 2), (0, 0) and (0, 4), the last one column 4 of row 0,
    # which is element 1 of row 1 (TFLite-Micro checks only the flat position): 6, 1, 5.
    check_cases([OpCase("GATHER_ND", (TensorSpec((2, 3), 0.1, 0), _positions(np.array([[1, 2], [0, 0], [0, 4]]))),
                        TensorSpec((3,), 0.1, 0), None, "elements", (int8_bytes(1, 2, 3, 4, 5, 6),),
                        (int8_bytes(6, 1, 5),))], tmp_path)


def _graph(positions: np.ndarray, output_shape: tuple[int, ...]) -> Graph:
    quant = Quantization((0.1,), (0,))
    tensors = (Tensor(0, "x", (2, 3), "int8", quant),
               Tensor(1, "positions", positions.shape, "int32", data=positions.astype(np.int32)),
               Tensor(2, "y", output_shape, "int8", quant))
    return Graph("g", tensors, (Operator(0, "GATHER_ND", (0, 1), (2,), {}),), (0,), (2,))


@pytest.mark.parametrize("graph, message", [
    (_graph(np.array([[1, 3]]), (1,)), r"position \[1, 3\] reaches outside input \[2, 3\]"),
    (_graph(np.array([[0, 0, 0]]), (1,)), "positions of depth 3 for an input of rank 2"),
])
def test_gather_nd_positions_tflite_micro_refuses_are_refused(graph, message):
    with pytest.raises(UnsupportedOpError, match=message):
        lower(graph, graph.operators[0])
