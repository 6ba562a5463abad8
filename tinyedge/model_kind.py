"""What a .tflite is (float, full int8, 16x8, mixed, uint8), and the one line saying so when tinyedge cannot take it.

The kind is read from the activations: every tensor an op reads or writes that is neither a constant
(weights, biases, shapes) nor a variable (a recurrent op's state: an int8 LSTM keeps its cell state in
int16 and is still full int8). Index and shape tensors (int32, int64, bool) say nothing about the mode.

- "float": float activations (int8 weights too, in TensorFlow's dynamic-range mode);
- "int8": int8 activations only;
- "int16x8": int16 activations (TensorFlow's 16x8 mode, int8 weights), float at the edges or not;
  tinyedge compiles both, and a graph that mixes the two where an op requantizes between them;
- "uint8": any uint8 activation (TensorFlow 1's quantization, which TFLite-Micro no longer runs);
- "mixed": int8 with int16 activations, or int8 with float ones (an int8 model with float inputs or
  outputs, or float ops between int8 ones).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tinyedge.errors import TinyEdgeError
from tinyedge.importer import load_tflite
from tinyedge.ir import Graph

FLOAT = "float"
INT8 = "int8"
INT16X8 = "int16x8"
UINT8 = "uint8"
MIXED = "mixed"
KINDS = (FLOAT, INT8, INT16X8, UINT8, MIXED)
_FLOAT_DTYPES = ("float16", "float32", "float64")
_MODE_DTYPES = ("int8", "uint8", "int16", *_FLOAT_DTYPES)  # the dtypes that say how activations are quantized


_DESCRIPTION = {INT8: "full int8", INT16X8: "quantized in 16x8 mode (int16 activations, int8 weights)",
                MIXED: "quantized with int8 and int16 activations"}
# What the firmware's inputs and outputs can be: the quantized activations, and int32 (an ARG_MAX result,
# a TRANSPOSE_CONV's output shape, a QUANTIZE to int32).
IO_DTYPES = ("int8", "int16", "int32")


@dataclass(frozen=True)
class Evidence:
    """One activation tensor that shows the kind, and the op that reads or writes it, as messages name them."""

    tensor: str
    dtype: str
    op: str  # Graph.describe: "layer 3 CONV_2D (output '...')"

    def __str__(self) -> str:
        name = self.tensor.split(";")[0]
        name = name if len(name) <= 60 else name[:57] + "..."
        return f"tensor '{name}' ({self.dtype}) of {self.op}"


@dataclass(frozen=True)
class ModelKind:
    kind: str  # one of KINDS
    activations: tuple[str, ...]  # the activation dtypes found, most frequent first
    evidence: Evidence | None  # None only for a graph with no activation of those dtypes

    def refusal(self, name: str) -> str:
        """The one line `run`, `compile` and `generate` give for a file that is not full int8 (`name`: the file)."""
        where = f" ({self.evidence})" if self.evidence else ""
        if self.kind == FLOAT:
            return (f"{name} is a float .tflite{where}: its weights cannot be re-quantized on their own; "
                    "pass the model it was converted from with --source model.h5 (or a SavedModel)")
        if self.kind == UINT8:
            return (f"{name} uses uint8 quantization, TensorFlow 1's legacy mode{where}, which TFLite-Micro "
                    "and tinyedge do not run; convert the model again to full int8, or pass the model it was "
                    "converted from with --source")
        if self.kind == MIXED and self.evidence is not None and self.evidence.dtype in _FLOAT_DTYPES:
            dtype = "int16" if "int16" in self.activations else "int8"
            return (f"{name} is {dtype} with float activations{where}: tinyedge takes models quantized "
                    f"throughout, inputs and outputs included; convert with inference_input_type=tf.{dtype} and "
                    f"inference_output_type=tf.{dtype}, or pass the model it was converted from with --source")
        return f"{name} is {_DESCRIPTION.get(self.kind, self.kind)}{where}"

    @property
    def compiles(self) -> bool:
        """Integer activations throughout: int8, int16 (16x8 mode), or both with ops requantizing between them."""
        return self.kind in (INT8, INT16X8) or (self.kind == MIXED and set(self.activations) == {"int8", "int16"})


def classify(graph: Graph) -> ModelKind:
    """The kind of a graph, with the first activation tensor of the dtype that decides it."""
    found: list[Evidence] = []
    seen: set[int] = set()
    for op in graph.operators:
        for index in (*op.inputs, *op.outputs):
            if index < 0 or index in seen:
                continue
            t = graph.tensor(index)
            if t.is_constant or t.variable or t.dtype not in _MODE_DTYPES:
                continue
            seen.add(index)
            found.append(Evidence(t.name, t.dtype, graph.describe(op)))
    counts = Counter("float" if e.dtype in _FLOAT_DTYPES else e.dtype for e in found)
    activations = tuple(dtype for dtype, _ in counts.most_common())
    quantized = set(counts) - {"float"}

    def first(*dtypes: str) -> Evidence | None:
        return next((e for e in found if e.dtype in dtypes), None)

    if not quantized:
        return ModelKind(FLOAT, activations, first(*_FLOAT_DTYPES))
    if "uint8" in quantized:
        return ModelKind(UINT8, activations, first("uint8"))
    if quantized == {"int16"}:
        return ModelKind(INT16X8, activations, first("int16"))
    if quantized == {"int8", "int16"}:  # the less frequent of the two is the odd one out
        return ModelKind(MIXED, activations, first(min(("int16", "int8"), key=lambda d: counts[d])))
    if "float" in counts:
        return ModelKind(MIXED, activations, first(*_FLOAT_DTYPES))
    return ModelKind(INT8, activations, first("int8"))


def classify_file(path: str | Path) -> ModelKind:
    return classify(load_tflite(path))


def refusal(graph: Graph, name: str) -> str | None:
    """The one line that says why tinyedge cannot take the graph (`name`: the file), or None: integer
    activations throughout (int8, 16x8 or both) and integer inputs and outputs."""
    kind = classify(graph)
    if not kind.compiles:
        return kind.refusal(name)
    odd = next((t for t in (*graph.input_tensors(), *graph.output_tensors()) if t.dtype not in IO_DTYPES), None)
    if odd is None:
        return None
    producer = next((op for op in graph.operators if odd.index in op.outputs), None)
    where = f" of {graph.describe(producer)}" if producer is not None else ""
    role = "input" if odd.index in graph.inputs else "output"
    dtype = "int16" if kind.kind == INT16X8 else "int8"
    return (f"{name} is quantized but tensor '{odd.name.split(';')[0]}' ({odd.dtype}){where} is a model {role}: "
            f"tinyedge takes {', '.join(IO_DTYPES)} inputs and outputs; convert with "
            f"inference_{role}_type=tf.{dtype}, or pass the model it was converted from with --source")


def require_compilable(graph: Graph, name: str) -> None:
    """Raise the one line of `refusal` unless tinyedge can compile the graph as it is."""
    message = refusal(graph, name)
    if message is not None:
        raise TinyEdgeError(message)
