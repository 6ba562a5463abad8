"""Edits of a quantized .tflite that put a layer where converters rarely do. TFLite-Micro
runs the edited model as it is, so it stays the reference."""

from __future__ import annotations

import flatbuffers
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
