"""RESIZE_BILINEAR against TFLite-Micro, byte for byte: 240 seeded random shapes, sizes (up
and down), align_corners / half_pixel_centers, hand-worked answers, the refused option pair,
and trained Keras Resizing(bilinear) and UpSampling2D(bilinear) models."""

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
from tinyedge.ops.resize_bilinear import interpolation_axis
from tinyedge.reference import run_reference

L = keras.layers
CONFIGURATIONS = 240
MODES = ((False, False), (True, False), (False, True))  # (align_corners, half_pixel_centers)


def resize_case(shape: tuple[int, int, int, int], size: tuple[int, int], mode: tuple[bool, bool],
                quant: tuple[float, int], label: str, samples: tuple[bytes, ...] = (),
                expected: tuple[bytes, ...] = ()) -> OpCase:
    options = schema.ResizeBilinearOptionsT()
    options.alignCorners, options.halfPixelCenters = mode
    size_tensor = TensorSpec((2,), 1.0, 0, data=np.array(size, dtype=np.int32), dtype="int32")
    output = TensorSpec((shape[0], *size, shape[3]), *quant)
    return OpCase("RESIZE_BILINEAR", (TensorSpec(shape, *quant), size_tensor), output, options, label, samples,
                  expected)


def test_resize_bilinear_matches_tflite_micro_on_random_shapes_sizes_and_modes(tmp_path):
    rng = np.random.default_rng(91)
    cases = []
    for number in range(CONFIGURATIONS):
        shape = (int(rng.integers(1, 3)), *(int(d) for d in rng.integers(1, 9, size=2)), int(rng.integers(1, 5)))
        size = tuple(int(d) for d in rng.integers(1, 13, size=2))
        quant = (log_uniform(rng, -3, 0), random_zero_point(rng))
        cases.append(resize_case(shape, size, MODES[number % 3], quant, f"seed 91 #{number}"))
    models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {"te_resize_bilinear_s8"}


def test_resize_bilinear_small_exact_answers(tmp_path):
    # A 1x2 row (0, 100) widened to 4: positions 0, 0.5, 1, 1.5 -> 0, 50, 100, 100 (the last clamps).
    # Half-pixel centers: positions -0.25, 0.25, 0.75, 1.25 -> 0, 25, 75, 100.
    row = (int8_bytes(0, 100),)
    check_cases([
        resize_case((1, 1, 2, 1), (1, 4), MODES[0], (0.1, 0), "widen", row, (int8_bytes(0, 50, 100, 100),)),
        resize_case((1, 1, 2, 1), (1, 4), MODES[2], (0.1, 0), "widen, half pixel", row, (int8_bytes(0, 25, 75, 100),)),
        # align_corners: positions 0, 1/3, 2/3, 1 -> 0, 33, 67, 100 (ties go away from zero: -50.5 -> -51).
        resize_case((1, 1, 2, 1), (1, 4), MODES[1], (0.1, 0), "widen, corners", row, (int8_bytes(0, 33, 67, 100),)),
        resize_case((1, 1, 2, 1), (1, 3), MODES[1], (0.1, 0), "negative tie", (int8_bytes(-1, -100),),
                    (int8_bytes(-1, -51, -100),)),
    ], tmp_path)


def test_interpolation_fractions_go_negative_above_the_first_row_with_half_pixel_centers():
    lows, highs, fractions = interpolation_axis(2, 4, align_corners=False, half_pixel_centers=True)
    assert (lows, highs, fractions) == ([0, 0, 0, 1], [0, 1, 1, 1], [-256, 256, 768, 256])


def test_resize_bilinear_with_both_options_is_refused_like_tflite_micro():
    flatbuffer = single_op_tflite(resize_case((1, 2, 2, 1), (4, 4), (True, True), (0.1, 0), "both options"))
    graph = parse_tflite(flatbuffer)
    with pytest.raises(UnsupportedOpError, match="layer 0 RESIZE_BILINEAR.*align_corners and half_pixel_centers"):
        lower(graph, graph.operators[0])
    with pytest.raises(TinyEdgeError):
        run_reference(flatbuffer, [[np.zeros((1, 2, 2, 1), dtype=np.int8)]])


@pytest.mark.parametrize("layer", ["resizing", "upsampling"])
def test_bilinear_resize_of_a_trained_model(assert_bit_exact, layer):
    x = keras.Input((6, 6, 2), batch_size=1)
    features = L.Conv2D(3, 3, padding="same", activation="relu")(x)
    resized = L.Resizing(9, 11, interpolation="bilinear")(features) if layer == "resizing" else \
        L.UpSampling2D(2, interpolation="bilinear")(features)
    model = train_briefly(keras.Model(x, L.Conv2D(2, 3, strides=2)(resized)))
    result = assert_bit_exact(model)
    assert "RESIZE_BILINEAR" in [op.opcode for op in result.model.layers]
