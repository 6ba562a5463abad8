"""SPACE_TO_DEPTH against TFLite-Micro, byte for byte: 220 seeded random shapes and block sizes,
a hand-worked answer, a refusal, and a trained model with a space-to-depth stem
(tf.nn.space_to_depth)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras_training import train_briefly
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower

L = keras.layers
CONFIGURATIONS = 220


def _options(block: int) -> schema.SpaceToDepthOptionsT:
    options = schema.SpaceToDepthOptionsT()
    options.blockSize = block
    return options


def _cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        block = int(rng.integers(1, 5))
        batches, height, width, depth = int(rng.integers(1, 3)), *(int(d) for d in rng.integers(1, 5, size=3))
        scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
        cases.append(OpCase("SPACE_TO_DEPTH", (TensorSpec((batches, height * block, width * block, depth), scale,
                                                          zero_point),),
                            TensorSpec((batches, height, width, depth * block * block), scale, zero_point),
                            _options(block), f"seed {seed} #{number}"))
    return cases


def test_space_to_depth_matches_tflite_micro_on_random_shapes(tmp_path):
    models = check_cases(_cases(seed=82, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_space_to_depth_s8"}


def test_space_to_depth_small_exact_answer(tmp_path):
    # The 2x4 image [[1, 2, 5, 6], [3, 4, 7, 8]] in 2x2 blocks: pixels (1, 2, 3, 4) and (5, 6, 7, 8).
    check_cases([OpCase("SPACE_TO_DEPTH", (TensorSpec((1, 2, 4, 1), 0.1, 0),), TensorSpec((1, 1, 2, 4), 0.1, 0),
                        _options(2), "2x2", (int8_bytes(1, 2, 5, 6, 3, 4, 7, 8),),
                        (int8_bytes(1, 2, 3, 4, 5, 6, 7, 8),))], tmp_path)


def test_space_to_depth_with_a_height_the_block_does_not_divide_is_refused():
    quant = Quantization((0.1,), (0,))
    tensors = (Tensor(0, "x", (1, 3, 4, 1), "int8", quant), Tensor(1, "y", (1, 1, 2, 4), "int8", quant))
    graph = Graph("g", tensors, (Operator(0, "SPACE_TO_DEPTH", (0,), (1,), {"blockSize": 2}),), (0,), (1,))
    with pytest.raises(UnsupportedOpError, match="layer 0 SPACE_TO_DEPTH.*height and width block_size divides"):
        lower(graph, graph.operators[0])


class SpaceToDepth(L.Layer):
    def call(self, x):
        return tf.nn.space_to_depth(x, 2)

    def compute_output_shape(self, shape):
        return (shape[0], shape[1] // 2, shape[2] // 2, shape[3] * 4)


def test_trained_space_to_depth_stem(assert_bit_exact):
    x = keras.Input((8, 8, 3), batch_size=1)
    y = SpaceToDepth()(L.Conv2D(4, 3, padding="same", activation="relu")(x))
    model = train_briefly(keras.Model(x, L.Conv2D(2, 3)(y)))
    result = assert_bit_exact(model)
    assert "SPACE_TO_DEPTH" in [layer.opcode for layer in result.model.layers]
