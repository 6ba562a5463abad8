"""The reference every firmware output is checked against: TFLite-Micro's own interpreter.

tflite_micro.runtime runs TFLite-Micro's reference kernels, the arithmetic the firmware
must reproduce byte for byte (TFLite's x86 kernels differ from it by one LSB at times).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

import numpy as np

from tinyedge.errors import TinyEdgeError
from tinyedge.importer import parse_tflite

REFERENCE_NAME = "tflite_micro.runtime.Interpreter"


def _arena_size(flatbuffer: bytes) -> int:
    """Generous on purpose: an arena that is too small can crash the process."""
    graph = parse_tflite(flatbuffer)
    activations = sum(t.nbytes for t in graph.tensors if not t.is_constant)
    return 2 * activations + 256 * 1024


def run_reference(flatbuffer: bytes, samples: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """Outputs of each sample (a list of arrays, one per model input) from TFLite-Micro."""
    from tflite_micro import runtime

    try:
        interpreter = runtime.Interpreter.from_bytes(flatbuffer, arena_size=_arena_size(flatbuffer))
    except Exception as exc:
        raise TinyEdgeError(f"TFLite-Micro cannot load the model: {str(exc).strip().splitlines()[0]}") from exc
    graph = parse_tflite(flatbuffer)
    results = []
    for sample in samples:
        for index, (array, tensor) in enumerate(zip(sample, graph.input_tensors())):
            interpreter.set_input(np.asarray(array, dtype=tensor.dtype).reshape(tensor.shape), index)
        interpreter.invoke()
        results.append([np.array(interpreter.get_output(i)) for i in range(len(graph.outputs))])
    return results


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
