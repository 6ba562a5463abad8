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

from tinyedge.boards import Board, load_board
from tinyedge.build import Firmware, build_firmware, render_project
from tinyedge.codegen import CompiledModel, compile_graph, model_sha256, render_model
from tinyedge.errors import TinyEdgeError
from tinyedge.host import run_host
from tinyedge.importer import load_tflite

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


def render(model: CompiledModel, board: Board | str, out_dir: Path) -> None:
    """The model's C and a firmware project for `board` around it, buildable on its own."""
    render_model(model, out_dir)
    render_project(out_dir, board, kernel_sources=model.kernel_sources)


def build(model: CompiledModel, board: Board | str, out_dir: Path) -> Firmware:
    render(model, board, out_dir)
    return build_firmware(out_dir, board)


def generate(model_path: Path, out_dir: Path, board: str = "host", calib: Path | None = None,
             source: Path | None = None, log: Log | None = None) -> Generated:
    board_data = load_board(board)  # an unknown board fails before any work
    with atomic_output_dir(out_dir) as scratch:
        tflite = ensure_int8(model_path, scratch, calib, source, log)
        model = compile_tflite(tflite)
        render(model, board_data, scratch)
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
        firmware = build(model, "host", workdir / "host")
        result = outputs_array(model, run_host(firmware.elf, samples, model.output_bytes), batched)
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(output_path, result)
    return result
