"""An unrolled LSTM's first SPLIT, which the converter sometimes leaves float between a DEQUANTIZE and
QUANTIZEs of the same scale (one gate unread), is put back in int8 by the quantize stage
(tinyedge.quantize._int8_moves_restored) with the very bytes TFLite-Micro gives for the float island."""

from __future__ import annotations

import flatbuffers
import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.codegen import compile_graph
from tinyedge.full_int8 import check_full_int8
from tinyedge.importer import parse_tflite
from tinyedge.quantize import _int8_moves_restored
from tinyedge.verify import reference_outputs


def _float_split_island(unread: int) -> bytes:
    """int8 [1, 8] -> DEQUANTIZE -> float SPLIT in 4 -> QUANTIZE (same scale and zero point) for each output
    but `unread`, which nothing reads: what the converter left of an unrolled LSTM's first gates."""
    scale, zero_point = 0.011254, -28

    def tensor(name: str, shape: list[int], kind: int, quantized: bool = False, buffer: int = 0) -> schema.TensorT:
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name, np.array(shape, dtype=np.int32), kind, buffer
        if quantized:
            t.quantization = schema.QuantizationParametersT()
            t.quantization.scale, t.quantization.zeroPoint = [scale], [zero_point]
        return t

    int8, float32 = schema.TensorType.INT8, schema.TensorType.FLOAT32
    axis = schema.BufferT()
    axis.data = np.frombuffer(np.array(1, dtype=np.int32).tobytes(), dtype=np.uint8).copy()
    tensors = [tensor("gates", [1, 8], int8, True), tensor("gates_float", [1, 8], float32),
               tensor("axis", [], schema.TensorType.INT32, buffer=1),
               *(tensor(f"gate{i}_float", [1, 2], float32) for i in range(4)),
               *(tensor(f"gate{i}", [1, 2], int8, True) for i in range(4) if i != unread)]
    codes = []
    for name in ("DEQUANTIZE", "SPLIT", "QUANTIZE"):
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = getattr(schema.BuiltinOperator, name)
        code.version = 1
        codes.append(code)

    def operator(code: int, inputs: list[int], outputs: list[int], options: object | None = None) -> schema.OperatorT:
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = code, inputs, outputs
        if options is not None:
            op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.SplitOptions, options
        return op

    split = schema.SplitOptionsT()
    split.numSplits = 4
    read = [i for i in range(4) if i != unread]
    subgraph = schema.SubGraphT()
    subgraph.tensors, subgraph.inputs, subgraph.outputs = tensors, [0], [7 + n for n in range(3)]
    subgraph.operators = [operator(0, [0], [1]), operator(1, [2, 1], [3, 4, 5, 6], split),
                          *(operator(2, [3 + i], [7 + n]) for n, i in enumerate(read))]
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, codes, [subgraph]
    model.buffers = [schema.BufferT(), axis]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize("unread", [0, 1, 3])
def test_a_float_split_between_dequantize_and_quantize_is_restored_to_int8_with_the_same_bytes(
        unread, assert_tflite_bit_exact):
    island = _float_split_island(unread)
    restored, count = _int8_moves_restored(island)
    assert count == 1
    graph = parse_tflite(restored)
    assert [op.opcode for op in graph.operators] == ["SPLIT"]
    check_full_int8(graph)
    samples = [bytes(range(i, i + 8)) for i in (0, 120, 248)]
    # TFLite-Micro runs the float island too: the int8 SPLIT gives the very bytes it gave.
    model = compile_graph(parse_tflite(restored, name="restored"))
    assert reference_outputs(island, model, samples) == reference_outputs(restored, model, samples)
    assert_tflite_bit_exact(restored, samples=samples)
