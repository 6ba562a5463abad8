"""SPLIT and SPLIT_V against TFLite-Micro, byte for byte: 220 seeded random splits each (1-D to
4-D, every axis, negative axes, 1 to 5 outputs), hand-worked answers, a refusal, and a trained
model that splits channels into branches."""

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


def _ints(values) -> TensorSpec:
    data = np.array(values, dtype=np.int32)
    return TensorSpec(data.shape, 1.0, 0, data=data, dtype="int32")


def _split_options(count: int) -> schema.SplitOptionsT:
    options = schema.SplitOptionsT()
    options.numSplits = count
    return options


def _split_v_options(count: int) -> schema.SplitVOptionsT:
    options = schema.SplitVOptionsT()
    options.numSplits = count
    return options


def _cases(opcode: str, seed: int, count: int) -> list:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        rank = int(rng.integers(1, 5))
        shape = [int(d) for d in rng.integers(1, 5, size=rank)]
        axis = int(rng.integers(0, rank))
        pieces = int(rng.integers(1, 6))
        if opcode == "SPLIT":
            sizes = [int(rng.integers(1, 4))] * pieces
        else:
            sizes = [int(s) for s in rng.integers(1, 4, size=pieces)]
        shape[axis] = sum(sizes)
        scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
        outputs = [TensorSpec(tuple(shape[:axis] + [size] + shape[axis + 1:]), scale, zero_point) for size in sizes]
        written_axis = axis - rank if rng.random() < 0.3 else axis
        input_ = TensorSpec(tuple(shape), scale, zero_point)
        if opcode == "SPLIT":
            inputs, options = (_ints([written_axis]), input_), _split_options(pieces)
        else:
            inputs, options = (input_, _ints(sizes), _ints([written_axis])), _split_v_options(pieces)
        cases.append(outputs_case(opcode, inputs, outputs, options, f"seed {seed} #{number}"))
    return cases


@pytest.mark.parametrize("opcode", ["SPLIT", "SPLIT_V"])
def test_split_matches_tflite_micro_on_random_splits(tmp_path, opcode):
    with several_outputs():
        models = check_cases(_cases(opcode, seed=111 if opcode == "SPLIT" else 112, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_split_s8"}


def test_split_small_exact_answers(tmp_path):
    # [[1, 2, 3], [4, 5, 6]]: columns 0-1 and 2 (SPLIT_V), rows 0 and 1 (SPLIT).
    matrix = TensorSpec((2, 3), 0.1, -2)
    values = int8_bytes(1, 2, 3, 4, 5, 6)
    with several_outputs():
        check_cases([
            outputs_case("SPLIT_V", (matrix, _ints([2, 1]), _ints([1])),
                         [TensorSpec((2, 2), 0.1, -2), TensorSpec((2, 1), 0.1, -2)], _split_v_options(2), "columns",
                         (values,), (int8_bytes(1, 2, 4, 5, 3, 6),)),
            outputs_case("SPLIT", (_ints([0]), matrix), [TensorSpec((1, 3), 0.1, -2)] * 2, _split_options(2), "rows",
                         (values,), (values,)),
        ], tmp_path)


def test_split_into_unequal_pieces_is_refused():
    quant = Quantization((0.1,), (0,))
    tensors = (Tensor(0, "axis", (1,), "int32", data=np.array([0], dtype=np.int32)),
               Tensor(1, "x", (3,), "int8", quant), Tensor(2, "a", (2,), "int8", quant),
               Tensor(3, "b", (1,), "int8", quant))
    graph = Graph("g", tensors, (Operator(0, "SPLIT", (0, 1), (2, 3)),), (1,), (2, 3))
    with pytest.raises(UnsupportedOpError, match="layer 0 SPLIT.*pieces of one size"):
        lower(graph, graph.operators[0])


def test_trained_model_splitting_channels_into_branches(assert_bit_exact):
    x = keras.Input((6, 6, 3), batch_size=1)
    y = L.Conv2D(6, 3, padding="same", activation="relu")(x)
    a, b, c = keras.ops.split(y, [1, 3], axis=3)  # sizes 1, 2, 3: SPLIT_V
    y = L.Concatenate()([L.Conv2D(2, 1)(a), L.Conv2D(2, 3, padding="same")(b), c])
    top, bottom = keras.ops.split(y, 2, axis=1)  # halves: SPLIT
    y = L.Concatenate(axis=1)([L.Conv2D(7, 1)(bottom), top])
    model = train_briefly(keras.Model(x, L.Conv2D(2, 1)(y)))
    result = assert_bit_exact(model)
    opcodes = [layer.opcode for layer in result.model.layers]
    assert "SPLIT_V" in opcodes and "SPLIT" in opcodes, opcodes
    # Every output of a several-output op has a buffer of its own, alive as long as it is read.
    assert not plan_problems(result.model.graph, result.model.calls, result.model.plan)
