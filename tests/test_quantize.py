"""Quantization: model formats in, full-int8 static batch-1 .tflite out, bad calibration data refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinyedge.errors import TinyEdgeError
from tinyedge.importer import load_tflite
from tinyedge.quantize import load_calibration, quantize


def _small_model():
    import keras

    return keras.Sequential([keras.Input((5, 5, 2)), keras.layers.DepthwiseConv2D(3), keras.layers.Flatten(),
                             keras.layers.Dense(3, activation="softmax")])


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("quantize") / "small.h5"
    model = _small_model()
    model.compile(loss="mse")  # a compiled loss must not stop the reload
    model.save(path)
    return path


@pytest.fixture(scope="module")
def calib_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("calib") / "calib.npy"
    np.save(path, np.random.default_rng(0).uniform(-1, 1, (20, 5, 5, 2)).astype(np.float32))
    return path


def _assert_full_int8(path: Path) -> None:
    graph = load_tflite(path)
    assert [t.dtype for t in graph.input_tensors() + graph.output_tensors()] == ["int8", "int8"]
    assert graph.input_tensors()[0].shape == (1, 5, 5, 2)
    assert not {op.opcode for op in graph.operators} & {"SHAPE", "STRIDED_SLICE", "PACK"}


def test_h5_with_calibration_prints_agreement(keras_file, calib_file, tmp_path):
    messages: list[str] = []
    result = quantize(keras_file, tmp_path / "out.tflite", calib=calib_file, log=messages.append)
    _assert_full_int8(result.tflite)
    assert not result.synthetic_calibration
    assert result.agreement is not None and result.agreement.samples == 4 and result.agreement.top1 is not None
    assert result.agreement.cosine > 0.9
    assert any("cosine" in m and "top-1" in m for m in messages)


def test_without_calibration_warns_loudly(keras_file, tmp_path):
    messages: list[str] = []
    result = quantize(keras_file, tmp_path / "out.tflite", log=messages.append)
    assert result.synthetic_calibration
    assert messages[0].startswith("WARNING") and "synthetic" in messages[0]


def test_int8_tflite_passes_through_unchanged(keras_file, calib_file, tmp_path):
    first = quantize(keras_file, tmp_path / "a.tflite", calib=calib_file, log=lambda _m: None).tflite
    second = quantize(first, tmp_path / "b.tflite")
    assert second.passthrough and second.tflite.read_bytes() == first.read_bytes()


def test_keras2_h5_with_groups_key_loads(keras_file, tmp_path):
    """Keras 2 wrote `groups` into DepthwiseConv2D configs; Keras 3 rejects the key."""
    import h5py

    legacy = tmp_path / "keras2.h5"
    legacy.write_bytes(keras_file.read_bytes())
    with h5py.File(legacy, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        layers = config["config"]["layers"]
        depthwise = next(layer for layer in layers if layer["class_name"] == "DepthwiseConv2D")
        depthwise["config"]["groups"] = 1
        handle.attrs["model_config"] = json.dumps(config)
    result = quantize(legacy, tmp_path / "legacy.tflite", log=lambda _m: None)
    _assert_full_int8(result.tflite)


def test_saved_model_folder(tmp_path, calib_file):
    import tensorflow as tf

    model = _small_model()
    tf.saved_model.save(model, str(tmp_path / "saved"))
    result = quantize(tmp_path / "saved", tmp_path / "sm.tflite", calib=calib_file, log=lambda _m: None)
    _assert_full_int8(result.tflite)


def test_float_tflite_needs_its_source_model(tmp_path):
    import tensorflow as tf

    float_tflite = tmp_path / "float.tflite"
    float_tflite.write_bytes(tf.lite.TFLiteConverter.from_keras_model(_small_model()).convert())
    with pytest.raises(TinyEdgeError, match="--source"):
        quantize(float_tflite, tmp_path / "out.tflite")


SHAPES = [(1, 5, 5, 2)]


@pytest.mark.parametrize("array, message", [
    (np.zeros((4, 5, 5, 3), np.float32), "shape"),
    (np.zeros((0, 5, 5, 2), np.float32), "empty"),
    (np.array([["a"]]), "dtype"),
])
def test_bad_calibration_data_is_refused(tmp_path, array, message):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(TinyEdgeError, match=message):
        load_calibration(path, SHAPES)


def test_calibration_from_npz_and_folder(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "c.npz", x=rng.normal(size=(3, 5, 5, 2)))
    assert load_calibration(tmp_path / "c.npz", SHAPES)[0].shape == (3, 5, 5, 2)
    folder = tmp_path / "samples"
    folder.mkdir()
    for i in range(3):
        np.save(folder / f"{i}.npy", rng.normal(size=(5, 5, 2)))
    assert load_calibration(folder, SHAPES)[0].shape == (3, 5, 5, 2)
    (tmp_path / "empty").mkdir()
    with pytest.raises(TinyEdgeError, match="no .npy"):
        load_calibration(tmp_path / "empty", SHAPES)
