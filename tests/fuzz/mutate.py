"""Seeded mutations of int8 .tflite flatbuffers, model inputs and calibration data.

Two families: byte-level damage (bit flips, overwritten bytes, truncation) and structural
damage made through the schema's object API (a field set to a hostile value, then the
model packed again), so that structural cases get past the parser and reach validation.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

Rng = np.random.Generator
HUGE_DIMS = (1_000_000_000, 2**31 - 1, 65536, 1 << 20)
BAD_DIMS = (-1, -7, 0, -(2**31))
BAD_SCALES = (0.0, -1.0, float("nan"), float("inf"), 1e-45, 1e38)


def pack(model: Any) -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _unpack(data: bytes) -> Any:
    return schema.ModelT.InitFromPackedBuf(bytearray(data), 0)


def _pick(rng: Rng, items: list) -> Any:
    return items[int(rng.integers(len(items)))]


# ---------------------------------------------------------------- byte level

def bit_flips(data: bytes, rng: Rng) -> bytes:
    damaged = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        position = int(rng.integers(len(damaged)))
        damaged[position] ^= 1 << int(rng.integers(8))
    return bytes(damaged)


def overwritten_bytes(data: bytes, rng: Rng) -> bytes:
    """Interesting values (0, -1, limits) written over a few 4-byte words: offsets and lengths go wild."""
    damaged = bytearray(data)
    values = (0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, len(data), len(data) - 4, 0x10000)
    for _ in range(int(rng.integers(1, 4))):
        position = int(rng.integers(0, max(1, len(damaged) - 4))) & ~3
        damaged[position:position + 4] = int(_pick(rng, list(values))).to_bytes(4, "little")
    return bytes(damaged)


def truncated(data: bytes, rng: Rng) -> bytes:
    return data[: int(rng.integers(0, len(data)))]


# ---------------------------------------------------------------- structural

def _tensor(model: Any, rng: Rng) -> Any:
    return _pick(rng, model.subgraphs[0].tensors)


def huge_dimension(model: Any, rng: Rng) -> None:
    t = _tensor(model, rng)
    if t.shape is not None and len(t.shape):
        t.shape[int(rng.integers(len(t.shape)))] = _pick(rng, list(HUGE_DIMS))


def billion_elements(model: Any, rng: Rng) -> None:
    _tensor(model, rng).shape = np.array([1, 1000, 1000, 1000], dtype=np.int32)


def bad_dimension(model: Any, rng: Rng) -> None:
    t = _tensor(model, rng)
    if t.shape is not None and len(t.shape):
        t.shape[int(rng.integers(len(t.shape)))] = _pick(rng, list(BAD_DIMS))
    else:
        t.shape = np.array([-3], dtype=np.int32)


def wrong_rank(model: Any, rng: Rng) -> None:
    t = _tensor(model, rng)
    rank = int(rng.integers(0, 7))
    t.shape = np.array([int(d) for d in rng.integers(1, 5, size=rank)], dtype=np.int32)


def wrong_tensor_type(model: Any, rng: Rng) -> None:
    _tensor(model, rng).type = int(rng.integers(0, 30))


def buffer_out_of_range(model: Any, rng: Rng) -> None:
    _tensor(model, rng).buffer = _pick(rng, [len(model.buffers), len(model.buffers) + 7, 2**32 - 1])


def buffer_offset_outside(model: Any, rng: Rng) -> None:
    """A buffer that claims to live after the flatbuffer (the >2 GB layout), at an offset past the file."""
    candidates = [b for b in model.buffers if b.data is not None and len(b.data)] or model.buffers
    buffer = _pick(rng, candidates)
    buffer.data = None
    buffer.offset = _pick(rng, [2**40, 2**63 - 1, 10_000_000, 2])
    buffer.size = _pick(rng, [2**40, 16, 2**63 - 1, 0])


def shared_buffer(model: Any, rng: Rng) -> None:
    _tensor(model, rng).buffer = _tensor(model, rng).buffer


def cyclic_graph(model: Any, rng: Rng) -> None:
    """An op reads a tensor that it or a later op writes."""
    ops = model.subgraphs[0].operators
    first = int(rng.integers(len(ops)))
    later = int(rng.integers(first, len(ops)))
    if ops[first].inputs is not None and len(ops[first].inputs):
        ops[first].inputs[0] = ops[later].outputs[0]


def tensor_index_out_of_range(model: Any, rng: Rng) -> None:
    subgraph = model.subgraphs[0]
    op = _pick(rng, subgraph.operators)
    bad = _pick(rng, [len(subgraph.tensors), -2, 2**31 - 1])
    target = _pick(rng, ["inputs", "outputs", "graph_inputs", "graph_outputs"])
    if target == "graph_inputs":
        subgraph.inputs[0] = bad
    elif target == "graph_outputs":
        subgraph.outputs[0] = bad
    elif getattr(op, target) is not None and len(getattr(op, target)):
        getattr(op, target)[0] = bad


def duplicate_output(model: Any, rng: Rng) -> None:
    """Two ops write the same tensor, or an op writes a constant or the graph's input."""
    subgraph = model.subgraphs[0]
    op = _pick(rng, subgraph.operators)
    op.outputs[0] = _pick(rng, [subgraph.inputs[0], _pick(rng, subgraph.operators).outputs[0],
                               int(_pick(rng, subgraph.operators).inputs[-1])])


def _quantized(model: Any) -> list:
    return [t for t in model.subgraphs[0].tensors if t.quantization is not None and t.quantization.scale is not None]


def bad_scale(model: Any, rng: Rng) -> None:
    quantized = _quantized(model)
    if quantized:
        q = _pick(rng, quantized).quantization
        q.scale = np.array(q.scale, dtype=np.float32)
        q.scale[int(rng.integers(len(q.scale)))] = _pick(rng, list(BAD_SCALES))


def bad_zero_point(model: Any, rng: Rng) -> None:
    quantized = _quantized(model)
    if quantized:
        q = _pick(rng, quantized).quantization
        q.zeroPoint = np.array([_pick(rng, [1000, -129, 128, 2**40, -(2**40)])] * len(q.scale), dtype=np.int64)


def bad_quantized_dimension(model: Any, rng: Rng) -> None:
    quantized = _quantized(model)
    if quantized:
        q = _pick(rng, quantized).quantization
        choice = int(rng.integers(3))
        if choice == 0:
            q.quantizedDimension = _pick(rng, [5, 99, -1])
        elif choice == 1:
            q.scale = np.array(list(q.scale) + [0.5, 0.25], dtype=np.float32)
        else:
            q.zeroPoint = np.array([0, 0, 0], dtype=np.int64)


def bad_opcode(model: Any, rng: Rng) -> None:
    choice = int(rng.integers(3))
    if choice == 0:
        _pick(rng, model.subgraphs[0].operators).opcodeIndex = len(model.operatorCodes) + int(rng.integers(5))
    elif choice == 1:
        code = _pick(rng, model.operatorCodes)
        code.builtinCode = int(rng.integers(0, 210))
        code.deprecatedBuiltinCode = min(code.builtinCode, 127)
    else:
        model.operatorCodes = []


def bad_options(model: Any, rng: Rng) -> None:
    """Strides, dilations, padding, activations and axis values that no converter writes."""
    ops = [op for op in model.subgraphs[0].operators if op.builtinOptions is not None]
    if not ops:
        return
    options = _pick(rng, ops).builtinOptions
    fields = [k for k, v in vars(options).items() if isinstance(v, int | bool | np.integer)]
    if fields:
        setattr(options, _pick(rng, fields), _pick(rng, [0, -1, 255, 100_000, 2**31 - 1]))


def no_subgraph(model: Any, rng: Rng) -> None:
    choice = int(rng.integers(3))
    if choice == 0:
        model.subgraphs = []
    elif choice == 1:
        model.subgraphs = [model.subgraphs[0], model.subgraphs[0]]
    else:
        model.subgraphs[0].operators = []


def dropped_inputs(model: Any, rng: Rng) -> None:
    op = _pick(rng, model.subgraphs[0].operators)
    op.inputs = np.array(list(op.inputs)[: int(rng.integers(0, len(op.inputs)))], dtype=np.int32)


def constant_size_mismatch(model: Any, rng: Rng) -> None:
    with_data = [b for b in model.buffers if b.data is not None and len(b.data) > 1]
    if with_data:
        buffer = _pick(rng, with_data)
        buffer.data = buffer.data[: int(rng.integers(0, len(buffer.data)))]


STRUCTURAL: dict[str, Callable[[Any, Rng], None]] = {
    f.__name__: f for f in (
        huge_dimension, billion_elements, bad_dimension, wrong_rank, wrong_tensor_type, buffer_out_of_range,
        buffer_offset_outside, shared_buffer, cyclic_graph, tensor_index_out_of_range, duplicate_output, bad_scale,
        bad_zero_point, bad_quantized_dimension, bad_opcode, bad_options, no_subgraph, dropped_inputs,
        constant_size_mismatch,
    )
}
BYTE_LEVEL: dict[str, Callable[[bytes, Rng], bytes]] = {
    f.__name__: f for f in (bit_flips, overwritten_bytes, truncated)
}
TFLITE_MUTATIONS = tuple(STRUCTURAL) + tuple(BYTE_LEVEL)


def mutate_tflite(data: bytes, kind: str, rng: Rng) -> bytes:
    if kind in BYTE_LEVEL:
        return BYTE_LEVEL[kind](data, rng)
    model = _unpack(data)
    for _ in range(1 if rng.random() < 0.8 else 2):
        try:
            STRUCTURAL[kind](model, rng)
        except (IndexError, TypeError, AttributeError, ValueError):
            break  # the first round left nothing for the second (no subgraph, no operators): keep the first
    try:
        return pack(model)
    except Exception:  # a value the packer cannot encode (out of a field's range): damage the bytes instead
        return bit_flips(data, rng)


# ---------------------------------------------------------------- arrays (.npy/.npz)

def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def hostile_array(shape: tuple[int, ...], rng: Rng, dtype: str) -> tuple[str, bytes]:
    """(kind, .npy bytes): mostly hostile, sometimes a well-formed array of `dtype` and `shape`."""
    kind = _pick(rng, ["good", "good", "nan_inf", "wrong_dtype", "object", "wrong_shape", "truncated_npy",
                       "huge_header", "empty", "not_npy", "structured"])
    good = rng.integers(-128, 128, size=shape).astype(dtype) if dtype == "int8" else \
        rng.uniform(-1, 1, size=shape).astype(dtype)
    if kind == "good":
        return kind, npy_bytes(good)
    if kind == "nan_inf":
        bad = rng.uniform(-1, 1, size=shape).astype(np.float32)
        bad.flat[0], bad.flat[-1] = np.nan, np.inf
        return kind, npy_bytes(bad)
    if kind == "wrong_dtype":
        return kind, npy_bytes(good.astype(_pick(rng, ["complex64", "bool", "U3", "float64", "uint8", "int64"])))
    if kind == "object":
        return kind, npy_bytes(np.array([good, "x", None], dtype=object), allow_pickle=True)
    if kind == "wrong_shape":
        return kind, npy_bytes(np.zeros((int(rng.integers(1, 5)), 3, 7), dtype=dtype))
    if kind == "truncated_npy":
        data = npy_bytes(good)
        return kind, data[: int(rng.integers(0, len(data)))]
    if kind == "huge_header":
        header = "{'descr': '|i1', 'fortran_order': False, 'shape': (1000000000, 1000000), }"
        header += " " * (117 - len(header)) + "\n"
        return kind, b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\x00" * 64
    if kind == "empty":
        return kind, npy_bytes(np.zeros((0, *shape[1:]), dtype=dtype))
    if kind == "structured":
        return kind, npy_bytes(np.zeros(3, dtype=[("a", "i1"), ("b", "f4")]))
    return kind, b"PK\x03\x04 not an array at all"
