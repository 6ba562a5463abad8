"""Quantize stage: a trained float model to a full-int8, static batch-1 .tflite.

TensorFlow's converter does the quantization (representative dataset, int8 builtins,
int8 input and output). The model is first exported with a batch-1 input signature so
the graph is static: a Keras 3 Flatten otherwise leaves SHAPE/STRIDED_SLICE/PACK in
front of RESHAPE, which no firmware should carry.

TensorFlow is imported only inside this module's functions: it costs seconds. quantize() runs
it in a child process (`python -m tinyedge.quantize`): its calibrator can crash or hang, and
that must end in one error line with a log, not a silent exit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinyedge import children
from tinyedge.errors import TinyEdgeError
from tinyedge.full_int8 import KerasLayer, check_full_int8, keras_layers, requantize_float_islands
from tinyedge.importer import load_tflite, parse_tflite
from tinyedge.ir import Graph, Tensor
from tinyedge.model_kind import INT8, IO_DTYPES, classify_file, refusal, require_compilable
from tinyedge.reference import run_reference

SYNTHETIC_SAMPLES = 64
MAX_CALIBRATION_SAMPLES = 300
DYNAMIC_SHAPE_OPS = {"SHAPE", "BROADCAST_ARGS", "BROADCAST_TO", "FILL"}
# These move int8 data too (Python slicing, keras.ops.stack); on int32 tensors they compute a shape.
SHAPE_ARITHMETIC_OPS = {"STRIDED_SLICE", "PACK"}
KERAS_SUFFIXES = {".h5", ".hdf5", ".keras"}
SYNTHETIC_WARNING = ("WARNING: no calibration data given (--calib): quantizing with a seeded synthetic random set. "
                     "The int8 ranges, and so the accuracy, are unknown; give real samples for a model you will ship.")


ACTIVATIONS = ("int8", "int16")  # full int8, or TensorFlow's 16x8 mode (int16 activations, int8 weights)


@dataclass(frozen=True)
class Agreement:
    """How closely the quantized model follows the float one on held-out samples (after dequantization)."""

    samples: int
    cosine: float
    max_abs_error: float
    mean_abs_error: float
    top1: float | None  # fraction of samples whose arg-max class agrees; None when not a classifier
    activations: str = "int8"  # the quantized model's activations: "int8", or "int16" (16x8 mode)

    def summary(self) -> str:
        text = (f"{self.activations} vs float on {self.samples} held-out samples: cosine {self.cosine:.5f}, "
                f"max abs error {self.max_abs_error:.4g}, mean abs error {self.mean_abs_error:.4g}")
        if self.top1 is not None:
            text += f", top-1 agreement {self.top1:.1%}"
        return text


@dataclass(frozen=True)
class QuantizeResult:
    tflite: Path
    passthrough: bool  # the input already was a full-int8 .tflite
    synthetic_calibration: bool
    agreement: Agreement | None
    calibration_samples: int = 0  # how many samples the converter calibrated on; 0 for a passthrough .tflite
    # With int16 activations: how the int8 conversion of the same model on the same samples agrees, the
    # accuracy side of the trade (int16 doubles the activations' RAM). None otherwise, or if int8 failed.
    int8_agreement: Agreement | None = None


# ---------------------------------------------------------------- calibration data

def load_calibration(path: str | Path, input_shapes: list[tuple[int, ...]],
                     log: Callable[[str], None] | None = None) -> list[np.ndarray]:
    """Calibration samples per model input, each shaped (N, *input_shape_without_batch).

    `log` gets the warnings (one line each; default: stderr), such as a lone sample without a batch axis.
    """
    path = Path(path)
    log = log or (lambda message: print(message, file=sys.stderr))
    if path.is_dir():
        files = sorted(path.glob("*.npy"))
        if not files:
            raise TinyEdgeError(f"calibration folder {path} holds no .npy files; put one sample or batch per .npy")
        arrays = [[_read_npy(f) for f in files]]
        per_input = [np.concatenate([_as_batch(a, input_shapes[0], f, log) for a, f in zip(arrays[0], files)])]
    elif path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as npz:
                named = [npz[key] for key in npz.files]
        except Exception as exc:
            raise TinyEdgeError(f"cannot read calibration file {path}: {exc}; give a .npz written by numpy") from exc
        if len(named) < len(input_shapes):
            raise TinyEdgeError(f"{path} holds {len(named)} arrays but the model has {len(input_shapes)} inputs")
        per_input = [_as_batch(a, s, path, log) for a, s in zip(named, input_shapes)]
    elif path.suffix == ".npy":
        per_input = [_as_batch(_read_npy(path), input_shapes[0], path, log)]
    else:
        raise TinyEdgeError(f"calibration data {path} must be a .npy, a .npz or a folder of .npy files")
    if len(per_input) < len(input_shapes):
        raise TinyEdgeError(f"the model has {len(input_shapes)} inputs: give calibration data as a .npz "
                            "with one array per input")
    counts = {len(a) for a in per_input}
    if len(counts) != 1:
        raise TinyEdgeError(f"calibration arrays in {path} hold different sample counts: {sorted(counts)}")
    return per_input


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:
        raise TinyEdgeError(f"cannot read calibration file {path}: {exc}; give an array saved with numpy.save") from exc


def _as_batch(array: np.ndarray, input_shape: tuple[int, ...], source: Path,
              log: Callable[[str], None] | None = None) -> np.ndarray:
    sample_shape = tuple(input_shape[1:])
    if array.size == 0:
        raise TinyEdgeError(f"calibration data {source} is empty; give samples of shape {list(sample_shape)}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TinyEdgeError(f"calibration data {source} has dtype {array.dtype}; give float32 samples")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise TinyEdgeError(f"calibration data {source} holds NaN or infinite values, which would give the int8 "
                            "ranges no meaning; give finite samples")
    if array.shape == sample_shape and len(sample_shape) > 0:
        # Accepted, never silently: one sample fixes each tensor's int8 range from a single input.
        (log or (lambda message: print(message, file=sys.stderr)))(
            f"tinyedge: warning: calibration data {source} is one sample of shape {list(sample_shape)} without a "
            f"batch axis: calibrating on that one sample gives unreliable int8 ranges; give an array "
            f"[N, {', '.join(map(str, sample_shape))}] of a few hundred representative samples")
        array = array[None]
    if array.shape[1:] != sample_shape:
        raise TinyEdgeError(f"calibration data {source} has shape {list(array.shape)}; the model takes samples of "
                            f"shape {list(sample_shape)} (give an array [N, {', '.join(map(str, sample_shape))}])")
    return array.astype(np.float32)


def synthetic_calibration(input_shapes: list[tuple[int, ...]], samples: int = SYNTHETIC_SAMPLES) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal((samples, *shape[1:])).astype(np.float32) for shape in input_shapes]


def _split(data: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Calibrate on the first part, measure agreement on the last fifth (at least one sample)."""
    count = len(data[0])
    if count < 5:
        return data, data
    held_out = max(1, count // 5)
    return [a[:-held_out][:MAX_CALIBRATION_SAMPLES] for a in data], [a[-held_out:] for a in data]


# ---------------------------------------------------------------- model loading

def _load_keras(path: Path) -> Any:
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except (TypeError, ValueError) as first_error:
        # Files saved by Keras 2 may carry config keys Keras 3 rejects (DepthwiseConv2D
        # `groups`, ...): retry with layers that drop the keys their constructor lacks.
        try:
            return keras.models.load_model(path, compile=False, custom_objects=_lenient_layers())
        except Exception:
            reason = " ".join(str(first_error).split()) or type(first_error).__name__  # Keras's run to many lines
            reason = reason if len(reason) <= 200 else reason[:197] + "..."
            raise TinyEdgeError(f"cannot load Keras model {path}: {reason}; save it again with model.save() "
                                "from the Keras version that trained it") from first_error
    except OSError as exc:
        raise TinyEdgeError(f"cannot read Keras model {path}: {exc}; give a model saved with model.save()") from exc


def _lenient_layers() -> dict[str, type]:
    import keras

    lenient: dict[str, type] = {}
    for name, cls in vars(keras.layers).items():
        if not (isinstance(cls, type) and issubclass(cls, keras.layers.Layer)):
            continue
        accepted = set(inspect.signature(cls.__init__).parameters)
        if "kwargs" in accepted:
            accepted |= {"name", "trainable", "dtype", "autocast", "input_dim", "input_shape", "batch_input_shape",
                         "batch_size", "weights", "activity_regularizer", "input_dtype", "dynamic"}

        def from_config(klass: type, config: dict, _accepted: set = accepted) -> Any:
            return klass(**{k: v for k, v in config.items() if k in _accepted})

        lenient[name] = type(name, (cls,), {"from_config": classmethod(from_config)})
    return lenient


def _batch1_spec(shape: tuple) -> tuple[int, ...]:
    dims = tuple(shape)
    if any(d is None for d in dims[1:]):
        raise TinyEdgeError(f"the model input has unknown dimensions {list(dims)}; give it a fixed input shape "
                            "(e.g. keras.Input(shape=(49, 10, 1)))")
    return (1, *(int(d) for d in dims[1:]))


class _FloatModel:
    """A float model exported as a static batch-1 SavedModel, plus a way to run it."""

    def __init__(self, saved_model_dir: Path, input_shapes: list[tuple[int, ...]], predict: Callable,
                 layers: tuple[KerasLayer, ...] = ()):
        self.saved_model_dir = saved_model_dir
        self.input_shapes = input_shapes
        self.predict = predict
        self.layers = layers  # the Keras layers, to name the one an unquantizable op came from


def _export_keras(model: Any, workdir: Path, log: Callable[[str], None] | None = None) -> _FloatModel:
    import tensorflow as tf

    shapes = [_batch1_spec(t.shape) for t in model.inputs]
    export_dir = workdir / "saved_model"
    specs = [tf.TensorSpec(s, tf.float32) for s in shapes]
    # A model with several inputs is called with one list of them.
    signature = specs if len(specs) == 1 else [specs]
    unrolled: dict[str, int] = {}
    with _nearest_upsampling_as_resize(model), _recurrent_unrolled(model, unrolled):
        model.export(str(export_dir), format="tf_saved_model", input_signature=signature, verbose=False)
    if unrolled:
        (log or (lambda message: print(message, file=sys.stderr)))(
            "unrolled for export (TensorFlow's int8 calibrator cannot run a recurrent loop): "
            + ", ".join(f"{name} over {steps} time steps" for name, steps in unrolled.items()))

    def predict(inputs: list[np.ndarray]) -> list[np.ndarray]:
        outputs = model(inputs if len(inputs) > 1 else inputs[0], training=False)
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        return [np.asarray(o) for o in outputs]

    return _FloatModel(export_dir, shapes, predict, keras_layers(model))


@contextlib.contextmanager
def _nearest_upsampling_as_resize(model: Any) -> Iterator[None]:
    """While the model is exported, its UpSampling1D and UpSampling2D(interpolation="nearest") layers resize.

    Keras repeats rows and columns for a nearest upsampling, which the converter turns into TILE
    and friends that TFLite-Micro lacks. A nearest resize to the upsampled size gives the same values
    (output pixel y reads input pixel floor((y + 0.5) / factor) = y // factor for an integer factor)
    and converts to RESIZE_NEAREST_NEIGHBOR (a sequence as an image one pixel wide, reshaped around
    it). The layers have no weights; each gets its own `call` back afterwards, so the model the
    caller holds is unchanged.
    """
    import keras

    def upsampling_layers(container: Any) -> Iterator[Any]:
        for layer in getattr(container, "layers", []):
            if isinstance(layer, keras.layers.UpSampling1D) or (
                    isinstance(layer, keras.layers.UpSampling2D) and layer.interpolation == "nearest"):
                yield layer
            elif getattr(layer, "layers", None):
                yield from upsampling_layers(layer)

    def resized(layer: Any) -> Callable[[Any], Any]:
        def call(inputs: Any) -> Any:
            if isinstance(layer, keras.layers.UpSampling1D):  # [batch, steps, features]
                if inputs.shape[1] is None:
                    return type(layer).call(layer, inputs)
                image = keras.ops.expand_dims(inputs, 2)
                image = keras.ops.image.resize(image, (inputs.shape[1] * layer.size, 1), interpolation="nearest")
                return keras.ops.squeeze(image, 2)
            height_axis = 1 if layer.data_format == "channels_last" else 2
            height, width = inputs.shape[height_axis], inputs.shape[height_axis + 1]
            if height is None or width is None:  # not a size known at export: Keras's own way
                return type(layer).call(layer, inputs)
            size = (height * layer.size[0], width * layer.size[1])
            return keras.ops.image.resize(inputs, size, interpolation="nearest", data_format=layer.data_format)

        return call

    with _calls_replaced(upsampling_layers(model), resized):
        yield


@contextlib.contextmanager
def _recurrent_unrolled(model: Any, unrolled: dict[str, int]) -> Iterator[None]:
    """While the model is exported, its LSTM, GRU and SimpleRNN layers (Bidirectional ones too) run unrolled.

    A recurrent layer with unroll=False exports as a while loop, which TensorFlow's int8 calibrator
    crashes on; unrolled over a static number of time steps it becomes plain FULLY_CONNECTED, SPLIT,
    UNPACK, LOGISTIC, TANH, MUL and ADD ops (docs/recurrent.md). Only `unroll` changes, per call and only
    when the time dimension is known; the weights are the layer's own, and each layer gets its own
    `call` and `unroll` back afterwards. `unrolled` collects "'name' (Kind)" -> time steps.
    """
    import keras

    def recurrent(layer: Any) -> list[Any]:
        """The RNN layers whose unroll flag `layer` reads: itself, or a Bidirectional's two."""
        if isinstance(layer, keras.layers.Bidirectional):
            return [layer.forward_layer, layer.backward_layer]
        return [layer] if isinstance(layer, keras.layers.RNN) else []

    def holders(container: Any) -> Iterator[Any]:
        for layer in getattr(container, "layers", []):
            if recurrent(layer):
                yield layer  # a Bidirectional sets its two layers' flags while its own call runs
            elif getattr(layer, "layers", None):
                yield from holders(layer)

    def unrolled_call(layer: Any) -> Callable[..., Any]:
        def call(sequences: Any, *args: Any, **kwargs: Any) -> Any:
            steps = sequences.shape[1]
            rnns = recurrent(layer)
            before = [rnn.unroll for rnn in rnns]
            if steps is not None:
                for rnn in rnns:
                    rnn.unroll = True
                unrolled[f"'{layer.name}' ({type(layer).__name__})"] = int(steps)
            try:
                return type(layer).call(layer, sequences, *args, **kwargs)
            finally:
                for rnn, flag in zip(rnns, before):
                    rnn.unroll = flag

        return call

    with _calls_replaced(holders(model), unrolled_call):
        yield


@contextlib.contextmanager
def _calls_replaced(layers: Iterable[Any], make_call: Callable[[Any], Callable[..., Any]]) -> Iterator[None]:
    """Each layer's `call` is `make_call(layer)` while the block runs (an instance attribute over the class's
    method); deleting it afterwards gives the layer its own behaviour back."""
    layers = list(layers)
    for layer in layers:
        layer.call = make_call(layer)
    try:
        yield
    finally:
        for layer in layers:
            del layer.call


# Ops that only move bytes: a float one between DEQUANTIZE and QUANTIZEs of the same scale and zero point is
# exactly the int8 op (dequantize, move, quantize gives back each byte).
_MOVING_OPS = ("SPLIT", "SPLIT_V", "UNPACK")


def _int8_moves_restored(flatbuffer: bytes) -> tuple[bytes, int]:
    """The model with each float SPLIT, SPLIT_V or UNPACK the converter left between a DEQUANTIZE and
    QUANTIZEs back in int8, and how many were.

    An unrolled LSTM's first step splits the gates of a zero state: the forget gate has no use there, and
    with one output unread the converter sometimes leaves the whole SPLIT float (depending on the trained
    weights). Each read output goes to one QUANTIZE with the DEQUANTIZE's own scale and zero point, so the
    int8 op gives the same bytes; an unread output takes the input's quantization.
    """
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    names = {index: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")
             for index in [code]}
    opnames = [names.get(max(c.builtinCode, c.deprecatedBuiltinCode), "") for c in model.operatorCodes]
    restored = 0
    for subgraph in model.subgraphs:
        operators = list(subgraph.operators or [])
        tensors, outputs = subgraph.tensors, {int(t) for t in subgraph.outputs}
        producers = {int(t): op for op in operators for t in op.outputs}
        consumers: dict[int, list[Any]] = {}
        for op in operators:
            for t in op.inputs:
                consumers.setdefault(int(t), []).append(op)
        dropped: set[int] = set()
        for op in operators:
            if opnames[op.opcodeIndex] not in _MOVING_OPS:
                continue
            data = int(op.inputs[1 if opnames[op.opcodeIndex] == "SPLIT" else 0])
            dequantize = producers.get(data)
            if (dequantize is None or opnames[dequantize.opcodeIndex] != "DEQUANTIZE" or consumers[data] != [op]
                    or tensors[data].type != schema.TensorType.FLOAT32 or data in outputs):
                continue
            source = int(dequantize.inputs[0])
            quant = tensors[source].quantization
            if tensors[source].type != schema.TensorType.INT8 or quant is None or len(quant.scale) != 1:
                continue
            new_outputs, quantizes = [], []
            for t in (int(t) for t in op.outputs):
                readers = consumers.get(t, [])
                if not readers and t not in outputs:
                    new_outputs.append(t)
                    continue
                if len(readers) != 1 or opnames[readers[0].opcodeIndex] != "QUANTIZE" or t in outputs:
                    break
                target = int(readers[0].outputs[0])
                q = tensors[target].quantization
                if (tensors[target].type != schema.TensorType.INT8 or q is None
                        or list(q.scale) != list(quant.scale) or list(q.zeroPoint) != list(quant.zeroPoint)):
                    break
                new_outputs.append(target)
                quantizes.append(readers[0])
            else:
                for t in new_outputs:
                    if tensors[t].type == schema.TensorType.FLOAT32:  # an unread output
                        tensors[t].type = schema.TensorType.INT8
                        tensors[t].quantization = schema.QuantizationParametersT()
                        tensors[t].quantization.scale = list(quant.scale)
                        tensors[t].quantization.zeroPoint = list(quant.zeroPoint)
                inputs = [int(t) for t in op.inputs]
                inputs[inputs.index(data)] = source
                op.inputs, op.outputs = inputs, new_outputs
                dropped |= {id(dequantize), *(id(q) for q in quantizes)}
                restored += 1
        subgraph.operators = [op for op in operators if id(op) not in dropped]
    if not restored:
        return flatbuffer, 0
    import flatbuffers

    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), restored


def _export_saved_model(path: Path, workdir: Path) -> _FloatModel:
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(path))
        serving = loaded.signatures["serving_default"]
    except Exception as exc:
        raise TinyEdgeError(f"cannot load SavedModel {path}: {exc}") from exc
    specs = serving.structured_input_signature[1]
    names = sorted(specs)
    shapes = [_batch1_spec(specs[n].shape) for n in names]

    class Batch1(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.loaded = loaded

        @tf.function(input_signature=[tf.TensorSpec(s, tf.float32) for s in shapes])
        def serve(self, *xs: Any) -> Any:
            return serving(**dict(zip(names, xs)))

    module = Batch1()
    export_dir = workdir / "saved_model"
    tf.saved_model.save(module, str(export_dir), signatures=module.serve)

    def predict(inputs: list[np.ndarray]) -> list[np.ndarray]:
        outputs = []
        for i in range(len(inputs[0])):
            result = serving(**{n: tf.constant(x[i:i + 1]) for n, x in zip(names, inputs)})
            outputs.append([np.asarray(result[k]) for k in sorted(result)])
        return [np.concatenate([o[j] for o in outputs]) for j in range(len(outputs[0]))]

    return _FloatModel(export_dir, shapes, predict)


# ---------------------------------------------------------------- conversion

def _convert(float_model: _FloatModel, calibration: list[np.ndarray], activations: str = "int8") -> bytes:
    import tensorflow as tf

    def representative() -> Iterator[list[np.ndarray]]:
        for i in range(len(calibration[0])):
            yield [a[i:i + 1] for a in calibration]

    converter = tf.lite.TFLiteConverter.from_saved_model(str(float_model.saved_model_dir))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    if activations == "int16":
        ops_set = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        converter.target_spec.supported_ops = [ops_set]
        converter.inference_input_type = converter.inference_output_type = tf.int16
    else:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    try:
        return converter.convert()
    except Exception as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        mode = "16x8 (int16 activations)" if activations == "int16" else "int8"
        raise TinyEdgeError(f"TensorFlow's converter could not quantize the model to {mode}: {first_line}") from exc


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """The converter's C++ core logs to file descriptor 2 ("fully_quantize: 0, ..."); keep the terminal clean."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def is_quantized(path: Path) -> bool:
    """Integer inputs and outputs (int8, or int16 in 16x8 mode): tinyedge compiles the file as it is. An
    error if float ops hide between them (the model is then neither quantized nor float)."""
    graph = load_tflite(path)
    integer_io = all(t.dtype in IO_DTYPES for t in graph.input_tensors() + graph.output_tensors())
    if integer_io:
        check_full_int8(graph)
        require_compilable(graph, str(path))  # uint8, or float islands, named
    return integer_io


def quantize(model_path: str | Path, output: str | Path, calib: str | Path | None = None,
             source: str | Path | None = None, log: Callable[[str], None] | None = None,
             activations: str | None = None) -> QuantizeResult:
    """Quantize `model_path` to full int8 (`activations` "int16": TensorFlow's 16x8 mode) and write it to `output`.

    A .tflite that is already quantized is used as it is, unless it has other activations than
    asked for (then its --source is quantized). TensorFlow runs in a child process (see _run_child):
    its calibrator can crash or hang on models it does not support, and that must end in one line,
    not a silent exit 139.
    """
    log = log or (lambda message: print(message, file=sys.stderr))
    model_path, output = Path(model_path), Path(output)
    if activations not in (None, *ACTIVATIONS):
        raise TinyEdgeError(f"--activations {activations} is not one of {', '.join(ACTIVATIONS)}")
    if not model_path.exists():
        raise TinyEdgeError(f"model {model_path} does not exist")
    if model_path.suffix == ".tflite":
        has = quantized_activations(model_path) if is_quantized(model_path) else None
        if has is not None and activations not in (None, has) and source is None:
            raise TinyEdgeError(f"{model_path} is already quantized with {has} activations; for {activations} ones "
                                "pass the model it was converted from with --source")
        if has is not None and activations in (None, has):
            if model_path.resolve() != output.resolve():
                output.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(model_path, output)
            return QuantizeResult(output, passthrough=True, synthetic_calibration=False, agreement=None,
                                  calibration_samples=0)
        if source is None:
            raise TinyEdgeError(refusal(load_tflite(model_path), str(model_path)) or f"{model_path} is full int8")
        model_path = Path(source)
        if not model_path.exists():
            raise TinyEdgeError(f"source model {model_path} does not exist")
    if not (model_path.is_dir() or model_path.suffix in KERAS_SUFFIXES):
        raise TinyEdgeError(f"unknown model format {model_path.name}: give a Keras .h5/.keras file, a "
                            "SavedModel folder or a .tflite file")
    if calib is None:
        log(SYNTHETIC_WARNING)
    with tempfile.TemporaryDirectory(prefix="tinyedge-quantize-") as tmp:
        workdir = Path(tmp)
        request = {"model": str(model_path.resolve()), "saved_model": model_path.is_dir(),
                   "calib": None if calib is None else str(Path(calib).resolve()),
                   "activations": activations or "int8"}
        outcome = _run_child(request, workdir, model_path, log)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(workdir / CHILD_TFLITE, output)
    agreement = Agreement(**outcome["agreement"])
    log(agreement.summary())
    int8_agreement = Agreement(**outcome["int8_agreement"]) if outcome.get("int8_agreement") else None
    if int8_agreement is not None:
        log(f"for comparison, {int8_agreement.summary()}")
    return QuantizeResult(output, passthrough=False, synthetic_calibration=calib is None, agreement=agreement,
                          calibration_samples=outcome["calibration_samples"], int8_agreement=int8_agreement)


def quantized_activations(path: Path) -> str:
    """"int16" for a 16x8 model (any int16 activation), else "int8"."""
    return "int16" if classify_file(path).kind != INT8 else "int8"


def quantize_keras_model(model: Any, output: str | Path, calibration: list[np.ndarray] | None = None,
                         log: Callable[[str], None] | None = None) -> QuantizeResult:
    """Quantize an in-memory Keras model (calibration: one array of samples per input).

    Runs in this process: the caller has TensorFlow loaded and holds a live model (perhaps with
    layers no file can carry), and a child would pay TensorFlow's import again on every call.
    """
    log = log or (lambda message: print(message, file=sys.stderr))
    output = Path(output)
    synthetic = calibration is None
    with tempfile.TemporaryDirectory(prefix="tinyedge-quantize-") as tmp:
        float_model = _export_keras(model, Path(tmp), log)
        if calibration is None:
            log(SYNTHETIC_WARNING)
            calibration = synthetic_calibration(float_model.input_shapes)
        with _native_stderr_silenced():
            flatbuffer, agreement, count = _convert_and_measure(float_model, calibration)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(flatbuffer)
    log(agreement.summary())
    return QuantizeResult(output, passthrough=False, synthetic_calibration=synthetic, agreement=agreement,
                          calibration_samples=count)


def _convert_and_measure(float_model: _FloatModel, data: list[np.ndarray],
                         progress: Callable[[str], None] = lambda _stage: None,
                         activations: str = "int8") -> tuple[bytes, Agreement, int]:
    """The quantized flatbuffer, its agreement with the float model, and how many samples calibrated it."""
    calibration, held_out = _split(data)
    progress("converting")
    flatbuffer = _convert(float_model, calibration, activations)
    # Float islands: DEQUANTIZE -> ELU -> QUANTIZE becomes TFLite-Micro's int8 ELU; any other is refused.
    flatbuffer, _mended = requantize_float_islands(flatbuffer)
    flatbuffer, _restored = _int8_moves_restored(flatbuffer)  # unrolled recurrent layers (docs/recurrent.md)
    graph = parse_tflite(flatbuffer)
    check_full_int8(graph, float_model.layers)
    dynamic = sorted({op.opcode for op in graph.operators if op.opcode in DYNAMIC_SHAPE_OPS or (
        op.opcode in SHAPE_ARITHMETIC_OPS and graph.tensor(op.outputs[0]).dtype == "int32")})
    if dynamic:
        raise TinyEdgeError(f"the converted graph still holds dynamic-shape ops {dynamic}; "
                            "give the model a fixed input shape")
    progress("measuring")
    agreement = measure_agreement(flatbuffer, float_model.predict, held_out)
    return flatbuffer, agreement, len(calibration[0])


def measure_agreement(flatbuffer: bytes, predict: Callable, held_out: list[np.ndarray]) -> Agreement:
    graph = parse_tflite(flatbuffer)
    ins, outs = graph.input_tensors(), graph.output_tensors()
    count = len(held_out[0])
    samples = [[_quantize_array(a[i], t) for a, t in zip(held_out, ins)] for i in range(count)]
    quantized_outputs = run_reference(flatbuffer, samples)
    float_outputs = predict(held_out)
    deq = [np.stack([(o[j].astype(np.float32) - t.zero_point) * t.scale for o in quantized_outputs])
           for j, t in enumerate(outs)]
    a = np.concatenate([f.reshape(count, -1) for f in float_outputs], axis=1).astype(np.float64)
    b = np.concatenate([d.reshape(count, -1) for d in deq], axis=1).astype(np.float64)
    cosine = float(np.sum(a * b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))
    error = np.abs(a - b)
    top1 = None
    if gives_class_scores(graph):
        first = float_outputs[0].reshape(count, -1)
        top1 = float(np.mean(np.argmax(first, axis=1) == np.argmax(deq[0].reshape(count, -1), axis=1)))
    activations = "int16" if any(t.dtype == "int16" for t in (*ins, *outs)) else "int8"
    return Agreement(count, cosine, float(error.max()), float(error.mean()), top1, activations)


def gives_class_scores(graph: Graph) -> bool:
    """A single output made by SOFTMAX (or LOGISTIC over several classes): only then is arg-max a class."""
    if len(graph.outputs) != 1:
        return False
    output = graph.outputs[0]
    producer = next((op for op in graph.operators if output in op.outputs), None)
    if producer is None:
        return False
    classes = graph.tensor(output).size
    return (producer.opcode == "SOFTMAX" and classes > 1) or (producer.opcode == "LOGISTIC" and classes > 1)


def _quantize_array(x: np.ndarray, tensor: Tensor) -> np.ndarray:
    info = np.iinfo(tensor.dtype)
    return np.clip(np.round(x / tensor.scale) + tensor.zero_point, info.min, info.max).astype(tensor.dtype)


# ---------------------------------------------------------------- the TensorFlow child process

CHILD_TFLITE = "model.tflite"
TIMEOUT_ENV = "TINYEDGE_QUANTIZE_TIMEOUT"
DEFAULT_TIMEOUT_SECONDS = 15 * 60
FAULT_ENV = "TINYEDGE_QUANTIZE_CHILD_FAULT"  # test only: "segv", "kill" or "hang" when the child starts converting
RECURRENT_LAYERS = {"LSTM", "GRU", "SimpleRNN", "RNN", "Bidirectional", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
                    "TimeDistributed"}
STAGES = {  # what TensorFlow was doing, said of the model file {model}
    "starting": "starting up before loading {model}",
    "loading": "loading {model}",
    "exporting": "exporting {model} as a batch-1 SavedModel",
    "calibration": "reading the calibration data for {model}",
    "converting": "converting and calibrating {model} to int8",
    "measuring": "measuring how closely the int8 {model} follows the float one",
}


def _timeout_seconds() -> float:
    text = os.environ.get(TIMEOUT_ENV, "")
    if not text:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1
    if seconds <= 0:
        raise TinyEdgeError(f"{TIMEOUT_ENV}={text} is not a positive number of seconds; unset it or give e.g. 1800")
    return seconds


def _run_child(request: dict, workdir: Path, model_path: Path, note: Callable[[str], None]) -> dict:
    """Run the conversion in `python -m tinyedge.quantize <workdir>`; its result, or one line saying what went wrong.

    The child's own warnings (about the calibration data, say) come back through `note`.
    """
    timeout = _timeout_seconds()
    (workdir / "request.json").write_text(json.dumps(request))
    log = children.new_log_path("quantize")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0", "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                       os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "tinyedge.quantize", str(workdir)]
    returncode = children.run_logged(command, log, timeout, tee=children.debugging(), env=env)
    progress = _read_json(workdir / "progress.json")
    for message in progress.get("messages", []):
        note(message)
    error = _read_json(workdir / "error.json")
    if returncode == 0 and (workdir / "result.json").is_file() or error.get("user"):
        log.unlink(missing_ok=True)  # kept only when it explains a failure
        if error.get("user"):
            raise TinyEdgeError(error["user"])
        return json.loads((workdir / "result.json").read_text())
    stage = STAGES.get(progress.get("stage", "starting"), STAGES["starting"]).format(model=model_path.name)
    recurrent = progress.get("recurrent", [])
    if returncode is None:
        raise TinyEdgeError(f"quantize stage: TensorFlow did not finish {stage} within {timeout:.0f} s; if the "
                            f"model is just large, set {TIMEOUT_ENV}=<seconds> to allow longer or give fewer "
                            f"calibration samples (log: {log})")
    if error.get("memory") or returncode == -signal.SIGKILL:
        raise TinyEdgeError(f"quantize stage: TensorFlow ran out of memory while {stage} "
                            f"({children.exit_reason(returncode)}); give fewer or smaller calibration samples, "
                            f"or free memory (log: {log})")
    what = f"raised {error['unexpected']}" if error.get("unexpected") else children.exit_reason(returncode)
    if recurrent and progress.get("stage") in ("converting", "measuring"):
        hint = (f"the likely cause is the recurrent layer {', '.join(recurrent)}, which TensorFlow's int8 calibrator "
                "cannot run even unrolled (docs/recurrent.md): replace it (e.g. with Conv1D or Dense layers)")
    else:
        hint = "rerun with --debug to see TensorFlow's output, or quantize the model yourself and pass the int8 .tflite"
    raise TinyEdgeError(f"quantize stage: TensorFlow {what} while {stage}; {hint} (log: {log})")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _recurrent_layers(model: Any) -> list[str]:
    """"'lstm' (LSTM)" for each recurrent layer, nested models included: the usual suspects of a calibrator crash."""
    found = []
    for layer in getattr(model, "layers", []):
        kind = type(layer).__name__
        if kind in RECURRENT_LAYERS:
            found.append(f"'{layer.name}' ({kind})")
        elif getattr(layer, "layers", None):
            found.extend(_recurrent_layers(layer))
    return found


def _child_main(workdir: Path) -> int:
    """The child's side: load, export, convert, measure; write result.json, or error.json and a non-zero exit."""
    import faulthandler
    import traceback

    faulthandler.enable()  # a crash leaves Python's stack in the log
    try:
        outcome = _child_quantize(json.loads((workdir / "request.json").read_text()), workdir)
    except TinyEdgeError as exc:
        (workdir / "error.json").write_text(json.dumps({"user": str(exc)}))
        return 2
    except MemoryError:
        traceback.print_exc()
        (workdir / "error.json").write_text(json.dumps({"memory": True}))
        return 3
    except Exception as exc:
        traceback.print_exc()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        (workdir / "error.json").write_text(json.dumps({"unexpected": f"{type(exc).__name__}: {first}"[:300]}))
        return 4
    (workdir / "result.json").write_text(json.dumps(outcome))
    return 0


def _child_quantize(request: dict, workdir: Path) -> dict:
    state: dict[str, Any] = {"stage": "starting", "recurrent": [], "messages": []}

    def save() -> None:
        (workdir / "progress.json").write_text(json.dumps(state))

    def note(message: str) -> None:
        state["messages"].append(message)
        save()

    def progress(stage: str) -> None:
        state["stage"] = stage
        save()
        if stage == "converting":
            _test_fault()
        print(f"tinyedge quantize: {STAGES[stage].format(model=path.name)}", file=sys.stderr, flush=True)

    path = Path(request["model"])
    progress("loading")
    if request["saved_model"]:
        float_model = _export_saved_model(path, workdir)
    else:
        model = _load_keras(path)
        state["recurrent"] = _recurrent_layers(model)
        progress("exporting")
        float_model = _export_keras(model, workdir, note)
    progress("calibration")
    calib = request["calib"]
    data = synthetic_calibration(float_model.input_shapes) if calib is None else \
        load_calibration(calib, float_model.input_shapes, log=note)
    activations = request.get("activations", "int8")
    flatbuffer, agreement, count = _convert_and_measure(float_model, data, progress, activations)
    (workdir / CHILD_TFLITE).write_bytes(flatbuffer)
    result = {"agreement": dataclasses.asdict(agreement), "calibration_samples": count, "int8_agreement": None}
    if activations == "int16":  # the other side of the trade, on the same samples
        try:
            result["int8_agreement"] = dataclasses.asdict(_convert_and_measure(float_model, data, progress)[1])
        except TinyEdgeError as exc:
            note(f"the int8 conversion, for comparison, failed: {exc}")
    return result


def _test_fault() -> None:
    """Let tests make the child crash or hang where TensorFlow's calibrator does."""
    fault = os.environ.get(FAULT_ENV, "")
    if fault == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif fault == "kill":  # what the kernel's out-of-memory killer does
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault == "hang":
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(_child_main(Path(sys.argv[1])))
