"""Native modules in MicroPython: size, heap at import, instructions per invoke, call overhead.

Per model (MLPerf-Tiny-shaped examples, trained a few epochs on made-up data so the kernels see
trained statistics; nothing is downloaded) and architecture: the .mpy size, the heap import takes
(code and weights are copied there, plus BSS with the arena; measured with gc.mem_alloc() in the
qemu port), the model code's instructions per invoke (the .mpy's own code placed by the loader's
rules in the built-in emulator: what a bare-metal call of tinyedge_model_invoke executes), the
instructions per invoke_into() under MicroPython in QEMU (-icount shift=0, ticks_us around a loop,
the empty loop subtracted), and the difference: MicroPython's call overhead. Needs MPY_DIR built
by scripts/build_micropython.sh. Not a test: it prints figures.

    MPY_DIR=... python benchmarks/micropython_invoke.py [--arch armv7m armv7emdp rv32imc] [kws ad ...]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from tinyedge import examples  # noqa: E402
from tinyedge.errors import TinyEdgeError  # noqa: E402
from tinyedge.micropython import natmod, qemu_port  # noqa: E402
from tinyedge.micropython.emulate import call  # noqa: E402
from tinyedge.pipeline import compile_tflite  # noqa: E402
from tinyedge.verify import random_samples, reference_outputs  # noqa: E402

HEAP_SCRIPT = """
import gc
gc.collect()
free = gc.mem_free()
before = gc.mem_alloc()
try:
    import {module}
    gc.collect()
    print('heap', gc.mem_alloc() - before, free)
except MemoryError:
    print('heap MemoryError', free)
"""


def trained_tflite(name: str, folder: Path, epochs: int = 2) -> Path:
    """The example model after a few epochs on a learnable made-up task, quantized with its inputs' range."""
    from tinyedge.quantize import quantize_keras_model

    model = examples.build(name)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (128, *model.inputs[0].shape[1:])).astype(np.float32)
    flat = x.reshape(len(x), -1)
    out_shape = tuple(model.outputs[0].shape[1:])
    projection = rng.normal(0, 1 / np.sqrt(flat.shape[1]), (flat.shape[1], int(np.prod(out_shape))))
    y = np.tanh(2 * flat @ projection).reshape(len(x), *out_shape).astype(np.float32)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=epochs, batch_size=16, verbose=0)
    path = folder / f"{name}.tflite"
    quantize_keras_model(model, path, [x[:32]], log=lambda _m: None)
    return path


def measure(name: str, tflite: Path, arch: str, mpy_dir: Path, folder: Path) -> list[str]:
    model = compile_tflite(tflite, name=name)
    built = natmod.build_native_module(model, name, arch, folder / f"{name}-{arch}.mpy", folder / f"build-{arch}")
    blob = built.path.read_bytes()
    sample = random_samples(model, 1, seed=0)[0]
    out, model_code = call(blob, arch, built.linked.symbols["tinyedge_model_invoke"], sample, model.output_bytes)
    exact = out == reference_outputs(tflite.read_bytes(), model, [sample])[0]
    heap_line = qemu_port.run(mpy_dir, arch, HEAP_SCRIPT.format(module=name), {f"{name}.mpy": blob}, icount=False)
    heap = next(line for line in heap_line.splitlines() if line.startswith("heap ")).split()
    if heap[1] == "MemoryError":
        return [name, arch, f"{len(blob):,}", f"{built.import_ram_bytes:,}", f"MemoryError (free {int(heap[2]):,})",
                f"{model.plan.arena_bytes:,}", f"{model_code:,}", "-", "-", str(exact)]
    try:
        runs = max(2, min(50, 200_000_000 // max(model_code, 1) // 10))
        under_mp = qemu_port.instructions_per_invoke(mpy_dir, arch, name, blob, model.input_bytes, n=runs)
    except TinyEdgeError as exc:
        return [name, arch, f"{len(blob):,}", f"{built.import_ram_bytes:,}", heap[1], f"{model.plan.arena_bytes:,}",
                f"{model_code:,}", f"failed: {exc}", "-", str(exact)]
    return [name, arch, f"{len(blob):,}", f"{built.import_ram_bytes:,}", f"{int(heap[1]):,}",
            f"{model.plan.arena_bytes:,}", f"{model_code:,}", f"{under_mp:,.0f}", f"{under_mp - model_code:+,.0f}",
            str(exact)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["kws", "ad"])
    parser.add_argument("--arch", nargs="+", default=["armv7m", "armv7emdp", "rv32imc"])
    args = parser.parse_args()
    mpy_dir = Path(os.environ["MPY_DIR"])
    header = ["model", "arch", ".mpy B", "text+BSS B", "heap at import B", "arena B", "model code instr",
              "invoke_into instr (MicroPython)", "call overhead", "bit-exact"]
    print(" | ".join(header))
    with tempfile.TemporaryDirectory(prefix="tinyedge-mpy-bench-") as tmp:
        folder = Path(tmp)
        for name in args.models:
            tflite = trained_tflite(name, folder)
            for arch in args.arch:
                print(" | ".join(measure(name, tflite, arch, mpy_dir, folder)), flush=True)


if __name__ == "__main__":
    main()
