"""GATHER: slices of the input picked by int32 positions along one axis (keras.ops.take,
tf.gather, x[:, [2, 0]]).

As TFLite-Micro's GatherPrepare and Gather: int32 positions, axis and batch_dims (negative
ones counted from the end) with batch_dims <= axis, batch_dims < the input's rank and <= the
positions' rank, the leading batch_dims dimensions of input and positions equal; the output
shape is input[:axis] + positions[batch_dims:] + input[axis + 1:]. Bytes are copied
unchanged. Constant positions are checked to lie inside the axis here; positions computed
at run time must, as TFLite-Micro assumes too.
"""

from __future__ import annotations

import math

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import require_int8


@lowering("GATHER")
def lower_gather(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input, positions and one output")
    require_int8(graph, op, op.inputs[0], op.outputs[0])
    input_, positions, output = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    if positions.dtype != "int32":
        raise UnsupportedOpError(f"{graph.describe(op)}: positions '{positions.name}' are {positions.dtype}; "
                                 "TFLite-Micro gathers with int32 positions only")
    rank, positions_rank = len(input_.shape), len(positions.shape)
    axis = int(op.options.get("axis", 0))
    axis += rank if axis < 0 else 0
    batch_dims = int(op.options.get("batchDims", 0))
    batch_dims += positions_rank if batch_dims < 0 else 0
    if not (0 <= axis < rank and 0 <= batch_dims <= axis and batch_dims < rank and batch_dims <= positions_rank
            and input_.shape[:batch_dims] == positions.shape[:batch_dims]):
        raise UnsupportedOpError(f"{graph.describe(op)}: axis {op.options.get('axis', 0)} and batch_dims "
                                 f"{op.options.get('batchDims', 0)} do not fit input {list(input_.shape)} and "
                                 f"positions {list(positions.shape)} (TFLite-Micro refuses them)")
    expected = (*input_.shape[:axis], *positions.shape[batch_dims:], *input_.shape[axis + 1:])
    if output.shape != expected:
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} is not the gathered "
                                 f"{list(expected)}")
    axis_size = input_.shape[axis]
    if positions.data is not None and ((positions.data < 0) | (positions.data >= axis_size)).any():
        raise UnsupportedOpError(f"{graph.describe(op)}: positions {positions.data.reshape(-1).tolist()} leave "
                                 f"axis {axis} of {axis_size} elements")
    params: dict[str, ParamValue] = {
        "batch_size": math.prod(input_.shape[:batch_dims]), "outer_size": math.prod(input_.shape[batch_dims:axis]),
        "axis_size": axis_size, "coord_size": math.prod(positions.shape[batch_dims:]),
        "inner_size": math.prod(input_.shape[axis + 1:]),
    }
    return KernelCall(function="te_gather_s8", header="te_gather_s8.h", params_type="te_gather_params",
                      params=params, args=(TensorArg(input_.index), TensorArg(positions.index),
                                           TensorArg(output.index)), macs=0)
