"""GATHER against TFLite-Micro, byte for byte: 220 seeded random gathers (1-D to 4-D inputs, 0-D
to 2-D positions, every axis, batch_dims, negative axes), a hand-worked answer, refusals, and a
trained model picking channels with keras.ops.take."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras_training import train_briefly
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower

L = keras.layers
CONFIGURATIONS = 220


def _options(axis: int, batch_dims: int = 0) -> schema.GatherOptionsT:
    options = schema.GatherOptionsT()
    options.axis, options.batchDims = axis, batch_dims
    return options


def _positions(values: np.ndarray) -> TensorSpec:
    return TensorSpec(values.shape, 1.0, 0, data=values.astype(np.int32), dtype="int32")


def _gather_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        rank = int(rng.integers(1, 5))
        shape = tuple(int(d) for d in rng.integers(1, 6, size=rank))
        axis = int(rng.integers(0, rank))
        batch_dims = int(rng.integers(0, axis + 1)) if rng.random() < 0.3 else 0
        extra = tuple(int(d) for d in rng.integers(1, 5, size=int(rng.integers(0, 3))))
        positions = rng.integers(0, shape[axis], size=shape[:batch_dims] + extra)
        out_shape = shape[:axis] + positions.shape[batch_dims:] + shape[axis + 1:]
        scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
        written_axis = axis - rank if rng.random() < 0.3 else axis
        cases.append(OpCase("GATHER", (TensorSpec(shape, scale, zero_point), _positions(positions)),
                            TensorSpec(out_shape, scale, zero_point), _options(written_axis, batch_dims),
                            f"seed {seed} #{number}"))
    return cases


def test_gather_matches_tflite_micro_on_random_positions(tmp_path):
    models = check_cases(_gather_cases(seed=71, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_gather_s8"}


def test_gather_small_exact_answer(tmp_path):
    # Columns 2, 0, 2 of [[1, 2, 3], [4, 5, 6]].
    check_cases([OpCase("GATHER", (TensorSpec((2, 3), 0.1, 0), _positions(np.array([2, 0, 2]))),
                        TensorSpec((2, 3), 0.1, 0), _options(1), "columns", (int8_bytes(1, 2, 3, 4, 5, 6),),
                        (int8_bytes(3, 1, 3, 6, 4, 6),))], tmp_path)


def test_gather_outside_the_axis_is_refused():
    quant = Quantization((0.1,), (0,))
    tensors = (Tensor(0, "x", (4,), "int8", quant),
               Tensor(1, "positions", (2,), "int32", data=np.array([1, 4], dtype=np.int32)),
               Tensor(2, "y", (2,), "int8", quant))
    graph = Graph("g", tensors, (Operator(0, "GATHER", (0, 1), (2,), {"axis": 0, "batchDims": 0}),), (0,), (2,))
    with pytest.raises(UnsupportedOpError, match="layer 0 GATHER.*leave axis 0 of 4"):
        lower(graph, graph.operators[0])


def test_trained_model_taking_channels(assert_bit_exact):
    x = keras.Input((4, 4, 3), batch_size=1)
    y = L.Conv2D(6, 3, padding="same", activation="relu")(x)
    y = keras.ops.take(y, np.array([5, 0, 2, 2], dtype=np.int32), axis=3)  # int64: TFLM refuses
    model = train_briefly(keras.Model(x, L.Conv2D(2, 1)(y)))
    result = assert_bit_exact(model)
    assert "GATHER" in [layer.opcode for layer in result.model.layers]
