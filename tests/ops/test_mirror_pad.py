"""MIRROR_PAD against TFLite-Micro, byte for byte: 240 seeded random shapes and paddings (1-D to
5-D, REFLECT and SYMMETRIC, up to the widest each mode allows, int32 and int64 paddings), hand-worked
answers, a refusal, and a trained model with reflection padding."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import single_op
import tensorflow as tf
from keras_training import train_briefly
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower

L = keras.layers
CONFIGURATIONS = 240
# Paddings may be int64; the harness writes int8/int16/int32/float32 tensors only.
single_op._TENSOR_TYPES.setdefault("int64", schema.TensorType.INT64)


def _options(mode: str) -> schema.MirrorPadOptionsT:
    options = schema.MirrorPadOptionsT()
    options.mode = getattr(schema.MirrorPadMode, mode)
    return options


def _paddings(pairs, dtype: str = "int32") -> TensorSpec:
    return TensorSpec((len(pairs), 2), 1.0, 0, data=np.array(pairs, dtype=dtype), dtype=dtype)


def _cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        mode = ("REFLECT", "SYMMETRIC")[number % 2]
        rank = int(rng.integers(1, 6))
        shape = tuple(int(d) for d in rng.integers(1, 6, size=rank))
        widest = [d - 1 if mode == "REFLECT" else d for d in shape]
        pairs = [(int(rng.integers(0, w + 1)), int(rng.integers(0, w + 1))) for w in widest]
        scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
        out_shape = tuple(d + left + right for d, (left, right) in zip(shape, pairs))
        dtype = "int64" if rng.random() < 0.25 else "int32"
        cases.append(OpCase("MIRROR_PAD", (TensorSpec(shape, scale, zero_point), _paddings(pairs, dtype)),
                            TensorSpec(out_shape, scale, zero_point), _options(mode), f"seed {seed} #{number}"))
    return cases


def test_mirror_pad_matches_tflite_micro_on_random_shapes_and_paddings(tmp_path):
    models = check_cases(_cases(seed=91, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_mirror_pad_s8"}


def test_mirror_pad_small_exact_answers(tmp_path):
    row = TensorSpec((3,), 0.1, 0)
    values = int8_bytes(1, 2, 3)
    check_cases([
        OpCase("MIRROR_PAD", (row, _paddings([(2, 2)])), TensorSpec((7,), 0.1, 0), _options("REFLECT"), "reflect",
               (values,), (int8_bytes(3, 2, 1, 2, 3, 2, 1),)),
        OpCase("MIRROR_PAD", (row, _paddings([(2, 3)])), TensorSpec((8,), 0.1, 0), _options("SYMMETRIC"),
               "symmetric", (values,), (int8_bytes(2, 1, 1, 2, 3, 3, 2, 1),)),
    ], tmp_path)


def test_reflect_padding_wider_than_the_input_allows_is_refused():
    quant = Quantization((0.1,), (0,))
    tensors = (Tensor(0, "x", (3,), "int8", quant),
               Tensor(1, "paddings", (1, 2), "int32", data=np.array([[3, 0]], dtype=np.int32)),
               Tensor(2, "y", (6,), "int8", quant))
    graph = Graph("g", tensors, (Operator(0, "MIRROR_PAD", (0, 1), (2,), {"mode": 0}),), (0,), (2,))
    with pytest.raises(UnsupportedOpError, match="layer 0 MIRROR_PAD.*too wide to mirror axis 0 of 3"):
        lower(graph, graph.operators[0])


class ReflectionPadding2D(L.Layer):
    def call(self, x):
        return tf.pad(x, [[0, 0], [1, 1], [2, 1], [0, 0]], mode="REFLECT")

    def compute_output_shape(self, shape):
        return (shape[0], shape[1] + 2, shape[2] + 3, shape[3])


def test_trained_reflection_padding(assert_bit_exact):
    x = keras.Input((5, 5, 2), batch_size=1)
    y = ReflectionPadding2D()(L.Conv2D(4, 3, padding="same", activation="relu")(x))
    model = train_briefly(keras.Model(x, L.Conv2D(2, 3)(y)))
    result = assert_bit_exact(model)
    assert "MIRROR_PAD" in [layer.opcode for layer in result.model.layers]
