"""CUMSUM against TFLite-Micro, byte for byte: 220 seeded random configurations (1-D to 4-D, every
axis, negative axes, exclusive and reverse, some axes long enough for the running sum to wrap),
hand-worked answers and refusals. No trained model: the converter leaves keras.ops.cumsum in float."""

from __future__ import annotations

import numpy as np
import pytest
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower

CONFIGURATIONS = 220


def _options(exclusive: bool = False, reverse: bool = False) -> schema.CumsumOptionsT:
    options = schema.CumsumOptionsT()
    options.exclusive, options.reverse = exclusive, reverse
    return options


def _axis(axis: int) -> TensorSpec:
    return TensorSpec((1,), 1.0, 0, data=np.array([axis], dtype=np.int32), dtype="int32")


def _cumsum_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        rank = int(rng.integers(1, 5))
        shape = [int(d) for d in rng.integers(1, 6, size=rank)]
        axis = int(rng.integers(0, rank))
        if rng.random() < 0.1:
            shape[axis] = int(rng.integers(16, 40))  # 16+ rescaled inputs can pass 2^31 and wrap
        scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
        output_scale = scale * log_uniform(rng, -0.5, 1.5)
        written_axis = axis - rank if rng.random() < 0.3 else axis
        cases.append(OpCase("CUMSUM", (TensorSpec(tuple(shape), scale, zero_point), _axis(written_axis)),
                            TensorSpec(tuple(shape), output_scale, random_zero_point(rng)),
                            _options(bool(rng.random() < 0.4), bool(rng.random() < 0.4)), f"seed {seed} #{number}"))
    return cases


def test_cumsum_matches_tflite_micro_on_random_shapes_axes_and_flags(tmp_path):
    models = check_cases(_cumsum_cases(seed=41, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_cumsum_s8"}


@pytest.mark.parametrize("exclusive, reverse, expected", [
    (False, False, (1, 3, 6)), (True, False, (0, 1, 3)), (False, True, (6, 5, 3)), (True, True, (5, 3, 0)),
])
def test_cumsum_small_exact_answer(tmp_path, exclusive, reverse, expected):
    # [1, 2, 3], scale 1, zero point 0 in and out: every line starts from the rescaled offset, 0 here.
    spec = TensorSpec((3,), 1.0, 0)
    check_cases([OpCase("CUMSUM", (spec, _axis(0)), spec, _options(exclusive, reverse), "1, 2, 3",
                        (int8_bytes(1, 2, 3),), (int8_bytes(*expected),))], tmp_path)


def test_cumsum_starts_from_the_rescaled_offset(tmp_path):
    # Zero point 1, scale 0.5 in, scale 1 out: [1, 1] is [0, 0], but TFLite-Micro's running sum starts at
    # one input step below zero: -1 * 0.5 = -0.5, rounded away from zero to -1, twice.
    check_cases([OpCase("CUMSUM", (TensorSpec((2,), 0.5, 1), _axis(0)), TensorSpec((2,), 1.0, 0), _options(),
                        "offset", (int8_bytes(1, 1),), (int8_bytes(-1, -1),))], tmp_path)


def test_cumsum_axis_outside_the_input_is_refused():
    quant = Quantization((0.1,), (0,))
    tensors = (Tensor(0, "x", (2, 3), "int8", quant),
               Tensor(1, "axis", (1,), "int32", data=np.array([2], dtype=np.int32)),
               Tensor(2, "y", (2, 3), "int8", quant))
    graph = Graph("g", tensors, (Operator(0, "CUMSUM", (0, 1), (2,), {}),), (0,), (2,))
    with pytest.raises(UnsupportedOpError, match="layer 0 CUMSUM.*axis 2 is outside"):
        lower(graph, graph.operators[0])

