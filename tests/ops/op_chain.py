"""Cases of two or more operators in a row for the single_op harness, for ops whose output a
model cannot end on: the bool tensors of the comparisons (the firmware's outputs are int8), so
a comparison is followed by a SELECT_V2 that turns its bool back into int8.

`ChainCase` is an OpCase (its first operator) with the operators that follow it; `chains` (a
context manager) lets single_op.check_cases write such a case's whole model. Tensors may be
"bool" (one byte, no quantization) as well as the harness's integer types. Model inputs are
every non-constant input in order; the model's output is the last operator's.
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

_TYPES = {"int8": schema.TensorType.INT8, "int16": schema.TensorType.INT16, "int32": schema.TensorType.INT32,
          "int64": schema.TensorType.INT64, "float32": schema.TensorType.FLOAT32, "bool": schema.TensorType.BOOL}
PREVIOUS = None  # in Then.inputs: the previous operator's output


@dataclass(frozen=True)
class Then:
    """An operator after the case's first one; an input None is the previous operator's output."""

    opcode: str
    inputs: tuple[TensorSpec | None, ...]
    output: TensorSpec
    options: object | None = None


@dataclass(frozen=True)
class ChainCase(OpCase):
    then: tuple[Then, ...] = ()

    def describe(self) -> str:
        def one(t: TensorSpec | None) -> str:
            if t is None:
                return "previous"
            kind = "const " if t.data is not None else ""
            quant = "" if t.dtype == "bool" else f" s={t.scale} z={t.zero_point}"
            return f"{kind}{t.dtype}{list(t.shape)}{quant}"

        steps = [(self.opcode, self.inputs, self.output), *((s.opcode, s.inputs, s.output) for s in self.then)]
        return f"{self.label} " + " then ".join(f"{code}({'; '.join(one(t) for t in ins)}) -> {one(out)}"
                                                  for code, ins, out in steps)


def bool_spec(shape: tuple[int, ...], data: np.ndarray | None = None) -> TensorSpec:
    return TensorSpec(shape, 0.0, 0, data=data, dtype="bool")


def chain_tflite(case: ChainCase) -> bytes:
    buffers = [schema.BufferT()]
    tensors: list[schema.TensorT] = []
    model_inputs: list[int] = []

    def add(spec: TensorSpec, name: str) -> int:
        tensor = schema.TensorT()
        tensor.name = f"{name}_{len(tensors)}"
        tensor.shape = np.array(spec.shape, dtype=np.int32)
        tensor.type = _TYPES[spec.dtype]
        tensor.quantization = None if spec.dtype == "bool" else spec.quantization()
        tensor.buffer = 0
        if spec.data is not None:
            buffer = schema.BufferT()
            values = np.asarray(spec.data, dtype=spec.dtype).reshape(spec.shape)
            buffer.data = np.frombuffer(values.tobytes(), dtype=np.uint8).copy()
            tensor.buffer = len(buffers)
            buffers.append(buffer)
        elif name == "input":
            model_inputs.append(len(tensors))
        tensors.append(tensor)
        return len(tensors) - 1

    codes: list[str] = []
    operators = []
    previous = -1
    for opcode, inputs, output, options in [(case.opcode, case.inputs, case.output, case.options),
                                            *((s.opcode, s.inputs, s.output, s.options) for s in case.then)]:
        op = schema.OperatorT()
        if opcode not in codes:
            codes.append(opcode)
        op.opcodeIndex = codes.index(opcode)
        op.inputs = [previous if spec is None else add(spec, "input") for spec in inputs]
        previous = add(output, "output")
        op.outputs = [previous]
        if options is not None:
            op.builtinOptionsType = getattr(schema.BuiltinOptions, type(options).__name__.removesuffix("T"))
            op.builtinOptions = options
        operators.append(op)

    operator_codes = []
    for opcode in codes:
        code = schema.OperatorCodeT()
        code.builtinCode = getattr(schema.BuiltinOperator, opcode)
        code.deprecatedBuiltinCode = min(code.builtinCode, schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
        code.version = 1
        operator_codes.append(code)
    subgraph = schema.SubGraphT()
    subgraph.tensors = tensors
    subgraph.inputs = model_inputs
    subgraph.outputs = [previous]
    subgraph.operators = operators
    subgraph.name = "main"
    model = schema.ModelT()
    model.version = 3
    model.description = f"tinyedge op-chain test: {case.label}"
    model.operatorCodes = operator_codes
    model.subgraphs = [subgraph]
    model.buffers = buffers
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@contextlib.contextmanager
def chains() -> Iterator[None]:
    """While open, single_op.check_cases writes a ChainCase's whole chain of operators."""
    one_op = single_op.single_op_tflite

    def tflite(case: OpCase) -> bytes:
        return chain_tflite(case) if isinstance(case, ChainCase) else one_op(case)

    single_op.single_op_tflite = tflite
    try:
        yield
    finally:
        single_op.single_op_tflite = one_op


def as_int8(shape: tuple[int, ...]) -> Then:
    """SELECT_V2(previous bool, 1, 0): the bool tensor as int8 0s and 1s, the model's output."""
    one = TensorSpec((), 1.0, 0, data=np.array(1, dtype=np.int8))
    zero = TensorSpec((), 1.0, 0, data=np.array(0, dtype=np.int8))
    return Then("SELECT_V2", (PREVIOUS, one, zero), TensorSpec(shape, 1.0, 0))
