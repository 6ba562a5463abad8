"""16x8 mode (int16 activations) of the data-movement ops against TFLite-Micro, byte for byte: the
int8 tests' random geometries with int16 tensors (the byte-moving kernels take them as bytes,
each element an innermost axis of two), zero point 0 as TensorFlow writes it and others."""

from __future__ import annotations

import numpy as np
import pytest
from int16_cases import as_int16_cases
from multi_output import several_outputs
from op_chain import chains
from single_op import OpCase, TensorSpec, check_cases, log_uniform, single_op_tflite
from test_dynamic_update_slice import _cases as dynamic_update_slice_cases
from test_pack import _pack_cases as pack_cases
from test_split import _cases as split_cases
from test_strided_slice import _slice_case, _strided_slice_case
from test_transpose import _transpose_cases as transpose_cases
from test_unpack import _cases as unpack_cases
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.errors import UnsupportedOpError
from tinyedge.importer import parse_tflite
from tinyedge.ops import lower

CONFIGURATIONS = 100


def _functions(models: list) -> set[str]:
    return {m.calls[0].function for m in models}


def test_int16_strided_slice_matches_tflite_micro(tmp_path):
    rng = np.random.default_rng(1610)
    cases = as_int16_cases([_strided_slice_case(rng, f"seed 1610 #{n}") for n in range(CONFIGURATIONS)], 1610)
    assert _functions(check_cases(cases, tmp_path)) == {"te_strided_slice_s8"}


def test_int16_slice_matches_tflite_micro_up_to_5d(tmp_path):
    rng = np.random.default_rng(1611)
    cases = as_int16_cases([_slice_case(rng, f"seed 1611 #{n}") for n in range(CONFIGURATIONS)], 1611)
    assert _functions(check_cases(cases, tmp_path)) == {"te_strided_slice_s8"}


def _pad_case(rng: np.random.Generator, label: str, v2: bool) -> OpCase:
    rank = int(rng.integers(1, 6))
    shape = tuple(int(d) for d in rng.integers(1, 6, size=rank))
    pairs = rng.integers(0, 3, size=(rank, 2))
    out_shape = tuple(int(d + lo + hi) for d, (lo, hi) in zip(shape, pairs))
    scale = log_uniform(rng, -5, -1)
    zero_point = int(rng.choice([0, 0, int(rng.integers(-32768, 32768))]))
    inputs = [TensorSpec(shape, scale, zero_point, dtype="int16"),
              TensorSpec((rank, 2), 1.0, 0, data=pairs.astype(np.int32), dtype="int32")]
    if v2:
        value = int(rng.integers(-32768, 32768))
        inputs.append(TensorSpec((), scale, zero_point, data=np.array(value, np.int16), dtype="int16"))
    return OpCase("PADV2" if v2 else "PAD", tuple(inputs), TensorSpec(out_shape, scale, zero_point, dtype="int16"),
                  schema.PadV2OptionsT() if v2 else schema.PadOptionsT(), label)


def test_int16_pad_and_padv2_match_tflite_micro_pad_filling_with_zero(tmp_path):
    # TFLite-Micro's int16 PAD fills with the integer 0 whatever the zero point; PADV2 with its constant.
    rng = np.random.default_rng(1612)
    cases = [_pad_case(rng, f"seed 1612 #{n}", v2=n % 3 == 0) for n in range(CONFIGURATIONS)]
    models = check_cases(cases, tmp_path)
    assert _functions(models) == {"te_pad_s16"}
    pad_values = {m.calls[0].params["pad_value"] for m, c in zip(models, cases) if c.opcode == "PAD"}
    assert pad_values == {0}


def _concatenation_case(rng: np.random.Generator, label: str) -> OpCase:
    rank = int(rng.integers(1, 6))
    shape = [int(d) for d in rng.integers(1, 5, size=rank)]
    axis = int(rng.integers(0, rank))
    sizes = [int(s) for s in rng.integers(1, 4, size=int(rng.integers(1, 6)))]
    scale, zero_point = log_uniform(rng, -5, -1), 0  # TFLite-Micro's int16 CONCATENATION takes zero point 0 only
    inputs = []
    for size in sizes:
        piece = tuple(shape[:axis] + [size] + shape[axis + 1:])
        data = rng.integers(-32768, 32768, size=piece).astype(np.int16) if rng.random() < 0.2 else None
        inputs.append(TensorSpec(piece, scale, zero_point, data=data, dtype="int16"))
    if all(spec.data is not None for spec in inputs):
        inputs[0] = TensorSpec(inputs[0].shape, scale, zero_point, dtype="int16")
    options = schema.ConcatenationOptionsT()
    options.axis = axis - rank if rng.random() < 0.3 else axis
    out_shape = tuple(shape[:axis] + [sum(sizes)] + shape[axis + 1:])
    return OpCase("CONCATENATION", tuple(inputs), TensorSpec(out_shape, scale, zero_point, dtype="int16"), options,
                  label)


def test_int16_concatenation_and_pack_match_tflite_micro(tmp_path):
    rng = np.random.default_rng(1613)
    cases = [_concatenation_case(rng, f"seed 1613 #{n}") for n in range(CONFIGURATIONS)]
    cases += as_int16_cases(pack_cases(1614, CONFIGURATIONS), 1614)
    assert _functions(check_cases(cases, tmp_path)) == {"te_concatenation_s8"}


def test_int16_split_split_v_and_unpack_match_tflite_micro(tmp_path):
    cases = split_cases("SPLIT", 1615, CONFIGURATIONS // 2) + split_cases("SPLIT_V", 1616, CONFIGURATIONS // 2)
    cases = as_int16_cases(cases + unpack_cases(1617, CONFIGURATIONS), 1615)
    with several_outputs():
        assert _functions(check_cases(cases, tmp_path)) == {"te_split_s8"}


def test_int16_concatenation_with_a_zero_point_is_refused_as_tflite_micro_refuses_it():
    spec = TensorSpec((1, 2), 0.01, 7, dtype="int16")
    case = OpCase("CONCATENATION", (spec, spec), TensorSpec((1, 4), 0.01, 7, dtype="int16"),
                  schema.ConcatenationOptionsT())
    graph = parse_tflite(single_op_tflite(case), name="concat16")
    with pytest.raises(UnsupportedOpError, match="int16 CONCATENATION needs zero point 0"):
        lower(graph, graph.operators[0])


def test_int16_transpose_matches_tflite_micro(tmp_path):
    models = check_cases(as_int16_cases(transpose_cases(1618, CONFIGURATIONS), 1618), tmp_path)
    functions = [m.calls[0].function for m in models]
    assert set(functions) == {"te_transpose_s8", "te_transpose_s16"}, set(functions)
    assert functions.count("te_transpose_s8") > CONFIGURATIONS * 3 // 4  # most move as bytes


def test_int16_transpose_of_5_axes_that_do_not_merge_as_bytes_runs_on_int16_elements(tmp_path):
    perm = TensorSpec((5,), 1.0, 0, data=np.array([4, 3, 2, 1, 0], np.int32), dtype="int32")
    case = OpCase("TRANSPOSE", (TensorSpec((2, 3, 2, 3, 2), 0.01, 0, dtype="int16"), perm),
                  TensorSpec((2, 3, 2, 3, 2), 0.01, 0, dtype="int16"), None, "reversed axes")
    (model,) = check_cases([case], tmp_path)
    assert model.calls[0].function == "te_transpose_s16"


def test_int16_dynamic_update_slice_matches_tflite_micro(tmp_path):
    # Up to 6-D: an update's rows are contiguous, so the byte axis always merges into the last one.
    cases = dynamic_update_slice_cases(1623, CONFIGURATIONS)
    with chains():
        models = check_cases(as_int16_cases(cases, 1623), tmp_path, samples=3)
    assert _functions(models) == {"te_dynamic_update_slice_s8"}


def _int16_bytes(*values: int) -> bytes:
    return np.array(values, dtype="<i2").tobytes()


def test_int16_small_exact_answers(tmp_path):
    # x[-1:0:-2] of six int16 values; PAD of [1, 2] by one on each side with zero point 5 (TFLite-Micro's
    # int16 PAD writes 0, not 5); CONCATENATION of [1, 2] and [1, 1] along the last axis.
    row = TensorSpec((6,), 0.25, 0, dtype="int16")
    values = _int16_bytes(-32768, 300, -2, 32767, 1, -256)
    begin, end, stride = (TensorSpec((1,), 1.0, 0, data=np.array([v], np.int32), dtype="int32") for v in (-1, 0, -2))
    paddings = TensorSpec((2, 2), 1.0, 0, data=np.array([[0, 0], [1, 1]], np.int32), dtype="int32")
    concat = schema.ConcatenationOptionsT()
    concat.axis = -1
    check_cases([
        OpCase("STRIDED_SLICE", (row, begin, end, stride), TensorSpec((3,), 0.25, 0, dtype="int16"),
               schema.StridedSliceOptionsT(), "x[-1:0:-2]", (values,), (_int16_bytes(-256, 32767, 300),)),
        OpCase("PAD", (TensorSpec((1, 2), 0.5, 5, dtype="int16"), paddings), TensorSpec((1, 4), 0.5, 5, dtype="int16"),
               schema.PadOptionsT(), "pad 1 1", (_int16_bytes(-7, 1234),), (_int16_bytes(0, -7, 1234, 0),)),
        OpCase("CONCATENATION", (TensorSpec((1, 2), 0.5, 0, dtype="int16"), TensorSpec((1, 1), 0.5, 0, dtype="int16")),
               TensorSpec((1, 3), 0.5, 0, dtype="int16"), concat, "concat",
               (_int16_bytes(-32768, 513, 32767),), (_int16_bytes(-32768, 513, 32767),)),
    ], tmp_path)
