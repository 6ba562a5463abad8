"""Full int8 or nothing: float islands the TensorFlow converter leaves in an int8 graph.

The converter quantizes only the ops its quantizer knows; any other op stays float between a
DEQUANTIZE and a QUANTIZE, and the int8 model still has int8 inputs and outputs. Keras ELU
(`Dense(activation="elu")`, `layers.ELU`, `Activation("elu")`) comes out that way, although
TFLite-Micro has an int8 ELU whose Prepare tabulates exactly the dequantize -> float ELU ->
quantize arithmetic; so do the NEG of LayerNormalization (and of `-x`) and the SQUARE of
UnitNormalization and GroupNormalization. So:

- `requantize_float_islands` mends such an island (MENDED): DEQUANTIZE -> op -> QUANTIZE becomes
  one int8 op that TFLite-Micro runs with any input and output quantization, reading the
  DEQUANTIZE's int8 input and writing the QUANTIZE's int8 output, with the scales the
  calibration gave those two tensors: ELU stays ELU (int8); SQUARE becomes MUL(x, x); NEG
  becomes MUL(x, -1), the -1 an int8 constant of scale 1 (exact). The int8 MUL requantizes the
  exact integer product, where the float island rounded its float32 result once: the two
  differ by at most one step now and then, and the agreement printed afterwards measures the
  mended model.
- `check_full_int8` refuses any float tensor left between ops, naming the op and the Keras
  layer it came from (found in the TFLite tensor names), so that "full int8" is never said of
  a graph that is not.
  It also refuses the int8 ops the converter writes that TFLite-Micro runs in float only
  (FLOAT_ONLY: EXP from softplus, mish, ...), which would otherwise fail only when the
  reference first runs, without the Keras layer's name.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.errors import TinyEdgeError
from tinyedge.ir import Graph, Operator

# Float ops the converter leaves between DEQUANTIZE and QUANTIZE, and the int8 op that takes the island's place.
MENDED = {"ELU": "ELU", "SQUARE": "MUL", "NEG": "MUL"}
INT8_VERSIONS = {"ELU": 2, "MUL": 2}  # schema version of the int8 form of each op
FLOAT_DTYPES = {"float16", "float32", "float64"}
# What a user can write instead, for float ops TFLite-Micro has no int8 kernel for.
REPLACEMENTS = {
    "NEG": "multiply by a constant -1 (keras.layers.Rescaling(-1.0)) instead",
    "SQUARE": "multiply the tensor by itself (keras.layers.Multiply()([x, x])) instead",
    "EXP": "TFLite-Micro runs EXP in float only; keep exp out of the int8 model",
    "ELU": "an ELU with alpha 1 (keras.layers.ELU(), activation='elu') becomes TFLite-Micro's int8 ELU; other alphas "
           "leave float ops around it",
}
# Ops the converter writes in int8 that TFLite-Micro refuses in int8 (its kernels take float32 only), and what to do.
_EXP_ACTIVATIONS = ("the activations softplus, mish, celu, exponential and log_sigmoid compute exp: use relu, "
                    "silu (swish), hard_swish, elu or tanh instead")
FLOAT_ONLY = {
    "EXP": _EXP_ACTIVATIONS,
    "LOG": "keep log out of the int8 model (log_softmax over the last axis is LOG_SOFTMAX, which runs in int8)",
    "SQRT": "keep sqrt out of the int8 model (1 / sqrt is RSQRT, which runs in int8)",
    "SIN": "keep sin out of the int8 model",
    "COS": "keep cos out of the int8 model",
    "FLOOR": "keep floor out of the int8 model",
    "CEIL": "keep ceil out of the int8 model",
    "ROUND": "keep round out of the int8 model",
    "L2_POOL_2D": "use AveragePooling2D or MaxPooling2D instead",
}
_OPCODE_NAMES = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}


@dataclass(frozen=True)
class KerasLayer:
    """A Keras layer as a message names it: its name and its kind, e.g. "Dense(activation='elu')"."""

    name: str
    kind: str


def keras_layers(model: Any) -> tuple[KerasLayer, ...]:
    """Every layer of a Keras model, nested models' layers included."""
    found: list[KerasLayer] = []
    for layer in getattr(model, "layers", []):
        kind = type(layer).__name__
        activation = getattr(getattr(layer, "activation", None), "__name__", None)
        if activation not in (None, "linear"):
            kind += f"(activation='{activation}')"
        found.append(KerasLayer(layer.name, kind))
        if getattr(layer, "layers", None):
            found.extend(keras_layers(layer))
    return tuple(found)


def requantize_float_islands(flatbuffer: bytes) -> tuple[bytes, list[str]]:
    """The model with every DEQUANTIZE -> op -> QUANTIZE island of a MENDED op made one int8 op, and the
    names of the ops so mended (the same bytes when there is none)."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    names = [_OPCODE_NAMES.get(max(c.builtinCode, c.deprecatedBuiltinCode), "") for c in model.operatorCodes]
    mended: list[str] = []
    for subgraph in model.subgraphs:
        operators = list(subgraph.operators or [])
        producers = {int(t): op for op in operators for t in _indices(op.outputs)}
        consumers: dict[int, list[Any]] = defaultdict(list)
        for op in operators:
            for t in _indices(op.inputs):
                consumers[t].append(op)
        graph_outputs = set(_indices(subgraph.outputs))
        dropped: set[int] = set()
        for op in operators:
            name = names[op.opcodeIndex]
            if name not in MENDED or len(_indices(op.inputs)) != 1 or len(_indices(op.outputs)) != 1:
                continue
            float_in, float_out = _indices(op.inputs)[0], _indices(op.outputs)[0]
            dequantize = producers.get(float_in)
            quantizes = consumers[float_out]
            if (dequantize is None or names[dequantize.opcodeIndex] != "DEQUANTIZE" or len(quantizes) != 1
                    or names[quantizes[0].opcodeIndex] != "QUANTIZE" or consumers[float_in] != [op]
                    or {float_in, float_out} & graph_outputs):
                continue
            source, target = _indices(dequantize.inputs)[0], _indices(quantizes[0].outputs)[0]
            if not all(subgraph.tensors[t].type == schema.TensorType.INT8 for t in (source, target)):
                continue
            _mend(model, subgraph, op, name, source, target)
            dropped |= {id(dequantize), id(quantizes[0])}
            mended.append(name)
        subgraph.operators = [op for op in operators if id(op) not in dropped]
    if not mended:
        return flatbuffer, []
    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), mended


def _mend(model: Any, subgraph: Any, op: Any, name: str, source: int, target: int) -> None:
    """`op` made the int8 op MENDED[name], reading tensor `source` and writing tensor `target`."""
    op.outputs = [target]
    if name == "ELU":
        op.inputs = [source]
    else:  # SQUARE: x * x;  NEG: x * -1
        op.inputs = [source, source if name == "SQUARE" else _minus_one(model, subgraph)]
        op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.MulOptions, schema.MulOptionsT()
    op.opcodeIndex = _opcode_index(model, MENDED[name])
    code = model.operatorCodes[op.opcodeIndex]
    code.version = max(code.version, INT8_VERSIONS[MENDED[name]])


def _opcode_index(model: Any, name: str) -> int:
    """The model's operator code for builtin `name`, added when the model has none."""
    builtin = getattr(schema.BuiltinOperator, name)
    for index, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return index
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _minus_one(model: Any, subgraph: Any) -> int:
    """A new constant int8 tensor [1] holding -1 with scale 1 and zero point 0: exactly -1.0."""
    buffer = schema.BufferT()
    buffer.data = np.array([-1], dtype=np.int8).view(np.uint8)
    model.buffers.append(buffer)
    tensor = schema.TensorT()
    tensor.name = f"tinyedge/minus_one_{len(subgraph.tensors)}"
    tensor.shape = np.array([1], dtype=np.int32)
    tensor.type = schema.TensorType.INT8
    tensor.buffer = len(model.buffers) - 1
    tensor.quantization = schema.QuantizationParametersT()
    tensor.quantization.scale, tensor.quantization.zeroPoint = [1.0], [0]
    subgraph.tensors.append(tensor)
    return len(subgraph.tensors) - 1


def _indices(values: Any) -> list[int]:
    return [int(v) for v in (values if values is not None else [])]


def check_full_int8(graph: Graph, layers: Sequence[KerasLayer] = ()) -> None:
    """Raise naming the first op that works in float, or an int8 op TFLite-Micro runs in float only (FLOAT_ONLY),
    and its Keras layer when `layers` are given."""
    float_ops = [op for op in graph.operators if any(
        i >= 0 and graph.tensor(i).dtype in FLOAT_DTYPES and not graph.tensor(i).is_constant
        for i in (*op.inputs, *op.outputs))]
    if float_ops:
        op = next((o for o in float_ops if o.opcode not in ("DEQUANTIZE", "QUANTIZE")), float_ops[0])
        where = _keras_layer_of(graph, op, layers)
        replacement = REPLACEMENTS.get(op.opcode)
        raise TinyEdgeError(
            f"the converter left {op.opcode} in float inside the int8 model ({graph.describe(op)})"
            f"{f', from Keras layer {where}' if where else ''}: the model is not full int8 and TFLite-Micro has no "
            f"int8 form of it here; {replacement or 'replace that layer with one that quantizes to int8'}")
    op = next((o for o in graph.operators if o.opcode in FLOAT_ONLY), None)
    if op is not None:
        where = _keras_layer_of(graph, op, layers)
        raise TinyEdgeError(
            f"the int8 model holds {op.opcode} ({graph.describe(op)}){f', from Keras layer {where}' if where else ''}, "
            f"which TFLite-Micro runs in float only; {FLOAT_ONLY[op.opcode]}")


def _keras_layer_of(graph: Graph, op: Operator, layers: Sequence[KerasLayer]) -> str:
    """"'dense' (Dense(activation='elu'))": the layer whose name the op's tensors carry, else the layer
    right before it (the tensors feeding its DEQUANTIZE), said as such; "" when none is found."""
    own = [graph.tensor(i).name for i in (*op.outputs, *op.inputs) if i >= 0]
    layer = _layer_in(own, layers)
    if layer is not None:
        return f"'{layer.name}' ({layer.kind})"
    producers = {t: o for o in graph.operators for t in o.outputs}
    before = [graph.tensor(t).name for i in op.inputs if i in producers for t in producers[i].inputs if t >= 0]
    layer = _layer_in(before, layers)
    return f"'{layer.name}' ({layer.kind}) or the one right after it" if layer is not None else ""


def _layer_in(tensor_names: Sequence[str], layers: Sequence[KerasLayer]) -> KerasLayer | None:
    """The layer named by a path component of a tensor name (TensorFlow may add a "_1" to the scope);
    exact names first, the innermost component first."""
    by_name = {layer.name: layer for layer in layers}
    for exact in (True, False):
        for tensor_name in tensor_names:
            for component in reversed(tensor_name.split("/")):
                name = component if exact else re.sub(r"_\d+$", "", component)
                if name in by_name:
                    return by_name[name]
    return None
