"""Keras UpSampling2D (nearest) and UpSampling1D reach RESIZE_NEAREST_NEIGHBOR, not the TILE TFLite-Micro lacks:
tinyedge.quantize resizes instead while it exports, and the firmware is bit-exact."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from keras_training import train_briefly

from tinyedge.importer import parse_tflite
from tinyedge.quantize import quantize

L = keras.layers


def _upsampling_model() -> keras.Model:
    x = keras.Input((4, 5, 2), batch_size=1)
    y = L.Conv2D(4, 3, padding="same", activation="relu")(x)
    y = L.UpSampling2D((2, 3))(y)
    y = L.Conv2D(3, 3, padding="same")(y)
    y = L.UpSampling2D(2)(y)
    return train_briefly(keras.Model(x, L.Conv2D(2, 1)(y)))


@pytest.fixture(scope="module")
def saved_upsampling_model(tmp_path_factory) -> tuple[keras.Model, Path]:
    folder = tmp_path_factory.mktemp("upsampling")
    keras.utils.set_random_seed(3)
    model = _upsampling_model()
    model.save(folder / "upsampling.keras")
    return model, folder / "upsampling.keras"


def test_saved_upsampling2d_model_quantizes_in_the_child_to_resize_and_runs_bit_exact(
        saved_upsampling_model, tmp_path, assert_tflite_bit_exact):
    _model, path = saved_upsampling_model
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(1).uniform(-1, 1, (24, 4, 5, 2)).astype(np.float32))
    result = quantize(path, tmp_path / "upsampling.tflite", calib=calib, log=lambda _message: None)
    assert result.agreement.cosine > 0.99
    opcodes = [op.opcode for op in parse_tflite(result.tflite.read_bytes()).operators]
    assert opcodes.count("RESIZE_NEAREST_NEIGHBOR") == 2 and "TILE" not in opcodes, opcodes
    checked = assert_tflite_bit_exact(result.tflite, samples=6)
    assert [call.params["source_rows"] for call in checked.model.calls
            if call.function == "te_resize_nearest_neighbor_s8"] == ["@source_rows"] * 2


def test_upsampling2d_layers_keep_their_own_call_after_export(saved_upsampling_model, assert_bit_exact):
    model, _path = saved_upsampling_model
    result = assert_bit_exact(model)
    assert "RESIZE_NEAREST_NEIGHBOR" in [layer.opcode for layer in result.model.layers]
    assert all("call" not in vars(layer) for layer in model.layers if isinstance(layer, L.UpSampling2D))
    # The rows of the second upsampling repeat in pairs, as Keras's own repeat gives them.
    upsampled = [call for call in result.model.calls if call.function == "te_resize_nearest_neighbor_s8"][1]
    rows = next(c.values for c in upsampled.constants if c.name == "source_rows")
    assert rows.tolist() == [y // 2 for y in range(len(rows))]


def test_trained_upsampling1d_model_runs_bit_exact_through_a_resize(assert_bit_exact):
    x = keras.Input((6, 3), batch_size=1)
    y = L.UpSampling1D(3)(L.Conv1D(4, 3, padding="same", activation="relu")(x))
    model = train_briefly(keras.Model(x, L.Conv1D(2, 3)(y)))
    result = assert_bit_exact(model)
    (resize,) = [call for call in result.model.calls if call.function == "te_resize_nearest_neighbor_s8"]
    rows = next(c.values for c in resize.constants if c.name == "source_rows")
    assert rows.tolist() == [t // 3 for t in range(18)]
    assert "TILE" not in [layer.opcode for layer in result.model.layers]
