"""Edits of a quantized .tflite that put a layer where converters rarely do. TFLite-Micro
runs the edited model as it is, so it stays the reference."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema


def with_output_scale(flatbuffer: bytes, factor: float) -> bytes:
    """The model output's scale multiplied by `factor`: below 1, outputs saturate and the last
    layer's requantization shift goes up (to a left shift for a small enough factor)."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    subgraph = model.subgraphs[0]
    for index in subgraph.outputs:
        quantization = subgraph.tensors[index].quantization
        quantization.scale = [float(s) * factor for s in quantization.scale]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def edited(flatbuffer: bytes, edit: Callable[[schema.ModelT], None]) -> bytes:
    """The model after `edit` changed its object tree (scales, zero points, constant data)."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    edit(model)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def only_operator(model: schema.ModelT, opcode: str) -> schema.OperatorT:
    """The one operator of this builtin opcode in the first subgraph."""
    code = getattr(schema.BuiltinOperator, opcode)
    found = [op for op in model.subgraphs[0].operators
             if max(model.operatorCodes[op.opcodeIndex].builtinCode,
                    model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode) == code]
    assert len(found) == 1, f"{len(found)} {opcode} operators"
    return found[0]


def set_quantization(model: schema.ModelT, tensor: int, scales: Sequence[float], zero_points: Sequence[int],
                     axis: int = 0) -> None:
    quantization = model.subgraphs[0].tensors[tensor].quantization
    quantization.scale = [float(np.float32(s)) for s in scales]
    quantization.zeroPoint = [int(z) for z in zero_points]
    quantization.quantizedDimension = axis
    quantization.min = quantization.max = None


def set_data(model: schema.ModelT, tensor: int, values: np.ndarray) -> None:
    """Replace a constant tensor's values (same shape and dtype as before)."""
    buffer = model.buffers[model.subgraphs[0].tensors[tensor].buffer]
    assert buffer.data is not None and len(buffer.data) == values.nbytes, "shape or dtype differs"
    buffer.data = np.frombuffer(values.tobytes(), dtype=np.uint8).copy()
