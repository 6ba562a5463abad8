"""Compile the four MLPerf-Tiny-shaped models and print their size figures.

Per model: MACs, parameters, weight bytes, tinyedge's arena, the same plus the input and
output buffers (TFLite-Micro keeps those in its arena, tinyedge in the caller's buffers, so
this is the like-for-like figure), TFLite-Micro's arena use from print_allocations, and
the time to quantize (TensorFlow) and to lower, plan and generate the C. Not a test.

    python benchmarks/compile_models.py [kws vww ic ad]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from tinyedge import examples  # noqa: E402
from tinyedge.codegen import compile_graph, render_model  # noqa: E402
from tinyedge.importer import parse_tflite  # noqa: E402
from tinyedge.quantize import quantize_keras_model  # noqa: E402
from tinyedge.reference import reference_arena_bytes  # noqa: E402

COLUMNS = [("model", 6), ("MACs", 12), ("params", 9), ("weights B", 10), ("arena B", 9), ("arena+io B", 11),
           ("TFLM arena B", 13), ("quantize s", 10), ("generate s", 10)]


def row(values: list[str]) -> str:
    return " ".join(f"{v:>{width}}" for v, (_, width) in zip(values, COLUMNS))


def measure(name: str, workdir: Path) -> list[str]:
    keras_model = examples.build(name)
    rng = np.random.default_rng(0)
    calib = [rng.uniform(-1, 1, (40, *t.shape[1:])).astype(np.float32) for t in keras_model.inputs]
    start = time.perf_counter()
    tflite = quantize_keras_model(keras_model, workdir / f"{name}.tflite", calib, log=lambda _m: None).tflite
    quantize_s = time.perf_counter() - start
    flatbuffer = tflite.read_bytes()
    start = time.perf_counter()
    model = compile_graph(parse_tflite(flatbuffer, name))
    render_model(model, workdir / name)
    generate_s = time.perf_counter() - start
    arena = model.plan.arena_bytes
    return [name, f"{model.macs:,}", f"{model.params:,}", f"{model.weight_bytes:,}", f"{arena:,}",
            f"{arena + model.input_bytes + model.output_bytes:,}", f"{reference_arena_bytes(flatbuffer) or 0:,}",
            f"{quantize_s:.1f}", f"{generate_s:.2f}"]


def main(names: list[str]) -> None:
    header = row([title for title, _ in COLUMNS])
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            print(row(measure(name, Path(tmp))), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or list(examples.MLPERF_TINY))
