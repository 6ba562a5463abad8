"""SELECT_V2: output = condition ? x : y, element by element, with broadcasting of all three.

TFLite-Micro (select.cc) copies the raw int8 values of x or y: nothing is requantized, the
converter gives x, y and the output one quantization, and TFLite-Micro checks none; tinyedge
does the same. The condition is a bool tensor (one byte, 0 or 1), as the comparisons give it.

Broadcasting as TFLite-Micro's Prepare checks it: the output has the rank of the largest input,
and each of its dimensions is the largest of the inputs' there, the others 1. When all four
tensors hold one element the shapes are not checked at all (its "mixed scalar" case). Up to 5-D
the kernel loops over the shapes as they are (three operands broadcast apart need five loops
where two need four); beyond, dimensions are merged where that changes nothing, as for the
binary ops. int16 x, y and output (16x8 mode) run te_select_v2_s16.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import ConstArg, KernelCall, TensorArg, lowering
from tinyedge.ops._quant import QUANTIZED, require_dtype

RANK = 5  # TFLite-Micro's BroadcastSelect5DSlow: three operands broadcast independently need five


def _strides(shape: tuple[int, ...]) -> list[int]:
    """Row-major strides in elements, 0 where the dimension has size 1 (it never advances)."""
    strides, step = [], 1
    for dim in reversed(shape):
        strides.append(0 if dim == 1 else step)
        step *= dim
    return strides[::-1]


def select_geometry(graph: Graph, op: Operator, inputs: tuple[Tensor, ...], output: Tensor) -> list[list[int]]:
    """[output shape, condition strides, x strides, y strides], each RANK long."""
    if all(t.size == 1 for t in (*inputs, output)):
        return [[1] * RANK] + [[0] * RANK for _ in inputs]
    rank = max(len(t.shape) for t in inputs)
    if len(output.shape) != rank:
        raise UnsupportedOpError(f"{graph.describe(op)}: output shape {list(output.shape)} has not the rank of "
                                 f"the largest input ({rank}); TFLite-Micro refuses it")
    shapes = [(1,) * (rank - len(t.shape)) + tuple(t.shape) for t in inputs]
    for axis, d_out in enumerate(output.shape):
        dims = [s[axis] for s in shapes]
        if any(d not in (1, max(dims)) for d in dims) or d_out != max(dims):
            raise UnsupportedOpError(f"{graph.describe(op)}: shapes {[list(t.shape) for t in inputs]} do not "
                                     f"broadcast to output {list(output.shape)}; TFLite-Micro refuses them")
    # Output dimensions of size 1 left out; neighbours that every input reads alike merged.
    groups: list[list[int]] = []  # sizes: [condition, x, y, output]
    previous: tuple[bool, ...] | None = None
    for axis, d_out in enumerate(output.shape):
        if d_out == 1:
            continue
        dims = [s[axis] for s in shapes] + [d_out]
        pattern = tuple(d == 1 for d in dims[:-1])
        if pattern == previous:
            groups[-1] = [g * d for g, d in zip(groups[-1], dims)]
        else:
            groups.append(dims)
        previous = pattern
    if len(groups) > RANK:
        raise UnsupportedOpError(f"{graph.describe(op)}: broadcasting is supported up to {RANK}-D (after merging "
                                 f"dimensions), shapes are {[list(t.shape) for t in inputs]}")
    groups = [[1] * 4] * (RANK - len(groups)) + groups  # [condition, x, y, output] sizes per dimension
    columns = [tuple(g[i] for g in groups) for i in range(4)]
    return [list(columns[3]), *(_strides(c) for c in columns[:3])]


@lowering("SELECT_V2", activations=QUANTIZED)
def lower_select_v2(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 3 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected three inputs (condition, x, y) and one output")
    condition, x, y = (graph.tensor(i) for i in op.inputs)
    output = graph.tensor(op.outputs[0])
    if condition.dtype != "bool":
        raise UnsupportedOpError(f"{graph.describe(op)}: condition '{condition.name}' is {condition.dtype}; "
                                 "TFLite-Micro takes bool only")
    dtype = require_dtype(graph, op, QUANTIZED, op.inputs[1], op.inputs[2], op.outputs[0])
    geometry = select_geometry(graph, op, (condition, x, y), output)
    names = ("output_shape", "condition_strides", "x_strides", "y_strides")
    constants = tuple(ConstArg(name, "int32_t", np.array(values, dtype=np.int32))
                      for name, values in zip(names, geometry))
    kernel = "te_select_v2_s16" if dtype == "int16" else "te_select_v2_s8"
    return KernelCall(function=kernel, header=f"{kernel}.h", params_type="te_select_v2_params",
                      params={name: f"@{name}" for name in names},
                      args=(TensorArg(condition.index), TensorArg(x.index), TensorArg(y.index),
                            TensorArg(output.index)),
                      constants=constants)
