"""The importer turns damaged files into one clear error and reports unsupported ops by layer."""

from __future__ import annotations

import numpy as np
import pytest

from tinyedge.codegen import compile_graph
from tinyedge.errors import TinyEdgeError
from tinyedge.importer import load_tflite, parse_tflite


@pytest.fixture(scope="module")
def small_tflite(tmp_path_factory, quantize_for_test) -> bytes:
    import keras

    model = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(3, 3), keras.layers.Flatten(),
                              keras.layers.Dense(4)])
    return quantize_for_test(model, tmp_path_factory.mktemp("importer") / "m.tflite").read_bytes()


def test_import_reads_per_channel_quantization_and_constants(small_tflite):
    graph = parse_tflite(small_tflite)
    conv = next(op for op in graph.operators if op.opcode == "CONV_2D")
    weights = graph.tensor(conv.inputs[1])
    assert weights.dtype == "int8" and weights.shape == (3, 3, 3, 2)
    assert weights.quant is not None and len(weights.quant.scale) == 3 and weights.quant.axis == 0
    assert weights.data is not None and weights.data.shape == weights.shape
    assert conv.options["padding"] == "VALID" and conv.options["fusedActivationFunction"] == "NONE"
    assert graph.input_tensors()[0].shape == (1, 6, 6, 2)


def test_static_batch_one_graph_has_no_dynamic_shape_ops(small_tflite):
    opcodes = {op.opcode for op in parse_tflite(small_tflite).operators}
    assert not opcodes & {"SHAPE", "STRIDED_SLICE", "PACK"}


@pytest.mark.parametrize("keep", [0, 7, 16, 64, 200, 0.5, 0.9])
def test_truncated_file_is_a_clear_error(small_tflite, keep):
    cut = small_tflite[: int(len(small_tflite) * keep) if isinstance(keep, float) else keep]
    with pytest.raises(TinyEdgeError, match="truncated|not a TFLite"):
        parse_tflite(cut)


def test_corrupted_bytes_are_a_clear_error_never_a_crash(small_tflite):
    rng = np.random.default_rng(3)
    for _ in range(20):
        damaged = bytearray(small_tflite)
        for position in rng.integers(8, 400, size=8):
            damaged[position] = int(rng.integers(0, 256))
        try:
            parse_tflite(bytes(damaged))
        except TinyEdgeError:
            pass


def test_not_a_flatbuffer(tmp_path):
    path = tmp_path / "notes.tflite"
    path.write_text("this is not a model")
    with pytest.raises(TinyEdgeError, match="not a TFLite flatbuffer"):
        load_tflite(path)


def test_unsupported_op_is_named_with_layer_and_tensors(tmp_path, quantize_for_test):
    import keras

    inputs = keras.Input((8,))
    a, b = keras.layers.Dense(4)(inputs), keras.layers.Dense(4)(inputs)
    model = keras.Model(inputs, keras.layers.Multiply()([a, b]))
    graph = load_tflite(quantize_for_test(model, tmp_path / "mul.tflite"))
    with pytest.raises(TinyEdgeError) as info:
        compile_graph(graph)
    message = str(info.value)
    mul = next(op for op in graph.operators if op.opcode == "MUL")
    assert f"layer {mul.index} MUL" in message
    assert graph.tensor(mul.outputs[0]).name in message
