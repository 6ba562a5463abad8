"""The stages chained the way the CLI runs them, usable from Python as well.

Output folders are written in a temporary sibling and renamed into place at the end, so
a failure never leaves a half-written folder behind.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyedge.codegen import CompiledModel, compile_graph, model_sha256, render_model
from tinyedge.errors import TinyEdgeError
from tinyedge.host import build_host, run_host
from tinyedge.importer import load_tflite
from tinyedge.resources import firmware_dir

Log = Callable[[str], None]


@dataclass(frozen=True)
class Generated:
    out_dir: Path
    tflite: Path
    model: CompiledModel


@contextlib.contextmanager
def atomic_output_dir(out_dir: Path) -> Iterator[Path]:
    """A scratch folder that replaces `out_dir` only if the block succeeds."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        yield scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if out_dir.exists():
        shutil.rmtree(out_dir)
    scratch.rename(out_dir)


def ensure_int8(model_path: Path, workdir: Path, calib: Path | None = None, source: Path | None = None,
                log: Log | None = None) -> Path:
    """The model as a full-int8 .tflite in workdir (quantized now unless it already is)."""
    from tinyedge.quantize import is_full_int8

    model_path = Path(model_path)
    if model_path.suffix == ".tflite" and model_path.is_file() and is_full_int8(model_path):
        target = workdir / "model.tflite"
        shutil.copyfile(model_path, target)
        return target
    from tinyedge.quantize import quantize  # imports TensorFlow: only when needed

    return quantize(model_path, workdir / "model.tflite", calib=calib, source=source, log=log).tflite


def compile_tflite(path: Path) -> CompiledModel:
    return compile_graph(load_tflite(path), model_sha256(path))


def copy_host_sources(model: CompiledModel, out_dir: Path) -> None:
    """Kernels and the host runner beside the model, so the folder builds on its own."""
    firmware = firmware_dir()
    (out_dir / "kernels").mkdir(exist_ok=True)
    for name in model.kernel_sources:
        shutil.copyfile(firmware / "kernels" / name, out_dir / "kernels" / name)
    shutil.copytree(firmware / "include", out_dir / "include", dirs_exist_ok=True)
    shutil.copyfile(firmware / "host" / "te_host_main.c", out_dir / "main.c")


def generate(model_path: Path, out_dir: Path, calib: Path | None = None, source: Path | None = None,
             log: Log | None = None) -> Generated:
    with atomic_output_dir(out_dir) as scratch:
        tflite = ensure_int8(model_path, scratch, calib, source, log)
        model = compile_tflite(tflite)
        render_model(model, scratch)
        copy_host_sources(model, scratch)
    return Generated(Path(out_dir), Path(out_dir) / "model.tflite", model)


def load_input_samples(path: Path, model: CompiledModel) -> tuple[list[bytes], bool]:
    """Samples from an .npy of one input (the model's shape) or a batch of them.

    Returns the samples and whether the file held a batch (so outputs get a batch axis).
    """
    if len(model.inputs) != 1:
        raise TinyEdgeError(f"the model has {len(model.inputs)} inputs; `run` takes single-input models")
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise TinyEdgeError(f"cannot read input {path}: {exc}; give an int8 array saved with numpy.save") from exc
    shape = model.inputs[0].shape
    if array.dtype != np.int8:
        raise TinyEdgeError(f"input {path} has dtype {array.dtype}; the firmware takes int8 (quantize with scale "
                            f"{model.inputs[0].scale:.6g} and zero point {model.inputs[0].zero_point})")
    if array.shape == shape:
        return [array.tobytes()], False
    if array.shape[1:] == shape or (shape and shape[0] == 1 and array.shape[1:] == shape[1:]):
        if len(array) == 0:
            raise TinyEdgeError(f"input {path} holds no samples")
        return [a.tobytes() for a in array], True
    raise TinyEdgeError(f"input {path} has shape {list(array.shape)}; the model takes {list(shape)} "
                        f"or a batch [N, {', '.join(map(str, shape))}]")


def outputs_array(model: CompiledModel, outputs: list[bytes], batched: bool) -> np.ndarray:
    out = model.outputs[0]
    arrays = [np.frombuffer(o[out.offset:out.offset + out.nbytes], dtype=np.int8).reshape(out.shape) for o in outputs]
    return np.stack(arrays) if batched else arrays[0]


def run_on_host(model_path: Path, input_path: Path, output_path: Path, calib: Path | None = None,
                log: Log | None = None) -> np.ndarray:
    with tempfile.TemporaryDirectory(prefix="tinyedge-run-") as tmp:
        workdir = Path(tmp)
        tflite = ensure_int8(Path(model_path), workdir, calib, log=log)
        model = compile_tflite(tflite)
        if len(model.outputs) != 1:
            raise TinyEdgeError(f"the model has {len(model.outputs)} outputs; `run` writes single-output models")
        samples, batched = load_input_samples(Path(input_path), model)
        render_model(model, workdir)
        exe = build_host(workdir / "model", model.kernel_sources, workdir / "build")
        result = outputs_array(model, run_host(exe, samples), batched)
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(output_path, result)
    return result
