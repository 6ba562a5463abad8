"""UNIDIRECTIONAL_SEQUENCE_LSTM (TFLite-Micro's 8x8->16 integer LSTM) against TFLite-Micro, byte for byte:
seeded random configurations (sequence lengths 1-8, batches 1-2, 1-16 units and inputs, both layouts, cell
clips, cell scales 2^-16 to 2^-6), each run on three inputs in a row so that the
hidden and cell states carry from call to call as in TFLite-Micro's interpreter; a hand-worked case; refusals.

single_op_tflite writes every input as a tensor of its own; here the optional inputs (peephole, projection,
layer normalization) are taken off the operator (-1) and the two states made variable tensors, as converters
write them.
"""

from __future__ import annotations

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
from tinyedge.ops.unidirectional_sequence_lstm import CELL, HIDDEN, LSTM_REFERENCE, VARIANTS
from tinyedge.pipeline import compile_model

CONFIGURATIONS = 240
ABSENT = [slot for slots in VARIANTS.values() for slot in slots]
_SINGLE_OP_TFLITE = single_op.single_op_tflite  # before the fixture below wraps it
PLACEHOLDER = TensorSpec((1,), 1.0, 0, data=np.zeros(1, dtype=np.int8))  # an absent input's slot, cut off below


def _as_converters_write_it(flatbuffer: bytes, absent: tuple[int, ...] = tuple(ABSENT)) -> bytes:
    """The single-op LSTM with its optional inputs absent and its two states variable, not model inputs."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    subgraph = model.subgraphs[0]
    op = subgraph.operators[0]
    if len(op.inputs) != 24:
        return flatbuffer
    inputs = [int(t) for t in op.inputs]
    states = {inputs[HIDDEN], inputs[CELL]}
    for slot in absent:
        inputs[slot] = -1
    op.inputs = inputs
    for state in states:
        subgraph.tensors[state].isVariable = True
    subgraph.inputs = [int(t) for t in subgraph.inputs if int(t) not in states]
    builder = flatbuffers.Builder(len(flatbuffer) + 256)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.fixture(autouse=True)
def _standard_lstm() -> Iterator[None]:
    original = single_op.single_op_tflite
    with mock.patch.object(single_op, "single_op_tflite", lambda case: _as_converters_write_it(original(case))):
        yield


def _options(time_major: bool, cell_clip: float = 0.0) -> object:
    options = schema.UnidirectionalSequenceLSTMOptionsT()
    options.timeMajor = time_major
    options.fusedActivationFunction = schema.ActivationFunctionType.TANH
    options.cellClip = cell_clip
    return options


def lstm_case(inputs: dict[int, TensorSpec], output: TensorSpec, options: object, label: str,
              samples: tuple[bytes, ...] = (), expected: tuple[bytes, ...] = ()) -> OpCase:
    specs = tuple(inputs.get(slot, PLACEHOLDER) for slot in range(24))
    return OpCase("UNIDIRECTIONAL_SEQUENCE_LSTM", specs, output, options, label, samples, expected)


def random_lstm_case(rng: np.random.Generator, label: str) -> OpCase:
    """Scales as a calibrated converter gives them: gate sums of a few units at Q3.12, a hidden state near
    [-1, 1], a power-of-two cell scale, symmetric weights; give or take a factor of 5, so that some gates
    saturate and most do not."""
    batches, steps = int(rng.integers(1, 3)), int(rng.integers(1, 9))
    input_size, units = int(rng.integers(1, 17)), int(rng.integers(1, 17))
    time_major = bool(rng.random() < 0.5)
    input_scale = log_uniform(rng, -3, 0)
    hidden_scale = float(np.float32(log_uniform(rng, -2.6, -1.6)))
    hidden_zero_point = random_zero_point(rng)
    cell_power = int(rng.integers(-16, -5))
    inputs: dict[int, TensorSpec] = {
        0: TensorSpec((steps, batches, input_size) if time_major else (batches, steps, input_size), input_scale,
                      random_zero_point(rng)),
        HIDDEN: TensorSpec((batches, units), hidden_scale, hidden_zero_point),
        CELL: TensorSpec((batches, units), 2.0 ** cell_power, 0, dtype="int16"),
    }
    for gate in range(4):
        # 5500 sqrt(n): a typical sum of n products of uniform int8 values; mapped to about 3 at Q3.12.
        input_weights_scale = 3 / (5500 * np.sqrt(input_size) * input_scale) * log_uniform(rng, -0.7, 0.7)
        recurrent_scale = 3 / (5500 * np.sqrt(units) * hidden_scale) * log_uniform(rng, -0.7, 0.7)
        bias_scale = float(np.float32(input_scale) * np.float32(input_weights_scale))
        bias_limit = min(int(2.0 / bias_scale), (1 << 30) - 1)  # biases of up to +-2 in real terms
        inputs[1 + gate] = TensorSpec((units, input_size), input_weights_scale, 0,
                                      data=rng.integers(-127, 128, (units, input_size), dtype=np.int8))
        inputs[5 + gate] = TensorSpec((units, units), recurrent_scale, 0,
                                      data=rng.integers(-127, 128, (units, units), dtype=np.int8))
        inputs[12 + gate] = TensorSpec((units,), bias_scale, 0, dtype="int32",
                                       data=rng.integers(-bias_limit, bias_limit + 1, units).astype(np.int32))
    cell_clip = float(np.float32(log_uniform(rng, -1, 1))) if rng.random() < 0.25 else 0.0
    output_shape = (*inputs[0].shape[:2], units)
    return lstm_case(inputs, TensorSpec(output_shape, hidden_scale, hidden_zero_point),
                     _options(time_major, cell_clip), label)


def _random_cases(seed: int, count: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    return [random_lstm_case(rng, f"seed {seed} #{n}") for n in range(count)]


def test_lstm_matches_tflite_micro_on_random_configurations_over_three_calls(tmp_path):
    models = check_cases(_random_cases(seed=11, count=CONFIGURATIONS), tmp_path, samples=3)
    assert {m.calls[0].function for m in models} == {LSTM_REFERENCE}
    assert {m.calls[0].params["time_major"] for m in models} == {0, 1}
    assert {m.calls[0].params["cell_tanh_shift"] for m in models} >= {0, 1, 4}  # multiplier and shift forms
    assert any(m.calls[0].params["cell_clip"] for m in models)


def _hand_case(samples: tuple[bytes, ...], expected: tuple[bytes, ...]) -> OpCase:
    # One input, one unit, two steps; every weight 0 but the cell gate's input weight 4; input and weight
    # scales 2^-6 (so the products come to Q3.12 unscaled), cell scale 2^-11, hidden scale 2^-7, zero points 0.
    # Forget, input and output gates: sigmoid(0) = 16384 (0.5). Input 64: cell gate tanh(256 = 0.0625) = 2045.
    #   step 1: cell = 16384 * 2045 / 2^19 = 63.9 -> 64; tanh(64 * 6 = 384 in table units) = 1024;
    #           hidden = 1024 * 16384 / 2^23 = 2
    #   step 2: cell = 64 / 2 + 64 = 96; tanh(576) = 1535; hidden = 1535 / 512 = 2.998 -> 3
    # A second call with input 0 (cell gate 0) carries the state on:
    #   step 1: cell = 48, tanh(288) = 768, hidden = 1.5 -> 2 (ties away from zero); step 2: cell = 24,
    #   tanh(144) = 384, hidden = 0.75 -> 1
    zero, scale = np.zeros((1, 1), dtype=np.int8), 2.0 ** -6
    inputs: dict[int, TensorSpec] = {0: TensorSpec((1, 2, 1), scale, 0),
                                     HIDDEN: TensorSpec((1, 1), 2.0 ** -7, 0),
                                     CELL: TensorSpec((1, 1), 2.0 ** -11, 0, dtype="int16")}
    for gate in range(4):
        inputs[1 + gate] = TensorSpec((1, 1), scale, 0, data=np.full((1, 1), 4 if gate == 2 else 0, dtype=np.int8))
        inputs[5 + gate] = TensorSpec((1, 1), scale, 0, data=zero)
        inputs[12 + gate] = TensorSpec((1,), scale * scale, 0, data=np.zeros(1, dtype=np.int32), dtype="int32")
    return lstm_case(inputs, TensorSpec((1, 2, 1), 2.0 ** -7, 0), _options(False), "hand-worked", samples, expected)


def test_lstm_small_exact_answer_over_two_calls(tmp_path):
    case = _hand_case(samples=(int8_bytes(64, 64), int8_bytes(0, 0)), expected=(int8_bytes(2, 3), int8_bytes(2, 1)))
    check_cases([case], tmp_path)


@pytest.mark.parametrize("absent,message", [((*ABSENT[1:],), "peephole"), ((*ABSENT, 1, 5, 12), "input gate")],
                         ids=["peephole", "cifg"])
def test_lstm_variants_tflite_micro_refuses_are_refused(absent, message):
    # Absent slots are cut off the operator; those left on it are present: a peephole weight, or no input gate.
    flatbuffer = _as_converters_write_it(_SINGLE_OP_TFLITE(_hand_case((), ())), absent)
    with pytest.raises(UnsupportedOpError, match=message):
        compile_graph(parse_tflite(flatbuffer))


def test_lstm_with_a_cell_scale_not_a_power_of_two_is_refused():
    case = _hand_case((), ())
    inputs = list(case.inputs)
    inputs[CELL] = TensorSpec((1, 1), 3e-4, 0, dtype="int16")
    case = OpCase(case.opcode, tuple(inputs), case.output, case.options, case.label)
    with pytest.raises(UnsupportedOpError, match="power of two"):
        compile_graph(parse_tflite(single_op.single_op_tflite(case)))



def test_lstm_keeps_its_states_between_inferences_on_nrf52840(tmp_path):
    # The hidden and cell states live in the firmware's arena (.bss) between inferences: three in a row in the
    # emulator, each compared with TFLite-Micro's interpreter invoked three times in a row.
    rng = np.random.default_rng(4)
    case = random_lstm_case(rng, "emulated")
    while case.inputs[HIDDEN].zero_point == 0 or case.inputs[0].shape[0] != 2:  # a batch of 2, hidden zero point
        case = random_lstm_case(rng, "emulated")
    (tmp_path / "lstm.tflite").write_bytes(single_op.single_op_tflite(case))  # as converters write it (fixture)
    result = compile_model(tmp_path / "lstm.tflite", "nrf52840", tmp_path / "out", samples=3)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["verification"]["bit_exact"] is True and report["verification"]["samples"] == 3
    assert result.model.calls[0].function == LSTM_REFERENCE
