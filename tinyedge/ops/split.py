"""SPLIT and SPLIT_V: the input cut along one axis into several outputs, equal (SPLIT,
tf.split into N, keras.ops.split) or of given sizes (SPLIT_V, tf.split with sizes).

As TFLite-Micro's split.cc and split_v.cc: a constant int32 axis (negative counted from the
end); each output takes, per outer slice, its size along the axis times the inner size, in
output order; the sizes come from the output shapes (SPLIT_V's size_splits operand is only
read by the converter). The bytes are copied unchanged. tinyedge checks what TFLite-Micro
only asserts in debug builds: every output has the input's shape but along the axis, and the
sizes add up to the input's. int16 tensors (16x8 mode) are cut as bytes, every size doubled.
"""

from __future__ import annotations

import math

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import ConstArg, KernelCall, ParamValue, TensorArg, TensorListArg, lowering
from tinyedge.ops._quant import QUANTIZED, require_dtype
from tinyedge.ops._strided import constant_ints


def split_call(graph: Graph, op: Operator, input_: Tensor, outputs: list[Tensor], axis: int,
               copy_sizes: list[int]) -> KernelCall:
    """te_split_s8 writing each output's `copy_sizes[i]` elements per slice before `axis` (UNPACK uses it too),
    as bytes."""
    copy_sizes = [size * np.dtype(input_.dtype).itemsize for size in copy_sizes]
    params: dict[str, ParamValue] = {"num_outputs": len(outputs), "outer_size": math.prod(input_.shape[:axis]),
                                     "copy_sizes": "@copy_sizes"}
    return KernelCall(function="te_split_s8", header="te_split_s8.h", params_type="te_split_params", params=params,
                      args=(TensorArg(input_.index, view="int8_t"),
                            TensorListArg(tuple(t.index for t in outputs), writable=True, view="int8_t")),
                      macs=0, constants=(ConstArg("copy_sizes", "int32_t", np.array(copy_sizes, dtype=np.int32)),))


@lowering("SPLIT", "SPLIT_V", activations=QUANTIZED)
def lower_split(graph: Graph, op: Operator) -> KernelCall:
    expected_inputs = 2 if op.opcode == "SPLIT" else 3
    if len(op.inputs) != expected_inputs or not op.outputs:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected {expected_inputs} inputs and at least one output")
    input_index, axis_index = (op.inputs[1], op.inputs[0]) if op.opcode == "SPLIT" else (op.inputs[0], op.inputs[2])
    require_dtype(graph, op, QUANTIZED, input_index, *op.outputs)
    input_, outputs = graph.tensor(input_index), [graph.tensor(i) for i in op.outputs]
    axis_values = constant_ints(graph, op, graph.tensor(axis_index), "axis")
    rank = len(input_.shape)
    axis = axis_values[0] if len(axis_values) == 1 else rank  # rank: refused just below
    axis += rank if axis < 0 else 0
    if not 0 <= axis < rank:
        raise UnsupportedOpError(f"{graph.describe(op)}: axis {axis_values} is not one axis of input "
                                 f"{list(input_.shape)}")
    for output in outputs:
        if len(output.shape) != rank or any(o != i for d, (o, i) in enumerate(zip(output.shape, input_.shape))
                                            if d != axis):
            raise UnsupportedOpError(f"{graph.describe(op)}: output '{output.name}' {list(output.shape)} is not a "
                                     f"piece of input {list(input_.shape)} along axis {axis}")
    if sum(t.shape[axis] for t in outputs) != input_.shape[axis]:
        raise UnsupportedOpError(f"{graph.describe(op)}: the outputs do not add up to input {list(input_.shape)} "
                                 f"along axis {axis}")
    if op.opcode == "SPLIT" and len({t.shape[axis] for t in outputs}) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: SPLIT makes pieces of one size, not "
                                 f"{[t.shape[axis] for t in outputs]}")
    inner = math.prod(input_.shape[axis + 1:])
    return split_call(graph, op, input_, outputs, axis, [t.shape[axis] * inner for t in outputs])
