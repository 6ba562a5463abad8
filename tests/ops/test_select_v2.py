"""SELECT_V2 against TFLite-Micro, byte for byte: 200 seeded random configurations with all three
operands broadcast (a constant bool condition, or one a GREATER computes), hand-worked answers,
shapes TFLite-Micro refuses refused. The trained Keras model (keras.ops.where) is in
test_comparison.py."""

from __future__ import annotations

import numpy as np
import pytest
from op_chain import PREVIOUS, ChainCase, Then, bool_spec, chain_tflite, chains
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point

from tinyedge.codegen import compile_graph
from tinyedge.errors import TinyEdgeError
from tinyedge.importer import parse_tflite

CONFIGURATIONS = 200


def _three_shapes(rng: np.random.Generator) -> tuple[list[tuple[int, ...]], tuple[int, ...]]:
    """(condition, x, y) shapes of rank 0-5 that broadcast, and the output shape TFLite-Micro wants."""
    rank = int(rng.integers(1, 6))
    out = tuple(int(d) for d in rng.integers(1, 5, size=rank))
    if rng.random() < 0.25:
        return [out, out, out], out
    shapes = []
    for _ in range(3):
        dims = tuple(d if rng.random() < 0.5 else 1 for d in out)
        drop = int(rng.integers(0, rank + 1))
        while drop and dims and dims[0] == 1:
            dims, drop = dims[1:], drop - 1
        shapes.append(dims)
    width = max(len(s) for s in shapes)
    extended = [(1,) * (width - len(s)) + s for s in shapes]
    return shapes, tuple(max(dims) for dims in zip(*extended))


def _cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        (cond_shape, x_shape, y_shape), out_shape = _three_shapes(rng)
        scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
        constant = int(rng.integers(0, 5))  # 0: x constant, 1: y constant, else both model inputs
        x, y = (TensorSpec(shape, scale, zero_point,
                           rng.integers(-128, 128, size=shape, dtype=np.int8) if constant == n else None)
                for n, shape in enumerate((x_shape, y_shape)))
        output = TensorSpec(out_shape, scale, zero_point)
        label = f"seed {seed} #{number}"
        if rng.random() < 0.5:  # the condition a constant
            condition = bool_spec(cond_shape, rng.random(cond_shape) < 0.5)
            cases.append(ChainCase("SELECT_V2", (condition, x, y), output, None, label))
        else:  # the condition computed: GREATER of two model inputs
            operand = TensorSpec(cond_shape, log_uniform(rng, -3, -0.01), random_zero_point(rng))
            cases.append(ChainCase("GREATER", (operand, operand), bool_spec(cond_shape), None, label,
                                   then=(Then("SELECT_V2", (PREVIOUS, x, y), output),)))
    return cases


def test_select_v2_matches_tflite_micro_on_random_shapes(tmp_path):
    with chains():
        check_cases(_cases(seed=47, count=CONFIGURATIONS), tmp_path, samples=3)


def test_select_v2_small_exact_answers(tmp_path):
    # A condition column [2, 1] picks rows: the first row from x [2, 3], the second from y, a scalar.
    condition = bool_spec((2, 1), np.array([[True], [False]]))
    x, y = TensorSpec((2, 3), 0.1, 0), TensorSpec((), 0.1, 0)
    sample = int8_bytes(1, -2, 3, 4, 5, 6) + int8_bytes(-128)
    with chains():
        check_cases([ChainCase("SELECT_V2", (condition, x, y), TensorSpec((2, 3), 0.1, 0), None, "rows",
                               (sample,), (int8_bytes(1, -2, 3, -128, -128, -128),))], tmp_path)


@pytest.mark.parametrize("shapes, output", [
    (((2, 3), (2, 3), (3, 3)), (2, 3)),  # y does not broadcast
    (((2, 3), (2, 3), (2, 3)), (1, 2, 3)),  # output of another rank than the inputs
    (((4,), (4,), (4,)), (2, 2)),  # same size, other shape
])
def test_select_v2_refuses_what_tflite_micro_refuses(shapes, output):
    cond, x, y = shapes
    case = ChainCase("SELECT_V2", (bool_spec(cond, np.ones(cond, dtype=bool)), TensorSpec(x, 0.1, 0),
                                   TensorSpec(y, 0.1, 0)), TensorSpec(output, 0.1, 0))
    with pytest.raises(TinyEdgeError, match="TFLite-Micro refuses"):
        compile_graph(parse_tflite(chain_tflite(case)))
