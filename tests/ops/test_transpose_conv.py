"""TRANSPOSE_CONV against TFLite-Micro, byte for byte: 200+ seeded random configurations through
the reference kernel and the same ones through te_transpose_conv_im2col_s8, small hand-worked
answers, what is refused before any C is written, and a trained Keras Conv2DTranspose model."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import keras
import numpy as np
import pytest
from keras_training import train_briefly
from single_op import ACTIVATIONS, OpCase, TensorSpec, activation, check_cases, int8_bytes, log_uniform
from single_op import random_zero_point as zero_point
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.codegen import compile_graph
from tinyedge.errors import UnsupportedOpError
from tinyedge.importer import parse_tflite
from tinyedge.ops.conv import reference_kernels
from tinyedge.ops.transpose_conv import TRANSPOSE_CONV_IM2COL, TRANSPOSE_CONV_REFERENCE, phase_taps

L = keras.layers
CONFIGURATIONS = 220
PADDINGS = {"SAME": schema.Padding.SAME, "VALID": schema.Padding.VALID}


def output_size(padding: str, inputs: int, taps: int, stride: int, rng: np.random.Generator) -> int:
    """An output size whose forward convolution (same padding, taps, stride) has `inputs` positions."""
    low = (inputs - 1) * stride + (1 if padding == "SAME" else taps)
    return int(rng.integers(low, low + stride))


def transpose_conv_case(input_shape: tuple[int, int, int, int], filter_data: np.ndarray, output_shape: tuple,
                        scales: tuple[float, float | list[float], float], zero_points: tuple[int, int],
                        bias: np.ndarray | None, padding: str, strides: tuple[int, int], fused: str,
                        label: str, samples: tuple[bytes, ...] = (), expected: tuple[bytes, ...] = (),
                        filter_is_input: bool = False) -> OpCase:
    """A TRANSPOSE_CONV with TFLite's inputs: (output_shape, filter, input[, bias]); the filter a model
    input rather than a constant when filter_is_input (TFLite-Micro runs that too)."""
    input_scale, filter_scale, output_scale = scales
    options = schema.TransposeConvOptionsT()
    options.padding = PADDINGS[padding]
    options.strideH, options.strideW = strides
    options.fusedActivationFunction = activation(fused)
    per_channel = not np.isscalar(filter_scale)
    inputs = [
        TensorSpec((4,), (), (), data=np.array(output_shape, dtype=np.int32), dtype="int32"),
        TensorSpec(filter_data.shape, filter_scale, [0] * len(filter_scale) if per_channel else 0,  # type: ignore
                   data=None if filter_is_input else filter_data),
        TensorSpec(input_shape, input_scale, zero_points[0]),
    ]
    if bias is not None:
        bias_scales = [input_scale * s for s in filter_scale] if per_channel else input_scale * filter_scale
        inputs.append(TensorSpec(bias.shape, bias_scales, [0] * len(bias) if per_channel else 0,  # type: ignore
                                 data=bias, dtype="int32"))
    return OpCase("TRANSPOSE_CONV", tuple(inputs), TensorSpec(output_shape, output_scale, zero_points[1]),
                  options, label, samples, expected)


def random_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        batches = 2 if rng.random() < 0.1 else 1
        in_h, in_w = (int(d) for d in rng.integers(1, 7, 2))
        in_c, out_c = int(rng.integers(1, 9)), int(rng.integers(1, 11))
        filter_h, filter_w = (int(d) for d in rng.integers(1, 5, 2))
        strides = tuple(int(s) for s in rng.integers(1, 4, 2))
        padding = str(rng.choice(["SAME", "VALID"]))
        out_h = output_size(padding, in_h, filter_h, strides[0], rng)
        out_w = output_size(padding, in_w, filter_w, strides[1], rng)
        if rng.random() < 0.1:
            # TFLite-Micro takes the output tensor's size whatever the input's: any size runs.
            out_h, out_w = (int(d) for d in rng.integers(1, 14, 2))
        weights = rng.integers(-127, 128, (out_c, filter_h, filter_w, in_c), dtype=np.int8)
        if rng.random() < 0.2:
            weights[int(rng.integers(out_c))] = 0  # a dead channel, as training leaves them
        input_scale = log_uniform(rng, -3, 0)
        filter_scale: float | list[float] = (
            [log_uniform(rng, -3, -1) for _ in range(out_c)] if rng.random() < 0.7 else log_uniform(rng, -3, -1))
        typical = np.mean(filter_scale) * input_scale
        # Multipliers from 1e-4 (long right shifts) to above 1 (left shifts) now and then.
        output_scale = typical * (log_uniform(rng, -0.5, 0.3) if rng.random() < 0.1 else log_uniform(rng, 0.5, 4))
        bias = rng.integers(-20000, 20000, out_c, dtype=np.int32) if rng.random() < 0.75 else None
        fused = str(rng.choice(ACTIVATIONS))
        cases.append(transpose_conv_case((batches, in_h, in_w, in_c), weights, (batches, out_h, out_w, out_c),
                                         (input_scale, filter_scale, output_scale), (zero_point(rng), zero_point(rng)),
                                         bias, padding, strides, fused, f"seed {seed} #{number}",
                                         # a model input has one scale (tinyedge's I/O), so per-tensor filters only
                                         filter_is_input=bool(np.isscalar(filter_scale) and rng.random() < 0.2)))
    return cases


@pytest.fixture(scope="module")
def cases() -> list[OpCase]:
    return random_cases(seed=31, count=CONFIGURATIONS)


def test_transpose_conv_reference_kernel_matches_tflite_micro_on_random_configurations(tmp_path, cases):
    with reference_kernels():
        models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {TRANSPOSE_CONV_REFERENCE}
    shifts = np.concatenate([m.calls[0].constants[1].values for m in models])
    assert shifts.min() < -10 and shifts.max() > 0, "long right shifts and left shifts are both covered"
    assert sum(not m.graph.tensors[1].is_constant for m in models) >= 5, "some filters are model inputs"


def test_transpose_conv_im2col_kernel_matches_tflite_micro_on_the_same_configurations(tmp_path, cases):
    models = check_cases(cases, tmp_path)
    kernels = Counter(m.calls[0].function for m in models)
    assert kernels[TRANSPOSE_CONV_IM2COL] > CONFIGURATIONS * 3 // 4, kernels


def test_transpose_conv_small_exact_answers(tmp_path):
    # One input channel, one output channel, filter [[1, 2], [3, 4]], stride 2, VALID: each input
    # value stamps the filter times itself into its own 2x2 block. Scales 1, 1 -> 1: no rounding.
    weights = np.array([1, 2, 3, 4], dtype=np.int8).reshape(1, 2, 2, 1)
    stamp = transpose_conv_case((1, 1, 2, 1), weights, (1, 2, 4, 1), (1.0, 1.0, 1.0), (0, 0), None, "VALID",
                                (2, 2), "NONE", "stamp", (int8_bytes(1, -2),),
                                (int8_bytes(1, 2, -2, -4, 3, 4, -6, -8),))
    # Stride 1, SAME, a 2x2 filter over a 2x2 input: the taps overlap and add; the output is cropped
    # to 2x2 at the bottom right (pad 0 above and left). Input zero point 1, bias 10, output offset -3.
    overlap = transpose_conv_case((1, 2, 2, 1), weights, (1, 2, 2, 1), (1.0, 1.0, 1.0), (1, -3),
                                  np.array([10], dtype=np.int32), "SAME", (1, 1), "NONE", "overlap",
                                  (int8_bytes(2, 3, 4, 5),),
                                  # values 1, 2, 3, 4: out(0,0) = 1*1 = 1, (0,1) = 1*2 + 2*1 = 4,
                                  # (1,0) = 1*3 + 3*1 = 6, (1,1) = 1*4 + 2*3 + 3*2 + 4*1 = 20
                                  (int8_bytes(1 + 10 - 3, 4 + 10 - 3, 6 + 10 - 3, 20 + 10 - 3),))
    check_cases([stamp, overlap], tmp_path)


def test_phases_split_the_taps_by_stride():
    assert phase_taps(3, 2) == [[0, 2], [1]]
    assert phase_taps(1, 3) == [[0], [], []]  # outputs of the empty phases get the bias alone
    assert phase_taps(4, 1) == [[0, 1, 2, 3]]


def _refused(case: OpCase) -> str:
    from single_op import single_op_tflite

    with pytest.raises(UnsupportedOpError) as error:
        compile_graph(parse_tflite(single_op_tflite(case), name="refused"))
    return str(error.value)


def test_transpose_conv_refuses_what_tflite_micro_cannot_run():
    weights = np.ones((3, 2, 2, 4), dtype=np.int8)
    base = dict(scales=(0.1, 0.01, 0.1), zero_points=(0, 0), bias=None, padding="SAME", strides=(2, 2),
                fused="NONE", label="refused")
    # A filter depth other than the input's: the reference kernel would read past the filter.
    assert "does not fit" in _refused(transpose_conv_case((1, 3, 3, 5), weights, (1, 6, 6, 3), **base))
    # Per-channel scales along the wrong axis.
    per_channel = transpose_conv_case((1, 3, 3, 4), weights, (1, 6, 6, 3), **{**base, "scales": (0.1, [0.01] * 3, 0.1)})
    per_channel_in = per_channel.inputs[1]
    bad_axis = replace(per_channel, inputs=(per_channel.inputs[0], replace(per_channel_in, axis=3, scale=[0.01] * 4,
                                                                         zero_point=[0] * 4), per_channel.inputs[2]))
    assert "scales along dimension 3" in _refused(bad_axis)
    # A 3-D input.
    flat = transpose_conv_case((1, 3, 3, 4), weights, (1, 6, 6, 3), **base)
    flat = OpCase(flat.opcode, (flat.inputs[0], flat.inputs[1], TensorSpec((3, 3, 4), 0.1, 0)),
                  TensorSpec((6, 6, 3), 0.1, 0), flat.options, "3-D")
    assert "must be 4-D" in _refused(flat)


@pytest.mark.parametrize("strides, padding", [(2, "same"), (1, "valid"), (3, "same")])
def test_trained_conv2d_transpose_model_is_bit_exact(assert_bit_exact, strides, padding):
    x = keras.Input((6, 5, 3), batch_size=1)
    y = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = L.Conv2DTranspose(6, 3, strides=strides, padding=padding, activation="relu")(y)
    y = L.Conv2DTranspose(4, (2, 3), strides=(1, 2), padding="same", use_bias=False)(y)
    model = train_briefly(keras.Model(x, y))
    result = assert_bit_exact(model)
    transposed = [(op, call) for op, call in zip(result.model.graph.operators, result.model.calls)
                  if op.opcode == "TRANSPOSE_CONV"]
    assert [call.function for _, call in transposed] == [TRANSPOSE_CONV_IM2COL] * 2
    assert transposed[0][0].options["fusedActivationFunction"] == "RELU"
