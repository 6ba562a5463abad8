"""16x8 mode (int16 activations) of the arithmetic element-wise ops against TFLite-Micro, byte for
byte: the int8 tests' random shapes, broadcasts, scales and fused activations with int16 tensors,
zero point 0 as TensorFlow writes it and other zero points where TFLite-Micro takes them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from int16_cases import ZERO_POINTS_MAPPED, ZERO_POINTS_ZERO, as_int16_cases, as_int16_spec
from single_op import (
    ACTIVATIONS,
    OpCase,
    TensorSpec,
    activation,
    check_cases,
    log_uniform,
    random_binary_case,
    single_op_tflite,
)
from test_maximum_minimum import _cases as maximum_minimum_cases
from test_prelu import _prelu_cases as prelu_cases
from test_reduce import random_reduce_cases
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.errors import UnsupportedOpError
from tinyedge.importer import parse_tflite
from tinyedge.ops import lower
from tinyedge.ops.quantize import WIDE_REQUANTIZE

CONFIGURATIONS = 100


def _binary_cases(opcode: str, options_type: type | None, seed: int, count: int) -> list:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        scale1 = log_uniform(rng, -5, -1)
        scale2 = scale1 * log_uniform(rng, -3, 3)
        output_scale = max(scale1, scale2) * log_uniform(rng, -3, 2)
        options = None
        if options_type is not None:
            options = options_type()
            options.fusedActivationFunction = activation(str(rng.choice(ACTIVATIONS)))
        cases.append(random_binary_case(opcode, rng, (scale1, scale2, output_scale), options,
                                        f"seed {seed} #{number}"))
    return cases


def test_int16_add_matches_tflite_micro_with_any_zero_points(tmp_path):
    models = check_cases(as_int16_cases(_binary_cases("ADD", schema.AddOptionsT, 1600, CONFIGURATIONS), 1), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_add_s16"}
    assert {m.calls[0].params["left_shift"] for m in models} == {15}


def test_int16_sub_matches_tflite_micro_with_any_zero_points(tmp_path):
    models = check_cases(as_int16_cases(_binary_cases("SUB", schema.SubOptionsT, 1601, CONFIGURATIONS), 2), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_sub_s16"}


def _random_shape(rng: np.random.Generator) -> tuple[int, ...]:
    return tuple(int(d) for d in rng.integers(1, 7, size=int(rng.integers(1, 5))))


def _int16_zero_point(rng: np.random.Generator) -> int:
    """0 (TensorFlow's) half the time, else the extremes or anything between."""
    return int(rng.choice([0, 0, 0, -32768, 32767, int(rng.integers(-32768, 32768))]))


def _unary_cases(opcode: str, seed: int, count: int, zero_points: bool = True) -> list[OpCase]:
    """One int16 input and output, scales up to 100x apart; zero_points: other than 0 at times."""
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        shape = _random_shape(rng)
        input_scale = log_uniform(rng, -5, -1)
        output_scale = input_scale * log_uniform(rng, -2, 2) if number % 4 else input_scale
        zps = (_int16_zero_point(rng), _int16_zero_point(rng)) if zero_points else (0, 0)
        options = None
        if opcode == "LEAKY_RELU":
            options = schema.LeakyReluOptionsT()
            options.alpha = float(rng.choice([0.0, 0.01, 0.2, 0.3, 1.0, 1.5, float(rng.uniform(0, 2))]))
        cases.append(OpCase(opcode, (TensorSpec(shape, input_scale, zps[0], dtype="int16"),),
                            TensorSpec(shape, output_scale, zps[1], dtype="int16"), options, f"seed {seed} #{number}"))
    return cases


def test_int16_leaky_relu_matches_tflite_micro(tmp_path):
    models = check_cases(_unary_cases("LEAKY_RELU", 1602, CONFIGURATIONS), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_relu_s16"}


def test_int16_relu_and_relu6_match_tflite_micro(tmp_path):
    # TFLite-Micro's int16 RELU takes zero point 0 only; RELU6 any (it clamps in the input's quantization).
    cases = _unary_cases("RELU", 1603, CONFIGURATIONS // 2, zero_points=False)
    cases += _unary_cases("RELU6", 1604, CONFIGURATIONS // 2)
    models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {"te_relu_s16"}


def test_int16_relu_with_a_zero_point_is_refused_as_tflite_micro_refuses_it():
    case = OpCase("RELU", (TensorSpec((1, 4), 0.01, 3, dtype="int16"),), TensorSpec((1, 4), 0.01, 0, dtype="int16"))
    graph = parse_tflite(single_op_tflite(case), name="relu16")
    with pytest.raises(UnsupportedOpError, match="int16 RELU needs zero point 0"):
        lower(graph, graph.operators[0])


_TYPE_ZERO_POINTS = {"int8": (-128, 127), "int16": (-32768, 32767), "int32": (-(1 << 20), 1 << 20)}


def _quantize_cases(seed: int, count: int) -> list[OpCase]:
    """Every integer pair TFLite-Micro requantizes beyond int8 -> int8, scales up to 1000x apart either way."""
    rng = np.random.default_rng(seed)
    pairs = sorted(WIDE_REQUANTIZE)
    cases = []
    for number in range(count):
        source, target = pairs[number % len(pairs)]
        shape = _random_shape(rng)
        input_scale = log_uniform(rng, -5, -1)
        output_scale = input_scale * log_uniform(rng, -3, 3) if number % 5 else input_scale

        def zero_point(dtype: str) -> int:
            low, high = _TYPE_ZERO_POINTS[dtype]
            return 0 if rng.random() < 0.4 else int(rng.integers(low, high + 1))

        cases.append(OpCase("QUANTIZE", (TensorSpec(shape, input_scale, zero_point(source), dtype=source),),
                            TensorSpec(shape, output_scale, zero_point(target), dtype=target), None,
                            f"seed {seed} #{number} {source}->{target}"))
    return cases


def test_quantize_between_int8_int16_and_int32_matches_tflite_micro(tmp_path):
    models = check_cases(_quantize_cases(1605, 140), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_quantize_s16"}
    assert {(m.calls[0].params["input_bytes"], m.calls[0].params["output_bytes"]) for m in models} == {
        (1, 2), (1, 4), (2, 1), (2, 2), (2, 4), (4, 1), (4, 2)}


def test_int16_mul_matches_tflite_micro_at_zero_point_0(tmp_path):
    # TFLite-Micro's int16 MUL takes zero point 0 only (TensorFlow's); output scales from the inputs'
    # product (a left shift) to far below it.
    rng = np.random.default_rng(1606)
    cases = []
    for number in range(CONFIGURATIONS):
        scale1, scale2 = log_uniform(rng, -5, -1), log_uniform(rng, -5, -1)
        options = schema.MulOptionsT()
        options.fusedActivationFunction = activation(str(rng.choice(ACTIVATIONS)))
        cases.append(random_binary_case("MUL", rng, (scale1, scale2, scale1 * scale2 * log_uniform(rng, 0, 5)),
                                        options, f"seed 1606 #{number}"))
    models = check_cases(as_int16_cases(cases, 3, modes=(ZERO_POINTS_ZERO,)), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_mul_s16"}


def test_int16_squared_difference_matches_tflite_micro_at_zero_point_0(tmp_path):
    rng = np.random.default_rng(1607)
    cases = []
    for number in range(CONFIGURATIONS):
        scale1 = log_uniform(rng, -5, -1)
        scale2 = scale1 * log_uniform(rng, -2, 2)
        # About 32767 * scale^2 (the square's range over the int16 steps), a few decades either way.
        output_scale = max(scale1, scale2) ** 2 * 32767 * log_uniform(rng, -3, 2)
        cases.append(random_binary_case("SQUARED_DIFFERENCE", rng, (scale1, scale2, output_scale), None,
                                        f"seed 1607 #{number}"))
    models = check_cases(as_int16_cases(cases, 4, modes=(ZERO_POINTS_ZERO,)), tmp_path)
    assert {m.calls[0].function for m in models} == {"te_squared_difference_s16"}
    assert {m.calls[0].params["left_shift"] for m in models} == {0}


@pytest.mark.parametrize("opcode", ["MAXIMUM", "MINIMUM"])
def test_int16_maximum_minimum_match_tflite_micro(tmp_path, opcode):
    models = check_cases(as_int16_cases(maximum_minimum_cases(opcode, 1608, CONFIGURATIONS), 5), tmp_path)
    assert {m.calls[0].function for m in models} == {f"te_{opcode.lower()}_s16"}


@pytest.mark.parametrize("opcode", ["MUL", "SQUARED_DIFFERENCE"])
def test_int16_mul_and_squared_difference_with_a_zero_point_are_refused_as_tflite_micro_refuses_them(opcode):
    spec = TensorSpec((1, 4), 0.01, 0, dtype="int16")
    case = OpCase(opcode, (spec, TensorSpec((1, 4), 0.01, 5, dtype="int16")), spec)
    graph = parse_tflite(single_op_tflite(case), name="zp16")
    with pytest.raises(UnsupportedOpError, match=f"int16 {opcode} needs zero point 0"):
        lower(graph, graph.operators[0])


def _pool_case(rng: np.random.Generator, opcode: str, label: str) -> OpCase:
    height, width, depth = (int(d) for d in rng.integers(1, 9, size=3))
    filter_h, filter_w = int(rng.integers(1, min(height, 4) + 1)), int(rng.integers(1, min(width, 4) + 1))
    stride_h, stride_w = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    padding = str(rng.choice(["SAME", "VALID"]))
    if padding == "SAME":
        out_h, out_w = -(-height // stride_h), -(-width // stride_w)
    else:
        out_h, out_w = (height - filter_h) // stride_h + 1, (width - filter_w) // stride_w + 1
    options = schema.Pool2DOptionsT()
    options.padding = getattr(schema.Padding, padding)
    options.strideH, options.strideW, options.filterHeight, options.filterWidth = stride_h, stride_w, filter_h, filter_w
    options.fusedActivationFunction = activation(str(rng.choice(ACTIVATIONS)))
    scale, zero_point = log_uniform(rng, -5, -1), _int16_zero_point(rng)
    batches = int(rng.integers(1, 3))
    return OpCase(opcode, (TensorSpec((batches, height, width, depth), scale, zero_point, dtype="int16"),),
                  TensorSpec((batches, out_h, out_w, depth), scale, zero_point, dtype="int16"), options, label)


@pytest.mark.parametrize("opcode", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
def test_int16_pooling_matches_tflite_micro(tmp_path, opcode):
    rng = np.random.default_rng(1609)
    cases = [_pool_case(rng, opcode, f"seed 1609 #{number}") for number in range(CONFIGURATIONS)]
    models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {f"te_{'avg' if opcode[0] == 'A' else 'max'}_pool2d_s16"}


@pytest.mark.parametrize("opcode", ["MEAN", "SUM"])
def test_int16_mean_and_sum_match_tflite_micro(tmp_path, opcode):
    rng = np.random.default_rng(1619)
    cases = as_int16_cases(random_reduce_cases(opcode, 1619, CONFIGURATIONS), 1619)
    # Half of the means with an output scale of their own (the int8 cases keep the input's for MEAN).
    cases = [replace(case, output=replace(case.output, scale=case.output.scale * log_uniform(rng, -1, 1)))
             if number % 2 else case for number, case in enumerate(cases)]
    models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {"te_mean_s16"}


def test_int16_prelu_with_int8_alpha_matches_tflite_micro(tmp_path):
    # TFLite-Micro's 16x8 PRELU: int16 input and output, an int8 alpha (constant, or now and then a model input).
    rng = np.random.default_rng(1624)
    cases = [replace(case, inputs=(as_int16_spec(case.inputs[0], rng, mode), case.inputs[1]),
                     output=as_int16_spec(case.output, rng, mode), label=f"{case.label} int16/{mode}")
             for number, case in enumerate(prelu_cases(1624, CONFIGURATIONS))
             for mode in ((ZERO_POINTS_ZERO, ZERO_POINTS_MAPPED)[number % 2],)]
    models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {"te_prelu_s16"}


def test_int16_abs_matches_tflite_micro_at_zero_point_0(tmp_path):
    rng = np.random.default_rng(1625)
    cases = []
    for number in range(CONFIGURATIONS):
        shape, scale = _random_shape(rng), log_uniform(rng, -5, -1)
        output_scale = scale if number % 4 == 0 else scale * log_uniform(rng, -1, 1)  # equal scales: no rescale
        cases.append(OpCase("ABS", (TensorSpec(shape, scale, 0, dtype="int16"),),
                            TensorSpec(shape, output_scale, 0, dtype="int16"), None, f"seed 1625 #{number}"))
    models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {"te_abs_s16"}


def test_int16_rsqrt_matches_tflite_micro_on_inputs_from_0(tmp_path):
    # TFLite-Micro fails an Invoke on a negative input, so the samples are 0 to 32767 (0 gives 32767).
    rng = np.random.default_rng(1626)
    cases = []
    for number in range(CONFIGURATIONS):
        shape, scale = _random_shape(rng), log_uniform(rng, -5, -1)
        output_scale = float(1 / np.sqrt(scale) / 32767 * log_uniform(rng, -1, 1.5))
        samples = tuple(rng.integers(0, 32768, size=shape, dtype=np.int16).astype("<i2").tobytes() for _ in range(2))
        cases.append(OpCase("RSQRT", (TensorSpec(shape, scale, 0, dtype="int16"),),
                            TensorSpec(shape, output_scale, 0, dtype="int16"), None, f"seed 1626 #{number}", samples))
    models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {"te_rsqrt_s16"}


@pytest.mark.parametrize("opcode", ["ABS", "RSQRT"])
def test_int16_abs_and_rsqrt_with_a_zero_point_are_refused_as_tflite_micro_refuses_them(opcode):
    case = OpCase(opcode, (TensorSpec((1, 4), 0.01, 3, dtype="int16"),), TensorSpec((1, 4), 0.01, 0, dtype="int16"))
    graph = parse_tflite(single_op_tflite(case), name="zp16")
    with pytest.raises(UnsupportedOpError, match=f"int16 {opcode} needs zero point 0"):
        lower(graph, graph.operators[0])


def test_int16_abs_over_every_input_takes_the_multiplier_in_double(tmp_path):
    # Scales whose ratio quantizes differently divided in float32 (2128704384) and in double (2128704431):
    # with the float32 one 10 of the 65536 inputs come out one lower than tflite_micro's.
    values = np.arange(-32768, 32768, dtype=np.int16)
    case = OpCase("ABS", (TensorSpec((65536,), 2.1240479781038974e-05, 0, dtype="int16"),),
                  TensorSpec((65536,), 4.285572019989353e-05, 0, dtype="int16"), None, "every int16",
                  (values.astype("<i2").tobytes(),))
    (model,) = check_cases([case], tmp_path)
    assert model.calls[0].params["multiplier"] == 2128704431
