"""SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND against TFLite-Micro, byte for byte: 220 seeded random
configurations each (3-D and 4-D, block shapes, crops), hand-worked answers, refusals (padding,
which TFLite-Micro fills with uninitialized memory), and a trained model that goes to batch and
back around a convolution."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras_training import train_briefly
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower

L = keras.layers
CONFIGURATIONS = 220


def _ints(values, shape=None) -> TensorSpec:
    data = np.array(values, dtype=np.int32).reshape(shape or (len(values),))
    return TensorSpec(data.shape, 1.0, 0, data=data, dtype="int32")


def _space_to_batch_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        rank = int(rng.integers(3, 5))
        spatial = rank - 2
        batches, depth = int(rng.integers(1, 3)), int(rng.integers(1, 4))
        sizes = [int(d) for d in rng.integers(1, 6, size=spatial)]
        block = [int(b) for b in rng.integers(1, 4, size=spatial)]
        paddings = [0] * (2 * spatial)  # TFLite-Micro pads with uninitialized memory: refused, see below
        out_sizes = [int(d) for d in rng.integers(1, 4, size=spatial)]
        sizes = [size * b for size, b in zip(out_sizes, block)]
        scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
        inputs = (TensorSpec((batches, *sizes, depth), scale, zero_point), _ints(block),
                  _ints(paddings, (spatial, 2)))
        output = TensorSpec((batches * int(np.prod(block)), *out_sizes, depth), scale, zero_point)
        cases.append(OpCase("SPACE_TO_BATCH_ND", inputs, output, None, f"seed {seed} #{number}"))
    return cases


def _batch_to_space_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        rank = int(rng.integers(3, 5))
        spatial = rank - 2
        batches, depth = int(rng.integers(1, 3)), int(rng.integers(1, 4))
        out_sizes = [int(d) for d in rng.integers(1, 7, size=spatial)]
        block = [int(b) for b in rng.integers(1, 4, size=spatial)]
        crops, in_sizes = [], []
        for size, b in zip(out_sizes, block):
            top = int(rng.integers(0, 3))
            in_size = -(-(size + top) // b)
            crops += [top, in_size * b - size - top]
            in_sizes.append(in_size)
        scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
        inputs = (TensorSpec((batches * int(np.prod(block)), *in_sizes, depth), scale, zero_point), _ints(block),
                  _ints(crops, (spatial, 2)))
        output = TensorSpec((batches, *out_sizes, depth), scale, zero_point)
        cases.append(OpCase("BATCH_TO_SPACE_ND", inputs, output, None, f"seed {seed} #{number}"))
    return cases


def test_space_to_batch_nd_matches_tflite_micro_on_random_blocks_and_paddings(tmp_path):
    models = check_cases(_space_to_batch_cases(seed=101, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_space_to_batch_nd_s8"}


def test_batch_to_space_nd_matches_tflite_micro_on_random_blocks_and_crops(tmp_path):
    models = check_cases(_batch_to_space_cases(seed=102, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_batch_to_space_nd_s8"}


def test_space_and_batch_small_exact_answers(tmp_path):
    # The 1x4 row [1, 2, 3, 4] in blocks of 2: batch 0 takes columns 0 and 2, batch 1 columns 1 and 3;
    # back to space with the first column cropped.
    check_cases([
        OpCase("SPACE_TO_BATCH_ND", (TensorSpec((1, 1, 4, 1), 0.1, 5), _ints([1, 2]), _ints([0, 0, 0, 0], (2, 2))),
               TensorSpec((2, 1, 2, 1), 0.1, 5), None, "split", (int8_bytes(1, 2, 3, 4),), (int8_bytes(1, 3, 2, 4),)),
        OpCase("BATCH_TO_SPACE_ND", (TensorSpec((2, 1, 2, 1), 0.1, 5), _ints([1, 2]), _ints([0, 0, 1, 0], (2, 2))),
               TensorSpec((1, 1, 3, 1), 0.1, 5), None, "join and crop", (int8_bytes(1, 3, 2, 4),),
               (int8_bytes(2, 3, 4),)),
    ], tmp_path)


def test_space_to_batch_nd_with_padding_is_refused():
    quant = Quantization((0.1,), (0,))
    tensors = (Tensor(0, "x", (1, 1, 3, 1), "int8", quant),
               Tensor(1, "block", (2,), "int32", data=np.array([1, 2], dtype=np.int32)),
               Tensor(2, "paddings", (2, 2), "int32", data=np.array([[0, 0], [1, 0]], dtype=np.int32)),
               Tensor(3, "y", (2, 1, 2, 1), "int8", quant))
    graph = Graph("g", tensors, (Operator(0, "SPACE_TO_BATCH_ND", (0, 1, 2), (3,)),), (0,), (3,))
    with pytest.raises(UnsupportedOpError, match="layer 0 SPACE_TO_BATCH_ND.*uninitialized value"):
        lower(graph, graph.operators[0])


def test_batch_to_space_nd_with_an_output_the_crops_do_not_give_is_refused():
    quant = Quantization((0.1,), (0,))
    tensors = (Tensor(0, "x", (4, 2, 2, 1), "int8", quant),
               Tensor(1, "block", (2,), "int32", data=np.array([2, 2], dtype=np.int32)),
               Tensor(2, "crops", (2, 2), "int32", data=np.zeros((2, 2), dtype=np.int32)),
               Tensor(3, "y", (1, 4, 3, 1), "int8", quant))
    graph = Graph("g", tensors, (Operator(0, "BATCH_TO_SPACE_ND", (0, 1, 2), (3,)),), (0,), (3,))
    with pytest.raises(UnsupportedOpError, match="layer 0 BATCH_TO_SPACE_ND.*does not follow from input"):
        lower(graph, graph.operators[0])


class ToBatch(L.Layer):
    def call(self, x):
        return tf.space_to_batch_nd(x, [2, 2], [[0, 0], [0, 0]])

    def compute_output_shape(self, shape):
        return (shape[0] * 4, shape[1] // 2, shape[2] // 2, shape[3])


class FromBatch(L.Layer):
    def call(self, x):
        return tf.batch_to_space(x, [2, 2], [[0, 0], [1, 1]])

    def compute_output_shape(self, shape):
        return (shape[0] // 4, shape[1] * 2, shape[2] * 2 - 2, shape[3])


def test_trained_model_through_batch_and_back(assert_bit_exact):
    x = keras.Input((6, 4, 2), batch_size=1)
    y = ToBatch()(L.Conv2D(3, 3, padding="same", activation="relu")(x))
    y = FromBatch()(L.MaxPooling2D(1)(L.Conv2D(3, 1, activation="relu")(y)))
    model = train_briefly(keras.Model(x, L.Conv2D(2, (3, 1))(y)))
    result = assert_bit_exact(model)
    opcodes = [layer.opcode for layer in result.model.layers]
    assert "SPACE_TO_BATCH_ND" in opcodes and "BATCH_TO_SPACE_ND" in opcodes, opcodes
