"""16x8 mode (int16 activations) of LOGISTIC, TANH and SOFTMAX against TFLite-Micro, byte for byte: every
int16 input through power-of-two and other input scales (the reference's two scaling paths, the
CheckedLog2 tolerance at the edge between them, scales large enough to wrap its int32 product), random
shapes, and the configurations TFLite-Micro refuses refused in one line."""

from __future__ import annotations

import math

import numpy as np
import pytest
from single_op import OpCase, TensorSpec, check_cases, log_uniform, single_op_tflite
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.errors import TinyEdgeError, UnsupportedOpError
from tinyedge.importer import parse_tflite
from tinyedge.ops import lower
from tinyedge.ops._activations_16x8 import SIGMOID_TABLE_UINT16
from tinyedge.reference import run_reference

EVERY_INT16 = np.arange(-32768, 32768, dtype=np.int16)
Q15 = 2.0**-15
# Power-of-two input scales (2^-12 and 2^-11 are the reference's shift-only cases), scales that CheckedLog2
# takes for 2^-12 / 2^-11 (log2 within 1e-3) and ones just outside, scales from 1.33 up whose int32
# product wraps in the reference, and the extremes.
SCALES = (2.0**-12, 2.0**-11, 2.0**-13, 2.0**-10, 2.0**-15, 2.0**-20, 2.0**-8, 2.0**-3, 2.0**-1,
          2.0**-12 * 1.0006, 2.0**-11 * 0.9994, 2.0**-12 * 1.0008, 2.0**-11 * 1.002, 2.0**-12 * 0.99,
          1.0 / 32767, 3.0 / 32768, 10.0 / 32768, 1.4, 3.0, 100.0, 2e5, 1e-9)


def _every_input_case(opcode: str, scale: float, output_scale: float, label: str) -> OpCase:
    """All 65536 int16 values, shuffled, in one [256, 256] input."""
    values = np.random.default_rng(len(label)).permutation(EVERY_INT16)
    return OpCase(opcode, (TensorSpec((256, 256), scale, 0, dtype="int16"),),
                  TensorSpec((256, 256), output_scale, 0, dtype="int16"), None, label,
                  (values.astype("<i2").tobytes(),))


def test_the_sigmoid_table_is_what_its_comment_says_within_one():
    # TFLite-Micro's sigmoid_table_uint16 is "sigmoid(i/24) at 0.16 format", capped at 65535; it was not made
    # by rounding that (44 entries are one above), so the kernels take the data and this checks it.
    formula = [min(65535, math.floor(65536.0 / (1.0 + math.exp(-i / 24.0)) + 0.5)) for i in range(256)]
    differences = np.array(SIGMOID_TABLE_UINT16) - np.array(formula)
    assert len(SIGMOID_TABLE_UINT16) == 256 and set(differences.tolist()) <= {0, 1}
    assert np.all(np.diff(SIGMOID_TABLE_UINT16) >= 0) and SIGMOID_TABLE_UINT16[0] == 32768


@pytest.mark.parametrize("opcode", ["LOGISTIC", "TANH"])
def test_int16_logistic_and_tanh_match_tflite_micro_over_every_input(tmp_path, opcode):
    rng = np.random.default_rng(1700)
    scales = list(SCALES) + [log_uniform(rng, -7, 0) for _ in range(24)]
    # Output scales CheckedLog2 rounds to -15: 2^-15 itself, 1/32767, 2^-15 * 1.0005.
    output_scales = (Q15, Q15, Q15, 1.0 / 32767, Q15 * 1.0005)
    cases = [_every_input_case(opcode, scale, output_scales[number % len(output_scales)], f"{opcode} #{number}")
             for number, scale in enumerate(scales)]
    models = check_cases(cases, tmp_path)
    name = opcode.lower()
    assert {m.calls[0].function for m in models} == {f"te_{name}_s16"}
    params = [(m.calls[0].params["input_multiplier"], m.calls[0].params["input_left_shift"]) for m in models]
    # The shift-only (power-of-two) path: LOGISTIC at 2^-12 only, TANH at 2^-12 and 2^-11, CheckedLog2's
    # tolerance included; every other scale is rescaled to a 15-bit multiplier with a shift.
    assert params[0] == (3, 0) and params[9] == (3, 0)
    assert (params[1] == (6, 0)) == (params[10] == (6, 0)) == (opcode == "TANH")
    assert params[11][1] > 0 and params[12][1] > 0
    assert all(16384 <= m <= 32767 and s > 0 for m, s in params[2:9] + params[13:16])


@pytest.mark.parametrize("opcode", ["LOGISTIC", "TANH"])
def test_int16_logistic_and_tanh_match_tflite_micro_on_random_shapes(tmp_path, opcode):
    rng = np.random.default_rng(1701)
    cases = []
    for number in range(120):
        shape = tuple(int(d) for d in rng.integers(1, 9, size=int(rng.integers(1, 5))))
        scale = 2.0 ** int(rng.integers(-16, -8)) if number % 4 == 0 else log_uniform(rng, -6, -1)
        cases.append(OpCase(opcode, (TensorSpec(shape, scale, 0, dtype="int16"),),
                            TensorSpec(shape, Q15, 0, dtype="int16"), None, f"seed 1701 #{number}"))
    models = check_cases(cases, tmp_path, samples=3)
    assert {m.calls[0].function for m in models} == {f"te_{opcode.lower()}_s16"}


def _refused_by_both(case: OpCase, match: str) -> None:
    """tinyedge refuses the layer in one line naming it, and tflite_micro refuses the model too."""
    flatbuffer = single_op_tflite(case)
    graph = parse_tflite(flatbuffer, name="refused")
    with pytest.raises(UnsupportedOpError, match=match) as refusal:
        lower(graph, graph.operators[0])
    assert str(refusal.value).startswith("layer 0 ") and "\n" not in str(refusal.value)
    with pytest.raises(TinyEdgeError, match="failed to prepare"):
        run_reference(flatbuffer, [[np.zeros(case.inputs[0].shape, dtype=case.inputs[0].dtype)]])


@pytest.mark.parametrize("opcode", ["LOGISTIC", "TANH"])
@pytest.mark.parametrize(("zero_points", "output_scale", "match"), [
    ((5, 0), Q15, "needs zero point 0 on its input and output"),
    ((0, -3), Q15, "needs zero point 0 on its input and output"),
    ((0, 0), 2.0**-14, "output must have scale 2\\^-15"),
    ((0, 0), 1.0 / 20000, "output must have scale 2\\^-15"),
    ((0, 0), Q15 * 1.002, "output must have scale 2\\^-15"),
])
def test_int16_logistic_and_tanh_refuse_what_tflite_micro_refuses(opcode, zero_points, output_scale, match):
    case = OpCase(opcode, (TensorSpec((1, 8), 0.001, zero_points[0], dtype="int16"),),
                  TensorSpec((1, 8), output_scale, zero_points[1], dtype="int16"))
    _refused_by_both(case, f"int16 {opcode} {match}")


def _softmax_options(beta: float) -> schema.SoftmaxOptionsT:
    options = schema.SoftmaxOptionsT()
    options.beta = beta
    return options


def _int16_samples(rng: np.random.Generator, shape: tuple[int, ...], count: int) -> tuple[bytes, ...]:
    """Values within a random width of a random centre, so rows hold differences of every size."""
    samples = []
    for _ in range(count):
        width = int(rng.choice([40, 400, 4000, 32768]))
        centre = int(rng.integers(-32768 + width, 32768 - width)) if width < 32768 else 0
        values = rng.integers(centre - width, centre + width, size=shape, endpoint=True).clip(-32768, 32767)
        samples.append(values.astype("<i2").tobytes())
    return tuple(samples)


BETAS = (1.0, 1.0, 0.5, 2.0, 0.125, 7.0)


def test_int16_softmax_matches_tflite_micro_on_random_shapes_betas_and_scales(tmp_path):
    rng = np.random.default_rng(1702)
    cases = []
    for number in range(200):
        shape = tuple(int(d) for d in rng.integers(1, 6, size=int(rng.integers(0, 3))))
        shape += (int(rng.choice([1, 2, 3, 10, int(rng.integers(2, 40)), int(rng.integers(40, 300))])),)
        beta = float(rng.choice(BETAS)) if number % 3 else float(log_uniform(rng, -1.5, 1))
        # Around 10/65535 (the differences fill the exp table) and a few decades either way.
        scale = 10.0 / 65535 * log_uniform(rng, -2.5, 2)
        output_scale = (Q15, Q15, Q15 * 1.0008, Q15 * 0.9992)[number % 4]
        cases.append(OpCase("SOFTMAX", (TensorSpec(shape, scale, 0, dtype="int16"),),
                            TensorSpec(shape, output_scale, 0, dtype="int16"), _softmax_options(beta),
                            f"seed 1702 #{number} beta {beta}", _int16_samples(rng, shape, 3)))
    models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {"te_softmax_s16"}
    assert {m.calls[0].params["input_shift"] > 0 for m in models} == {True, False}


def test_int16_softmax_matches_tflite_micro_over_every_input(tmp_path):
    # All 65536 int16 values in 256 rows of 256: every part of both tables, at scales from a difference
    # range well inside [-10, 0] to one far beyond it.
    rng = np.random.default_rng(1703)
    cases = []
    for number, scale in enumerate((1e-6, 2e-5, 10.0 / 65535, 2.0**-12, 1e-3, 0.05, 3.0)):
        values = rng.permutation(EVERY_INT16)
        cases.append(OpCase("SOFTMAX", (TensorSpec((256, 256), scale, 0, dtype="int16"),),
                            TensorSpec((256, 256), Q15, 0, dtype="int16"), _softmax_options(BETAS[number % 6]),
                            f"every input #{number}", (values.astype("<i2").tobytes(),)))
    models = check_cases(cases, tmp_path)
    assert {m.calls[0].function for m in models} == {"te_softmax_s16"}


def test_int8_to_int16_softmax_matches_tflite_micro(tmp_path):
    rng = np.random.default_rng(1704)
    cases = []
    for number in range(150):
        shape = tuple(int(d) for d in rng.integers(1, 5, size=int(rng.integers(0, 3))))
        shape += (int(rng.choice([1, 2, 10, int(rng.integers(2, 64))])),)
        beta = float(rng.choice(BETAS))
        scale = log_uniform(rng, -3, 0)  # beta x scale x 2^26 well above 1, as TFLite-Micro requires
        output_scale = (1 / 65536, 1 / 65536 * 1.0009)[number % 2]
        cases.append(OpCase("SOFTMAX", (TensorSpec(shape, scale, int(rng.integers(-128, 128))),),
                            TensorSpec(shape, output_scale, -32768, dtype="int16"), _softmax_options(beta),
                            f"seed 1704 #{number} beta {beta}"))
    models = check_cases(cases, tmp_path, samples=3)
    assert {m.calls[0].function for m in models} == {"te_softmax_s8_s16"}
    assert not any(m.calls[0].in_place for m in models)


@pytest.mark.parametrize(("dtypes", "zero_points", "output_scale", "match"), [
    (("int16", "int16"), (3, 0), Q15, "int16 SOFTMAX needs zero point 0 on its input and output"),
    (("int16", "int16"), (0, -1), Q15, "int16 SOFTMAX needs zero point 0 on its input and output"),
    (("int16", "int16"), (0, 0), 2.0**-14, "int16 SOFTMAX output must have scale 1/32768"),
    (("int16", "int16"), (0, 0), Q15 * 1.0011, "int16 SOFTMAX output must have scale 1/32768"),
    (("int8", "int16"), (0, 0), 1 / 65536, "after an int8 input must have scale 1/65536 and zero point -32768"),
    (("int8", "int16"), (0, -32768), Q15, "after an int8 input must have scale 1/65536 and zero point -32768"),
])
def test_16x8_softmax_refuses_what_tflite_micro_refuses(dtypes, zero_points, output_scale, match):
    case = OpCase("SOFTMAX", (TensorSpec((1, 8), 0.01, zero_points[0], dtype=dtypes[0]),),
                  TensorSpec((1, 8), output_scale, zero_points[1], dtype=dtypes[1]), _softmax_options(1.0))
    _refused_by_both(case, match)


@pytest.fixture(scope="module")
def trained_16x8(tmp_path_factory) -> bytes:
    """Dense layers with tanh and sigmoid (standalone TANH and LOGISTIC: FULLY_CONNECTED fuses neither), a
    sigmoid gate multiplied in, an unrolled LSTM over the input as 3 steps of 4 (its gates' LOGISTIC and TANH
    between SPLIT, MUL and ADD), and a softmax head, trained a few epochs and converted in 16x8 mode."""
    import keras
    from keras_training import train_briefly
    from test_mac_ops_16x8 import convert_16x8

    layers = keras.layers
    keras.utils.set_random_seed(5)
    x = keras.Input((12,), batch_size=1)
    h = layers.Dense(16, activation="tanh")(x)
    gate = layers.Dense(16, activation="sigmoid")(x)
    y = layers.Multiply()([h, gate])
    y = layers.Activation("tanh")(layers.Dense(10)(y))
    sequence = layers.LSTM(6, unroll=True)(layers.Reshape((3, 4))(x))
    y = layers.Concatenate()([y, sequence])
    model = train_briefly(keras.Model(x, layers.Dense(5, activation="softmax")(y)), epochs=4)
    calibration = np.random.default_rng(6).uniform(-1, 1, (64, 12)).astype(np.float32)
    return convert_16x8(model, tmp_path_factory.mktemp("act16"), calibration)


@pytest.mark.parametrize("board", ["host", "nrf52840"])
def test_a_trained_16x8_model_with_tanh_sigmoid_an_unrolled_lstm_and_softmax_runs_bit_exact(trained_16x8, tmp_path,
                                                                                              board):
    import shutil

    from tinyedge.boards import load_board
    from tinyedge.codegen import compile_graph
    from tinyedge.host import run_host
    from tinyedge.pipeline import build
    from tinyedge.simulate import simulate
    from tinyedge.verify import random_samples, verify

    if board != "host" and shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    graph = parse_tflite(trained_16x8, name="model")
    model = compile_graph(graph)
    functions = [(op.opcode, call.function) for op, call in zip(graph.operators, model.calls)]
    assert {("TANH", "te_tanh_s16"), ("LOGISTIC", "te_logistic_s16"), ("SOFTMAX", "te_softmax_s16")} <= set(functions)
    # Two standalone TANH, a LOGISTIC gate, and the LSTM's three steps of three LOGISTIC (but the first step's
    # forget gate, which a zero cell state leaves unused) and two TANH.
    assert [f for _, f in functions].count("te_tanh_s16") == 8, functions
    assert [f for _, f in functions].count("te_logistic_s16") == 9, functions
    assert {t.dtype for t in model.inputs + model.outputs} == {"int16"}
    firmware = build(model, board, tmp_path / board)
    inputs = random_samples(model, 3, seed=12)
    # Also inputs as the model saw in training (random int16 values mostly saturate the first layers).
    scale = model.inputs[0].scale
    trained = np.random.default_rng(13).uniform(-1, 1, (5, 12)) / scale
    inputs += [np.clip(np.round(sample), -32768, 32767).astype("<i2").tobytes() for sample in trained]
    outputs = (run_host(firmware.elf, inputs, model.output_bytes) if board == "host"
               else list(simulate(firmware.elf, load_board(board), inputs).outputs))
    result = verify(trained_16x8, model, inputs, outputs)
    assert result.bit_exact, f"not bit-exact on {board}: {result.first_mismatch}"
