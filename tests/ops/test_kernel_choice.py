"""Which kernel ran, and why a reference kernel ran where a fast variant exists (issue 14, item 2).

A channel (or one rescale) outside a fast variant's rounding range keeps the variant, with the
reference requantization for that channel; what still falls back (a geometry, a zero point, a
request) says why in its KernelCall's `fallback`, and the bytes stay TFLite-Micro's. A compile
of briefly trained models then names every layer's kernel in report.json and lists the
fallbacks in the summary.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from keras_training import train_briefly
from single_op import all_pairs_case, check_cases
from tflite_edits import edited, only_operator, set_quantization, with_output_scale

from tinyedge.ops import ConstArg
from tinyedge.ops._binary import RESCALE_GENERAL, RESCALE_LEFT
from tinyedge.ops.conv import (
    CONV2D_1X1,
    CONV2D_IM2COL,
    CONV2D_REFERENCE,
    DEPTHWISE_3X3,
    DEPTHWISE_CH4,
    DEPTHWISE_REFERENCE,
    REFERENCE_REQUESTED,
    reference_kernels,
    without_depthwise_3x3,
)
from tinyedge.ops.fully_connected import FULLY_CONNECTED_PACKED, FULLY_CONNECTED_REFERENCE
from tinyedge.pipeline import compile_model
from tinyedge.report import summary_table

FAST_KERNELS = {"CONV_2D": {CONV2D_1X1, CONV2D_IM2COL}, "DEPTHWISE_CONV_2D": {DEPTHWISE_CH4, DEPTHWISE_3X3},
                "FULLY_CONNECTED": {FULLY_CONNECTED_PACKED}}
REFERENCES = {"CONV_2D": CONV2D_REFERENCE, "DEPTHWISE_CONV_2D": DEPTHWISE_REFERENCE,
              "FULLY_CONNECTED": FULLY_CONNECTED_REFERENCE}


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(0)


def _one_channel_scaled(tflite: bytes, opcode: str, channel: int, factor: float) -> bytes:
    """The model with one output channel's filter scale multiplied by `factor` (TFLite-Micro runs it as it is)."""
    def edit(model) -> None:
        filter_index = only_operator(model, opcode).inputs[1]
        q = model.subgraphs[0].tensors[filter_index].quantization
        scales = [float(s) for s in q.scale]
        scales[channel] *= factor
        set_quantization(model, filter_index, scales, list(q.zeroPoint), q.quantizedDimension)

    return edited(tflite, edit)


def _only_call(result):
    (call,) = result.model.calls
    return call


# -- one lowering family at a time: a forced out-of-range channel -------------------------

@pytest.mark.parametrize(("kernel", "padding", "variant"), [(1, "valid", CONV2D_1X1), (3, "same", CONV2D_IM2COL)])
def test_conv_channel_with_a_left_shift_stays_on_the_fast_kernel(tmp_path, quantize_for_test,
                                                                  assert_tflite_bit_exact, kernel, padding, variant):
    inputs = keras.Input((5, 5, 4), batch_size=1)
    model = keras.Model(inputs, keras.layers.Conv2D(6, kernel, padding=padding)(inputs))
    tflite = quantize_for_test(model, tmp_path / "conv.tflite").read_bytes()
    call = _only_call(assert_tflite_bit_exact(_one_channel_scaled(tflite, "CONV_2D", 5, 4096.0)))
    assert (call.function, call.fallback) == (variant, None)
    quant = next(arg.values for arg in call.args if isinstance(arg, ConstArg) and arg.name == "quant")
    assert quant[4 * 6:].tolist() == [4, 6]  # channel 5's pair (4, 5) general, then the channel count


def test_depthwise_channel_with_a_huge_right_shift_stays_on_the_fast_kernel(tmp_path, quantize_for_test,
                                                                            assert_tflite_bit_exact):
    inputs = keras.Input((6, 6, 8), batch_size=1)
    model = keras.Model(inputs, keras.layers.DepthwiseConv2D(3, padding="same")(inputs))
    tflite = quantize_for_test(model, tmp_path / "dw.tflite").read_bytes()
    with without_depthwise_3x3():  # the ch4 kernel's general groups (the 3x3 variant: test_depthwise_3x3)
        call = _only_call(assert_tflite_bit_exact(_one_channel_scaled(tflite, "DEPTHWISE_CONV_2D", 3, 2.0**-18)))
    assert (call.function, call.fallback) == (DEPTHWISE_CH4, None)
    packed = next(arg.values for arg in call.args if isinstance(arg, ConstArg) and arg.name == "packed")
    assert packed[-2:].tolist() == [0, 8]  # channel 3's group (0..3) general, then the depth


def test_depthwise_geometry_outside_the_fast_kernel_is_a_fallback(assert_bit_exact):
    inputs = keras.Input((6, 6, 6), batch_size=1)
    call = _only_call(assert_bit_exact(keras.Model(inputs, keras.layers.DepthwiseConv2D(3, dilation_rate=2)(inputs))))
    assert (call.function, call.fallback) == (DEPTHWISE_REFERENCE, "6 channels, not a multiple of 4")


def test_dense_with_left_shifts_stays_on_the_packed_kernel(tmp_path, quantize_for_test, assert_tflite_bit_exact):
    inputs = keras.Input((2, 16), batch_size=1)  # two rows: the split row pays its scratch
    model = keras.Model(inputs, keras.layers.Dense(5)(inputs))
    tflite = quantize_for_test(model, tmp_path / "dense.tflite").read_bytes()
    call = _only_call(assert_tflite_bit_exact(with_output_scale(tflite, 1 / 4096)))
    assert (call.function, call.fallback) == (FULLY_CONNECTED_PACKED, None)
    quant = next(arg.values for arg in call.args if isinstance(arg, ConstArg) and arg.name == "quant")
    # The general list (the quad, the last channel, the channel count), then the plain list (empty).
    assert quant[4 * 5:].tolist() == [0, 4, 5, 5]


def test_transpose_conv_with_left_shifts_stays_on_the_im2col_kernel(tmp_path, quantize_for_test,
                                                                    assert_tflite_bit_exact):
    inputs = keras.Input((4, 4, 4), batch_size=1)
    model = keras.Model(inputs, keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")(inputs))
    tflite = quantize_for_test(model, tmp_path / "tconv.tflite").read_bytes()
    call = _only_call(assert_tflite_bit_exact(with_output_scale(tflite, 1 / 4096)))
    assert (call.function, call.fallback) == ("te_transpose_conv_im2col_s8", None)


# Every output rescale a layer can have, through the elementwise fast kernels (te_nn_rescale's forms).
ELEMENTWISE_RESCALES = [
    ("MUL", (0.05, 0.05, 0.0025 / 8), "te_mul_rounding_s8", RESCALE_LEFT, 4),  # a left shift of 4
    ("MUL", (0.05, 0.05, 0.0025 * 2**24), "te_mul_rounding_s8", RESCALE_GENERAL, -23),
    ("SUB", (0.05, 0.05, 0.05 * 2 * 64), "te_sub_table_s8", RESCALE_GENERAL, -25),
    ("SUB", (0.05, 0.05, 0.1 / (2**20 * 0.75)), "te_sub_table_s8", RESCALE_LEFT, 0),  # no shift at all
    ("SQUARED_DIFFERENCE", (0.05, 0.05, 64.0), "te_squared_difference_table_s8", RESCALE_GENERAL, -26),
    ("SQUARED_DIFFERENCE", (0.05, 0.05, 0.01 / (2**14 * 4)), "te_squared_difference_table_s8", RESCALE_GENERAL, 3),
]


@pytest.mark.parametrize(("opcode", "scales", "function", "form", "shift"), ELEMENTWISE_RESCALES)
def test_elementwise_rescale_outside_the_rounding_range_stays_on_the_fast_kernel(tmp_path, opcode, scales, function,
                                                                                 form, shift):
    (model,) = check_cases([all_pairs_case(opcode, scales, (3, -7, 5), None, opcode)], tmp_path)
    (call,) = model.calls
    assert (call.function, call.fallback) == (function, None)
    assert (call.params["form"], call.params["shift"]) == (form, shift)


def test_small_elementwise_ops_keep_the_plain_kernel_by_choice_not_as_a_fallback(assert_bit_exact):
    a, b = keras.Input((4, 4), batch_size=1), keras.Input((4, 4), batch_size=1)
    calls = assert_bit_exact(keras.Model([a, b], keras.layers.Subtract()([a, b]))).model.calls
    assert [(c.function, c.fallback) for c in calls] == [("te_sub_s8", None)]


def test_reference_kernels_requested_is_the_fallback_of_every_family(assert_bit_exact):
    x = keras.Input((8, 8, 4), batch_size=1)
    y = keras.layers.Conv2D(8, 1)(x)
    y = keras.layers.DepthwiseConv2D(3, padding="same")(y)
    y = keras.layers.Add()([y, keras.layers.Conv2D(8, 3, padding="same")(x)])
    y = keras.layers.Activation("sigmoid")(y)
    y = keras.layers.Dense(4)(keras.layers.Flatten()(y))
    with reference_kernels():
        calls = assert_bit_exact(keras.Model(x, y)).model.calls
    fallbacks = {c.function: c.fallback for c in calls}
    assert fallbacks.pop("te_reshape_s8", None) is None
    assert set(fallbacks.values()) == {REFERENCE_REQUESTED}, fallbacks
    assert {CONV2D_REFERENCE, DEPTHWISE_REFERENCE, FULLY_CONNECTED_REFERENCE, "te_add_s8"} <= set(fallbacks)


# -- trained models: the report names every kernel and lists the fallbacks ----------------

def _trained_models() -> dict[str, keras.Model]:
    layers = keras.layers
    x = keras.Input((12, 12, 3), batch_size=1)
    y = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    y = layers.DepthwiseConv2D(3, padding="same", activation="relu")(y)
    y = layers.Conv2D(24, 1, activation="relu")(y)
    y = layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")(y)
    y = layers.Conv2D(32, 1, activation="relu")(y)
    y = layers.Dense(6)(layers.Dense(24, activation="relu")(layers.GlobalAveragePooling2D()(y)))
    convs = keras.Model(x, y)
    d = keras.Input((40,), batch_size=1)
    dense = keras.Model(d, layers.Dense(8)(layers.Dense(32, activation="relu")(layers.Dense(48, activation="relu")(d))))
    models = {"convs": train_briefly(convs, epochs=4), "dense": train_briefly(dense, epochs=4)}
    models["dead_channel"] = _with_dead_channel(keras.models.clone_model(convs), convs, DEAD_CHANNEL)
    return models


DEAD_CHANNEL = 2


def _with_dead_channel(model: keras.Model, trained: keras.Model, channel: int) -> keras.Model:
    """`trained`'s weights in `model`, one output channel of every conv, depthwise and dense layer all zero,
    as longer training leaves behind ReLU: the converter gives that channel a filter scale near 4e-9."""
    model.set_weights(trained.get_weights())
    for layer in model.layers:
        weights = layer.get_weights()
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            weights[0][:, :, channel, :] = 0
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            weights[0][..., channel] = 0
        else:
            continue
        layer.set_weights(weights)
    return model


def test_trained_models_report_each_layers_kernel_and_list_the_fallbacks(tmp_path, quantize_for_test):
    rng = np.random.default_rng(3)
    fallbacks = []
    for name, keras_model in _trained_models().items():
        calib = [rng.uniform(-1, 1, (48, *t.shape[1:])).astype(np.float32) for t in keras_model.inputs]
        tflite = quantize_for_test(keras_model, tmp_path / f"{name}.tflite", calib)
        result = compile_model(tflite, "nrf52840", tmp_path / name, samples=2)
        report = json.loads((tmp_path / name / "report.json").read_text())
        assert report["verification"]["bit_exact"] is True
        layers = report["layers"]
        assert [layer["kernel"] for layer in layers] == [call.function for call in result.model.calls]
        summary = summary_table(result.report)
        for layer in layers:
            if layer["op"] not in FAST_KERNELS:
                continue
            if "fallback" in layer:
                assert layer["kernel"] == REFERENCES[layer["op"]]
                assert f"{layer['kernel']}: {layer['fallback']}" in summary
                fallbacks.append(f"{name} layer {layer['index']} {layer['op']}: {layer['fallback']}")
            else:
                assert layer["kernel"] in FAST_KERNELS[layer["op"]], layer
        html = (tmp_path / name / "report.html").read_text()
        assert all(layer["kernel"] in html for layer in layers)
    # A dead channel's right shift goes past 22, or its bias, in the channel's tiny scale, reaches
    # 2^30: the fast kernels take it with the reference requantization, so nothing falls back.
    assert not fallbacks
