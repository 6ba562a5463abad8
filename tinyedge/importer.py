"""Import stage: a .tflite flatbuffer into the graph IR (tinyedge.ir).

Parsing uses the flatbuffer schema module that the tflite-micro package ships, so the
IR follows the same schema version as the reference interpreter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.errors import TinyEdgeError
from tinyedge.ir import Graph, Operator, Quantization, Tensor

_OPCODE_NAMES = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
_TENSOR_TYPES = {value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")}
_NUMPY_DTYPES = {
    "FLOAT32": "float32", "FLOAT16": "float16", "FLOAT64": "float64", "INT8": "int8", "UINT8": "uint8",
    "INT16": "int16", "UINT16": "uint16", "INT32": "int32", "UINT32": "uint32", "INT64": "int64",
    "BOOL": "bool",
}
_PADDING = {value: name for name, value in vars(schema.Padding).items() if not name.startswith("_")}
_ACTIVATION = {
    value: name for name, value in vars(schema.ActivationFunctionType).items() if not name.startswith("_")
}
_ENUM_FIELDS = {"padding": _PADDING, "fusedActivationFunction": _ACTIVATION}


def load_tflite(path: str | Path) -> Graph:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TinyEdgeError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_tflite(data, name=path.stem)


def parse_tflite(data: bytes, name: str = "model") -> Graph:
    """Parse a flatbuffer; any structural damage becomes one TinyEdgeError, never a crash."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise TinyEdgeError(f"{name}: not a TFLite flatbuffer (missing 'TFL3' identifier); "
                            "give a .tflite file written by the TensorFlow Lite converter")
    try:
        model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
        return _graph_from_model(model, data, name)
    except TinyEdgeError:
        raise
    except Exception as exc:  # the generated parser signals damage with assorted exceptions
        raise TinyEdgeError(f"{name}: the .tflite file is truncated or corrupt ({type(exc).__name__}); "
                            "re-export it with the TensorFlow Lite converter") from exc


def _graph_from_model(model: Any, data: bytes, name: str) -> Graph:
    if not model.subgraphs:
        raise TinyEdgeError(f"{name}: the model has no subgraph")
    if len(model.subgraphs) > 1:
        raise TinyEdgeError(f"{name}: models with {len(model.subgraphs)} subgraphs (control flow) are not supported")
    subgraph = model.subgraphs[0]
    tensors = tuple(_tensor(i, t, model, data) for i, t in enumerate(subgraph.tensors or []))
    operators = tuple(_operator(i, op, model, len(tensors)) for i, op in enumerate(subgraph.operators or []))
    inputs = tuple(int(i) for i in _as_list(subgraph.inputs))
    outputs = tuple(int(i) for i in _as_list(subgraph.outputs))
    for index in inputs + outputs:
        if not 0 <= index < len(tensors):
            raise TinyEdgeError(f"{name}: graph input/output refers to tensor {index}, which does not exist")
    return Graph(name=name, tensors=tensors, operators=operators, inputs=inputs, outputs=outputs)


def _as_list(values: Any) -> list:
    return [] if values is None else list(values)


def _tensor(index: int, t: Any, model: Any, data: bytes) -> Tensor:
    type_name = _TENSOR_TYPES.get(t.type, f"type{t.type}")
    dtype = _NUMPY_DTYPES.get(type_name, type_name.lower())
    shape = tuple(int(d) for d in _as_list(t.shape))
    name = t.name.decode("utf-8", "replace") if isinstance(t.name, bytes) else str(t.name or f"tensor{index}")
    return Tensor(index=index, name=name, shape=shape, dtype=dtype,
                  quant=_quantization(t.quantization), data=_constant(t, model, data, dtype, shape))


def _quantization(q: Any) -> Quantization | None:
    if q is None or q.scale is None or len(q.scale) == 0:
        return None
    scales = tuple(float(s) for s in q.scale)
    zero_points = tuple(int(z) for z in _as_list(q.zeroPoint)) or (0,) * len(scales)
    return Quantization(scale=scales, zero_point=zero_points, axis=int(q.quantizedDimension))


def _constant(t: Any, model: Any, data: bytes, dtype: str, shape: tuple[int, ...]) -> np.ndarray | None:
    buffers = model.buffers or []
    if t.buffer <= 0 or t.buffer >= len(buffers):
        return None
    buffer = buffers[t.buffer]
    if buffer.data is not None and len(buffer.data) > 0:
        raw = np.asarray(buffer.data, dtype=np.uint8).tobytes()
    elif buffer.offset > 1:  # models over 2 GB keep buffers after the flatbuffer
        raw = data[buffer.offset:buffer.offset + buffer.size]
    else:
        return None
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    array = np.frombuffer(raw, dtype=np.dtype(dtype))
    if array.size != count:
        raise TinyEdgeError(f"constant tensor '{t.name}' holds {array.size} values for shape {list(shape)}")
    return array.reshape(shape).copy()


def _operator(index: int, op: Any, model: Any, tensor_count: int) -> Operator:
    codes = model.operatorCodes or []
    if not 0 <= op.opcodeIndex < len(codes):
        raise TinyEdgeError(f"operator {index} refers to operator code {op.opcodeIndex}, which does not exist")
    code = codes[op.opcodeIndex]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    opcode = _OPCODE_NAMES.get(builtin, f"BUILTIN_{builtin}")
    if opcode == "CUSTOM":
        custom = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
        opcode = f"CUSTOM({custom})"
    inputs = tuple(int(i) for i in _as_list(op.inputs))
    outputs = tuple(int(i) for i in _as_list(op.outputs))
    for tensor_index in inputs + outputs:
        if not -1 <= tensor_index < tensor_count:
            raise TinyEdgeError(f"operator {index} ({opcode}) refers to tensor {tensor_index}, which does not exist")
    return Operator(index=index, opcode=opcode, inputs=inputs, outputs=outputs, options=_options(op.builtinOptions))


def _options(options: Any) -> dict[str, Any]:
    if options is None:
        return {}
    result: dict[str, Any] = {}
    for key, value in vars(options).items():
        if key in _ENUM_FIELDS:
            value = _ENUM_FIELDS[key].get(value, str(value))
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        result[key] = value
    return result
