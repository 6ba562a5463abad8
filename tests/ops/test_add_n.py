"""ADD_N against TFLite-Micro, byte for byte: 210 seeded random sums (2 to 8 inputs, 0-D to 4-D,
some inputs constant), a hand-worked answer and refusals. No trained model: Keras's Add of three
inputs converts to a chain of ADDs, and the converter leaves tf.math.add_n in float."""

from __future__ import annotations

import numpy as np
import pytest
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower

CONFIGURATIONS = 210


def _add_n_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        shape = tuple(int(d) for d in rng.integers(1, 6, size=int(rng.integers(0, 5))))
        scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
        output_scale = scale * log_uniform(rng, -1, 1.5)
        inputs = tuple(TensorSpec(shape, scale, zero_point,
                                  data=rng.integers(-128, 128, size=shape, dtype=np.int8) if rng.random() < 0.2
                                  else None)
                       for _ in range(int(rng.integers(2, 9))))
        if all(spec.data is not None for spec in inputs):
            inputs = (TensorSpec(shape, scale, zero_point), *inputs[1:])
        cases.append(OpCase("ADD_N", inputs, TensorSpec(shape, output_scale, random_zero_point(rng)), None,
                            f"seed {seed} #{number}"))
    return cases


def test_add_n_matches_tflite_micro_on_random_shapes_counts_and_scales(tmp_path):
    models = check_cases(_add_n_cases(seed=31, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_add_n_s8"}


def test_add_n_small_exact_answer(tmp_path):
    # Scale 0.5, zero point 1 in, scale 1, zero point 0 out. TFLite-Micro's sum starts from the
    # rescaled input offset (one extra -1 in input units): [2, 2, 2] gives (-1 + 1 + 1 + 1) * 0.5 = 1
    # (not 1.5 -> 2), [1, 5, 9] gives (-1 + 0 + 4 + 8) * 0.5 = 5.5, rounded away from zero: 6.
    spec = TensorSpec((2,), 0.5, 1)
    check_cases([OpCase("ADD_N", (spec, spec, spec), TensorSpec((2,), 1.0, 0), None, "three inputs",
                        (int8_bytes(2, 1, 2, 5, 2, 9),), (int8_bytes(1, 6),))], tmp_path)


def _graph(second_scale: float, second_shape: tuple[int, ...] = (4,)) -> Graph:
    tensors = (Tensor(0, "a", (4,), "int8", Quantization((0.1,), (3,))),
               Tensor(1, "b", second_shape, "int8", Quantization((second_scale,), (3,))),
               Tensor(2, "y", (4,), "int8", Quantization((0.2,), (0,))))
    return Graph("g", tensors, (Operator(0, "ADD_N", (0, 1), (2,), {}),), (0, 1), (2,))


@pytest.mark.parametrize("graph, message", [
    (_graph(0.2), "input 'b' is not quantized as 'a'"),
    (_graph(0.1, (2, 2)), r"input 'b' \[2, 2\] is not shaped as 'a'"),
])
def test_add_n_inputs_tflite_micro_refuses_are_refused(graph, message):
    with pytest.raises(UnsupportedOpError, match=message):
        lower(graph, graph.operators[0])

