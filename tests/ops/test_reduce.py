"""REDUCE_MAX, REDUCE_MIN and SUM against TFLite-Micro, byte for byte: seeded random shapes
(rank 1-5), axes (negative and repeated ones too), keep_dims and quantization; and trained
Keras models with GlobalMaxPooling2D and a sum over an axis."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras_training import train_briefly
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point, single_op_tflite
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.errors import TinyEdgeError, UnsupportedOpError
from tinyedge.importer import parse_tflite
from tinyedge.ops import lower
from tinyedge.reference import run_reference

L = keras.layers
CONFIGURATIONS = 200


def axes_tensor(axes: list[int]) -> TensorSpec:
    return TensorSpec((len(axes),), 1.0, 0, data=np.array(axes, dtype=np.int32), dtype="int32")


def reducer_options(keep_dims: bool) -> schema.ReducerOptionsT:
    options = schema.ReducerOptionsT()
    options.keepDims = keep_dims
    return options


def reduce_case(opcode: str, shape: tuple[int, ...], axes: list[int], keep_dims: bool, scales: tuple[float, float],
                zero_points: tuple[int, int], label: str, samples: tuple[bytes, ...] = (),
                expected: tuple[bytes, ...] = ()) -> OpCase:
    resolved = {a % len(shape) for a in axes}
    out_shape = tuple(1 if d in resolved else n for d, n in enumerate(shape)) if keep_dims else \
        tuple(n for d, n in enumerate(shape) if d not in resolved)
    return OpCase(opcode, (TensorSpec(shape, scales[0], zero_points[0]), axes_tensor(axes)),
                  TensorSpec(out_shape, scales[1], zero_points[1]), reducer_options(keep_dims), label, samples,
                  expected)


def random_reduce_cases(opcode: str, seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        rank = int(rng.integers(1, 6))
        shape = tuple(int(d) for d in rng.integers(1, 7, size=rank))
        chosen = [int(a) for a in rng.choice(rank, size=int(rng.integers(1, rank + 1)), replace=False)]
        # Some axes counted from the end, sometimes one given twice (TFLite drops the repeat).
        axes = [a - rank if rng.random() < 0.3 else a for a in chosen]
        if rng.random() < 0.15:
            axes.append(axes[0])
        keep_dims = bool(rng.random() < 0.5)  # reducing every axis without keep_dims gives a scalar []
        scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
        if opcode == "SUM":
            count_ = int(np.prod([shape[a] for a in set(chosen)]))
            output = (scale * log_uniform(rng, -1, 0.5) * np.sqrt(count_), random_zero_point(rng))
        else:
            output = (scale, zero_point)
        cases.append(reduce_case(opcode, shape, axes, keep_dims, (scale, output[0]), (zero_point, output[1]),
                                 f"seed {seed} #{number}"))
    return cases


@pytest.mark.parametrize("opcode", ["REDUCE_MAX", "REDUCE_MIN", "SUM"])
def test_reduction_matches_tflite_micro_on_random_shapes_axes_and_quantization(tmp_path, opcode):
    models = check_cases(random_reduce_cases(opcode, seed=31, count=CONFIGURATIONS), tmp_path)
    kernel = {"REDUCE_MAX": "te_reduce_max_s8", "REDUCE_MIN": "te_reduce_min_s8", "SUM": "te_mean_s8"}[opcode]
    assert {m.calls[0].function for m in models} == {kernel}


def test_reductions_small_exact_answers(tmp_path):
    # [2, 3]: rows (1, -5, 7) and (-128, 0, 3).
    sample = (int8_bytes(1, -5, 7, -128, 0, 3),)
    same = (0.5, 0.5)
    check_cases([
        reduce_case("REDUCE_MAX", (2, 3), [1], False, same, (0, 0), "max over rows", sample, (int8_bytes(7, 3),)),
        reduce_case("REDUCE_MAX", (2, 3), [0], True, same, (4, 4), "max over columns", sample,
                    (int8_bytes(1, 0, 7),)),
        reduce_case("REDUCE_MIN", (2, 3), [-1, 0], False, same, (0, 0), "min of all", sample, (int8_bytes(-128),)),
        # Sum of (x - 1) per row with equal scales: (1 - 5 + 7) - 3 = 0 and (-128 + 0 + 3) - 3 = -128 (clamped).
        reduce_case("SUM", (2, 3), [1], False, same, (1, 0), "sum over rows", sample, (int8_bytes(0, -128),)),
        # Output scale twice the input's: (1 - 128) / 2 = -63.5 -> -63 and (-5 + 0) / 2 -> -2: the rounding
        # doubling high multiply of a multiplier 2^30 rounds a negative tie up.
        reduce_case("SUM", (2, 3), [0], False, (0.5, 1.0), (0, 0), "sum over columns, halved", sample,
                    (int8_bytes(-63, -2, 5),)),
    ], tmp_path)


def test_reduce_max_with_another_output_quantization_is_refused_like_tflite_micro():
    case = reduce_case("REDUCE_MAX", (1, 4, 4, 3), [1, 2], False, (0.1, 0.2), (0, 0), "requantizing max")
    flatbuffer = single_op_tflite(case)
    graph = parse_tflite(flatbuffer)
    with pytest.raises(UnsupportedOpError, match="layer 0 REDUCE_MAX.*quantized as its input"):
        lower(graph, graph.operators[0])
    with pytest.raises(TinyEdgeError):
        run_reference(flatbuffer, [[np.zeros((1, 4, 4, 3), dtype=np.int8)]])


def test_global_max_pooling_of_a_trained_model(assert_bit_exact):
    x = keras.Input((8, 8, 3), batch_size=1)
    features = L.Conv2D(6, 3, padding="same", activation="relu")(x)
    pooled = L.GlobalMaxPooling2D()(features)
    model = train_briefly(keras.Model(x, L.Dense(4)(pooled)))
    result = assert_bit_exact(model)
    assert "REDUCE_MAX" in [layer.opcode for layer in result.model.layers]


def test_sum_over_an_axis_of_a_trained_model(assert_bit_exact):
    x = keras.Input((6, 4), batch_size=1)
    features = L.Dense(5, activation="tanh")(x)
    summed = L.Lambda(lambda t: keras.ops.sum(t, axis=1))(features)
    model = train_briefly(keras.Model(x, L.Dense(3)(summed)))
    result = assert_bit_exact(model)
    assert "SUM" in [layer.opcode for layer in result.model.layers]
