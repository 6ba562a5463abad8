"""REVERSE_V2: the input with the order of its elements along some axes reversed (the backward
half of Keras Bidirectional(..., return_sequences=True), tf.reverse).

As TFLite-Micro's reverse.cc: a constant 1-D int32 axis list (negative axes counted from the
end), the axes contiguous once sorted (it refuses others), the output the input's shape and
type. Reversing a run of neighbouring axes reverses their flattened index, so the input is
[outer, middle, inner] with middle the product of the reversed axes: te_reverse_s8 copies
`inner` bytes at a time, the middle blocks in reverse order. Bytes are copied unchanged, as
TFLite-Micro does whatever the two tensors' quantization; an int16 tensor's (16x8 mode) as bytes,
its blocks twice as long.
"""

from __future__ import annotations

import math

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import QUANTIZED, require_dtype
from tinyedge.ops._strided import constant_ints

MAX_AXES = 8  # TFLite-Micro copies the axes into an array of 8


@lowering("REVERSE_V2", activations=QUANTIZED)
def lower_reverse(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input, an axis list and one output")
    require_dtype(graph, op, QUANTIZED, op.inputs[0], op.outputs[0])
    input_, output, axis = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0]), graph.tensor(op.inputs[1])
    axes = constant_ints(graph, op, axis, "axis list")
    rank = len(input_.shape)
    if len(axis.shape) != 1 or len(axes) > min(rank, MAX_AXES):
        raise UnsupportedOpError(f"{graph.describe(op)}: the axis list must be 1-D with at most {rank} axes")
    resolved = sorted(a + rank if a < 0 else a for a in axes)
    if any(not 0 <= a < rank for a in resolved):
        raise UnsupportedOpError(f"{graph.describe(op)}: axes {axes} are not axes of a {rank}-D input")
    if any(b != a + 1 for a, b in zip(resolved, resolved[1:])):
        raise UnsupportedOpError(f"{graph.describe(op)}: axes {axes} are not neighbours; TFLite-Micro reverses only "
                                 "a run of neighbouring axes")
    if output.shape != input_.shape:
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} is not the input's shape "
                                 f"{list(input_.shape)}")
    first, last = (resolved[0], resolved[-1] + 1) if resolved else (rank, rank)
    params: dict[str, ParamValue] = {"outer": math.prod(input_.shape[:first]),
                                     "middle": math.prod(input_.shape[first:last]),
                                     "inner": math.prod(input_.shape[last:]) * np.dtype(input_.dtype).itemsize}
    args = (TensorArg(input_.index, view="int8_t"), TensorArg(output.index, view="int8_t"))
    return KernelCall(function="te_reverse_s8", header="te_reverse_s8.h", params_type="te_reverse_params",
                      params=params, args=args)
