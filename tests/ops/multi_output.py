"""Single-op cases with several outputs (SPLIT, SPLIT_V, UNPACK) for the single_op harness.

The harness writes one output per operator. `MultiOutputCase` carries the others, and
`several_outputs` (a context manager) lets single_op.check_cases write them: the flatbuffer
the harness makes gets the extra output tensors appended to the operator's and the model's
outputs. The model's output bytes are then every output in order, as tinyedge's firmware and
tflite_micro's reference both give them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import flatbuffers
import numpy as np
import single_op
from single_op import OpCase, TensorSpec
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema


@dataclass(frozen=True)
class MultiOutputCase(OpCase):
    """An OpCase whose operator has `more_outputs` after `output`."""

    more_outputs: tuple[TensorSpec, ...] = ()


def _with_more_outputs(flatbuffer: bytes, case: MultiOutputCase) -> bytes:
    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    subgraph = model.subgraphs[0]
    for number, spec in enumerate(case.more_outputs):
        tensor = schema.TensorT()
        tensor.name = f"output_more_{number}"
        tensor.shape = np.array(spec.shape, dtype=np.int32)
        tensor.type = single_op._TENSOR_TYPES[spec.dtype]
        tensor.quantization = spec.quantization()
        tensor.buffer = 0
        subgraph.tensors.append(tensor)
        index = len(subgraph.tensors) - 1
        subgraph.operators[0].outputs = [*subgraph.operators[0].outputs, index]
        subgraph.outputs = [*subgraph.outputs, index]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@contextlib.contextmanager
def several_outputs() -> Iterator[None]:
    """While open, single_op.check_cases writes a MultiOutputCase's extra outputs too."""
    one_output = single_op.single_op_tflite

    def tflite(case: OpCase) -> bytes:
        flatbuffer = one_output(case)
        return _with_more_outputs(flatbuffer, case) if isinstance(case, MultiOutputCase) else flatbuffer

    single_op.single_op_tflite = tflite
    try:
        yield
    finally:
        single_op.single_op_tflite = one_output


def outputs_case(opcode: str, inputs: tuple[TensorSpec, ...], outputs: list[TensorSpec], options: object | None,
                 label: str, samples: tuple[bytes, ...] = (), expected: tuple[bytes, ...] = ()) -> MultiOutputCase:
    return MultiOutputCase(opcode, inputs, outputs[0], options, label, samples, expected,
                           more_outputs=tuple(outputs[1:]))
