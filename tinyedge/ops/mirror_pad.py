"""MIRROR_PAD: padding that mirrors the input at its edges, REFLECT (edge not repeated) or
SYMMETRIC (edge repeated) (tf.pad(mode="REFLECT"), reflection padding layers).

TFLite-Micro's mirror_pad.cc maps each output coordinate to an input coordinate per axis
(GetInputDimension, offset 1 for REFLECT and 0 for SYMMETRIC) and copies the element. Those
maps are worked out here with the same arithmetic, as one table of input element offsets per
axis, so the kernel only adds five offsets per element. Paddings must be a constant [rank, 2]
int32/int64 tensor (TFLite-Micro reads them each call; the converter makes them constant), the
output shape the input's plus the paddings, and every mirrored coordinate inside the input:
larger paddings TFLite-Micro would read past the input with; tinyedge refuses them.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import ConstArg, KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import require_int8
from tinyedge.ops._strided import RANK, constant_ints, extended, int32_array, row_major_strides

MODES = {0: "REFLECT", 1: "SYMMETRIC"}  # the schema's MirrorPadMode


def input_coordinate(padded: int, left: int, size: int, offset: int) -> int:
    """GetInputDimension: the input coordinate an output coordinate along one axis copies."""
    if padded < left:
        original = left + offset - 1
        return original - min(padded, original - offset)
    padded -= left
    if padded >= size:
        padded -= size
        original = size - (1 + offset)
        return original - min(padded, original)
    return padded


@lowering("MIRROR_PAD")
def lower_mirror_pad(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input, paddings and one output")
    require_int8(graph, op, op.inputs[0], op.outputs[0])
    input_, paddings, output = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    rank = len(input_.shape)
    if not 1 <= rank <= RANK:
        raise UnsupportedOpError(f"{graph.describe(op)}: tinyedge mirror-pads 1-D to {RANK}-D tensors, not "
                                 f"{list(input_.shape)}")
    pads = constant_ints(graph, op, paddings, "paddings", ("int32", "int64"))
    if paddings.shape != (rank, 2):
        raise UnsupportedOpError(f"{graph.describe(op)}: the paddings must be [{rank}, 2], not "
                                 f"{list(paddings.shape)}")
    pairs = [(pads[2 * d], pads[2 * d + 1]) for d in range(rank)]
    if output.shape != tuple(size + left + right for size, (left, right) in zip(input_.shape, pairs)):
        raise UnsupportedOpError(f"{graph.describe(op)}: paddings {pairs} do not take input {list(input_.shape)} "
                                 f"to output {list(output.shape)}")
    mode = MODES.get(op.options.get("mode", 0))
    if mode is None:
        raise UnsupportedOpError(f"{graph.describe(op)}: unknown mirror padding mode {op.options.get('mode')}")
    offset = 1 if mode == "REFLECT" else 0  # REFLECT does not repeat the edge element, SYMMETRIC does
    strides = row_major_strides(input_.shape)
    tables = []
    for axis, (size, (left, _right)) in enumerate(zip(input_.shape, pairs)):
        coordinates = [input_coordinate(i, left, size, offset) for i in range(output.shape[axis])]
        if any(not 0 <= c < size for c in coordinates):
            raise UnsupportedOpError(f"{graph.describe(op)}: paddings {list(pairs[axis])} are too wide to mirror "
                                     f"axis {axis} of {size} elements in {mode} mode")
        tables.append([c * strides[axis] for c in coordinates])
    tables = [[0]] * (RANK - rank) + tables  # the axes added to reach 5-D have one element, offset 0
    params: dict[str, ParamValue] = {"output_shape": "@output_shape", "input_offsets": "@input_offsets"}
    constants = (ConstArg("output_shape", "int32_t", int32_array(extended(output.shape))),
                 ConstArg("input_offsets", "int32_t", np.concatenate([int32_array(t) for t in tables])))
    return KernelCall(function="te_mirror_pad_s8", header="te_mirror_pad_s8.h", params_type="te_mirror_pad_params",
                      params=params, args=(TensorArg(input_.index), TensorArg(output.index)), macs=0,
                      constants=constants)
