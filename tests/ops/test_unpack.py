"""UNPACK against TFLite-Micro, byte for byte: 220 seeded random unstacks (1-D to 4-D inputs,
every axis, negative axes), a hand-worked answer, a refusal, and a trained model that unstacks
rows with keras.ops.unstack."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras_training import train_briefly
from multi_output import outputs_case, several_outputs
from single_op import TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower
from tinyedge.plan_check import plan_problems

L = keras.layers
CONFIGURATIONS = 220


def _options(count: int, axis: int) -> schema.UnpackOptionsT:
    options = schema.UnpackOptionsT()
    options.num, options.axis = count, axis
    return options


def _cases(seed: int, count: int) -> list:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        rank = int(rng.integers(1, 5))
        shape = tuple(int(d) for d in rng.integers(1, 6, size=rank))
        if rank == 1 and shape[0] == 1:
            shape = (2,)  # a 1-D input unpacks into 0-D outputs; keep more than one
        axis = int(rng.integers(0, rank))
        scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
        piece = TensorSpec(shape[:axis] + shape[axis + 1:], scale, zero_point)
        written_axis = axis - rank if rng.random() < 0.3 else axis
        cases.append(outputs_case("UNPACK", (TensorSpec(shape, scale, zero_point),), [piece] * shape[axis],
                                  _options(shape[axis], written_axis), f"seed {seed} #{number}"))
    return cases


def test_unpack_matches_tflite_micro_on_random_unstacks(tmp_path):
    with several_outputs():
        models = check_cases(_cases(seed=121, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_split_s8"}


def test_unpack_small_exact_answer(tmp_path):
    # The columns of [[1, 2, 3], [4, 5, 6]]: [1, 4], [2, 5], [3, 6].
    with several_outputs():
        check_cases([outputs_case("UNPACK", (TensorSpec((2, 3), 0.1, 3),), [TensorSpec((2,), 0.1, 3)] * 3,
                                  _options(3, 1), "columns", (int8_bytes(1, 2, 3, 4, 5, 6),),
                                  (int8_bytes(1, 4, 2, 5, 3, 6),))], tmp_path)


def test_unpack_with_a_num_the_axis_does_not_have_is_refused():
    quant = Quantization((0.1,), (0,))
    tensors = (Tensor(0, "x", (2, 3), "int8", quant), Tensor(1, "a", (3,), "int8", quant),
               Tensor(2, "b", (3,), "int8", quant), Tensor(3, "c", (3,), "int8", quant))
    graph = Graph("g", tensors, (Operator(0, "UNPACK", (0,), (1, 2, 3), {"num": 3, "axis": 0}),), (0,), (1, 2, 3))
    with pytest.raises(UnsupportedOpError, match="layer 0 UNPACK.*does not unpack into 3"):
        lower(graph, graph.operators[0])


def test_trained_model_unstacking_rows(assert_bit_exact):
    x = keras.Input((4, 5, 2), batch_size=1)
    y = L.Conv2D(3, 3, padding="same", activation="relu")(x)
    rows = keras.ops.unstack(y, axis=1)
    y = L.Concatenate()([L.Dense(2)(row) for row in rows])
    model = train_briefly(keras.Model(x, L.Dense(3)(L.Flatten()(y))))
    result = assert_bit_exact(model)
    assert "UNPACK" in [layer.opcode for layer in result.model.layers]
    # Every output of a several-output op has a buffer of its own, alive as long as it is read.
    assert not plan_problems(result.model.graph, result.model.calls, result.model.plan)
