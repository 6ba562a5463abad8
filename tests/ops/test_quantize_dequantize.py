"""QUANTIZE and DEQUANTIZE: int8 -> int8 requantization inside whole models (generated C against
TFLite-Micro, byte for byte), and the float32 -> int8 / int8 -> float32 kernels at a model's float
edges, compiled on their own and compared with TFLite-Micro bit for bit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest

from tinyedge.build import C_FLAGS
from tinyedge.errors import UnsupportedOpError
from tinyedge.importer import parse_tflite
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import KernelCall, lower
from tinyedge.reference import run_reference
from tinyedge.resources import firmware_dir

FEATURES = 16


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(0)


def calibration(low: float, high: float, features: int = FEATURES) -> list[np.ndarray]:
    return [np.random.default_rng(3).uniform(low, high, (32, features)).astype(np.float32)]


def quantize_calls(result) -> list[KernelCall]:
    graph = result.model.graph
    return [call for op, call in zip(graph.operators, result.model.calls) if op.opcode == "QUANTIZE"]


def concat_with_activation(activation: keras.layers.Layer) -> keras.Model:
    # The concatenation takes the input's scale, so the activation's fixed output
    # quantization (1/128 for tanh, 1/256 for softmax) must be requantized into it.
    inputs = keras.Input((FEATURES,), batch_size=1)
    return keras.Model(inputs, keras.layers.Concatenate()([inputs, activation(inputs)]))


def test_quantize_requantizes_tanh_output_up_into_concatenation_scale(assert_bit_exact):
    result = assert_bit_exact(concat_with_activation(keras.layers.Activation("tanh")),
                              calib=calibration(-0.3, 0.3), samples=8)
    (call,) = quantize_calls(result)
    assert call.function == "te_quantize_s8"
    assert call.params["shift"] > 0  # 1/128 is coarser than the input scale: scaled up


def test_quantize_requantizes_tanh_output_down_into_a_coarser_scale(assert_bit_exact):
    result = assert_bit_exact(concat_with_activation(keras.layers.Activation("tanh")),
                              calib=calibration(-30.0, 30.0), samples=8)
    (call,) = quantize_calls(result)
    assert call.params["shift"] < 0


def test_quantize_requantizes_softmax_output(assert_bit_exact):
    result = assert_bit_exact(concat_with_activation(keras.layers.Softmax()), calib=calibration(-2.0, 2.0))
    assert [layer.function for layer in result.model.layers] == \
        ["te_softmax_s8", "te_quantize_s8", "te_concatenation_s8"]


def _int8_tensor(index: int, scale: float, zero_point: int, dtype: str = "int8") -> Tensor:
    return Tensor(index, f"t{index}", (1, 8), dtype, Quantization((scale,), (zero_point,)))


def test_quantize_int32_to_int32_is_rejected_with_the_layer_named():
    # int8, int16 and int32 requantize to one another (tests/ops/test_elementwise_16x8.py), not int32 to int32.
    graph = Graph("g", (_int8_tensor(0, 0.1, 0, "int32"), _int8_tensor(1, 0.1, 0, "int32")),
                  (Operator(0, "QUANTIZE", (0,), (1,)),), (0,), (1,))
    with pytest.raises(UnsupportedOpError, match="layer 0 QUANTIZE.*int32 to int32"):
        lower(graph, graph.operators[0])


# ---------------------------------------------------------------- float32 edges

def float_io_quantize_dequantize(tmp_path: Path, features: int) -> bytes:
    """A float-in, float-out .tflite whose graph is QUANTIZE -> DEQUANTIZE.

    The converter wraps an int8 ReLU between the two; the ReLU is cut out so that the
    float output is exactly dequantize(quantize(input)): dequantization is one-to-one,
    so equal float bytes mean equal int8 bytes.
    """
    import flatbuffers
    import tensorflow as tf
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    inputs = keras.Input((features,), batch_size=1)
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inputs, keras.layers.ReLU()(inputs)))
    rng = np.random.default_rng(5)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([rng.uniform(-3, 1, (1, features)).astype(np.float32)]
                                                for _ in range(16))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    model = schema.ModelT.InitFromPackedBuf(bytearray(converter.convert()), 0)
    subgraph = model.subgraphs[0]
    opcodes = [model.operatorCodes[op.opcodeIndex].builtinCode for op in subgraph.operators]
    assert opcodes == [schema.BuiltinOperator.QUANTIZE, schema.BuiltinOperator.RELU,
                       schema.BuiltinOperator.DEQUANTIZE]
    quantize, _relu, dequantize = subgraph.operators
    dequantize.inputs = quantize.outputs
    subgraph.operators = [quantize, dequantize]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def c_params(call: KernelCall, name: str) -> str:
    fields = "".join(f"    .{field} = {value},\n" for field, value in call.params.items())
    return f"static const {call.params_type} {name} = {{\n{fields}}};\n"


def build_float_edge_runner(tmp_path: Path, quantize: KernelCall, dequantize: KernelCall, features: int) -> Path:
    """A host program: float32 samples on stdin -> te_quantize_s8 -> te_dequantize_s8 -> stdout."""
    source = tmp_path / "float_edges.c"
    source.write_text(
        "#include <stdio.h>\n#include <stdint.h>\n"
        f'#include "{quantize.header}"\n#include "{dequantize.header}"\n'
        f"#define N {features}\n" + c_params(quantize, "quantize_params") + c_params(dequantize, "dequantize_params") +
        "int main(void) {\n"
        "    float in[N], out[N];\n"
        "    int8_t q[N];\n"
        "    while (fread(in, sizeof(float), N, stdin) == N) {\n"
        "        te_quantize_s8(&quantize_params, in, q);\n"
        "        te_dequantize_s8(&dequantize_params, q, out);\n"
        "        fwrite(out, sizeof(float), N, stdout);\n"
        "    }\n"
        "    return 0;\n"
        "}\n")
    firmware = firmware_dir()
    exe = tmp_path / "float_edges"
    kernels = [str(firmware / "kernels" / f"{call.function}.c") for call in (quantize, dequantize)]
    proc = subprocess.run(["gcc", *C_FLAGS, f"-I{firmware / 'include'}", str(source), *kernels, "-o", str(exe)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return exe


def float_samples(scale: float, zero_point: int, features: int) -> list[np.ndarray]:
    """Values on, between and halfway between quantization steps, far out of range, infinite, NaN, zero."""
    steps = np.arange(-128 - zero_point - 20, 127 - zero_point + 20, 0.25)  # every int8 code and beyond
    on_grid = (steps * np.float32(scale)).astype(np.float32)
    rng = np.random.default_rng(11)
    spread = rng.uniform(-200 * scale, 200 * scale, 3 * features).astype(np.float32)
    extremes = np.array([0.0, -0.0, 1e-30, -1e-30, 1e6, -1e6, 3e38, -3e38, np.inf, -np.inf, np.nan], dtype=np.float32)
    values = np.concatenate([on_grid, spread, extremes])
    values = np.concatenate([values, np.zeros(-len(values) % features, dtype=np.float32)])
    return [row.reshape(1, features) for row in values.reshape(-1, features)]


def test_float_input_quantize_and_float_output_dequantize_match_tflite_micro(tmp_path):
    features = 64
    flatbuffer = float_io_quantize_dequantize(tmp_path, features)
    graph = parse_tflite(flatbuffer)
    quantize_op, dequantize_op = graph.operators
    quantize, dequantize = lower(graph, quantize_op), lower(graph, dequantize_op)
    assert (quantize.function, dequantize.function) == ("te_quantize_s8", "te_dequantize_s8")
    assert not quantize.in_place and not dequantize.in_place  # float and int8 elements differ in width
    int8_tensor = graph.tensor(quantize_op.outputs[0])

    samples = float_samples(int8_tensor.scale, int8_tensor.zero_point, features)
    exe = build_float_edge_runner(tmp_path, quantize, dequantize, features)
    proc = subprocess.run([str(exe)], input=b"".join(s.tobytes() for s in samples), capture_output=True, check=True)
    firmware = np.frombuffer(proc.stdout, dtype=np.float32).reshape(len(samples), features)
    reference_outputs = run_reference(flatbuffer, [[sample] for sample in samples])
    reference = np.stack([outputs[0].reshape(features) for outputs in reference_outputs])

    assert reference.dtype == np.float32
    mismatches = np.flatnonzero(firmware.view(np.uint32) != reference.view(np.uint32))
    if mismatches.size:
        first = mismatches[0]
        pytest.fail(f"{mismatches.size} values differ; first: input {np.concatenate(samples).ravel()[first]!r} "
                    f"gives {firmware.ravel()[first]!r}, reference {reference.ravel()[first]!r}")
    # The grid values cover every int8 code: the whole output range was exercised.
    codes = np.round(reference / np.float32(int8_tensor.scale)).astype(np.int64) + int8_tensor.zero_point
    assert set(codes.ravel().tolist()) == set(range(-128, 128))
