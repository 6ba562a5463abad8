"""The graph IR every stage after import works on: tensors, operators, quantization.

It mirrors the .tflite subgraph closely (same tensor indices, same operator order) so
that a message can always point back to the layer a user sees in Netron.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinyedge.errors import TinyEdgeError


@dataclass(frozen=True)
class Quantization:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per channel along `axis`."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass(frozen=True, eq=False)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name: "int8", "int32", "float32", ...
    quant: Quantization | None = None
    data: np.ndarray | None = None  # constant tensors only (weights, biases, shapes)
    variable: bool = False  # state kept between invocations (a recurrent op's): read before any op writes it

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize

    @property
    def scale(self) -> float:
        """The per-tensor scale; an error for per-channel or unquantized tensors (a damaged or float model)."""
        return self._per_tensor().scale[0]

    @property
    def zero_point(self) -> int:
        return self._per_tensor().zero_point[0]

    def _per_tensor(self) -> Quantization:
        if self.quant is None:
            raise TinyEdgeError(f"tensor '{self.name}' has no quantization parameters where int8 ones are needed; "
                                "quantize the model to full int8 with `tinyedge quantize`")
        if self.quant.per_channel:
            raise TinyEdgeError(f"tensor '{self.name}' has {len(self.quant.scale)} per-channel scales where one "
                                "scale is needed; re-export the model with the TensorFlow Lite converter")
        return self.quant


@dataclass(frozen=True, eq=False)
class Operator:
    index: int
    opcode: str  # builtin operator name as in the TFLite schema: "CONV_2D", ...
    inputs: tuple[int, ...]  # tensor indices; -1 marks an absent optional input
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)  # builtin options, schema field names


@dataclass(frozen=True, eq=False)
class Graph:
    name: str
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def tensor(self, index: int) -> Tensor:
        return self.tensors[index]

    def input_tensors(self) -> list[Tensor]:
        return [self.tensors[i] for i in self.inputs]

    def output_tensors(self) -> list[Tensor]:
        return [self.tensors[i] for i in self.outputs]

    def describe(self, op: Operator) -> str:
        """How a message names a layer: index, op, and the Keras layer it came from (else its output tensor).

        TensorFlow joins the names of fused tensors with ";", which can run to pages: one name is enough."""
        layer = self.keras_layer(op)
        if layer is not None:
            return f"layer {op.index} {op.opcode} (Keras layer '{layer}')"
        if not op.outputs:
            return f"layer {op.index} {op.opcode}"
        name = self.tensors[op.outputs[0]].name.split(";")[0]
        return f"layer {op.index} {op.opcode} (output '{name if len(name) <= 80 else name[:77] + '...'}')"

    def keras_layer(self, op: Operator) -> str | None:
        """The Keras layer an op came from, read from TensorFlow's name scopes ("sequential_1/lstm_1/split").

        The output's name says it, unless the output is the model's own ("StatefulPartitionedCall:0"); then
        the op's constants (weights, bias) do. A Keras 3 export traces the model once more, which appends
        "_1" to the model's scope and to every layer's; the layer's own name is the scope without it."""
        constants = [i for i in op.inputs if i >= 0 and self.tensors[i].data is not None]
        for index in (*op.outputs, *constants):
            scopes = self.tensors[index].name.split(";")[0].split("/")
            if len(scopes) >= 3 and scopes[1]:
                model, layer = scopes[0], scopes[1]
                return layer[:-2] if model.endswith("_1") and layer.endswith("_1") else layer
        return None
