"""RESIZE_NEAREST_NEIGHBOR against TFLite-Micro, byte for byte: 240 seeded random configurations
(up- and down-scaling, every align_corners / half_pixel_centers pair), small hand-worked answers,
and a trained model with a Keras Resizing(interpolation="nearest") layer."""

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
CONFIGURATIONS = 240


def _options(align_corners: bool, half_pixel_centers: bool) -> schema.ResizeNearestNeighborOptionsT:
    options = schema.ResizeNearestNeighborOptionsT()
    options.alignCorners, options.halfPixelCenters = align_corners, half_pixel_centers
    return options


def _size(height: int, width: int) -> TensorSpec:
    return TensorSpec((2,), 1.0, 0, data=np.array([height, width], dtype=np.int32), dtype="int32")


def _resize_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        batches, height, width, depth = (int(rng.integers(1, 3)), *(int(d) for d in rng.integers(1, 8, size=3)))
        out_height, out_width = (int(d) for d in rng.integers(1, 15, size=2))
        scale, zero_point = log_uniform(rng, -3, 0), random_zero_point(rng)
        input_ = TensorSpec((batches, height, width, depth), scale, zero_point)
        output = TensorSpec((batches, out_height, out_width, depth), scale, zero_point)
        options = _options(bool(number & 1), bool(number & 2))
        cases.append(OpCase("RESIZE_NEAREST_NEIGHBOR", (input_, _size(out_height, out_width)), output, options,
                            f"seed {seed} #{number}"))
    return cases


def test_resize_nearest_neighbor_matches_tflite_micro_on_random_shapes_and_options(tmp_path):
    models = check_cases(_resize_cases(seed=31, count=CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_resize_nearest_neighbor_s8"}


def test_resize_nearest_neighbor_small_exact_answers(tmp_path):
    image = TensorSpec((1, 2, 2, 1), 0.1, 3)
    pixels = int8_bytes(1, 2, 3, 4)
    check_cases([
        # Doubling repeats each pixel twice along both axes.
        OpCase("RESIZE_NEAREST_NEIGHBOR", (image, _size(4, 4)), TensorSpec((1, 4, 4, 1), 0.1, 3),
               _options(False, False), "2x", (pixels,),
               (int8_bytes(1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4),)),
        # 2 -> 3 with align_corners: positions 0, 0.5, 1 round to 0, 1, 1.
        OpCase("RESIZE_NEAREST_NEIGHBOR", (image, _size(1, 3)), TensorSpec((1, 1, 3, 1), 0.1, 3),
               _options(True, False), "align corners", (pixels,), (int8_bytes(1, 2, 2),)),
    ], tmp_path)


def test_resize_nearest_neighbor_with_a_computed_size_is_refused():
    quant = Quantization((0.1,), (0,))
    tensors = (Tensor(0, "x", (1, 2, 2, 1), "int8", quant), Tensor(1, "size", (2,), "int32"),
               Tensor(2, "y", (1, 4, 4, 1), "int8", quant))
    graph = Graph("g", tensors, (Operator(0, "RESIZE_NEAREST_NEIGHBOR", (0, 1), (2,)),), (0,), (2,))
    with pytest.raises(UnsupportedOpError, match="layer 0 RESIZE_NEAREST_NEIGHBOR.*constant int32"):
        lower(graph, graph.operators[0])


def test_trained_resizing_nearest_layer(assert_bit_exact):
    x = keras.Input((5, 6, 2), batch_size=1)
    y = L.Conv2D(3, 3, padding="same", activation="relu")(x)
    y = L.Resizing(9, 13, interpolation="nearest")(y)
    model = train_briefly(keras.Model(x, L.Conv2D(2, 3)(y)))
    result = assert_bit_exact(model)
    assert "RESIZE_NEAREST_NEIGHBOR" in [layer.opcode for layer in result.model.layers]
