"""TFLite-Micro's own complaints go to a log, and tinyedge's error names the op and layer it could not run."""

from __future__ import annotations

import re
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.errors import TinyEdgeError
from tinyedge.reference import run_reference


def _with_first_opcode(flatbuffer: bytes, opcode: int) -> bytes:
    """The model with its first operator code replaced: an op TFLite-Micro has no kernel for."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    model.operatorCodes[0].builtinCode = opcode
    model.operatorCodes[0].deprecatedBuiltinCode = opcode
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.fixture(scope="module")
def dense_int8(tmp_path_factory) -> bytes:
    import keras

    from tinyedge.quantize import quantize_keras_model

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="relu", name="first_dense"),
                              keras.layers.Dense(3, name="second_dense")])
    calibration = [np.random.default_rng(0).uniform(-1, 1, (10, 6)).astype(np.float32)]
    path = tmp_path_factory.mktemp("reference") / "dense.tflite"
    return quantize_keras_model(model, path, calibration, log=lambda _m: None).tflite.read_bytes()


def test_reference_runs_the_unedited_model(dense_int8):
    outputs = run_reference(dense_int8, [[np.zeros(6, np.int8)]])
    assert len(outputs) == 1 and outputs[0][0].shape == (1, 3)


def test_missing_tflm_kernel_is_named_and_its_log_kept_off_the_terminal(dense_int8, capfd, monkeypatch, tmp_path):
    monkeypatch.setenv("TINYEDGE_CACHE", str(tmp_path / "cache"))
    edited = _with_first_opcode(dense_int8, schema.BuiltinOperator.TILE)
    with pytest.raises(TinyEdgeError) as caught:
        run_reference(edited, [[np.zeros(6, np.int8)]])
    message = str(caught.value)
    assert "\n" not in message
    assert "no kernel for the model's TILE op" in message and "Keras layer 'first_dense" in message
    captured = capfd.readouterr()
    assert "Didn't find op" not in captured.out + captured.err
    log = Path(re.search(r"\(log: (\S+)\)", message).group(1))
    assert "Didn't find op for builtin opcode 'TILE'" in log.read_text()
    assert log.parent == tmp_path / "cache" / "logs"
