"""TRANSPOSE against TFLite-Micro, byte for byte: 240 seeded random permutations of 1-D to 5-D
tensors, a small hand-worked answer, and a trained model with a Keras Permute layer."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras_training import train_briefly
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower

L = keras.layers
CONFIGURATIONS = 240


def _perm(values) -> TensorSpec:
    return TensorSpec((len(values),), 1.0, 0, data=np.array(values, dtype=np.int32), dtype="int32")


def _transpose_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        rank = int(rng.integers(1, 6))
        shape = tuple(int(d) for d in rng.integers(1, 6, size=rank))
        perm = [int(p) for p in rng.permutation(rank)]
        scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
        cases.append(OpCase("TRANSPOSE", (TensorSpec(shape, scale, zero_point), _perm(perm)),
                            TensorSpec(tuple(shape[p] for p in perm), scale, zero_point), None,
                            f"seed {seed} #{number}"))
    return cases


def test_transpose_matches_tflite_micro_on_random_shapes_and_permutations(tmp_path):
    models = check_cases(_transpose_cases(seed=41, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_transpose_s8"}


def test_transpose_small_exact_answer(tmp_path):
    # [[1, 2, 3], [4, 5, 6]] transposed.
    check_cases([OpCase("TRANSPOSE", (TensorSpec((2, 3), 0.5, -1), _perm([1, 0])), TensorSpec((3, 2), 0.5, -1),
                        None, "2x3", (int8_bytes(1, 2, 3, 4, 5, 6),), (int8_bytes(1, 4, 2, 5, 3, 6),))], tmp_path)


def test_transpose_with_a_repeated_axis_is_refused():
    quant = Quantization((0.1,), (0,))
    tensors = (Tensor(0, "x", (2, 2), "int8", quant),
               Tensor(1, "perm", (2,), "int32", data=np.array([0, 0], dtype=np.int32)),
               Tensor(2, "y", (2, 2), "int8", quant))
    graph = Graph("g", tensors, (Operator(0, "TRANSPOSE", (0, 1), (2,)),), (0,), (2,))
    with pytest.raises(UnsupportedOpError, match="layer 0 TRANSPOSE.*not an order of the 2 axes"):
        lower(graph, graph.operators[0])


def test_trained_permute_layer(assert_bit_exact):
    x = keras.Input((4, 6, 3), batch_size=1)
    y = L.Conv2D(5, 3, padding="same", activation="relu")(x)
    y = L.Permute((2, 1, 3))(y)
    model = train_briefly(keras.Model(x, L.Conv2D(2, 3)(y)))
    result = assert_bit_exact(model)
    assert "TRANSPOSE" in [layer.opcode for layer in result.model.layers]


def test_transpose_copies_bytes_whatever_the_output_quantization(tmp_path):
    # TFLite-Micro neither checks nor requantizes: an output of another scale and zero point gets the same bytes.
    check_cases([OpCase("TRANSPOSE", (TensorSpec((2, 2), 0.5, -1), _perm([1, 0])), TensorSpec((2, 2), 0.25, 100),
                        None, "other quantization", (int8_bytes(1, 2, -128, 127),), (int8_bytes(1, -128, 2, 127),))],
                tmp_path)
