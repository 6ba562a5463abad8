"""ARG_MAX and ARG_MIN against TFLite-Micro, byte for byte: 200 seeded random shapes, axes and
quantizations each (ties included), hand-worked answers, the refused int64 positions, and a
trained Keras model that looks up the arg-max class.

The firmware's model outputs are int8, so each single-op model here ends its int32 positions
in a GATHER from the constant int8 table [0, 1, ..., n - 1]: the model then outputs every
position as one int8 byte, and both tinyedge and TFLite-Micro run the pair.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import flatbuffers
import keras
import numpy as np
import pytest
import single_op
import tensorflow as tf
from keras_training import train_briefly
from single_op import OpCase, TensorSpec, check_cases, int8_bytes, log_uniform, random_zero_point
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.errors import TinyEdgeError, UnsupportedOpError
from tinyedge.importer import parse_tflite
from tinyedge.ops import lower
from tinyedge.reference import run_reference

L = keras.layers
CONFIGURATIONS = 200


def arg_case(opcode: str, shape: tuple[int, ...], axis: int, quant: tuple[float, int], label: str,
             samples: tuple[bytes, ...] = (), expected: tuple[bytes, ...] = ()) -> OpCase:
    dimension = axis % len(shape)
    axis_tensor = TensorSpec((1,), 1.0, 0, data=np.array([axis], dtype=np.int32), dtype="int32")
    output = TensorSpec(shape[:dimension] + shape[dimension + 1:], 1.0, 0, dtype="int32")
    options = schema.ArgMaxOptionsT() if opcode == "ARG_MAX" else schema.ArgMinOptionsT()
    options.outputType = schema.TensorType.INT32
    return OpCase(opcode, (TensorSpec(shape, *quant), axis_tensor), output, options, label, samples, expected)


def _then_gather(flatbuffer: bytes, positions: int) -> bytes:
    """The model with its int32 output fed to GATHER from the int8 table [0, ..., positions - 1]."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    subgraph = model.subgraphs[0]
    indices = int(subgraph.outputs[0])

    def tensor(name: str, shape: tuple[int, ...], buffer: int) -> int:
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name, np.array(shape, dtype=np.int32), schema.TensorType.INT8, buffer
        t.quantization = schema.QuantizationParametersT()
        t.quantization.scale, t.quantization.zeroPoint = [1.0], [0]
        subgraph.tensors.append(t)
        return len(subgraph.tensors) - 1

    table_buffer = schema.BufferT()
    table_buffer.data = np.arange(positions, dtype=np.uint8)
    model.buffers.append(table_buffer)
    table = tensor("positions_table", (positions,), len(model.buffers) - 1)
    result = tensor("positions_int8", tuple(int(d) for d in subgraph.tensors[indices].shape), 0)
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.GATHER
    code.version = 1
    model.operatorCodes.append(code)
    gather = schema.OperatorT()
    gather.opcodeIndex, gather.inputs, gather.outputs = len(model.operatorCodes) - 1, [table, indices], [result]
    gather.builtinOptionsType, gather.builtinOptions = schema.BuiltinOptions.GatherOptions, schema.GatherOptionsT()
    subgraph.operators.append(gather)
    subgraph.outputs = [result]
    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@contextlib.contextmanager
def _positions_as_int8() -> Iterator[None]:
    """check_cases builds each case's model through single_op.single_op_tflite: append the GATHER there."""
    build = single_op.single_op_tflite

    def with_gather(case: OpCase) -> bytes:
        shape, axis = case.inputs[0].shape, int(np.asarray(case.inputs[1].data).reshape(-1)[0])
        return _then_gather(build(case), shape[axis % len(shape)])

    single_op.single_op_tflite = with_gather
    try:
        yield
    finally:
        single_op.single_op_tflite = build


def _random_cases(opcode: str, seed: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(CONFIGURATIONS):
        rank = int(rng.integers(1, 5))
        shape = tuple(int(d) for d in rng.integers(1, 8, size=rank))
        axis = int(rng.integers(-rank, rank))
        samples = ()
        if number % 4 == 0:  # few distinct values: ties everywhere, the first position must win
            samples = tuple(rng.integers(-2, 2, size=int(np.prod(shape)), dtype=np.int8).tobytes() for _ in range(2))
        cases.append(arg_case(opcode, shape, axis, (log_uniform(rng, -3, 0), random_zero_point(rng)),
                              f"seed {seed} #{number}", samples))
    return cases


@pytest.mark.parametrize("opcode", ["ARG_MAX", "ARG_MIN"])
def test_arg_min_max_matches_tflite_micro_on_random_shapes_axes_and_ties(tmp_path, opcode):
    with _positions_as_int8():
        models = check_cases(_random_cases(opcode, seed=101 if opcode == "ARG_MAX" else 102), tmp_path)
    assert {m.calls[0].function for m in models} == {f"te_{opcode.lower()}_s8"}


def test_arg_min_max_small_exact_answers(tmp_path):
    # [2, 3] rows (5, 9, 9) and (-1, -7, -7): ties go to the first position.
    sample = (int8_bytes(5, 9, 9, -1, -7, -7),)
    with _positions_as_int8():
        check_cases([
            arg_case("ARG_MAX", (2, 3), -1, (0.1, 0), "rows", sample, (int8_bytes(1, 0),)),
            arg_case("ARG_MIN", (2, 3), 1, (0.1, 0), "rows", sample, (int8_bytes(0, 1),)),
            arg_case("ARG_MAX", (2, 3), 0, (0.1, 0), "columns", sample, (int8_bytes(0, 0, 0),)),
        ], tmp_path)


def test_int64_positions_are_refused_like_tflite_micro():
    model = schema.ModelT.InitFromPackedBuf(bytearray(single_op.single_op_tflite(
        arg_case("ARG_MAX", (1, 4), -1, (0.1, 0), "int64"))), 0)
    subgraph = model.subgraphs[0]
    subgraph.tensors[subgraph.outputs[0]].type = schema.TensorType.INT64  # TensorFlow's default output_type
    subgraph.operators[0].builtinOptions.outputType = schema.TensorType.INT64
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    flatbuffer = bytes(builder.Output())
    graph = parse_tflite(flatbuffer)
    with pytest.raises(UnsupportedOpError, match="layer 0 ARG_MAX.*int64.*output_type=tf.int32"):
        lower(graph, graph.operators[0])
    with pytest.raises(TinyEdgeError):
        run_reference(flatbuffer, [[np.zeros((1, 4), dtype=np.int8)]])


def test_arg_max_class_lookup_of_a_trained_model(assert_bit_exact):
    # The arg-max of 5 scores picks one row of a constant 5 x 4 table, which a Dense layer reads.
    table = tf.constant(np.random.default_rng(5).uniform(-1, 1, (5, 4)).astype(np.float32))
    x = keras.Input((8,), batch_size=1)
    scores = L.Dense(5)(x)
    picked = L.Lambda(lambda t: tf.gather(table, tf.math.argmax(t, axis=-1, output_type=tf.int32)))(scores)
    model = train_briefly(keras.Model(x, L.Dense(3)(L.Concatenate()([picked, scores]))))
    result = assert_bit_exact(model, samples=8)
    assert "ARG_MAX" in [layer.opcode for layer in result.model.layers]
