"""No silent fallback on trained weights (issue 14): every CONV_2D, DEPTHWISE_CONV_2D and
FULLY_CONNECTED layer of briefly trained models runs its fast kernel on nrf52840 (the Cortex-M4
DSP path, hand-scheduled blocks included), bit-exact vs tflite_micro, including the channels
training leaves outside the fast rounding's range: ReLU channels that died (all-zero filters,
whose constant output the fast rounding gives with a zero multiplier, filters decayed to almost
nothing, whose tiny scale needs a right shift past 22, and loud filters behind a large negative
bias, whose multiplier needs a left shift), BatchNorm folded with zero gammas and tiny variances,
and L1/L2-regularized filters near zero. The channels outside the fast rounding's range run the
reference requantization inside the fast kernel (te_nn_dsp.h 'General channels'); the test also
checks that the models do put such channels in every kernel.
"""

from __future__ import annotations

import json
from collections import Counter

import keras
import numpy as np
import pytest
from keras_training import train_briefly

from tinyedge.ops import ConstArg, KernelCall
from tinyedge.ops.conv import CONV2D_1X1, CONV2D_IM2COL, DEPTHWISE_3X3, DEPTHWISE_CH4
from tinyedge.ops.fully_connected import FULLY_CONNECTED_PACKED
from tinyedge.pipeline import compile_model

BOARD = "nrf52840"
MAC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
LOUD = 3000.0  # a filter scale that many times its layer's: input scale x filter scale > output scale
TINY = 1e-7
layers = keras.layers


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(0)


def general_shifts(call: KernelCall) -> list[int]:
    """TFLite's shifts of the channels in a fast MAC kernel's general units (te_nn_dsp.h: their
    constants hold (multiplier, output offset, shift); the general list follows the constants)."""
    consts = {arg.name: arg.values for arg in call.args if isinstance(arg, ConstArg)}
    if call.function == DEPTHWISE_3X3:  # per channel 11 words: ..., multiplier, rounding, shift, general
        channels = consts["packed"].reshape(-1, 11)
        return [int(shift) for shift in channels[channels[:, 10] == 1, 9]]
    if call.function == DEPTHWISE_CH4:
        p = call.params
        group_words = 4 + 2 * int(p["filter_height"]) * int(p["filter_width"]) + 12
        groups = int(p["depth"]) // 4
        packed = consts["packed"]
        triples = packed[:groups * group_words].reshape(groups, group_words)[:, -12:].reshape(-1, 3)
        return [int(triples[c, 2]) for start in packed[groups * group_words:-1] for c in range(start, start + 4)]
    depth = int(call.params["output_depth"])
    quant = consts["quant"]
    unit = 4 if call.function == FULLY_CONNECTED_PACKED else 2
    whole = depth // unit * unit
    lists = quant[4 * depth:].tolist()  # the general list up to the channel count (the fully connected
    general = lists[:lists.index(depth)]  # kernel's plain list follows it)
    channels = [c for start in general for c in range(start, start + (unit if start < whole else 1))]
    return [int(quant[4 * c + 3]) for c in channels]


def zero_multipliers(call: KernelCall) -> int:
    """Channels of a fast MAC kernel with a zero multiplier: all-zero filters, whose constant output the
    rounding form gives (tinyedge.ops.conv.constant_output)."""
    consts = {arg.name: arg.values for arg in call.args if isinstance(arg, ConstArg)}
    if call.function == DEPTHWISE_3X3:
        return int((consts["packed"].reshape(-1, 11)[:, 7] == 0).sum())
    if call.function == DEPTHWISE_CH4:
        p = call.params
        group_words = 4 + 2 * int(p["filter_height"]) * int(p["filter_width"]) + 12
        groups = int(p["depth"]) // 4
        triples = consts["packed"][:groups * group_words].reshape(groups, group_words)[:, -12:].reshape(-1, 3)
        return int((triples[:, 0] == 0).sum())
    depth = int(call.params["output_depth"])
    return int((consts["quant"][:4 * depth].reshape(depth, 4)[:, 1] == 0).sum())


def _kill(layer: keras.layers.Layer, dead: tuple[int, ...], loud: tuple[int, ...], tiny: tuple[int, ...] = ()) -> None:
    """Channels as long training leaves them behind a ReLU: `dead` with all-zero filters (and a
    small bias), `loud` with filters LOUD times larger behind a bias that keeps them below zero,
    `tiny` with filters decayed to TINY times their size (not zero: a scale that needs a right
    shift past 22)."""
    weights = layer.get_weights()
    # the output channel axis: last for Conv2D and Dense, the input channel for a depthwise filter
    kernel = np.moveaxis(weights[0], 2, -1) if isinstance(layer, layers.DepthwiseConv2D) else weights[0]
    kernel[..., list(dead)] = 0
    kernel[..., list(loud)] *= LOUD
    kernel[..., list(tiny)] *= TINY
    if len(weights) > 1:
        weights[1][list(dead)] = 0.05
        # below zero for any input up to 20 in magnitude
        weights[1][list(loud)] = -20 * np.abs(kernel[..., list(loud)]).reshape(-1, len(loud)).sum(axis=0)
    layer.set_weights(weights)


def relu_model() -> keras.Model:
    """Every fast kernel: im2col 3x3 stride 2, depthwise 3x3 (stride 1 and 3) and 5x5, 1x1 with an odd channel count,
    dense with whole quads and three last channels; then channels killed at the first, a middle and
    the last unit of each (runs of ordinary units between general ones)."""
    x = keras.Input((12, 12, 3), batch_size=1)
    y = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="im2col")(x)
    y = layers.DepthwiseConv2D(3, padding="same", activation="relu", name="dw3")(y)
    y = layers.Conv2D(13, 1, activation="relu", name="pw_odd")(y)
    y = layers.Conv2D(16, 1, activation="relu", name="pw")(y)
    y = layers.DepthwiseConv2D(5, padding="same", activation="relu", name="dw5")(y)
    y = layers.DepthwiseConv2D(3, strides=3, padding="same", activation="relu", name="dw3s3")(y)
    y = layers.Dense(11, activation="relu", name="fc")(layers.GlobalAveragePooling2D()(y))
    model = train_briefly(keras.Model(x, layers.Dense(5, name="head")(y)), epochs=4)
    _kill(model.get_layer("im2col"), dead=(0,), loud=(7, 15), tiny=(10,))
    _kill(model.get_layer("dw3"), dead=(1, 14), loud=(6,), tiny=(9,))
    _kill(model.get_layer("pw_odd"), dead=(12,), loud=(4,), tiny=(0,))
    _kill(model.get_layer("pw"), dead=(3,), loud=(8,), tiny=(15,))
    _kill(model.get_layer("dw5"), dead=(2,), loud=(13,), tiny=(5,))
    _kill(model.get_layer("dw3s3"), dead=(6,), loud=(11,), tiny=(0,))
    _kill(model.get_layer("fc"), dead=(9,), loud=(1,), tiny=(10,))
    return model


def batchnorm_model() -> keras.Model:
    """Conv / depthwise / dense without bias, each followed by BatchNorm and ReLU (the converter folds
    the BatchNorm into the filters and bias); after training some gammas are zero (a dead channel)
    and some moving variances zero (a filter scaled by 1 / sqrt(epsilon))."""
    x = keras.Input((10, 10, 4), batch_size=1)
    y = x
    for name, layer in [("bn_conv", layers.Conv2D(12, 3, padding="same", use_bias=False)),
                        ("bn_dw", layers.DepthwiseConv2D(3, padding="same", use_bias=False)),
                        ("bn_pw", layers.Conv2D(20, 1, use_bias=False))]:
        y = layers.ReLU()(layers.BatchNormalization(name=name)(layer(y)))
    y = layers.GlobalAveragePooling2D()(y)
    y = layers.ReLU()(layers.BatchNormalization(name="bn_fc")(layers.Dense(9, use_bias=False)(y)))
    model = train_briefly(keras.Model(x, layers.Dense(4)(y)), epochs=4)
    for name, zero_gamma, zero_variance in [("bn_conv", (2,), (9,)), ("bn_dw", (0,), (7,)),
                                            ("bn_pw", (19,), (5,)), ("bn_fc", (4,), (8,))]:
        bn = model.get_layer(name)
        gamma, beta, mean, variance = bn.get_weights()
        gamma[list(zero_gamma)] = 0
        variance[list(zero_variance)] = 0
        bn.set_weights([gamma, beta, mean, variance])
    return model


def regularized_model() -> keras.Model:
    """Strong L1 and L2 penalties on the filters (some end near zero), trained a few epochs."""
    x = keras.Input((8, 8, 3), batch_size=1)
    y = layers.Conv2D(8, 3, padding="same", activation="relu", kernel_regularizer=keras.regularizers.L1(0.05))(x)
    y = layers.DepthwiseConv2D(3, padding="same", activation="relu",
                               depthwise_regularizer=keras.regularizers.L2(0.5))(y)
    y = layers.Conv2D(12, 1, activation="relu", kernel_regularizer=keras.regularizers.L1(0.05))(y)
    y = layers.Dense(8, activation="relu", kernel_regularizer=keras.regularizers.L1L2(0.02, 0.2))(
        layers.Flatten()(y))
    return train_briefly(keras.Model(x, layers.Dense(3)(y)), epochs=6)


MODELS = {"relu": relu_model, "batchnorm": batchnorm_model, "regularized": regularized_model}


@pytest.mark.slow
def test_trained_models_run_every_mac_layer_on_its_fast_kernel_on_m4(tmp_path, quantize_for_test):
    rng = np.random.default_rng(3)
    general = Counter()
    for name, build in MODELS.items():
        keras_model = build()
        calib = [rng.uniform(-1, 1, (48, *t.shape[1:])).astype(np.float32) for t in keras_model.inputs]
        tflite = quantize_for_test(keras_model, tmp_path / f"{name}.tflite", calib)
        result = compile_model(tflite, BOARD, tmp_path / name, samples=3)
        report = json.loads((tmp_path / name / "report.json").read_text())
        assert report["verification"]["bit_exact"] is True, name
        fallbacks = [f"{name} layer {layer['index']} {layer['op']} {layer['kernel']}: {layer['fallback']}"
                     for layer in report["layers"] if layer["op"] in MAC_OPS and "fallback" in layer]
        assert not fallbacks, fallbacks
        for call in result.model.calls:
            if call.function in (CONV2D_1X1, CONV2D_IM2COL, DEPTHWISE_CH4, DEPTHWISE_3X3, FULLY_CONNECTED_PACKED):
                shifts = general_shifts(call)
                general[call.function] += len(shifts)
                general[name] += len(shifts)
                general["left shift"] += sum(shift > 0 for shift in shifts)
                general["right shift past 22"] += sum(shift < -22 for shift in shifts)
                general[f"{name} zero multipliers"] += zero_multipliers(call)
    print(f"\nchannels in general units, and with zero multipliers: {dict(general)}")
    # The edited channels did leave the fast rounding's range, in every fast kernel, both ways.
    fast_kernels = (CONV2D_1X1, CONV2D_IM2COL, DEPTHWISE_CH4, FULLY_CONNECTED_PACKED)  # these models' widths
    assert all(general[kernel] >= 2 for kernel in fast_kernels), general
    assert general["relu"] >= 8, general
    # the all-zero filters (ReLU's dead channels, BatchNorm's zero gammas) stay on the fast rounding
    assert general["relu zero multipliers"] >= 6 and general["batchnorm zero multipliers"] >= 3, general
    assert general["left shift"] >= 1 and general["right shift past 22"] >= 1, general
