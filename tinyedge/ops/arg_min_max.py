"""ARG_MAX and ARG_MIN: the position of the largest / smallest int8 value along one axis
(tf.math.argmax / argmin with output_type=tf.int32).

As TFLite-Micro's arg_min_max.cc (no Prepare; Eval checks the types): an int32 axis (one
value, negative counted from the end) and an int32 output; TFLite-Micro refuses int64
positions (TensorFlow's default output_type), and so does tinyedge. The raw int8 bytes are
compared (quantization does not change the order) and the first position wins a tie, as
reference_ops::ArgMinMax with std::greater / std::less.
"""

from __future__ import annotations

import math

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import require_int8

_KERNELS = {"ARG_MAX": "te_arg_max", "ARG_MIN": "te_arg_min"}


@lowering("ARG_MAX", "ARG_MIN")
def lower_arg_min_max(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input, an axis and one output")
    require_int8(graph, op, op.inputs[0])
    input_, axis, output = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    if output.dtype != "int32":
        raise UnsupportedOpError(f"{graph.describe(op)}: positions of type {output.dtype}; TFLite-Micro writes int32 "
                                 "positions only (give tf.math.argmax/argmin output_type=tf.int32)")
    if axis.dtype != "int32" or axis.data is None or axis.size != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: the axis '{axis.name}' must be one constant int32 value")
    rank = len(input_.shape)
    dimension = int(axis.data.reshape(-1)[0])
    dimension += rank if dimension < 0 else 0
    if not 0 <= dimension < rank:
        raise UnsupportedOpError(f"{graph.describe(op)}: axis {int(axis.data.reshape(-1)[0])} is out of range for a "
                                 f"{rank}-D input")
    expected = input_.shape[:dimension] + input_.shape[dimension + 1:]
    if output.shape != expected:
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} is not the input "
                                 f"{list(input_.shape)} without axis {dimension}")
    params: dict[str, ParamValue] = {
        "outer_size": math.prod(input_.shape[:dimension]), "axis_size": input_.shape[dimension],
        "inner_size": math.prod(input_.shape[dimension + 1:]),
    }
    kernel = _KERNELS[op.opcode]
    return KernelCall(function=f"{kernel}_s8", header=f"{kernel}_s8.h", params_type=f"{kernel}_params", params=params,
                      args=(TensorArg(input_.index), TensorArg(output.index)))
