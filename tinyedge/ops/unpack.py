"""UNPACK: the input cut into its slices along one axis, which disappears
(tf.unstack, keras.ops.unstack).

As TFLite-Micro's unpack.cc: `num` outputs (NumOutputs must agree), the axis option
(negative counted from the end); output i holds, per outer slice, the inner elements of slice
i. That is SPLIT into pieces of size 1 with the axis dropped, so te_split_s8 runs it. Bytes
are copied unchanged (an int16 tensor's as bytes, 16x8 mode).
"""

from __future__ import annotations

import math

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, lowering
from tinyedge.ops._quant import QUANTIZED, require_dtype
from tinyedge.ops.split import split_call


@lowering("UNPACK", activations=QUANTIZED)
def lower_unpack(graph: Graph, op: Operator) -> KernelCall:
    count = int(op.options.get("num", len(op.outputs)))
    if len(op.inputs) != 1 or not op.outputs or count != len(op.outputs):
        raise UnsupportedOpError(f"{graph.describe(op)}: expected one input and num ({count}) outputs, not "
                                 f"{len(op.outputs)}")
    require_dtype(graph, op, QUANTIZED, op.inputs[0], *op.outputs)
    input_, outputs = graph.tensor(op.inputs[0]), [graph.tensor(i) for i in op.outputs]
    rank = len(input_.shape)
    axis = int(op.options.get("axis", 0))
    axis += rank if axis < 0 else 0
    if not 0 <= axis < rank or input_.shape[axis] != count:
        raise UnsupportedOpError(f"{graph.describe(op)}: input {list(input_.shape)} does not unpack into {count} "
                                 f"along axis {op.options.get('axis', 0)}")
    piece = input_.shape[:axis] + input_.shape[axis + 1:]
    if any(t.shape != piece for t in outputs):
        raise UnsupportedOpError(f"{graph.describe(op)}: every output must be {list(piece)}, not "
                                 f"{[list(t.shape) for t in outputs]}")
    return split_call(graph, op, input_, outputs, axis, [math.prod(input_.shape[axis + 1:])] * count)
