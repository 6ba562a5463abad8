"""Standalone int8 activations (LOGISTIC, TANH, RELU, RELU6, LEAKY_RELU, HARD_SWISH): generated C against
TFLite-Micro, byte for byte, after a Dense layer, after an ADD that cannot absorb them, and on
model inputs over a range of input scales; LOGISTIC and TANH over every int8 input and random
shapes through their lookup tables and through the reference kernels; plus the Prepare
arithmetic on hand-built graphs."""

from __future__ import annotations

import contextlib

import keras
import numpy as np
import pytest
from single_op import OpCase, TensorSpec, check_cases, log_uniform, random_zero_point

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import lower
from tinyedge.ops.activations import downscale_multiplier_to_int16, q4_input_scaling
from tinyedge.ops.conv import reference_kernels

# Calibration half-ranges: from an input scale of ~4e-4 (everything inside the fixed-point
# range) to ~2.4 (most inputs saturate).
INPUT_RANGES = [0.05, 1.0, 40.0, 300.0]
WIDTH = 256  # with 8 random samples nearly every int8 value reaches the kernel


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(0)


def calibration(half_range: float, shape: tuple[int, ...] = (WIDTH,)) -> list[np.ndarray]:
    return [np.random.default_rng(3).uniform(-half_range, half_range, (32, *shape)).astype(np.float32)]


def on_input(layer: keras.layers.Layer, width: int = WIDTH) -> keras.Model:
    inputs = keras.Input((width,), batch_size=1)
    return keras.Model(inputs, layer(inputs))


def after_dense(activation: str) -> keras.Model:
    inputs = keras.Input((24,), batch_size=1)
    return keras.Model(inputs, keras.layers.Dense(16, activation=activation)(inputs))


def after_add(layer: keras.layers.Layer) -> keras.Model:
    # The sum is also a model output, so the converter cannot fuse the activation into ADD.
    inputs = keras.Input((32,), batch_size=1)
    total = keras.layers.Add()([inputs, keras.layers.Dense(32)(inputs)])
    return keras.Model(inputs, [layer(total), total])


def functions(result) -> list[str]:
    return [layer.function for layer in result.model.layers]


def opcodes(result) -> list[str]:
    return [op.opcode for op in result.model.graph.operators]


def test_sigmoid_after_dense(assert_bit_exact):
    result = assert_bit_exact(after_dense("sigmoid"), samples=8)
    assert functions(result) == ["te_fully_connected_packed_s8", "te_lookup_s8"]
    with reference_kernels():
        result = assert_bit_exact(after_dense("sigmoid"), samples=8)
    assert functions(result) == ["te_fully_connected_s8", "te_logistic_s8"]


def test_tanh_after_dense(assert_bit_exact):
    result = assert_bit_exact(after_dense("tanh"), samples=8)
    assert functions(result) == ["te_fully_connected_packed_s8", "te_lookup_s8"]
    with reference_kernels():
        result = assert_bit_exact(after_dense("tanh"), samples=8)
    assert functions(result) == ["te_fully_connected_s8", "te_tanh_s8"]


# LOGISTIC writes units of 1/256 from -128 and TANH units of 1/128 from 0, the quantizations the
# converter gives them (and TFLite-Micro's kernels assume).
Q4_OUTPUTS = {"LOGISTIC": (1 / 256, -128), "TANH": (1 / 128, 0)}
ALL_INT8 = np.arange(-128, 128, dtype=np.int8).tobytes()


@pytest.fixture(params=["table", "reference"])
def kernels(request) -> str:
    """Lower with the lookup-table variant, or with the reference kernels only."""
    with contextlib.nullcontext() if request.param == "table" else reference_kernels():
        yield request.param


def _q4_case(opcode: str, shape: tuple[int, ...], input_q: tuple[float, int], label: str,
             samples: tuple[bytes, ...] = ()) -> OpCase:
    return OpCase(opcode, (TensorSpec(shape, *input_q),), TensorSpec(shape, *Q4_OUTPUTS[opcode]), None, label, samples)


def _assert_functions(models: list, kernels: str) -> None:
    functions = {m.calls[0].function for m in models}
    assert functions == ({"te_lookup_s8"} if kernels == "table" else {"te_logistic_s8", "te_tanh_s8"}), functions


def test_logistic_and_tanh_over_every_int8_input(tmp_path, kernels):
    # Input scales from 1e-4 (every input inside the Q4.27 range) to 10 (all but the zero point
    # saturate), zero points at both extremes and zero, all 256 input bytes in one sample.
    rng = np.random.default_rng(71)
    cases = []
    for number in range(16):
        input_q = (log_uniform(rng, -4, 1), [-128, 127, 0][number % 3] if number < 6 else random_zero_point(rng))
        for opcode in Q4_OUTPUTS:
            cases.append(_q4_case(opcode, (256,), input_q, f"{opcode}, all inputs #{number}", (ALL_INT8,)))
    _assert_functions(check_cases(cases, tmp_path), kernels)


def test_logistic_and_tanh_on_random_shapes_and_quantization(tmp_path, kernels):
    # From one element on (a Dense(1, "sigmoid") output) to gate-sized and larger tensors.
    rng = np.random.default_rng(72)
    cases = []
    for number in range(100):
        shape = tuple(int(d) for d in rng.integers(1, 9, size=int(rng.integers(1, 4))))
        input_q = (log_uniform(rng, -3, 0.5), random_zero_point(rng))
        for opcode in Q4_OUTPUTS:
            cases.append(_q4_case(opcode, shape, input_q, f"{opcode} seed 72 #{number}"))
    _assert_functions(check_cases(cases, tmp_path), kernels)


@pytest.mark.parametrize("half_range", INPUT_RANGES)
def test_logistic_over_input_scales(assert_bit_exact, half_range):
    result = assert_bit_exact(on_input(keras.layers.Activation("sigmoid")), calib=calibration(half_range), samples=8)
    assert opcodes(result) == ["LOGISTIC"]


@pytest.mark.parametrize("half_range", INPUT_RANGES)
def test_tanh_over_input_scales(assert_bit_exact, half_range):
    result = assert_bit_exact(on_input(keras.layers.Activation("tanh")), calib=calibration(half_range), samples=8)
    assert opcodes(result) == ["TANH"]


def test_relu_standalone_after_add(assert_bit_exact):
    result = assert_bit_exact(after_add(keras.layers.ReLU()), calib=calibration(2.0, (32,)))
    assert opcodes(result)[-2:] == ["ADD", "RELU"]
    assert result.model.graph.operators[-2].options["fusedActivationFunction"] == "NONE"


def test_relu6_standalone_after_add(assert_bit_exact):
    result = assert_bit_exact(after_add(keras.layers.ReLU(max_value=6.0)), calib=calibration(8.0, (32,)))
    assert opcodes(result)[-2:] == ["ADD", "RELU6"]


@pytest.mark.parametrize("half_range", [1.0, 40.0])
def test_relu_on_model_input_requantizes(assert_bit_exact, half_range):
    result = assert_bit_exact(on_input(keras.layers.ReLU()), calib=calibration(half_range), samples=8)
    assert opcodes(result) == ["RELU"]


@pytest.mark.parametrize("half_range", [1.0, 40.0])
def test_relu6_on_model_input_clamps_in_the_input_quantization(assert_bit_exact, half_range):
    result = assert_bit_exact(on_input(keras.layers.ReLU(max_value=6.0)), calib=calibration(half_range), samples=8)
    assert opcodes(result) == ["RELU6"]


def test_relu6_after_tanh(assert_bit_exact):
    inputs = keras.Input((WIDTH,), batch_size=1)
    outputs = keras.layers.ReLU(max_value=6.0)(keras.layers.Activation("tanh")(inputs))
    result = assert_bit_exact(keras.Model(inputs, outputs), calib=calibration(3.0))
    assert functions(result) == ["te_lookup_s8", "te_relu_s8"]


@pytest.mark.parametrize(("alpha", "half_range"), [(0.2, 1.0), (0.01, 40.0), (0.5, 7.0)])
def test_leaky_relu_on_model_input(assert_bit_exact, alpha, half_range):
    result = assert_bit_exact(on_input(keras.layers.LeakyReLU(negative_slope=alpha)), calib=calibration(half_range),
                              samples=8)
    assert opcodes(result) == ["LEAKY_RELU"]


@pytest.mark.parametrize("calib_range", [(-0.05, 0.05), (-7.0, 3.0), (-3.0, 7.0), (-300.0, 300.0)])
def test_hard_swish_on_model_input(assert_bit_exact, calib_range):
    calib = [np.random.default_rng(3).uniform(*calib_range, (32, WIDTH)).astype(np.float32)]
    result = assert_bit_exact(on_input(keras.layers.Activation("hard_swish")), calib=calib, samples=8)
    assert functions(result) == ["te_hard_swish_s8"]


# ---------------------------------------------------------------- Prepare arithmetic

def unary_graph(opcode: str, input_quant: tuple[float, int], output_quant: tuple[float, int],
                options: dict | None = None) -> Graph:
    tensors = (Tensor(0, "x", (1, 8), "int8", Quantization((input_quant[0],), (input_quant[1],))),
               Tensor(1, "y", (1, 8), "int8", Quantization((output_quant[0],), (output_quant[1],))))
    return Graph("g", tensors, (Operator(0, opcode, (0,), (1,), options or {}),), (0,), (1,))


def test_logistic_input_scaling_of_a_power_of_two_scale():
    # 2^-4 * 2^27 = 2^23 = 0.5 * 2^24: multiplier 2^30, shift 24; radius floor(15 * 2^27 / 2^24) = 120.
    graph = unary_graph("LOGISTIC", (2.0**-4, 0), (1 / 256, -128))
    assert q4_input_scaling(graph, graph.operators[0], 2.0**-4) == (1 << 30, 24, 120)


def test_relu6_clamps_to_zero_point_and_quantized_six_without_requantizing():
    # 6 / 0.0625 = 96 steps above the zero point -20.
    graph = unary_graph("RELU6", (0.0625, -20), (0.03, -128))
    params = lower(graph, graph.operators[0]).params
    assert (params["act_min"], params["act_max"]) == (-20, 76)
    assert (params["positive_multiplier"], params["positive_shift"]) == (1 << 30, 1)  # identity
    assert (params["input_offset"], params["output_offset"]) == (0, 0)


def test_relu_requantizes_and_clamps_at_the_output_zero_point():
    # 0.5 / 0.25 = 2 = 0.5 * 2^2: multiplier 2^30, shift 2.
    graph = unary_graph("RELU", (0.5, 3), (0.25, -100))
    params = lower(graph, graph.operators[0]).params
    assert (params["positive_multiplier"], params["positive_shift"]) == (1 << 30, 2)
    assert (params["act_min"], params["act_max"]) == (-100, 127)


def test_hard_swish_multipliers_round_to_q15_and_saturate():
    assert downscale_multiplier_to_int16(1 << 30) == 1 << 14
    assert downscale_multiplier_to_int16((1 << 30) + (1 << 15)) == (1 << 14) + 1  # half rounds up
    assert downscale_multiplier_to_int16(0x7FFF7FFF) == 0x7FFF  # would round to 2^15


def test_logistic_output_zero_point_other_than_minus_128_is_rejected():
    graph = unary_graph("LOGISTIC", (0.1, 0), (1 / 256, 0))
    with pytest.raises(UnsupportedOpError, match="layer 0 LOGISTIC.*zero point -128"):
        lower(graph, graph.operators[0])


def test_leaky_relu_with_negative_alpha_is_rejected():
    graph = unary_graph("LEAKY_RELU", (0.1, 0), (0.1, 0), {"alpha": -0.5})
    with pytest.raises(UnsupportedOpError, match="layer 0 LEAKY_RELU.*negative alpha"):
        lower(graph, graph.operators[0])
