"""Many single-op cases in ONE firmware: each case's operator side by side in one model (its own
inputs, constants and output), built once for a board, run in the emulator on every case's own
samples, and compared with TFLite-Micro byte for byte.

A firmware build (cross-compiling the kernels and runtime) costs far more than the ops it runs,
so a test that checks 30 configurations on nrf52840 pays for one build instead of 30. Each op is
lowered on its own tensors, so the merged model runs the same kernel with the same parameters as
the one-op model of the case; `check_cases_on_board` asserts that, and a differing byte names the
case it belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import flatbuffers
import numpy as np
from single_op import OpCase, single_op_tflite
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.boards import load_board
from tinyedge.codegen import CompiledModel, compile_graph
from tinyedge.importer import parse_tflite
from tinyedge.pipeline import build
from tinyedge.simulate import simulate
from tinyedge.verify import join_tensors, random_samples, reference_outputs, split_sample, split_tensors


def several_ops_tflite(flatbuffers_: Sequence[bytes]) -> bytes:
    """One model holding every one-op model's operator, tensors and buffers; inputs and outputs in case
    order, each tensor's name prefixed with its case number (c0_, c1_, ...)."""
    buffers = [schema.BufferT()]  # buffer 0: the schema's empty sentinel
    codes: list[schema.OperatorCodeT] = []
    tensors, operators, inputs, outputs = [], [], [], []
    for number, flatbuffer in enumerate(flatbuffers_):
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(flatbuffer, 0))
        (subgraph,) = model.subgraphs
        tensor_base, buffer_base = len(tensors), len(buffers) - 1
        for tensor in subgraph.tensors:
            tensor.name = f"c{number}_{tensor.name.decode() if isinstance(tensor.name, bytes) else tensor.name}"
            if tensor.buffer:
                tensor.buffer += buffer_base
            tensors.append(tensor)
        buffers.extend(model.buffers[1:])
        for op in subgraph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            key = (code.builtinCode, code.version)
            index = next((i for i, c in enumerate(codes) if (c.builtinCode, c.version) == key), None)
            if index is None:
                index = len(codes)
                codes.append(code)
            op.opcodeIndex = index
            op.inputs = [i + tensor_base if i >= 0 else i for i in op.inputs]
            op.outputs = [i + tensor_base for i in op.outputs]
            operators.append(op)
        inputs += [i + tensor_base for i in subgraph.inputs]
        outputs += [i + tensor_base for i in subgraph.outputs]
    subgraph = schema.SubGraphT()
    subgraph.tensors, subgraph.operators, subgraph.inputs, subgraph.outputs = tensors, operators, inputs, outputs
    subgraph.name = "main"
    model = schema.ModelT()
    model.version = 3
    model.description = f"tinyedge op batch: {len(operators)} ops"
    model.operatorCodes, model.subgraphs, model.buffers = codes, [subgraph], buffers
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def check_cases_on_board(cases: Sequence[OpCase], board: str, folder: Path, samples: int = 2,
                         seed: int = 11) -> CompiledModel:
    """Every case's output bytes on `board` (one firmware for all, in the emulator) equal TFLite-Micro's.

    Each case gets the inputs its one-op model would: `case.samples`, or random_samples(one-op model,
    samples, seed). The merged model must lower each op to the kernel the one-op model gets.
    Raises AssertionError naming every case whose output differs. Returns the merged model.
    """
    singles = [single_op_tflite(case) for case in cases]
    models = [compile_graph(parse_tflite(flatbuffer, name=f"case{n}")) for n, flatbuffer in enumerate(singles)]
    case_inputs = [list(case.samples) or random_samples(model, samples, seed=seed)
                   for case, model in zip(cases, models)]
    count = {len(s) for s in case_inputs}
    assert len(count) == 1, f"the cases have different sample counts: {count}"
    merged_flatbuffer = several_ops_tflite(singles)
    merged = compile_graph(parse_tflite(merged_flatbuffer, name="batch"))
    want = [[call.function for call in model.calls] for model in models]
    got, start = [], 0
    for functions in want:
        got.append([call.function for call in merged.calls[start:start + len(functions)]])
        start += len(functions)
    assert start == len(merged.calls) and got == want, "the merged model lowers some case to another kernel: " + \
        "; ".join(f"{c.describe()}: {g} not {w}" for c, g, w in zip(cases, got, want) if g != w)
    assert [t.name for t in merged.inputs] == [f"c{n}_{t.name}" for n, m in enumerate(models) for t in m.inputs]

    merged_samples = []
    for s in range(count.pop()):
        arrays = [array for model, inputs in zip(models, case_inputs) for array in split_sample(model, inputs[s])]
        merged_samples.append(join_tensors(merged.inputs, arrays))
    firmware = build(merged, board, folder)
    outputs = list(simulate(firmware.elf, load_board(board), merged_samples).outputs)
    expected = reference_outputs(merged_flatbuffer, merged, merged_samples)
    assert len(outputs) == len(expected), f"{len(outputs)} outputs for {len(expected)} samples on {board}"
    failures = []
    ends = np.cumsum([len(m.outputs) for m in models])
    for number, (want_bytes, got_bytes) in enumerate(zip(expected, outputs)):
        if want_bytes == got_bytes:
            continue
        want_arrays = split_tensors(merged.outputs, want_bytes)
        got_arrays = split_tensors(merged.outputs, got_bytes) if len(got_bytes) == len(want_bytes) else None
        for index, want_array in enumerate(want_arrays):
            if got_arrays is None or not np.array_equal(want_array, got_arrays[index]):
                case = cases[int(np.searchsorted(ends, index, side="right"))]
                position = "output length differs" if got_arrays is None else \
                    f"element {int(np.flatnonzero(want_array.ravel() != got_arrays[index].ravel())[0])}"
                failures.append(f"{case.describe()}: sample {number}, {position} differs on {board}")
    assert not failures, f"{len(failures)} outputs differ from tflite_micro on {board}:\n" + "\n".join(failures[:20])
    return merged
