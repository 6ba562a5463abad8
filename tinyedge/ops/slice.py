"""SLICE: a box of the input, `size` elements from `begin` along each axis (tf.slice).

As TFLite-Micro's SlicePrepare and reference_ops::Slice: inputs of up to 5 dimensions,
begin and size constant 1-D int32 or int64 tensors of one value per axis, a size of -1
meaning "to the end". TFLite-Micro neither clamps nor checks the box: tinyedge refuses one
that leaves the input. The copy is te_strided_slice_s8's, every stride 1 (an int16 tensor's
as bytes, 16x8 mode).
"""

from __future__ import annotations

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, lowering
from tinyedge.ops._quant import QUANTIZED, require_dtype
from tinyedge.ops._strided import RANK, constant_ints, row_major_strides
from tinyedge.ops.strided_slice import strided_copy


@lowering("SLICE", activations=QUANTIZED)
def lower_slice(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 3 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input, begin, size and one output")
    require_dtype(graph, op, QUANTIZED, op.inputs[0], op.outputs[0])
    input_, output = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    rank = len(input_.shape)
    if rank > RANK:
        raise UnsupportedOpError(f"{graph.describe(op)}: TFLite-Micro slices up to {RANK}-D tensors, not "
                                 f"{list(input_.shape)}")
    begin, size = (constant_ints(graph, op, graph.tensor(i), what, ("int32", "int64"))
                   for i, what in zip(op.inputs[1:], ("begin", "size")))
    if not len(begin) == len(size) == rank:
        raise UnsupportedOpError(f"{graph.describe(op)}: begin and size need {rank} values each")
    stop = [dim if length == -1 else start + length for dim, start, length in zip(input_.shape, begin, size)]
    if any(start < 0 or end < start or end > dim for start, end, dim in zip(begin, stop, input_.shape)):
        raise UnsupportedOpError(f"{graph.describe(op)}: begin {begin} and size {size} reach outside input "
                                 f"{list(input_.shape)}")
    counts = [end - start for start, end in zip(begin, stop)]
    if tuple(counts) != output.shape:
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} is not the {counts} sliced")
    strides = row_major_strides(input_.shape)
    return strided_copy(graph, op, sum(b * s for b, s in zip(begin, strides)), counts, strides)
