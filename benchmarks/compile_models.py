"""Compile the four MLPerf-Tiny-shaped models and print their size figures.

Per model: MACs, parameters, weight bytes, tinyedge's arena beside TFLite-Micro's arena
use (from print_allocations), and the time to lower, plan and generate the C (the
TensorFlow quantization before it is timed separately). Not a test: it prints figures.

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


def main(names: list[str]) -> None:
    header = f"{'model':6} {'MACs':>12} {'params':>9} {'weights B':>10} {'arena B':>9} {'TFLM arena B':>13} " \
             f"{'quantize s':>10} {'generate s':>10}"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            keras_model = examples.build(name)
            rng = np.random.default_rng(0)
            calib = [rng.uniform(-1, 1, (40, *t.shape[1:])).astype(np.float32) for t in keras_model.inputs]
            start = time.perf_counter()
            tflite = quantize_keras_model(keras_model, Path(tmp) / f"{name}.tflite", calib, log=lambda _m: None).tflite
            quantize_s = time.perf_counter() - start
            flatbuffer = tflite.read_bytes()
            start = time.perf_counter()
            model = compile_graph(parse_tflite(flatbuffer, name))
            render_model(model, Path(tmp) / name)
            generate_s = time.perf_counter() - start
            tflm_arena = reference_arena_bytes(flatbuffer)
            print(f"{name:6} {model.macs:>12,} {model.params:>9,} {model.weight_bytes:>10,} "
                  f"{model.plan.arena_bytes:>9,} {tflm_arena or 0:>13,} {quantize_s:>10.1f} {generate_s:>10.2f}")


if __name__ == "__main__":
    main(sys.argv[1:] or list(examples.MLPERF_TINY))
