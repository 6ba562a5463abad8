"""FILL: an int8 tensor of a constant shape, every element the raw int8 value of a scalar.

TFLite-Micro (fill.cc) requires what its Prepare checks: the value a scalar (rank 0) of the
output's type, the dims operand constant, 1-D, of an integer type, and equal to the output's
shape. tinyedge refuses anything else. The value's byte is copied as it is (no requantization),
so it may be a model input or computed by an earlier op.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, TensorArg, lowering
from tinyedge.ops._quant import require_int8

_DIMS_TYPES = ("int8", "int16", "int32", "int64")


@lowering("FILL")
def lower_fill(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected the dims and value inputs and one output")
    dims, value, output = (graph.tensor(i) for i in (*op.inputs, op.outputs[0]))
    require_int8(graph, op, op.inputs[1], op.outputs[0])
    if len(value.shape) != 0:
        raise UnsupportedOpError(f"{graph.describe(op)}: the value has shape {list(value.shape)}; TFLite-Micro "
                                 "requires a scalar")
    if dims.data is None or dims.dtype not in _DIMS_TYPES or len(dims.shape) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: the dims operand must be a constant 1-D integer tensor, "
                                 "as TFLite-Micro requires")
    if [int(d) for d in np.asarray(dims.data).reshape(-1)] != list(output.shape):
        raise UnsupportedOpError(f"{graph.describe(op)}: dims {np.asarray(dims.data).tolist()} differ from the "
                                 f"output shape {list(output.shape)}; TFLite-Micro refuses it")
    return KernelCall(function="te_fill_s8", header="te_fill_s8.h", params_type="te_fill_params",
                      params={"size": output.size}, args=(TensorArg(value.index), TensorArg(output.index)))
