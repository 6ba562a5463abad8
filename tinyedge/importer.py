"""Import stage: a .tflite flatbuffer into the graph IR (tinyedge.ir).

Parsing uses the flatbuffer schema module that the tflite-micro package ships, so the
IR follows the same schema version as the reference interpreter.
"""

from __future__ import annotations

import dataclasses
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
_REEXPORT = "re-export the model with the TensorFlow Lite converter"
# Far beyond any microcontroller's memory; a shape past these is damage, and refusing it early keeps
# the later stages from allocating gigabytes for it.
MAX_TENSOR_BYTES = 64 << 20
MAX_GRAPH_BYTES = 256 << 20


def load_tflite(path: str | Path) -> Graph:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TinyEdgeError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_tflite(data, name=path.stem, filename=path.name)


def parse_tflite(data: bytes, name: str = "model", filename: str | None = None) -> Graph:
    """Parse and check a flatbuffer; any structural damage becomes one TinyEdgeError, never a crash.

    `name` names the graph; `filename` is how messages name the file (default: name + .tflite).
    """
    filename = filename or f"{name}.tflite"
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise TinyEdgeError(f"{name}: not a TFLite flatbuffer (missing 'TFL3' identifier); "
                            "give a .tflite file written by the TensorFlow Lite converter")
    try:
        model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
        return _graph_from_model(model, data, name)
    except TinyEdgeError:
        raise
    except Exception as exc:  # the generated parser signals damage with assorted exceptions
        raise TinyEdgeError(f"the model file {filename} is truncated or corrupt, so its flatbuffer cannot be read; "
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
    custom = sorted({op.opcode for op in operators if op.opcode.startswith("CUSTOM(")})
    if custom:  # before the tensor types: custom ops (TFLite-Micro's signal library) carry types of their own
        raise TinyEdgeError(f"{name}: the model holds custom ops, not TFLite builtins: {', '.join(custom)}; "
                            "tinyedge compiles builtin ops only (TFLite-Micro's signal-processing ops, such as an "
                            "audio preprocessor's, are out of its scope)")
    graph = Graph(name=name, tensors=tensors, operators=operators, inputs=inputs, outputs=outputs)
    _check_tensors(graph)
    _check_dataflow(graph)
    return graph


def _check_tensors(graph: Graph) -> None:
    """Shapes, types and quantization that every later stage relies on, checked once here."""
    total = 0
    # Tensors no op reads or writes (an LSTM's "intermediate" tensors, shape [0]) are never used: not checked.
    used = {*graph.inputs, *graph.outputs, *(i for op in graph.operators for i in (*op.inputs, *op.outputs))}
    for t in graph.tensors:
        if t.index not in used:
            continue
        if t.dtype not in _NUMPY_DTYPES.values():
            raise TinyEdgeError(f"{graph.name}: tensor '{t.name}' has type {t.dtype.upper()}, which tinyedge "
                                f"cannot handle; {_REEXPORT} for full int8")
        if any(d < 1 for d in t.shape):
            raise TinyEdgeError(f"{graph.name}: tensor '{t.name}' has shape {list(t.shape)}: every dimension must "
                                f"be at least 1 (a dynamic shape is not supported); {_REEXPORT} with batch size 1")
        if t.nbytes > MAX_TENSOR_BYTES:
            raise TinyEdgeError(f"{graph.name}: tensor '{t.name}' of shape {list(t.shape)} needs {t.nbytes:,} bytes, "
                                f"more than the {MAX_TENSOR_BYTES >> 20} MiB tinyedge allows for one tensor")
        total += t.nbytes
        if t.quant is not None:
            _check_quantization(graph, t)
    if total > MAX_GRAPH_BYTES:
        raise TinyEdgeError(f"{graph.name}: the tensors need {total:,} bytes together, more than the "
                            f"{MAX_GRAPH_BYTES >> 20} MiB tinyedge allows for a model")


def _check_quantization(graph: Graph, t: Tensor) -> None:
    q = t.quant
    assert q is not None
    if not all(np.isfinite(s) and s > 0 for s in q.scale):
        raise TinyEdgeError(f"{graph.name}: tensor '{t.name}' has a quantization scale that is not a positive "
                            f"finite number ({', '.join(f'{s:g}' for s in q.scale[:4])}); {_REEXPORT}")
    if len(q.zero_point) != len(q.scale):
        raise TinyEdgeError(f"{graph.name}: tensor '{t.name}' has {len(q.scale)} scales but {len(q.zero_point)} "
                            f"zero points; {_REEXPORT}")
    info = np.iinfo(t.dtype) if np.issubdtype(np.dtype(t.dtype), np.integer) else None
    if info is not None and not all(info.min <= z <= info.max for z in q.zero_point):
        raise TinyEdgeError(f"{graph.name}: tensor '{t.name}' has a zero point outside the {t.dtype} range "
                            f"({', '.join(map(str, q.zero_point[:4]))}); {_REEXPORT}")
    if q.per_channel and not (0 <= q.axis < len(t.shape) and t.shape[q.axis] == len(q.scale)):
        raise TinyEdgeError(f"{graph.name}: tensor '{t.name}' of shape {list(t.shape)} has {len(q.scale)} "
                            f"per-channel scales along axis {q.axis}, which does not match; {_REEXPORT}")


def _check_dataflow(graph: Graph) -> None:
    """Operators in an order that runs: each reads what exists already, and each tensor has one writer.

    This is what refuses cyclic graphs: in a cycle some op reads a tensor no earlier op wrote.
    """
    constants = {t.index for t in graph.tensors if t.is_constant}
    variables = {t.index for t in graph.tensors if t.variable}
    available = constants | variables | set(graph.inputs)
    written: set[int] = set()
    for op in graph.operators:
        for index in op.inputs:
            if index >= 0 and index not in available and index not in written:
                raise TinyEdgeError(f"{graph.name}: {graph.describe(op)} reads tensor '{graph.tensor(index).name}' "
                                    f"before any operator writes it (a cyclic or misordered graph); {_REEXPORT}")
        for index in op.outputs:
            if index in variables:  # state: ops may update it in place, more than once
                written.add(index)
                continue
            if index < 0 or index in written or index in constants or index in graph.inputs:
                what = ("no tensor" if index < 0 else "a constant" if index in constants
                        else "the model input" if index in graph.inputs else "a tensor another operator writes")
                raise TinyEdgeError(f"{graph.name}: layer {op.index} {op.opcode} writes {what}; {_REEXPORT}")
            written.add(index)
    for index in graph.outputs:
        if index not in written and index not in graph.inputs:
            raise TinyEdgeError(f"{graph.name}: model output '{graph.tensor(index).name}' is written by no "
                                f"operator; {_REEXPORT}")


def _as_list(values: Any) -> list:
    return [] if values is None else list(values)


def _tensor(index: int, t: Any, model: Any, data: bytes) -> Tensor:
    type_name = _TENSOR_TYPES.get(t.type, f"type{t.type}")
    dtype = _NUMPY_DTYPES.get(type_name, type_name.lower())
    shape = tuple(int(d) for d in _as_list(t.shape))
    name = t.name.decode("utf-8", "replace") if isinstance(t.name, bytes) else str(t.name or f"tensor{index}")
    quant = _quantization(t.quantization)
    if quant is not None and quant.per_channel and len(shape) == 1 and shape[0] == len(quant.scale):
        # A bias can carry its filter's axis (TFLite-Micro's person_detect: axis 3 of a [8] bias); one dimension
        # has one axis, and TFLite-Micro reads it so.
        quant = dataclasses.replace(quant, axis=0)
    return Tensor(index=index, name=name, shape=shape, dtype=dtype, quant=quant,
                  data=_constant(t, model, data, dtype, shape), variable=bool(t.isVariable))


def _quantization(q: Any) -> Quantization | None:
    if q is None or q.scale is None or len(q.scale) == 0:
        return None
    scales = tuple(float(s) for s in q.scale)
    zero_points = tuple(int(z) for z in _as_list(q.zeroPoint)) or (0,) * len(scales)
    return Quantization(scale=scales, zero_point=zero_points, axis=int(q.quantizedDimension))


def _constant(t: Any, model: Any, data: bytes, dtype: str, shape: tuple[int, ...]) -> np.ndarray | None:
    buffers = model.buffers or []
    if t.buffer == 0:  # buffer 0 is the schema's empty sentinel: not a constant
        return None
    if not 0 < t.buffer < len(buffers):
        raise TinyEdgeError(f"tensor '{_text(t.name)}' refers to buffer {t.buffer}, but the model has "
                            f"{len(buffers)} buffers; {_REEXPORT}")
    buffer = buffers[t.buffer]
    if buffer.data is not None and len(buffer.data) > 0:
        raw = np.asarray(buffer.data, dtype=np.uint8).tobytes()
    elif buffer.offset > 1:  # models over 2 GB keep buffers after the flatbuffer
        if buffer.offset + buffer.size > len(data):
            raise TinyEdgeError(f"tensor '{_text(t.name)}' has its data at bytes {buffer.offset:,} to "
                                f"{buffer.offset + buffer.size:,}, past the end of the {len(data):,}-byte file; "
                                "the file is truncated or corrupt")
        raw = data[buffer.offset:buffer.offset + buffer.size]
    else:
        return None
    if dtype not in _NUMPY_DTYPES.values():
        raise TinyEdgeError(f"constant tensor '{_text(t.name)}' has type {dtype.upper()}, which tinyedge cannot "
                            f"handle; {_REEXPORT} for full int8")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    itemsize = np.dtype(dtype).itemsize
    if len(raw) != count * itemsize:
        raise TinyEdgeError(f"constant tensor '{_text(t.name)}' holds {len(raw)} bytes, but its shape "
                            f"{list(shape)} of {dtype} needs {count * itemsize}; the file is truncated or corrupt")
    return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape).copy()


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


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
