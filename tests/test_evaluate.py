"""Accuracy on labelled data (`compile --eval`): the int8 figures of the host build are TFLite-Micro's."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import tinyedge
from tinyedge import boards, evaluate
from tinyedge.errors import TinyEdgeError
from tinyedge.evaluate import fit_to_model, float_outputs, load_eval_data, measure_accuracy
from tinyedge.pipeline import compile_tflite
from tinyedge.report import summary_table
from tinyedge.verify import reference_outputs

CLASSES = 4


def blobs(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """8x8 images with one bright quadrant (the class) under noise strong enough that some are misread."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, count)
    x = rng.normal(0, 0.6, (count, 8, 8, 1)).astype(np.float32)
    for i, label in enumerate(labels):
        row, col = divmod(int(label), 2)
        x[i, row * 4:row * 4 + 4, col * 4:col * 4 + 4, 0] += 0.5
    return x, labels


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> Path:
    """A conv classifier trained on 512 labelled blobs; calib.npy and eval.npz (400 other samples) beside it."""
    import keras

    folder = tmp_path_factory.mktemp("evaluate")
    x, labels = blobs(512, seed=0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(6, 3, activation="relu"),
                              keras.layers.AveragePooling2D(2), keras.layers.Flatten(),
                              keras.layers.Dense(CLASSES, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    model.fit(x, labels, epochs=3, batch_size=32, verbose=0)
    model.save(folder / "blobs.keras")
    np.save(folder / "calib.npy", x[:100])
    x_eval, y_eval = blobs(400, seed=1)
    np.savez(folder / "eval.npz", x=x_eval, y=y_eval)
    return folder / "blobs.keras"


def reference_predictions(tflite: Path, x: np.ndarray) -> np.ndarray:
    """TFLite-Micro's first output for each float sample, quantized here with the input's scale and zero point."""
    model = compile_tflite(tflite)
    t = model.inputs[0]
    samples = [np.clip(np.round(s / t.scale) + t.zero_point, -128, 127).astype(np.int8).tobytes() for s in x]
    outputs = reference_outputs(tflite.read_bytes(), model, samples)
    return np.stack([np.frombuffer(o, dtype=np.int8) for o in outputs])


@pytest.mark.slow
def test_int8_accuracy_from_the_host_build_equals_tflite_micro_on_the_same_samples(classifier, tmp_path,
                                                                                  monkeypatch):
    import keras

    reads: Counter[str] = Counter()
    parse = boards._board_from_data
    monkeypatch.setattr(boards, "_board_from_data", lambda data, path: reads.update([Path(path).name]) or
                        parse(data, path))
    out = tmp_path / "out"
    data = classifier.with_name("eval.npz")
    report = tinyedge.compile(classifier, board="nrf52840", calib=classifier.with_name("calib.npy"), eval=data,
                              out_dir=out, samples=2)
    assert reads == {"nrf52840.toml": 1, "host.toml": 1}  # each board file read once in the whole compile
    accuracy = report.accuracy
    assert accuracy is not None and accuracy.task == "classification" and accuracy.samples == 400
    with np.load(data) as npz:
        x, y = npz["x"], npz["y"]

    predicted = np.argmax(reference_predictions(out / "model.tflite", x), axis=1)
    assert accuracy.int8_top1 == np.mean(predicted == y)
    confusion = np.zeros((CLASSES, CLASSES), dtype=int)
    np.add.at(confusion, (y, predicted), 1)
    assert accuracy.confusion == tuple(map(tuple, confusion.tolist()))
    assert 0.5 < accuracy.int8_top1 < 1.0  # learned, and not so easy that every classifier agrees

    float_predicted = np.argmax(keras.models.load_model(classifier)(x, training=False), axis=1)
    assert accuracy.float_top1 == np.mean(float_predicted == y)
    assert accuracy.classes == ("0", "1", "2", "3")

    saved = json.loads((out / "report.json").read_text())
    assert saved["schema"] == "tinyedge.report/2.4"
    assert saved["accuracy"]["int8_top1"] == accuracy.int8_top1
    assert saved["accuracy"]["confusion"] == confusion.tolist()
    html = (out / "report.html").read_text()
    assert 'aria-label="confusion matrix"' in html
    assert f"{confusion[0, 0]} of {confusion[0].sum()}" in html  # the cell's tooltip


@pytest.mark.slow
def test_regression_mean_abs_error_is_tflite_micros_dequantized(tmp_path, quantize_for_test):
    import keras

    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (300, 6)).astype(np.float32)
    y = np.stack([np.tanh(x[:, :3].sum(axis=1)), x[:, 3] * x[:, 4]], axis=1).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(12, activation="relu"), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    model.save(tmp_path / "reg.keras")
    tflite = quantize_for_test(model, tmp_path / "reg.tflite", [x[:100]])
    np.savez(tmp_path / "eval.npz", x=x[100:], y=y[100:])

    compiled = compile_tflite(tflite)
    accuracy = measure_accuracy(load_eval_data(tmp_path / "eval.npz"), tmp_path / "eval.npz", compiled,
                                tflite, source=tmp_path / "reg.keras")  # an int8 .tflite and its float source
    assert accuracy.task == "regression" and accuracy.samples == 200 and accuracy.confusion == ()
    out = compiled.outputs[0]
    dequantized = (reference_predictions(tflite, x[100:]).astype(np.float64) - out.zero_point) * out.scale
    assert accuracy.int8_mae == np.mean(np.abs(dequantized - y[100:]))
    expected_float = np.mean(np.abs(np.asarray(model(x[100:], training=False), dtype=np.float64) - y[100:]))
    assert accuracy.float_mae == pytest.approx(expected_float, rel=1e-6)  # TensorFlow's float, in another process
    assert 0 < accuracy.int8_mae < np.mean(np.abs(y[100:]))  # better than predicting zero


def test_a_folder_of_classes_gives_class_names_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    for name, count in (("yes", 2), ("no", 3)):
        (tmp_path / name).mkdir()
        for i in range(count):
            np.save(tmp_path / name / f"{i}.npy", rng.normal(size=(4, 2)).astype(np.float32))
    (tmp_path / "no" / "notes.txt").write_text("not a sample")
    data = load_eval_data(tmp_path)
    assert data.classes == ("no", "yes")
    assert data.y.tolist() == [0, 0, 0, 1, 1] and data.x.shape == (5, 4, 2)


def test_a_folder_of_batches(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    np.save(tmp_path / "a" / "batch.npy", np.zeros((3, 5), dtype=np.float32))
    np.save(tmp_path / "b" / "batch.npy", np.ones((2, 5), dtype=np.float32))
    data = load_eval_data(tmp_path)
    assert data.y.tolist() == [0, 0, 0, 1, 1] and data.x.shape == (5, 5)


@pytest.mark.parametrize(("file_shape", "labels"), [((3, 5), [0, 0, 0, 1, 1, 1]), ((5,), [0, 1])])
def test_files_of_one_shape_are_samples_or_batches_as_the_models_input_says(tmp_path, file_shape, labels):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / "x.npy", np.zeros(file_shape, dtype=np.float32))
    model = SimpleNamespace(inputs=(SimpleNamespace(shape=(1, 5)),), outputs=(SimpleNamespace(shape=(1, 2)),))
    x, y, task = fit_to_model(load_eval_data(tmp_path), model, str(tmp_path))
    assert x.shape == (len(labels), 5) and y.tolist() == labels and task == "classification"


@pytest.mark.parametrize(("arrays", "message"), [
    ({"x": np.zeros((3, 4))}, "has no array y .* numpy.savez"),
    ({"x": np.zeros((3, 4)), "y": np.zeros(2)}, "x holds 3 samples and y 2 labels"),
    ({"x": np.full((2, 4), np.nan), "y": np.zeros(2)}, "NaN or infinite"),
])
def test_bad_npz_is_refused_in_one_line(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(TinyEdgeError, match=message) as caught:
        load_eval_data(tmp_path / "bad.npz")
    assert "\n" not in str(caught.value)


def test_cli_refuses_bad_eval_data_before_any_work(classifier, tmp_path):
    np.savez(tmp_path / "bad.npz", x=np.zeros((3, 8, 8, 1)))
    proc = subprocess.run([sys.executable, "-m", "tinyedge.cli", "compile", str(classifier), "--board", "nrf52840",
                           "--eval", str(tmp_path / "bad.npz"), "-o", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"tinyedge: error: evaluation data {tmp_path / 'bad.npz'} has no array y (it holds x); save it with "
        "numpy.savez(path, x=samples, y=labels)"]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_labels_outside_the_models_classes_are_refused(classifier, tmp_path):
    x, _ = blobs(5, seed=3)
    np.savez(tmp_path / "eval.npz", x=x, y=np.array([0, 1, 2, 3, 4]))
    with pytest.raises(TinyEdgeError, match="labels in .* run from 0 to 4; the model's output has 4 classes"):
        tinyedge.compile(classifier, board="nrf52840", eval=tmp_path / "eval.npz", out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_an_int8_tflite_on_an_xtensa_board_gets_int8_accuracy_only(classifier, tmp_path, monkeypatch,
                                                                     quantize_for_test):
    """The ESP-IDF compile scores the same way, loading host.toml once for its host check and the accuracy."""
    import keras

    with np.load(classifier.with_name("eval.npz")) as npz:
        x, y = npz["x"], npz["y"]
    tflite = quantize_for_test(keras.models.load_model(classifier), tmp_path / "blobs.tflite",
                               [np.load(classifier.with_name("calib.npy"))])
    reads: Counter[str] = Counter()
    parse = boards._board_from_data
    monkeypatch.setattr(boards, "_board_from_data", lambda data, path: reads.update([Path(path).name]) or
                        parse(data, path))
    report = tinyedge.compile(tflite, board="esp32", eval=classifier.with_name("eval.npz"), out_dir=tmp_path / "out",
                              samples=1)
    assert reads == {"esp32.toml": 1, "host.toml": 1}
    accuracy = report.accuracy
    assert accuracy is not None and accuracy.float_method is None and accuracy.float_top1 is None
    assert accuracy.int8_top1 == np.mean(np.argmax(reference_predictions(tflite, x), axis=1) == y)
    assert "no float model to compare" in summary_table(report)


@pytest.mark.slow
def test_a_savedmodels_float_outputs_come_from_its_serving_signature_once(classifier, tmp_path, monkeypatch):
    import keras

    monkeypatch.setenv("TINYEDGE_CACHE", str(tmp_path / "cache"))
    model = keras.models.load_model(classifier)
    model.export(str(tmp_path / "saved"), format="tf_saved_model", verbose=False)
    with np.load(classifier.with_name("eval.npz")) as npz:
        x = npz["x"][:300]
    outputs = float_outputs(tmp_path / "saved", x)
    assert outputs.shape == (300, CLASSES)
    assert np.array_equal(np.argmax(outputs, axis=1), np.argmax(model(x, training=False), axis=1))
    assert np.allclose(outputs, np.asarray(model(x, training=False)), atol=1e-5)  # float32, another process

    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError("TensorFlow's child started again")

    monkeypatch.setattr(evaluate.children, "run", no_child)
    assert np.array_equal(float_outputs(tmp_path / "saved", x), outputs)  # the same model and samples: cached
    x[0, 0, 0, 0] += 1.0
    with pytest.raises(AssertionError, match="started again"):  # other samples: computed again
        float_outputs(tmp_path / "saved", x)
