"""STRIDED_SLICE and SLICE against TFLite-Micro, byte for byte: 240 seeded random slices each
(negative indices, strides and masks, shrunk axes; SLICE's -1 sizes and int64 operands),
small hand-worked answers, and trained models slicing with Python indexing and keras.ops.slice."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import single_op
from keras_training import train_briefly
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower

L = keras.layers
CONFIGURATIONS = 240
# SLICE takes int64 begin and size too; the harness writes int8/int16/int32/float32 tensors only.
single_op._TENSOR_TYPES.setdefault("int64", schema.TensorType.INT64)


def _ints(values, dtype: str = "int32") -> TensorSpec:
    return TensorSpec((len(values),), 1.0, 0, data=np.array(values, dtype=dtype), dtype=dtype)


def _options(begin_mask: int = 0, end_mask: int = 0, shrink_mask: int = 0) -> schema.StridedSliceOptionsT:
    options = schema.StridedSliceOptionsT()
    options.beginMask, options.endMask, options.shrinkAxisMask = begin_mask, end_mask, shrink_mask
    return options


def _strided_slice_case(rng: np.random.Generator, label: str) -> OpCase:
    rank = int(rng.integers(1, 5))
    shape = tuple(int(d) for d in rng.integers(1, 8, size=rank))
    begin, end, strides, out_shape = [], [], [], []
    begin_mask = end_mask = shrink_mask = 0
    for axis, dim in enumerate(shape):
        if rng.random() < 0.15:  # shrink: one index, negative half the time
            index = int(rng.integers(0, dim))
            begin.append(index - dim if rng.random() < 0.5 else index)
            end.append(int(rng.integers(-dim, dim + 1)))  # ignored
            strides.append(1)
            shrink_mask |= 1 << axis
            continue
        length = 0
        while not length:  # tinyedge takes no empty tensors: draw again until the slice holds something
            stride = int(rng.choice([-3, -2, -1, 1, 1, 2, 3]))
            start, stop = (int(v) for v in rng.integers(-dim - 2, dim + 3, size=2))
            masked_begin, masked_end = rng.random() < 0.2, rng.random() < 0.2
            python = slice(None if masked_begin else start, None if masked_end else stop, stride)
            length = len(range(*python.indices(dim)))
        begin_mask |= masked_begin << axis
        end_mask |= masked_end << axis
        begin.append(start)
        end.append(stop)
        strides.append(stride)
        out_shape.append(length)
    scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
    inputs = (TensorSpec(shape, scale, zero_point), _ints(begin), _ints(end), _ints(strides))
    return OpCase("STRIDED_SLICE", inputs, TensorSpec(tuple(out_shape), scale, zero_point),
                  _options(begin_mask, end_mask, shrink_mask), label)


def _slice_case(rng: np.random.Generator, label: str) -> OpCase:
    rank = int(rng.integers(1, 6))
    shape = tuple(int(d) for d in rng.integers(1, 7, size=rank))
    begin = [int(rng.integers(0, dim)) for dim in shape]
    size = [-1 if rng.random() < 0.2 else int(rng.integers(1, dim - start + 1)) for dim, start in zip(shape, begin)]
    out_shape = tuple(dim - start if length == -1 else length for dim, start, length in zip(shape, begin, size))
    dtype = "int64" if rng.random() < 0.25 else "int32"
    scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
    inputs = (TensorSpec(shape, scale, zero_point), _ints(begin, dtype), _ints(size, dtype))
    return OpCase("SLICE", inputs, TensorSpec(out_shape, scale, zero_point), None, label)


def test_strided_slice_matches_tflite_micro_on_random_slices(tmp_path):
    rng = np.random.default_rng(51)
    cases = [_strided_slice_case(rng, f"seed 51 #{number}") for number in range(CONFIGURATIONS)]
    models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {"te_strided_slice_s8"}


def test_slice_matches_tflite_micro_on_random_boxes(tmp_path):
    rng = np.random.default_rng(52)
    cases = [_slice_case(rng, f"seed 52 #{number}") for number in range(CONFIGURATIONS)]
    models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {"te_strided_slice_s8"}


def test_strided_slice_and_slice_small_exact_answers(tmp_path):
    row = TensorSpec((6,), 0.25, 7)
    values = int8_bytes(10, 11, 12, 13, 14, 15)
    check_cases([
        OpCase("STRIDED_SLICE", (row, _ints([-1]), _ints([0]), _ints([-2])), TensorSpec((3,), 0.25, 7), _options(),
               "x[-1:0:-2]", (values,), (int8_bytes(15, 13, 11),)),
        OpCase("STRIDED_SLICE", (TensorSpec((2, 3), 0.25, 7), _ints([1, 0]), _ints([2, 3]), _ints([1, 2])),
               TensorSpec((2,), 0.25, 7), _options(shrink_mask=1), "x[1, ::2]", (values,), (int8_bytes(13, 15),)),
        OpCase("SLICE", (row, _ints([2]), _ints([-1])), TensorSpec((4,), 0.25, 7), None, "x[2:]", (values,),
               (int8_bytes(12, 13, 14, 15),)),
    ], tmp_path)


def test_slice_outside_the_input_is_refused():
    quant = Quantization((0.1,), (0,))
    tensors = (Tensor(0, "x", (1, 4), "int8", quant),
               Tensor(1, "begin", (2,), "int32", data=np.array([0, 3], dtype=np.int32)),
               Tensor(2, "size", (2,), "int32", data=np.array([1, 2], dtype=np.int32)),
               Tensor(3, "y", (1, 2), "int8", quant))
    graph = Graph("g", tensors, (Operator(0, "SLICE", (0, 1, 2), (3,)),), (0,), (3,))
    with pytest.raises(UnsupportedOpError, match="layer 0 SLICE.*reach outside input"):
        lower(graph, graph.operators[0])


def test_trained_model_with_python_slicing_and_cropping(assert_bit_exact):
    x = keras.Input((8, 8, 3), batch_size=1)
    y = L.Conv2D(6, 3, padding="same", activation="relu")(x)
    y = L.Cropping2D(((1, 2), (0, 1)))(y)
    y = y[:, ::2, 1:, 1:5]
    model = train_briefly(keras.Model(x, L.Conv2D(2, 1)(y)))
    result = assert_bit_exact(model)
    assert "STRIDED_SLICE" in [layer.opcode for layer in result.model.layers]


def test_trained_model_with_keras_ops_slice(assert_bit_exact):
    x = keras.Input((6, 5, 4), batch_size=1)
    y = L.Conv2D(6, 3, padding="same", activation="relu")(x)
    y = keras.ops.slice(y, (0, 1, 0, 2), (-1, 4, 5, 3))  # -1: the whole batch
    model = train_briefly(keras.Model(x, L.Conv2D(2, 1)(y)))
    result = assert_bit_exact(model)
    opcodes = [layer.opcode for layer in result.model.layers]
    assert "SLICE" in opcodes or "STRIDED_SLICE" in opcodes, opcodes
