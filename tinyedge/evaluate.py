"""Accuracy stage (`compile --eval DATA`): the float model and the int8 firmware on labelled samples.

The int8 figures come from one host build of the generated C, fed every sample in one process:
the same model C and kernels as the firmware, which the verify stage finds bit-exact with
TFLite-Micro, so they are the firmware's accuracy, not an emulation of it. The float figures
come from TensorFlow in a child process (`python -m tinyedge.evaluate`), as the quantize stage
runs it, so this process never imports TensorFlow.

DATA is a .npz holding `x` (samples) and `y` (labels), or a folder of class subfolders of .npy
samples (one sample or a batch per file; the sorted folder names are the classes 0, 1, ...).
A model whose first output is class scores (more than one element per sample) with integer
labels is scored as a classifier (top-1 and a confusion matrix); any other, with labels shaped
like that output, as a regressor (mean absolute error).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from tinyedge import __version__, children
from tinyedge.boards import Board, load_board
from tinyedge.build import build_firmware, render_project
from tinyedge.codegen import CompiledModel, IOTensor, render_model
from tinyedge.errors import TinyEdgeError
from tinyedge.host import run_host
from tinyedge.report import AccuracyInfo
from tinyedge.resources import cache_dir
from tinyedge.verify import join_tensors, split_tensors

INT8_METHOD = "host build of the generated C (the firmware's model C and kernels, bit-exact with TFLite-Micro)"
FLOAT_METHOD = "TensorFlow, the float model before quantization"
KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")
FLOAT_TIMEOUT_S = 15 * 60
BATCH = 256  # samples per float forward pass


@dataclass(frozen=True)
class EvalData:
    x: np.ndarray  # float32 samples, [N, *sample shape]
    y: np.ndarray  # [N] integer class ids, or [N, ...] float targets
    classes: tuple[str, ...] | None  # the folder names, when the data is a folder of classes
    # A folder whose files all have one shape: each file is one sample, or (decided against the model's input
    # shape) a batch of samples sharing the file's label. x then holds one entry per file.
    per_file: bool = False


# ---------------------------------------------------------------- labelled data

def load_eval_data(path: str | Path) -> EvalData:
    """The labelled samples in `path`, checked for shape and kind; the model's shapes are checked later."""
    path = Path(path)
    if path.is_dir():
        return _load_folder(path)
    if path.suffix != ".npz" or not path.is_file():
        raise TinyEdgeError(f"evaluation data {path} must be a .npz with arrays x and y, or a folder of class "
                            "subfolders of .npy samples")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except Exception as exc:
        raise TinyEdgeError(f"cannot read evaluation data {path}: {exc}; give a .npz written by numpy.savez") from exc
    missing = [key for key in ("x", "y") if key not in arrays]
    if missing:
        raise TinyEdgeError(f"evaluation data {path} has no array {' or '.join(missing)} (it holds "
                            f"{', '.join(arrays) or 'nothing'}); save it with numpy.savez(path, x=samples, y=labels)")
    x, y = arrays["x"], arrays["y"]
    if len(x) == 0 or len(x) != len(y):
        raise TinyEdgeError(f"evaluation data {path}: x holds {len(x)} samples and y {len(y)} labels; give one "
                            "label per sample, at least one sample")
    return EvalData(_samples(x, path), y, None)


def _load_folder(path: Path) -> EvalData:
    folders = sorted(p for p in path.iterdir() if p.is_dir())
    if not folders:
        raise TinyEdgeError(f"evaluation folder {path} has no class subfolders; put each class's .npy samples in "
                            "a subfolder named after the class")
    xs, ys = [], []
    for label, folder in enumerate(folders):
        for file in sorted(folder.glob("*.npy")):
            try:
                array = np.load(file, allow_pickle=False)
            except Exception as exc:
                raise TinyEdgeError(f"cannot read evaluation sample {file}: {exc}; save it with numpy.save") from exc
            xs.append(array)
            ys.append(label)
    if not xs:
        raise TinyEdgeError(f"evaluation folder {path}: its class subfolders hold no .npy files")
    shapes = {a.shape for a in xs}
    names = tuple(f.name for f in folders)
    if len(shapes) == 1:  # one sample per file, or batches of one size: fit_to_model tells
        return EvalData(_samples(np.stack(xs), path), np.asarray(ys, dtype=np.int64), names, per_file=True)
    sample_shapes = {a.shape[1:] for a in xs}
    if len(sample_shapes) != 1 or any(a.ndim == 0 for a in xs):
        raise TinyEdgeError(f"evaluation folder {path}: its .npy files hold samples of different shapes "
                            f"{sorted(map(list, shapes))}; give one sample, or a batch of samples, per file")
    labels = np.concatenate([np.full(len(a), label) for a, label in zip(xs, ys)])
    return EvalData(_samples(np.concatenate(xs), path), labels, names)


def _samples(x: np.ndarray, source: Path) -> np.ndarray:
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise TinyEdgeError(f"evaluation samples in {source} have dtype {x.dtype}; give float32 samples")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise TinyEdgeError(f"evaluation samples in {source} hold NaN or infinite values; give finite samples")
    return x


def fit_to_model(data: EvalData, model: CompiledModel, source: str) -> tuple[np.ndarray, np.ndarray, str]:
    """The samples [N, *the input's shape without its batch axis], their labels, and the task
    ("classification" or "regression")."""
    if len(model.inputs) != 1:
        raise TinyEdgeError(f"--eval takes single-input models; this one has {len(model.inputs)} inputs")
    shape = model.inputs[0].shape
    sample = shape[1:] if shape and shape[0] == 1 else shape
    if data.per_file and data.x.shape[1:] not in (sample, shape) and data.x.shape[2:] in (sample, shape):
        batch = data.x.shape[1]  # every file a batch of this many samples
        data = EvalData(data.x.reshape(-1, *data.x.shape[2:]), np.repeat(data.y, batch), data.classes)
    if data.x.shape[1:] not in (sample, shape):
        raise TinyEdgeError(f"evaluation samples in {source} have shape {list(data.x.shape[1:])}; the model takes "
                            f"{list(sample)} (give x as [N, {', '.join(map(str, sample))}])")
    x = data.x.reshape(len(data.x), *sample)
    out = model.outputs[0]
    classes = int(np.prod(out.shape))
    y = data.y
    if np.issubdtype(y.dtype, np.integer) and classes > 1 and y.size == len(y):
        labels = y.reshape(-1)
        if labels.min() < 0 or labels.max() >= classes:
            raise TinyEdgeError(f"evaluation labels in {source} run from {labels.min()} to {labels.max()}; the model's "
                                f"output has {classes} classes (0 to {classes - 1})")
        return x, labels, "classification"
    if y.size != len(y) * classes:
        raise TinyEdgeError(f"evaluation labels in {source} have shape {list(y.shape)}: give integer class ids [N] "
                            f"for a classifier, or targets shaped like the model's output {list(out.shape)} "
                            "for a regressor")
    return x, y, "regression"


# ---------------------------------------------------------------- int8: the host build

def quantized_samples(model: CompiledModel, x: np.ndarray) -> list[bytes]:
    """Float samples as the firmware's input buffer: quantized with the input's scale and clipped to its dtype."""
    t = model.inputs[0]
    return [join_tensors(model.inputs, [_quantize(sample, t)]) for sample in x]


def _quantize(values: np.ndarray, t: IOTensor) -> np.ndarray:
    if t.scale is None:  # an index or shape input: taken as it is
        return values.astype(t.dtype)
    info = np.iinfo(t.dtype)
    return np.clip(np.round(values / t.scale) + t.zero_point, info.min, info.max).astype(t.dtype)


def run_on_host(model: CompiledModel, samples: list[bytes], host: Board | None = None) -> list[bytes]:
    """Every sample through one host build of the model's C, in one process (`host`: the host board, if loaded)."""
    host = host or load_board("host")
    with tempfile.TemporaryDirectory(prefix="tinyedge-eval-") as tmp:
        folder = Path(tmp) / "host"
        render_model(model, folder)
        render_project(folder, host, kernel_sources=model.kernel_sources)
        firmware = build_firmware(folder, host)
        return run_host(firmware.elf, samples, model.output_bytes)


def first_output(model: CompiledModel, outputs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The first output of every sample: raw values [N, elements], and dequantized."""
    t = model.outputs[0]
    raw = np.stack([split_tensors(model.outputs[:1], o)[0].reshape(-1) for o in outputs])
    scale = 1.0 if t.scale is None else t.scale
    return raw, (raw.astype(np.float64) - t.zero_point) * scale


# ---------------------------------------------------------------- float: TensorFlow in a child

def float_model_path(model_path: Path, source: Path | None) -> Path | None:
    """The float model behind `model_path`: itself (Keras, SavedModel), --source for a .tflite, else None."""
    if model_path.suffix == ".tflite":
        return source
    return model_path if model_path.is_dir() or model_path.suffix in KERAS_SUFFIXES else None


def float_outputs(float_model: Path, x: np.ndarray) -> np.ndarray:
    """The float model's first output for every sample, [N, elements], computed by TensorFlow in a child.

    Kept in tinyedge's cache by the content of the model and the samples (and the TensorFlow and
    Keras versions): a sweep compiling one model for many boards starts TensorFlow for it once."""
    cached = cache_dir("float-outputs") / f"{_float_key(Path(float_model), x)}.npy"
    if cached.is_file():
        return np.load(cached)
    outputs = _run_float_child(Path(float_model), x)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f".{cached.stem}-{os.getpid()}.npy")
    np.save(partial, outputs)
    os.replace(partial, cached)  # whole or absent, whichever concurrent job writes it
    return outputs


def _float_key(float_model: Path, x: np.ndarray) -> str:
    digest = hashlib.sha256(f"tinyedge float outputs 1 {__version__}".encode())
    for package in ("tensorflow-cpu", "tensorflow", "keras"):
        try:
            digest.update(f"{package} {metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            pass
    files = sorted(p for p in float_model.rglob("*") if p.is_file()) if float_model.is_dir() else [float_model]
    for file in files:
        digest.update(f"{file.relative_to(float_model) if float_model.is_dir() else ''}\0".encode())
        digest.update(file.read_bytes())
    digest.update(f"{x.dtype} {x.shape}".encode())
    digest.update(np.ascontiguousarray(x).tobytes())
    return digest.hexdigest()[:32]


def _run_float_child(float_model: Path, x: np.ndarray) -> np.ndarray:
    with tempfile.TemporaryDirectory(prefix="tinyedge-eval-float-") as tmp:
        folder = Path(tmp)
        np.save(folder / "x.npy", x)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                           os.environ.get("PYTHONPATH")]))}
        command = [sys.executable, "-m", "tinyedge.evaluate", str(Path(float_model).resolve()), str(folder)]
        what = f"TensorFlow running the float model {Path(float_model).name} on the evaluation samples"
        proc = children.run(command, what, stage="evaluate", timeout=FLOAT_TIMEOUT_S, env=env, text=True)
        if proc.returncode != 0:
            raise children.completed_failure(what, proc, stage="evaluate")
        return np.load(folder / "y.npy")


def _child_main(model_path: Path, folder: Path) -> int:
    """The child's side: load the float model, run it on x.npy in batches, save its first output as y.npy."""
    x = np.load(folder / "x.npy")
    if model_path.is_dir():
        predict, batch = _saved_model_predictor(model_path)
    else:
        from tinyedge.quantize import _load_keras  # its lenient loading of Keras 2 files

        keras_model = _load_keras(model_path)
        batch = 1 if keras_model.inputs[0].shape[0] == 1 else BATCH  # keras.Input(batch_size=1) fixes it

        def predict(samples: np.ndarray) -> np.ndarray:
            outputs = keras_model(samples, training=False)
            return np.asarray(outputs[0] if isinstance(outputs, list | tuple) else outputs)

    parts = [predict(x[i:i + batch]).reshape(len(x[i:i + batch]), -1) for i in range(0, len(x), batch)]
    np.save(folder / "y.npy", np.concatenate(parts).astype(np.float64))
    return 0


def _saved_model_predictor(path: Path) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """The SavedModel's serving signature on a batch of samples, and the batch it takes (1 where it fixes it)."""
    import tensorflow as tf

    serving = tf.saved_model.load(str(path)).signatures["serving_default"]
    name, spec = sorted(serving.structured_input_signature[1].items())[0]

    def predict(samples: np.ndarray) -> np.ndarray:
        result = serving(**{name: tf.constant(samples, dtype=spec.dtype)})
        return np.asarray(result[sorted(result)[0]])

    return predict, 1 if spec.shape[0] == 1 else BATCH


# ---------------------------------------------------------------- the stage

def measure_accuracy(data: EvalData, data_path: Path, model: CompiledModel, model_path: Path,
                     source: Path | None = None, host: Board | None = None) -> AccuracyInfo:
    """Top-1 and the confusion matrix (classifier) or mean absolute error (regressor), int8 and float.

    `data` is load_eval_data(data_path), loaded before the compile so bad data fails before any work."""
    x, y, task = fit_to_model(data, model, str(data_path))
    float_path = float_model_path(Path(model_path), source)
    with ThreadPoolExecutor(1) as pool:  # TensorFlow's start-up in the child overlaps the host build
        floats_later = None if float_path is None else pool.submit(float_outputs, float_path, x)
        raw, dequantized = first_output(model, run_on_host(model, quantized_samples(model, x), host))
        floats = None if floats_later is None else floats_later.result()
    common = {"data": str(data_path), "samples": len(x), "task": task, "int8_method": INT8_METHOD,
              "float_method": None if floats is None else FLOAT_METHOD}
    if task == "classification":
        labels = y.reshape(-1).astype(np.int64)
        classes = raw.shape[1]
        names = tuple(data.classes or ()) + tuple(str(i) for i in range(len(data.classes or ()), classes))
        predicted = np.argmax(raw, axis=1)
        confusion = np.zeros((classes, classes), dtype=np.int64)
        np.add.at(confusion, (labels, predicted), 1)
        return AccuracyInfo(**common, int8_top1=float(np.mean(predicted == labels)),
                            float_top1=None if floats is None else float(np.mean(np.argmax(floats, axis=1) == labels)),
                            classes=names, confusion=tuple(tuple(int(v) for v in row) for row in confusion))
    targets = y.reshape(len(x), -1).astype(np.float64)
    return AccuracyInfo(**common, int8_mae=float(np.mean(np.abs(dequantized - targets))),
                        float_mae=None if floats is None else float(np.mean(np.abs(floats - targets))))


if __name__ == "__main__":
    sys.exit(_child_main(Path(sys.argv[1]), Path(sys.argv[2])))
