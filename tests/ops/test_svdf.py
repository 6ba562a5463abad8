"""SVDF (int8 input and output, int16 or int8 state and time weights) against TFLite-Micro, byte for byte:
200 seeded random configurations, each run on three inputs in a row so that the state's memory
carries from call to call as it does in TFLite-Micro's interpreter, and refusals.

No Keras layer converts to SVDF (TensorFlow's converter fuses it only from the SVDF patterns of old
TF1 graphs), so the harness's single-op models are the test: single_op_tflite writes every
non-constant input as a model input, and here the state is made a variable tensor instead.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from unittest import mock

import flatbuffers
import numpy as np
import pytest
import single_op
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.codegen import compile_graph
from tinyedge.errors import UnsupportedOpError
from tinyedge.importer import parse_tflite
from tinyedge.ops.conv import reference_kernels
from tinyedge.ops.svdf import SVDF_INT8_STATE, SVDF_PACKED, SVDF_REFERENCE
from tinyedge.pipeline import compile_model

CONFIGURATIONS = 200
STATE_INPUT = 4  # SVDF's inputs: input, weights_feature, weights_time, bias, state


def _with_variable_state(flatbuffer: bytes) -> bytes:
    """The single-op SVDF model with its state a variable tensor (not a model input), as converters write it."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    subgraph = model.subgraphs[0]
    state = int(subgraph.operators[0].inputs[STATE_INPUT])
    subgraph.tensors[state].isVariable = True
    subgraph.inputs = [int(t) for t in subgraph.inputs if int(t) != state]
    builder = flatbuffers.Builder(len(flatbuffer) + 256)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.fixture(autouse=True)
def _variable_state() -> Iterator[None]:
    original = single_op.single_op_tflite
    with mock.patch.object(single_op, "single_op_tflite", lambda case: _with_variable_state(original(case))):
        yield


def svdf_case(rng: np.random.Generator, label: str, batches: int, input_size: int, units: int, rank: int,
              memory: int, state_zero_point: int = 0, state_dtype: str = "int16") -> OpCase:
    """Scales as a calibrated converter gives them: symmetric weights, bias scale = state x time scale."""
    filters = units * rank
    input_scale = log_uniform(rng, -3, 0)
    feature_scale = log_uniform(rng, -3, -1)
    # Uniform int8 values have a standard deviation near 74, so a sum of n products is near 5500 sqrt(n): the
    # state scale maps that to about 8000 of int16 (40 of int8), and the output scale the time sums to about 60
    # of int8, give or take a factor of 3, so that some values saturate and most do not.
    typical_state = 8000 if state_dtype == "int16" else 40
    typical_feature_sum = 5500 * np.sqrt(input_size)
    state_scale = float(np.float32(input_scale * feature_scale * typical_feature_sum / typical_state
                                   * log_uniform(rng, -0.5, 0.5)))
    time_scale = float(np.float32(log_uniform(rng, -5, -2)))
    bias_scale = float(np.float32(np.float32(state_scale) * np.float32(time_scale)))
    time_limit = 32767 if state_dtype == "int16" else 127
    typical_time_sum = 0.58 * time_limit * typical_state * np.sqrt(rank * memory)
    output_scale = bias_scale * typical_time_sum / 60 * log_uniform(rng, -0.5, 0.5)
    feature = rng.integers(-127, 128, (filters, input_size), dtype=np.int8)
    time = rng.integers(-time_limit, time_limit + 1, (filters, memory)).astype(state_dtype)
    bias = rng.integers(-(1 << 20), 1 << 20, units).astype(np.int32)
    options = schema.SVDFOptionsT()
    options.rank = rank
    inputs = (TensorSpec((batches, input_size), input_scale, random_zero_point(rng)),
              TensorSpec((filters, input_size), feature_scale, 0, data=feature),
              TensorSpec((filters, memory), time_scale, 0, data=time, dtype=state_dtype),
              TensorSpec((units,), bias_scale, 0, data=bias, dtype="int32"),
              TensorSpec((batches, filters * memory), state_scale, state_zero_point, dtype=state_dtype))
    return OpCase("SVDF", inputs, TensorSpec((batches, units), output_scale, random_zero_point(rng)), options, label)


def _random_cases(seed: int, count: int, state_zero_points: bool = False, state_dtype: str = "int16") -> list[OpCase]:
    rng = np.random.default_rng(seed)
    zero_points = 3000 if state_dtype == "int16" else 30
    return [svdf_case(rng, f"seed {seed} #{n}", batches=int(rng.integers(1, 3)), input_size=int(rng.integers(1, 17)),
                      units=int(rng.integers(1, 7)), rank=int(rng.integers(1, 4)), memory=int(rng.integers(1, 11)),
                      state_zero_point=int(rng.integers(-zero_points, zero_points)) if state_zero_points else 0,
                      state_dtype=state_dtype)
            for n in range(count)]


@pytest.mark.parametrize("variants", [True, False], ids=["packed", "reference"])
def test_svdf_matches_tflite_micro_on_random_configurations_over_three_calls(tmp_path, variants):
    with contextlib.nullcontext() if variants else reference_kernels():
        models = check_cases(_random_cases(seed=5, count=CONFIGURATIONS), tmp_path, samples=3)
    assert {m.calls[0].function for m in models} == {SVDF_PACKED if variants else SVDF_REFERENCE}
    shifts = [m.calls[0].params["shift_1"] for m in models] + [m.calls[0].params["shift_2"] for m in models]
    assert min(shifts) < 0 < max(shifts) or min(shifts) < 0, shifts


def test_svdf_with_int8_state_matches_tflite_micro_over_three_calls(tmp_path):
    # TFLite-Micro's other integer SVDF (its keyword_scrambled_8bit model): int8 state and time weights,
    # the state clamped to int8; zero points on half of the cases.
    cases = _random_cases(seed=11, count=60, state_dtype="int8")
    cases += _random_cases(seed=12, count=60, state_zero_points=True, state_dtype="int8")
    models = check_cases(cases, tmp_path, samples=3)
    assert {m.calls[0].function for m in models} == {SVDF_INT8_STATE}


def test_svdf_with_state_zero_points_matches_tflite_micro(tmp_path):
    # Converters write a zero point of 0 for the int16 state; TFLite-Micro adds a non-zero one before the
    # int16 clamp and takes it off in the time products, and so does te_svdf_s8.
    check_cases(_random_cases(seed=6, count=40, state_zero_points=True), tmp_path, samples=3)


def test_svdf_state_memory_small_exact_answer(tmp_path):
    # One input, one filter of rank 1 remembering 3 steps; every multiplier exactly 1:
    # input scale 1, feature weight 1 (scale 1), state scale 1, time weights (1, 2, 3) of scale 1, output scale 1.
    # Calls with inputs 5, 7, 11: the state goes [0, 0, 5], [0, 5, 7], [5, 7, 11]; outputs 15, 10 + 21 = 31 and
    # 5 + 14 + 33 = 52, plus the bias 1.
    options = schema.SVDFOptionsT()
    options.rank = 1
    inputs = (TensorSpec((1, 1), 1.0, 0), TensorSpec((1, 1), 1.0, 0, data=np.array([[1]], dtype=np.int8)),
              TensorSpec((1, 3), 1.0, 0, data=np.array([[1, 2, 3]], dtype=np.int16), dtype="int16"),
              TensorSpec((1,), 1.0, 0, data=np.array([1], dtype=np.int32), dtype="int32"),
              TensorSpec((1, 3), 1.0, 0, dtype="int16"))
    case = OpCase("SVDF", inputs, TensorSpec((1, 1), 1.0, 0), options, "memory of three",
                  samples=(int8_bytes(5), int8_bytes(7), int8_bytes(11)),
                  expected=(int8_bytes(16), int8_bytes(32), int8_bytes(53)))
    check_cases([case], tmp_path)


def test_svdf_with_a_bias_scale_tflite_micro_refuses_is_refused():
    rng = np.random.default_rng(3)
    case = svdf_case(rng, "bad bias", 1, 4, 2, 1, 3)
    bias = case.inputs[3]
    wrong = TensorSpec(bias.shape, float(bias.scale) * 2 + 1e-3, 0, data=bias.data, dtype="int32")
    case = OpCase("SVDF", (*case.inputs[:3], wrong, case.inputs[4]), case.output, case.options, case.label)
    with pytest.raises(UnsupportedOpError, match="bias scale"):
        compile_graph(parse_tflite(single_op.single_op_tflite(case)))


def test_svdf_packed_dsp_path_on_nrf52840_matches_tflite_micro(tmp_path):
    # te_svdf_packed_s8's SMLAD path (the host runs its plain C one): odd and even filter counts, memory sizes
    # and input sizes, two batches, three calls each, in the emulator.
    rng = np.random.default_rng(8)
    odd_memory = [svdf_case(rng, "odd memory", 1, 7, 3, 1, 5), svdf_case(rng, "odd memory, rank 2", 2, 13, 2, 2, 9)]
    for number, case in enumerate(_random_cases(seed=7, count=6) + odd_memory):
        path = tmp_path / f"case{number}.tflite"
        path.write_bytes(single_op.single_op_tflite(case))
        result = compile_model(path, "nrf52840", tmp_path / f"out{number}", samples=3)
        assert result.model.calls[0].function == SVDF_PACKED
        report = json.loads((tmp_path / f"out{number}" / "report.json").read_text())
        assert report["verification"]["bit_exact"] is True, case.describe()


def test_svdf_keeps_its_state_between_inferences_on_nrf52840(tmp_path):
    # The state lives in the firmware's arena (.bss) between inferences: three in a row in the emulator,
    # each compared with TFLite-Micro's interpreter invoked three times in a row. te_svdf_packed_s8: 5.3
    # instructions per MAC on nrf52840 (te_svdf_s8: 8.7).
    case = svdf_case(np.random.default_rng(1), "keyword-spotting sized", batches=1, input_size=40, units=32, rank=2,
                     memory=10)
    (tmp_path / "svdf.tflite").write_bytes(single_op.single_op_tflite(case))  # the state variable (fixture above)
    result = compile_model(tmp_path / "svdf.tflite", "nrf52840", tmp_path / "out", samples=3)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["verification"]["bit_exact"] is True and report["verification"]["samples"] == 3
    assert result.model.macs == 64 * (40 + 10)
