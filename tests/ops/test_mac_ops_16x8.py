"""16x8 mode (int16 activations, int8 weights) of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED,
TRANSPOSE_CONV and BATCH_MATMUL against TFLite-Micro, byte for byte: seeded random configurations
of each (int64, int32 and no bias, per-channel and per-tensor weights, fused activations in the
int16 domain, biases past 2^32 where the sum is 64-bit), a hand-worked answer that shows the
64-bit requantization, and what TFLite-Micro would misread refused before any C is written."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from op_batch import check_cases_on_board
from single_op import ACTIVATIONS, OpCase, TensorSpec, activation, check_cases, log_uniform, single_op_tflite
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.boards import load_board
from tinyedge.codegen import compile_graph
from tinyedge.errors import UnsupportedOpError
from tinyedge.host import run_host
from tinyedge.importer import parse_tflite
from tinyedge.ops._mac_16x8 import (
    BATCH_MATMUL_PACKED_S16,
    BATCH_MATMUL_S16,
    CONV2D_1X1_S16,
    CONV2D_IM2COL_S16,
    CONV2D_S16,
    DEPTHWISE_CH4_S16,
    DEPTHWISE_S16,
    FULLY_CONNECTED_PACKED_S16,
    FULLY_CONNECTED_S16,
    TRANSPOSE_CONV_IM2COL_S16,
    TRANSPOSE_CONV_S16,
)
from tinyedge.ops.conv import reference_kernels
from tinyedge.pipeline import build
from tinyedge.simulate import simulate
from tinyedge.verify import random_samples, verify

MAC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")
PADDINGS = {"SAME": schema.Padding.SAME, "VALID": schema.Padding.VALID}
INT16_STD = 32768 / np.sqrt(3)  # of a uniform int16 input
WEIGHT_STD = 128 / np.sqrt(3)


def _weights(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(-127, 128, shape, dtype=np.int8)


def _output_scale(rng: np.random.Generator, input_scale: float, filter_scale: float, taps: int) -> float:
    """An output scale that puts the typical sum near a few thousand steps (between 1/10 and 10 times that)."""
    typical = INT16_STD * WEIGHT_STD * np.sqrt(max(taps, 1)) * input_scale * filter_scale
    return float(typical / 3000 * 10 ** rng.uniform(-1, 1))


def _channel_scales(rng: np.random.Generator, channels: int) -> list[float]:
    """Per-channel weight scales over two decades; a fifth of the time one channel is dead (a scale
    10^7 times smaller: its multiplier underflows to 0) and one 300 times larger (a left shift)."""
    scales = [log_uniform(rng, -3, -1) for _ in range(channels)]
    if channels > 2 and rng.random() < 0.2:
        scales[0] *= 1e-7
        scales[-1] *= 300
    return scales


def _geomean(scales: list[float]) -> float:
    return float(np.exp(np.mean(np.log(scales))))


def _bias(rng: np.random.Generator, kind: str, channels: int, taps: int, scales: list[float]) -> TensorSpec | None:
    """None, or a constant int64 / int32 / int16 bias: typical of the sums, a tenth of the time past 2^32."""
    if kind == "none":
        return None
    spread = INT16_STD * WEIGHT_STD * np.sqrt(max(taps, 1))
    values = rng.normal(0, spread, channels)
    if kind == "int64" and rng.random() < 0.1:
        values *= 2 ** 12
    limit = {"int64": 2 ** 46, "int32": 2 ** 30, "int16": 32767}[kind]
    values = np.clip(values, -limit, limit).astype(np.int64)
    return TensorSpec((channels,), scales, [0] * channels, data=values.astype(kind), dtype=kind)


def conv_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        in_h, in_w = (int(v) for v in rng.integers(1, 9, 2))
        filter_in_c = int(rng.integers(1, 9))
        groups = int(rng.choice([1, 1, 1, 2, 3]))
        out_c = groups * int(rng.integers(1, 5)) if groups > 1 else int(rng.integers(1, 13))
        filter_h, filter_w = (int(v) for v in rng.integers(1, 5, 2))
        stride_h, stride_w = (int(v) for v in rng.integers(1, 4, 2))
        dilation_h, dilation_w = (int(v) for v in rng.choice([1, 1, 2], 2))
        padding = str(rng.choice(["SAME", "VALID"]))
        if padding == "VALID":
            in_h, in_w = max(in_h, (filter_h - 1) * dilation_h + 1), max(in_w, (filter_w - 1) * dilation_w + 1)
        out_h = (in_h + stride_h - 1) // stride_h if padding == "SAME" else \
            (in_h - (filter_h - 1) * dilation_h - 1) // stride_h + 1
        out_w = (in_w + stride_w - 1) // stride_w if padding == "SAME" else \
            (in_w - (filter_w - 1) * dilation_w - 1) // stride_w + 1
        taps = filter_h * filter_w * filter_in_c
        input_scale = log_uniform(rng, -5, -3)
        per_channel = rng.random() < 0.8
        filter_scales = _channel_scales(rng, out_c if per_channel else 1)
        bias_kind = str(rng.choice(["int64", "int64", "int32", "none"]))
        bias = _bias(rng, bias_kind, out_c, taps, [input_scale * s for s in np.resize(filter_scales, out_c)])
        options = schema.Conv2DOptionsT()
        options.padding = PADDINGS[padding]
        options.strideH, options.strideW = stride_h, stride_w
        options.dilationHFactor, options.dilationWFactor = dilation_h, dilation_w
        options.fusedActivationFunction = activation(str(rng.choice(ACTIVATIONS)))
        if bias is None and rng.random() < 0.5:
            options.quantizedBiasType = schema.TensorType.INT32  # no bias, yet a 32-bit sum
        batches = int(rng.choice([1, 1, 2]))
        inputs = (TensorSpec((batches, in_h, in_w, filter_in_c * groups), input_scale, 0, dtype="int16"),
                  TensorSpec((out_c, filter_h, filter_w, filter_in_c), filter_scales, [0] * len(filter_scales),
                             data=_weights(rng, (out_c, filter_h, filter_w, filter_in_c)), axis=0))
        output = TensorSpec((batches, out_h, out_w, out_c),
                            _output_scale(rng, input_scale, _geomean(filter_scales), taps), 0, dtype="int16")
        cases.append(OpCase("CONV_2D", inputs + ((bias,) if bias is not None else ()), output, options,
                            f"seed {seed} #{number} bias {bias_kind}"))
    return cases


def depthwise_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        in_h, in_w = (int(v) for v in rng.integers(1, 9, 2))
        in_c, multiplier = int(rng.integers(1, 10)), int(rng.choice([1, 1, 2, 3]))
        out_c = in_c * multiplier
        filter_h, filter_w = (int(v) for v in rng.integers(1, 5, 2))
        stride_h, stride_w = (int(v) for v in rng.integers(1, 3, 2))
        dilation_h, dilation_w = (int(v) for v in rng.choice([1, 1, 2], 2))
        padding = str(rng.choice(["SAME", "VALID"]))
        if padding == "VALID":
            in_h, in_w = max(in_h, (filter_h - 1) * dilation_h + 1), max(in_w, (filter_w - 1) * dilation_w + 1)
        out_h = (in_h + stride_h - 1) // stride_h if padding == "SAME" else \
            (in_h - (filter_h - 1) * dilation_h - 1) // stride_h + 1
        out_w = (in_w + stride_w - 1) // stride_w if padding == "SAME" else \
            (in_w - (filter_w - 1) * dilation_w - 1) // stride_w + 1
        taps = filter_h * filter_w
        input_scale = log_uniform(rng, -5, -3)
        filter_scales = _channel_scales(rng, out_c)
        bias_kind = str(rng.choice(["int64", "int64", "none"]))
        bias = _bias(rng, bias_kind, out_c, taps, [input_scale * s for s in filter_scales])
        options = schema.DepthwiseConv2DOptionsT()
        options.padding = PADDINGS[padding]
        options.strideH, options.strideW = stride_h, stride_w
        options.dilationHFactor, options.dilationWFactor = dilation_h, dilation_w
        options.depthMultiplier = multiplier
        options.fusedActivationFunction = activation(str(rng.choice(ACTIVATIONS)))
        inputs = (TensorSpec((1, in_h, in_w, in_c), input_scale, 0, dtype="int16"),
                  TensorSpec((1, filter_h, filter_w, out_c), filter_scales, [0] * out_c,
                             data=_weights(rng, (1, filter_h, filter_w, out_c)), axis=3))
        output = TensorSpec((1, out_h, out_w, out_c),
                            _output_scale(rng, input_scale, _geomean(filter_scales), taps), 0, dtype="int16")
        cases.append(OpCase("DEPTHWISE_CONV_2D", inputs + ((bias,) if bias is not None else ()), output, options,
                            f"seed {seed} #{number} bias {bias_kind}"))
    return cases


def fully_connected_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        rows, depth, out_c = int(rng.integers(1, 4)), int(rng.integers(1, 70)), int(rng.integers(1, 17))
        input_scale = log_uniform(rng, -5, -3)
        per_channel = rng.random() < 0.7
        filter_scales = _channel_scales(rng, out_c if per_channel else 1)
        bias_kind = str(rng.choice(["int64", "int64", "int32", "none"]))
        bias = _bias(rng, bias_kind, out_c, depth, [input_scale * s for s in np.resize(filter_scales, out_c)])
        if bias is not None and not per_channel:
            bias = TensorSpec(bias.shape, input_scale * filter_scales[0], 0, data=bias.data, dtype=bias.dtype)
        options = schema.FullyConnectedOptionsT()
        options.fusedActivationFunction = activation(str(rng.choice(ACTIVATIONS)))
        if bias is None and rng.random() < 0.5:
            options.quantizedBiasType = schema.TensorType.INT32
        filter_spec = (TensorSpec((out_c, depth), filter_scales, [0] * out_c, data=_weights(rng, (out_c, depth)))
                       if per_channel else
                       TensorSpec((out_c, depth), filter_scales[0], 0, data=_weights(rng, (out_c, depth))))
        inputs = (TensorSpec((rows, depth), input_scale, 0, dtype="int16"), filter_spec)
        output = TensorSpec((rows, out_c), _output_scale(rng, input_scale, _geomean(filter_scales), depth), 0,
                            dtype="int16")
        cases.append(OpCase("FULLY_CONNECTED", inputs + ((bias,) if bias is not None else ()), output, options,
                            f"seed {seed} #{number} bias {bias_kind} {'per-channel' if per_channel else 'per-tensor'}"))
    return cases


def transpose_conv_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        in_h, in_w, in_c = int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 7))
        out_c = int(rng.integers(1, 9))
        filter_h, filter_w = (int(v) for v in rng.integers(1, 5, 2))
        stride_h, stride_w = (int(v) for v in rng.integers(1, 4, 2))
        padding = str(rng.choice(["SAME", "VALID"]))
        out_h = in_h * stride_h if padding == "SAME" else (in_h - 1) * stride_h + filter_h
        out_w = in_w * stride_w if padding == "SAME" else (in_w - 1) * stride_w + filter_w
        taps = max(1, filter_h // stride_h) * max(1, filter_w // stride_w) * in_c
        input_scale = log_uniform(rng, -5, -3)
        filter_scales = [log_uniform(rng, -3, -1) for _ in range(out_c)]
        bias_kind = str(rng.choice(["int64", "int64", "int16", "none"]))
        bias = _bias(rng, bias_kind, out_c, taps, [input_scale * s for s in filter_scales])
        options = schema.TransposeConvOptionsT()
        options.padding = PADDINGS[padding]
        options.strideH, options.strideW = stride_h, stride_w
        options.fusedActivationFunction = activation(str(rng.choice(ACTIVATIONS)))
        # The output shape: a constant, or (as in TFLite-Micro's seanet models) an int32 model input
        # that TFLite-Micro never reads; the firmware gets it too and ignores it.
        shape_is_input = rng.random() < 0.4
        output_shape = np.array([1, out_h, out_w, out_c], dtype=np.int32)
        inputs = (TensorSpec((4,), (), (), data=None if shape_is_input else output_shape, dtype="int32"),
                  TensorSpec((out_c, filter_h, filter_w, in_c), filter_scales, [0] * out_c,
                             data=_weights(rng, (out_c, filter_h, filter_w, in_c))),
                  TensorSpec((1, in_h, in_w, in_c), input_scale, 0, dtype="int16"))
        output = TensorSpec((1, out_h, out_w, out_c),
                            _output_scale(rng, input_scale, _geomean(filter_scales), taps), 0, dtype="int16")
        cases.append(OpCase("TRANSPOSE_CONV", inputs + ((bias,) if bias is not None else ()), output, options,
                            f"seed {seed} #{number} bias {bias_kind} shape {'input' if shape_is_input else 'const'}"))
    return cases


def batch_matmul_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        rows, depth, cols = (int(v) for v in rng.integers(1, 12, 3))
        batch = int(rng.integers(1, 4))
        adj_x, adj_y = bool(rng.random() < 0.3), bool(rng.random() < 0.3)
        lhs_shape = (batch, depth, rows) if adj_x else (batch, rows, depth)
        rhs_batch = int(rng.choice([1, batch]))
        rhs_shape = (rhs_batch, cols, depth) if adj_y else (rhs_batch, depth, cols)
        lhs_scale, rhs_scale = log_uniform(rng, -4, -2), log_uniform(rng, -4, -2)
        constant = rng.random() < 0.3
        rhs_data = rng.integers(-32768, 32768, rhs_shape, dtype=np.int16) if constant else None
        typical = INT16_STD ** 2 * np.sqrt(depth) * lhs_scale * rhs_scale
        options = schema.BatchMatMulOptionsT()
        options.adjX, options.adjY = adj_x, adj_y
        cases.append(OpCase(
            "BATCH_MATMUL", (TensorSpec(lhs_shape, lhs_scale, 0, dtype="int16"),
                             TensorSpec(rhs_shape, rhs_scale, 0, data=rhs_data, dtype="int16")),
            TensorSpec((batch, rows, cols), float(typical / 3000 * 10 ** rng.uniform(-1, 1)), 0, dtype="int16"),
            options, f"seed {seed} #{number} adj {adj_x} {adj_y}"))
    return cases


def _functions(models) -> set[str]:
    return {call.function for model in models for call in model.calls}


def test_random_16x8_convolutions_equal_tflite_micro(tmp_path):
    cases = conv_cases(1, 150) + depthwise_cases(2, 120)
    with reference_kernels():
        models = check_cases(cases, tmp_path / "reference")
    assert _functions(models) == {CONV2D_S16, DEPTHWISE_S16}
    bits = {call.params.get("accumulator_bits") for model in models for call in model.calls}
    assert bits == {32, 64, None}  # CONV_2D with both sums; DEPTHWISE_CONV_2D (always 64-bit) has no choice
    # The fast variants on the same configurations: every ungrouped convolution, every depth multiplier 1.
    fast = check_cases(cases, tmp_path / "fast")
    assert _functions(fast) == {CONV2D_1X1_S16, CONV2D_IM2COL_S16, DEPTHWISE_CH4_S16, CONV2D_S16, DEPTHWISE_S16}
    for case, model in zip(cases, fast):
        call = model.calls[0]
        assert (call.fallback is None) == (call.function in (CONV2D_1X1_S16, CONV2D_IM2COL_S16, DEPTHWISE_CH4_S16))
        assert call.fallback is None or "groups" in call.fallback or "depth multiplier" in call.fallback, case.label


def test_random_16x8_fully_connected_transpose_conv_and_batch_matmul_equal_tflite_micro(tmp_path):
    cases = fully_connected_cases(3, 120) + transpose_conv_cases(4, 100) + batch_matmul_cases(5, 60)
    with reference_kernels():
        models = check_cases(cases, tmp_path / "reference")
    assert _functions(models) == {FULLY_CONNECTED_S16, TRANSPOSE_CONV_S16, BATCH_MATMUL_S16}
    fast = check_cases(cases, tmp_path / "fast")  # no zero points: every one on a fast variant
    assert _functions(fast) == {FULLY_CONNECTED_PACKED_S16, TRANSPOSE_CONV_IM2COL_S16, BATCH_MATMUL_PACKED_S16}


def long_sum_cases(seed: int) -> list[OpCase]:
    """Sums over more than 256 products, which the fast kernels add up in 32-bit chunks: a 3x3 and a
    1x1 convolution, a dense layer and a transposed convolution, 300 to 600 values deep."""
    rng = np.random.default_rng(seed)
    cases = []
    for number, (opcode, in_c, taps) in enumerate((("CONV_2D", 48, 3), ("CONV_2D", 301, 1), ("FULLY_CONNECTED", 601, 1),
                                                   ("TRANSPOSE_CONV", 40, 3))):
        out_c = 5
        input_scale = log_uniform(rng, -5, -3)
        scales = _channel_scales(rng, out_c)
        k = in_c * taps * taps
        bias = _bias(rng, "int64", out_c, k, [input_scale * s for s in scales])
        weights = _weights(rng, (out_c, taps, taps, in_c))
        filter_ = TensorSpec((out_c, taps, taps, in_c), scales, [0] * out_c, data=weights)
        output_scale = _output_scale(rng, input_scale, _geomean(scales), k)
        if opcode == "FULLY_CONNECTED":
            cases.append(OpCase(opcode, (TensorSpec((2, in_c), input_scale, 0, dtype="int16"),
                                         TensorSpec((out_c, in_c), scales, [0] * out_c,
                                                    data=weights.reshape(out_c, -1)),
                                         bias), TensorSpec((2, out_c), output_scale, 0, dtype="int16"),
                                schema.FullyConnectedOptionsT(), f"long sums #{number}"))
            continue
        if opcode == "CONV_2D":
            options = schema.Conv2DOptionsT()
            options.padding = PADDINGS["SAME" if taps > 1 else "VALID"]
            inputs = (TensorSpec((1, 4, 5, in_c), input_scale, 0, dtype="int16"), filter_, bias)
        else:
            options = schema.TransposeConvOptionsT()
            options.padding = PADDINGS["SAME"]
            inputs = (TensorSpec((4,), (), (), data=np.array([1, 4, 5, out_c], np.int32), dtype="int32"), filter_,
                      TensorSpec((1, 4, 5, in_c), input_scale, 0, dtype="int16"), bias)
        options.strideH = options.strideW = 1
        cases.append(OpCase(opcode, inputs, TensorSpec((1, 4, 5, out_c), output_scale, 0, dtype="int16"), options,
                            f"long sums #{number}"))
    return cases


def test_sums_past_one_32_bit_chunk_equal_tflite_micro(tmp_path):
    cases = long_sum_cases(16)
    fast = check_cases(cases, tmp_path / "fast", samples=3)
    assert _functions(fast) == {CONV2D_IM2COL_S16, CONV2D_1X1_S16, FULLY_CONNECTED_PACKED_S16,
                                TRANSPOSE_CONV_IM2COL_S16}
    with reference_kernels():
        check_cases(cases, tmp_path / "reference", samples=3)


def test_a_fully_connected_by_hand_shows_the_64_bit_requantization(tmp_path):
    # One output: 1000 * 3 + 2000 * (-2) + bias 2^33 = 8589933592. input 0.5, weights 0.25, output 2^20:
    # ratio 2^-23, multiplier 2^30 (rounded to 16 bits: 2^14) and shift -22, so the output is
    # (8589933592 * 2^14 + 2^36) >> 37 = 1024 (8589933592 / 2^23 = 1023.99988, rounded up).
    # The 32-bit requantization of the wrapped sum (-1000) would give 0.
    case = OpCase("FULLY_CONNECTED", (
        TensorSpec((1, 2), 0.5, 0, dtype="int16"),
        TensorSpec((1, 2), 0.25, 0, data=np.array([[3, -2]], np.int8)),
        TensorSpec((1,), 0.125, 0, data=np.array([2 ** 33], np.int64), dtype="int64"),
    ), TensorSpec((1, 1), 2.0 ** 20, 0, dtype="int16"), schema.FullyConnectedOptionsT(), "by hand",
        samples=(np.array([1000, 2000], np.int16).tobytes(),), expected=(np.array([1024], np.int16).tobytes(),))
    check_cases([case], tmp_path)


def _lower(case: OpCase):
    return compile_graph(parse_tflite(single_op_tflite(case), name="m"))


def test_an_int32_bias_where_tflite_micro_reads_int64_is_refused():
    depthwise = depthwise_cases(6, 10)
    case = next(c for c in depthwise if len(c.inputs) == 3)
    bias = case.inputs[2]
    int32_bias = TensorSpec(bias.shape, bias.scale, bias.zero_point, data=np.asarray(bias.data).astype(np.int32),
                            dtype="int32")
    with pytest.raises(UnsupportedOpError, match="must be a constant int64 tensor of"):
        _lower(OpCase(case.opcode, (*case.inputs[:2], int32_bias), case.output, case.options, "int32 bias"))


def test_a_16x8_convolution_with_int16_weights_is_refused():
    case = conv_cases(7, 1)[0]
    filter_ = case.inputs[1]
    wide = TensorSpec(filter_.shape, filter_.scale, filter_.zero_point, data=np.asarray(filter_.data, np.int16),
                      axis=filter_.axis, dtype="int16")
    with pytest.raises(UnsupportedOpError, match="this op takes int8 tensors"):
        _lower(OpCase(case.opcode, (case.inputs[0], wide, *case.inputs[2:]), case.output, case.options, "int16 w"))


def convert_16x8(model, folder: Path, calibration: np.ndarray) -> bytes:
    """TensorFlow's 16x8 mode, as a user converts: int16 activations and model interface, int8 weights."""
    import tensorflow as tf

    # A batch-1 signature: a free batch dimension would leave SHAPE ops in the graph.
    model.export(str(folder / "saved"), format="tf_saved_model", verbose=False,
                 input_signature=[tf.TensorSpec((1, *calibration.shape[1:]), tf.float32)])
    converter = tf.lite.TFLiteConverter.from_saved_model(str(folder / "saved"))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([calibration[i:i + 1]] for i in range(len(calibration)))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int16
    return converter.convert()


@pytest.fixture(scope="module")
def trained_16x8(tmp_path_factory) -> bytes:
    """A small conv / depthwise / 1x1 / strided conv / transposed conv / dense model, trained a few epochs."""
    import keras
    from keras_training import train_briefly

    layers = keras.layers
    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 3), batch_size=1)
    y = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = layers.DepthwiseConv2D(3, padding="same", activation="relu")(y)
    y = layers.Conv2D(12, 1)(y)  # 1x1
    y = layers.Conv2D(6, 3, strides=2, activation="relu")(y)
    y = layers.Conv2DTranspose(5, 3, strides=2, padding="same")(y)
    y = layers.Dense(16, activation="relu")(layers.Flatten()(y))
    model = train_briefly(keras.Model(x, layers.Dense(4)(y)), epochs=4)
    calibration = np.random.default_rng(1).uniform(-1, 1, (32, 8, 8, 3)).astype(np.float32)
    return convert_16x8(model, tmp_path_factory.mktemp("keras16"), calibration)


@pytest.mark.slow
@pytest.mark.parametrize("board", ["host", "nrf52840", "rp2040"])  # rp2040 (Cortex-M0+): the plain C path
def test_a_trained_16x8_keras_model_runs_bit_exact(trained_16x8, tmp_path, board):
    if board != "host" and shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    graph = parse_tflite(trained_16x8, name="model")
    model = compile_graph(graph)
    mac = [(op.opcode, call.function) for op, call in zip(graph.operators, model.calls) if op.opcode in MAC_OPS]
    assert {t.dtype for t in model.inputs + model.outputs} == {"int16"}
    assert sorted(opcode for opcode, _ in mac) == sorted(["CONV_2D"] * 3 + ["DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"]
                                                         + ["FULLY_CONNECTED"] * 2), mac
    assert {function for _, function in mac} == {CONV2D_IM2COL_S16, CONV2D_1X1_S16, DEPTHWISE_CH4_S16,
                                                 TRANSPOSE_CONV_IM2COL_S16, FULLY_CONNECTED_PACKED_S16}, mac
    assert all(call.fallback is None for call in model.calls), [call.fallback for call in model.calls]
    firmware = build(model, board, tmp_path / board)
    inputs = random_samples(model, 3, seed=7)
    outputs = (run_host(firmware.elf, inputs, model.output_bytes) if board == "host"
               else list(simulate(firmware.elf, load_board(board), inputs).outputs))
    result = verify(trained_16x8, model, inputs, outputs)
    assert result.bit_exact, f"not bit-exact on {board}: {result.first_mismatch}"
    if board != "host":
        for kernels, wanted in (((CONV2D_1X1_S16, CONV2D_IM2COL_S16, FULLY_CONNECTED_PACKED_S16,
                                  TRANSPOSE_CONV_IM2COL_S16, "te_nn_mat_mult_s16", "te_nn_dot_s16_2x2",
                                  "te_nn_dot_s16_4x1"), {"smlad", "sxtb16"}),
                                ((DEPTHWISE_CH4_S16,), {"smlabb", "smlatt", "sxtb16"})):
            assert dsp_instructions(firmware.elf, kernels) == (wanted if board == "nrf52840" else set())


def dsp_instructions(elf: Path, functions: tuple[str, ...]) -> set[str]:
    """The DSP-extension mnemonics in these functions (and out-of-line copies such as name.constprop.0)."""
    symbols = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    names = {line.split()[-1] for line in symbols.splitlines() if line.split()[-1].split(".")[0] in functions}
    listing = "".join(subprocess.run(["arm-none-eabi-objdump", "-d", f"--disassemble={name}", str(elf)],
                                     capture_output=True, text=True, check=True).stdout for name in names)
    return {word.split(".")[0] for line in listing.splitlines() for word in line.split("\t")[2:3]} & {
        "smlad", "smlabb", "smlatt", "sxtb16", "smlald"}


def _on_kernel(cases: list[OpCase], kernel: str, count: int) -> list[OpCase]:
    """The first `count` configurations the lowering gives to `kernel`."""
    return [case for case in cases if _lower(case).calls[0].function == kernel][:count]


M4_CASES = (_on_kernel(conv_cases(11, 60), CONV2D_1X1_S16, 3) + _on_kernel(conv_cases(12, 30), CONV2D_IM2COL_S16, 5)
            + _on_kernel(depthwise_cases(13, 30), DEPTHWISE_CH4_S16, 5)
            + _on_kernel(fully_connected_cases(14, 20), FULLY_CONNECTED_PACKED_S16, 5)
            + _on_kernel(transpose_conv_cases(15, 10), TRANSPOSE_CONV_IM2COL_S16, 5) + long_sum_cases(16)
            + batch_matmul_cases(17, 4))


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")
def test_random_16x8_configurations_on_m4(tmp_path):
    # The fast variants' DSP path (SMLAD, SMLABB/SMLATT, SXTB16) on nrf52840 in the emulator: every case
    # side by side in one firmware (one build, not one per case), each on the kernel and the samples
    # (2, seed 11) its one-op model gets; a differing byte names its case.
    merged = check_cases_on_board(M4_CASES, "nrf52840", tmp_path)
    assert len(merged.calls) == len(M4_CASES)
