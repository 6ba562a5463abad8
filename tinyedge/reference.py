"""The reference every firmware output is checked against: TFLite-Micro's own interpreter.

tflite_micro.runtime runs TFLite-Micro's reference kernels, the arithmetic the firmware
must reproduce byte for byte (TFLite's x86 kernels differ from it by one LSB at times).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import IO

import numpy as np

from tinyedge import children
from tinyedge.errors import TinyEdgeError
from tinyedge.importer import parse_tflite
from tinyedge.ir import Graph

REFERENCE_NAME = "tflite_micro.runtime.Interpreter"


def _arena_size(flatbuffer: bytes) -> int:
    """Generous on purpose: an arena that is too small can crash the process."""
    graph = parse_tflite(flatbuffer)
    activations = sum(t.nbytes for t in graph.tensors if not t.is_constant)
    return 2 * activations + 256 * 1024


def run_reference(flatbuffer: bytes, samples: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """Outputs of each sample (a list of arrays, one per model input) from TFLite-Micro.

    The interpreter's C++ side prints its complaints ("Didn't find op for builtin opcode
    'TILE'") on file descriptors 1 and 2; they are caught and kept in a log, and the error
    names the op and layer instead.
    """
    from tflite_micro import runtime

    graph = parse_tflite(flatbuffer)
    with tempfile.TemporaryFile() as capture:
        try:
            with _native_output_to(capture):
                interpreter = runtime.Interpreter.from_bytes(flatbuffer, arena_size=_arena_size(flatbuffer))
                results = []
                for sample in samples:
                    for index, (array, tensor) in enumerate(zip(sample, graph.input_tensors())):
                        interpreter.set_input(np.asarray(array, dtype=tensor.dtype).reshape(tensor.shape), index)
                    interpreter.invoke()
                    results.append([np.array(interpreter.get_output(i)) for i in range(len(graph.outputs))])
        except Exception as exc:
            capture.seek(0)
            raise _failure(graph, capture.read().decode(errors="replace"), exc) from exc
    return results


@contextlib.contextmanager
def _native_output_to(sink: IO[bytes]) -> Iterator[None]:
    """Point file descriptors 1 and 2 at `sink` for the duration (C++ output bypasses sys.stdout)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


_MISSING_OP = re.compile(r"Didn't find op for (?:builtin|custom) opcode '([^']+)'")


def _failure(graph: Graph, output: str, exc: Exception) -> TinyEdgeError:
    """One line: the op TFLite-Micro has no kernel for and where it sits, or its own reason; the log keeps the rest."""
    log = children.save_log("reference", [REFERENCE_NAME], output) if output.strip() else None
    saved = f" (log: {log})" if log else ""
    missing = _MISSING_OP.search(output)
    if missing is None:
        reason = children.first_error(output) if output.strip() else str(exc).strip().splitlines()[0]
        return TinyEdgeError(f"TFLite-Micro cannot run the model: {reason}{saved}")
    opcode = missing.group(1)
    op = next((op for op in graph.operators if op.opcode == opcode), None)
    where = ""
    if op is not None and op.outputs:
        tensor = graph.tensor(op.outputs[0]).name.split(";")[0]
        scopes = tensor.split("/")
        layer = f", Keras layer '{scopes[1]}'" if len(scopes) > 2 else ""
        where = f" (operator {op.index}, output tensor '{tensor}'{layer})"
    return TinyEdgeError(f"TFLite-Micro has no kernel for the model's {opcode} op{where}, so it cannot serve as the "
                         f"reference; replace that layer with ops TFLite-Micro supports{saved}")


_PROBE = """
import sys
from tflite_micro import runtime
data = open(sys.argv[1], "rb").read()
interpreter = runtime.Interpreter.from_bytes(data, arena_size=int(sys.argv[2]))
interpreter.print_allocations()
"""


def reference_arena_bytes(flatbuffer: bytes) -> int | None:
    """TFLite-Micro's arena use ("Arena allocation total"), probed in a subprocess.

    print_allocations() writes to the C-level stderr, and a failing allocation can take
    the process down, hence the child process.
    """
    with tempfile.NamedTemporaryFile(suffix=".tflite", delete=False) as handle:
        handle.write(flatbuffer)
        path = handle.name
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE, path, str(_arena_size(flatbuffer))],
                              capture_output=True, text=True, timeout=120)
    finally:
        os.unlink(path)
    match = re.search(r"Arena allocation total (\d+) bytes", proc.stderr + proc.stdout)
    return int(match.group(1)) if match else None
