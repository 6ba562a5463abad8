"""The importer turns damaged files into one clear error and reports unsupported ops by layer."""

from __future__ import annotations

import flatbuffers
import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tests.ops.single_op import OpCase, TensorSpec, check_cases, single_op_tflite
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


def test_unsupported_op_is_named_with_its_keras_layer_and_a_replacement(small_tflite):
    """An op without a lowering (here the dense layer relabelled TILE, which no kernel implements) names its layer."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    def relabel(model):
        fc = next(c for c in model.operatorCodes if c.builtinCode == schema.BuiltinOperator.FULLY_CONNECTED)
        fc.builtinCode = fc.deprecatedBuiltinCode = schema.BuiltinOperator.TILE

    graph = parse_tflite(_mutated(small_tflite, relabel))
    with pytest.raises(TinyEdgeError) as info:
        compile_graph(graph)
    message = str(info.value)
    tile = next(op for op in graph.operators if op.opcode == "TILE")
    layer = graph.keras_layer(tile)
    assert layer is not None and f"TILE (layer {tile.index}, Keras layer '{layer}'; instead: " in message
    assert "\n" not in message and len(message) < 400


# ---------------------------------------------------------------- hostile files (issue 10: what the fuzzer found)

def _mutated(data: bytes, change) -> bytes:
    """The model with one field changed through the schema's object API, packed again."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    change(model)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _conv(model):
    """(subgraph, conv operator, its input/filter/output tensor objects) of the small model."""
    subgraph = model.subgraphs[0]
    op = next(o for o in subgraph.operators if model.operatorCodes[o.opcodeIndex].builtinCode == 3)
    return subgraph, op, [subgraph.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0])]


def test_truncated_file_message_is_a_sentence_naming_the_file(small_tflite, tmp_path):
    path = tmp_path / "trunc.tflite"
    path.write_bytes(small_tflite[: len(small_tflite) // 3])
    with pytest.raises(TinyEdgeError) as info:
        load_tflite(path)
    assert str(info.value) == ("the model file trunc.tflite is truncated or corrupt, so its flatbuffer cannot be "
                               "read; re-export it with the TensorFlow Lite converter")


@pytest.mark.parametrize("scale", [0.0, -0.5, float("nan"), float("inf")])
def test_a_scale_that_is_not_positive_and_finite_is_refused(small_tflite, scale):
    def change(model):
        _conv(model)[2][2].quantization.scale = np.array([scale], dtype=np.float32)

    with pytest.raises(TinyEdgeError, match="scale that is not a positive finite number"):
        parse_tflite(_mutated(small_tflite, change))


def test_a_zero_point_outside_int8_is_refused(small_tflite):
    def change(model):
        _conv(model)[2][0].quantization.zeroPoint = np.array([1000], dtype=np.int64)

    with pytest.raises(TinyEdgeError, match="zero point outside the int8 range"):
        parse_tflite(_mutated(small_tflite, change))


@pytest.mark.parametrize("axis, extra", [(7, 0), (0, 2)])
def test_per_channel_scales_must_match_the_channel_axis(small_tflite, axis, extra):
    def change(model):
        q = _conv(model)[2][1].quantization
        q.quantizedDimension = axis
        q.scale = np.concatenate([q.scale, np.full(extra, 0.5, np.float32)])
        q.zeroPoint = np.zeros(len(q.scale), dtype=np.int64)

    with pytest.raises(TinyEdgeError, match="per-channel scales along axis"):
        parse_tflite(_mutated(small_tflite, change))


def test_per_channel_quantization_where_one_scale_is_needed_names_the_layer(small_tflite):
    def change(model):  # the conv output gets a valid-looking per-channel quantization on its channel axis
        q = _conv(model)[2][2].quantization
        q.scale, q.zeroPoint, q.quantizedDimension = np.full(3, 0.1, np.float32), np.zeros(3, np.int64), 3

    graph = parse_tflite(_mutated(small_tflite, change))
    with pytest.raises(TinyEdgeError, match=r"layer \d+ CONV_2D .*3 per-channel scales where one scale is needed"):
        compile_graph(graph)


@pytest.mark.parametrize("dims", [[1, -1, 4, 3], [1, 0, 4, 3], [-7]])
def test_zero_or_negative_dimensions_are_refused(small_tflite, dims):
    def change(model):
        _conv(model)[2][2].shape = np.array(dims, dtype=np.int32)

    with pytest.raises(TinyEdgeError, match="every dimension must be at least 1"):
        parse_tflite(_mutated(small_tflite, change))


def test_a_tensor_no_op_uses_may_be_empty(small_tflite):
    # An int8 LSTM lists "intermediate" tensors of shape [0] that no op reads or writes (TFLite-Micro's
    # examples carry them); they must not stop the import.
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    def change(model):
        extra = schema.TensorT()
        extra.name, extra.shape, extra.buffer = "input_to_input_intermediate", [0], 0
        extra.type = schema.TensorType.INT16
        model.subgraphs[0].tensors.append(extra)

    graph = parse_tflite(_mutated(small_tflite, change))
    assert graph.tensors[-1].name == "input_to_input_intermediate"
    compile_graph(graph)


def test_a_billion_element_tensor_is_refused_before_anything_is_allocated(small_tflite):
    import resource

    def change(model):
        _conv(model)[2][2].shape = np.array([1, 1000, 1000, 1000], dtype=np.int32)

    damaged = _mutated(small_tflite, change)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(TinyEdgeError, match=r"needs 1,000,000,000 bytes, more than the 64 MiB"):
        parse_tflite(damaged)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB: nothing near 1 GB


def test_an_unknown_tensor_type_is_refused(small_tflite):
    def change(model):
        _conv(model)[2][2].type = 27

    with pytest.raises(TinyEdgeError, match="has type TYPE27, which tinyedge cannot handle"):
        parse_tflite(_mutated(small_tflite, change))


def test_a_buffer_index_out_of_range_is_refused(small_tflite):
    def change(model):
        _conv(model)[2][1].buffer = len(model.buffers) + 3

    with pytest.raises(TinyEdgeError, match=r"refers to buffer \d+, but the model has \d+ buffers"):
        parse_tflite(_mutated(small_tflite, change))


def test_buffer_data_past_the_end_of_the_file_is_refused(small_tflite):
    def change(model):
        buffer = model.buffers[_conv(model)[2][1].buffer]
        buffer.data, buffer.offset, buffer.size = None, 1 << 40, 54

    with pytest.raises(TinyEdgeError, match="past the end of the .*-byte file"):
        parse_tflite(_mutated(small_tflite, change))


def test_a_constant_with_the_wrong_byte_count_is_refused(small_tflite):
    def change(model):
        buffer = model.buffers[_conv(model)[2][1].buffer]
        buffer.data = buffer.data[:10]

    with pytest.raises(TinyEdgeError, match="holds 10 bytes, but its shape .* needs 54"):
        parse_tflite(_mutated(small_tflite, change))


def test_a_cyclic_graph_is_refused(small_tflite):
    def change(model):  # the first op reads what the last op writes
        ops = model.subgraphs[0].operators
        ops[0].inputs[0] = ops[-1].outputs[0]

    with pytest.raises(TinyEdgeError, match="before any operator writes it .a cyclic or misordered graph"):
        parse_tflite(_mutated(small_tflite, change))


def test_a_variable_tensor_may_be_read_before_it_is_written(small_tflite):
    """Recurrent state (isVariable) is read first by design: the cycle check must not refuse it."""
    def change(model):
        ops = model.subgraphs[0].operators
        ops[0].inputs[0] = ops[-1].outputs[0]
        model.subgraphs[0].tensors[ops[-1].outputs[0]].isVariable = True

    graph = parse_tflite(_mutated(small_tflite, change))
    assert graph.tensor(graph.operators[0].inputs[0]).variable


@pytest.mark.parametrize("target, what", [("input", "the model input"), ("weights", "a constant"),
                                          ("other", "a tensor another operator writes")])
def test_an_operator_may_write_only_its_own_activation(small_tflite, target, what):
    def change(model):
        subgraph, conv, _ = _conv(model)
        last = subgraph.operators[-1]
        last.outputs[0] = {"input": subgraph.inputs[0], "weights": conv.inputs[1], "other": conv.outputs[0]}[target]

    with pytest.raises(TinyEdgeError, match=f"writes {what}"):
        parse_tflite(_mutated(small_tflite, change))


def test_a_model_output_no_operator_writes_is_refused(small_tflite):
    def change(model):
        subgraph, conv, _ = _conv(model)
        subgraph.outputs[0] = conv.inputs[1]

    with pytest.raises(TinyEdgeError, match="is written by no operator"):
        parse_tflite(_mutated(small_tflite, change))


def test_a_wrong_rank_reaching_an_op_names_the_layer(small_tflite):
    def change(model):  # rank 3 on both sides of the conv: consistent for the importer, impossible for CONV_2D
        for tensor in (_conv(model)[2][0], _conv(model)[2][2]):
            tensor.shape = np.array(list(tensor.shape)[1:], dtype=np.int32)

    graph = parse_tflite(_mutated(small_tflite, change))
    with pytest.raises(TinyEdgeError, match=r"^layer \d+ CONV_2D .*a 4-D \(NHWC\) tensor is needed"):
        compile_graph(graph)


def _conv_with_bias_axis(axis: int) -> OpCase:
    options = schema.Conv2DOptionsT()
    options.padding, options.strideW, options.strideH = schema.Padding.VALID, 1, 1
    options.dilationWFactor = options.dilationHFactor = 1
    rng = np.random.default_rng(0)
    return OpCase("CONV_2D", (
        TensorSpec((1, 3, 3, 2), 0.05, 3),
        TensorSpec((2, 1, 1, 2), (0.01, 0.02), (0, 0), data=rng.integers(-127, 128, (2, 1, 1, 2))),
        TensorSpec((2,), (0.0005, 0.001), (0, 0), data=np.array([100, -300]), axis=axis, dtype="int32")),
        TensorSpec((1, 3, 3, 2), 0.1, -5), options, label=f"bias axis {axis}")


def test_a_bias_carrying_its_filters_axis_imports_and_runs_as_tflite_micro_does(tmp_path):
    """TFLite-Micro's person_detect gives a [8] bias 8 scales "along axis 3"; one dimension has one axis."""
    graph = parse_tflite(single_op_tflite(_conv_with_bias_axis(3)))
    assert graph.tensor(2).quant.axis == 0 and graph.tensor(2).quant.scale == pytest.approx((0.0005, 0.001))
    check_cases([_conv_with_bias_axis(3)], tmp_path)


def test_custom_ops_are_named_before_their_tensor_types():
    model = schema.ModelT.InitFromPackedBuf(bytearray(single_op_tflite(OpCase(
        "ABS", (TensorSpec((1, 4), 0.5, 0),), TensorSpec((1, 4), 0.5, 0)))), 0)
    model.operatorCodes[0].builtinCode = model.operatorCodes[0].deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    model.operatorCodes[0].customCode = "SignalWindow"
    model.subgraphs[0].tensors[1].type = schema.TensorType.UINT64
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    with pytest.raises(TinyEdgeError, match=r"^m: the model holds custom ops, not TFLite builtins: "
                                            r"CUSTOM\(SignalWindow\); tinyedge compiles builtin ops only"):
        parse_tflite(bytes(builder.Output()), name="m")
