"""What a .tflite is (tinyedge/model_kind.py), and the one line `run`, `generate` and `compile` give for each kind
tinyedge cannot take: the kind, the tensor and the op."""

from __future__ import annotations

import flatbuffers
import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tests.ops.single_op import OpCase, TensorSpec, single_op_tflite
from tinyedge import cli
from tinyedge.importer import parse_tflite
from tinyedge.model_kind import FLOAT, INT8, INT16X8, MIXED, UINT8, classify, refusal


def _add(dtype: str, output_dtype: str | None = None) -> bytes:
    scale = 1.0 if dtype.startswith("float") else 0.5
    spec = TensorSpec((1, 4), scale, 0, dtype=dtype)
    out = TensorSpec((1, 4), scale, 0, dtype=output_dtype or dtype)
    return single_op_tflite(OpCase("ADD", (spec, spec), out))


def _unary(opcode: str, dtype: str, output_dtype: str) -> bytes:
    return single_op_tflite(OpCase(opcode, (TensorSpec((1, 4), 0.5, 0, dtype=dtype),),
                                   TensorSpec((1, 4), 0.25, 0, dtype=output_dtype)))


def _as_uint8(flatbuffer: bytes) -> bytes:
    """The same model with every int8 tensor made uint8 (zero point 128), as TensorFlow 1 wrote them."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    for tensor in model.subgraphs[0].tensors:
        if tensor.type == schema.TensorType.INT8:
            tensor.type = schema.TensorType.UINT8
            tensor.quantization.zeroPoint = [128]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize(("flatbuffer", "kind", "said"), [
    (_add("int8"), INT8, None),
    (_add("int16"), INT16X8, None),
    (_add("float32"), FLOAT, "is a float .tflite (tensor 'input_0' (float32) of layer 0 ADD"),
    (_as_uint8(_add("int8")), UINT8, "uses uint8 quantization, TensorFlow 1's legacy mode (tensor 'input_0' (uint8) "
                                     "of layer 0 ADD"),
    (_unary("QUANTIZE", "int8", "int16"), MIXED, None),
    (_unary("DEQUANTIZE", "int8", "float32"), MIXED, "is int8 with float activations (tensor 'output_1' (float32) "
                                                     "of layer 0 DEQUANTIZE"),
], ids=["int8", "int16x8", "float", "uint8", "int8-and-int16", "int8-with-float-output"])
def test_each_kind_is_named_with_its_tensor_and_op(flatbuffer, kind, said):
    graph = parse_tflite(flatbuffer, name="m")
    assert classify(graph).kind == kind
    message = refusal(graph, "m.tflite")
    assert message is None if said is None else message.startswith(f"m.tflite {said}"), message


def test_an_int8_model_with_an_int32_output_compiles():
    flatbuffer = single_op_tflite(OpCase("ARG_MAX", (TensorSpec((1, 4), 0.5, 0), TensorSpec(
        (1,), 1.0, 0, data=np.array([1]), dtype="int32")), TensorSpec((1,), 1.0, 0, dtype="int32")))
    graph = parse_tflite(flatbuffer, name="m")
    assert classify(graph).kind == INT8
    assert refusal(graph, "m.tflite") is None


def test_a_quantized_model_with_a_float_output_is_named_by_its_output():
    graph = parse_tflite(_unary("DEQUANTIZE", "int16", "float32"), name="m")
    assert refusal(graph, "m.tflite") == (
        "m.tflite is quantized but tensor 'output_1' (float32) of layer 0 DEQUANTIZE (output 'output_1') is a model "
        "output: tinyedge takes int8, int16, int32 inputs and outputs; convert with inference_output_type=tf.int16, "
        "or pass the model it was converted from with --source")


def test_a_16x8_file_runs_as_it_is(tmp_path):
    model = tmp_path / "reshape16.tflite"
    model.write_bytes(single_op_tflite(OpCase("RESHAPE", (TensorSpec((1, 2, 3), 0.5, 0, dtype="int16"),),
                                              TensorSpec((1, 6), 0.5, 0, dtype="int16"))))
    x = np.array([[[-32768, -1, 0], [1, 255, 32767]]], np.int16)
    np.save(tmp_path / "x.npy", x)
    assert cli.main(["run", str(model), "--board", "host", "--input", str(tmp_path / "x.npy"),
                     "--output", str(tmp_path / "y.npy")]) == 0
    y = np.load(tmp_path / "y.npy")
    assert y.dtype == np.int16 and y.tolist() == x.reshape(1, 6).tolist()


@pytest.mark.parametrize("command", ["run", "generate", "compile"])
def test_a_16x8_op_without_an_int16_kernel_is_refused_in_one_line_naming_the_op(command, tmp_path, capsys):
    model = tmp_path / "swish16.tflite"
    model.write_bytes(_unary("HARD_SWISH", "int16", "int16"))
    np.save(tmp_path / "x.npy", np.zeros((1, 4), np.int16))
    extra = {"run": ["--board", "host", "--input", str(tmp_path / "x.npy"), "--output",
                     str(tmp_path / "y.npy")],
             "generate": ["--board", "host", "-o", str(tmp_path / "out")],
             "compile": ["--board", "nrf52840", "-o", str(tmp_path / "out")]}[command]
    assert cli.main([command, str(model), *extra]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("tinyedge: error: the model uses op tinyedge has no kernel for, so nothing was "
                                "generated: HARD_SWISH with int16 activations (16x8 mode) (layer 0"), lines
    assert "tinyedge runs HARD_SWISH with int8 activations" in lines[-1]
    assert not (tmp_path / "out").exists() and not (tmp_path / "y.npy").exists()
