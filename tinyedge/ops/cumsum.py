"""CUMSUM: int8 running sums along one axis (keras.ops.cumsum, tf.math.cumsum with exclusive and
reverse).

Parameters follow TFLite-Micro's cumsum.cc CalculateOpData: int32 axis tensor of one element,
input and output of one shape; the input rescaled to twice its scale with 20 bits of headroom
(a multiplier of exactly 1/2), each running sum back to the output scale, both multipliers from
QuantizeMultiplierSmallerThanOneExp (so the output factor must lie in (0, 1)); no fused
activation. tinyedge needs the axis when it compiles, so the axis tensor must be constant.
As the reference, every running sum starts from the rescaled input offset (its
`accumulator = 0` is `input1_offset`).
"""

from __future__ import annotations

import math

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._binary import multiplier_smaller_than_one
from tinyedge.ops._quant import INT8_MAX, INT8_MIN, require_int8

LEFT_SHIFT = 20  # TFLite-Micro's kCumSumIntegerShift


@lowering("CUMSUM")
def lower_cumsum(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input, an axis and one output")
    require_int8(graph, op, op.inputs[0], op.outputs[0])
    input_, axis_tensor, output = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    for tensor in (input_, output):
        if tensor.quant is None or tensor.quant.per_channel:
            raise UnsupportedOpError(f"{graph.describe(op)}: tensor '{tensor.name}' must be quantized per tensor")
    if axis_tensor.dtype != "int32" or axis_tensor.size != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: the axis '{axis_tensor.name}' must be one int32 "
                                 "(TFLite-Micro refuses others)")
    if axis_tensor.data is None:
        raise UnsupportedOpError(f"{graph.describe(op)}: the axis '{axis_tensor.name}' is computed at run time; "
                                 "tinyedge needs a constant axis")
    rank = len(input_.shape)
    if rank < 1 or output.shape != input_.shape:
        raise UnsupportedOpError(f"{graph.describe(op)}: input {list(input_.shape)} and output "
                                 f"{list(output.shape)} must have one shape of rank 1 or more")
    axis = int(np.asarray(axis_tensor.data).reshape(-1)[0])
    if not -rank <= axis < rank:
        raise UnsupportedOpError(f"{graph.describe(op)}: axis {axis} is outside the input's {rank} dimensions "
                                 "(TFLite-Micro fails on it)")
    axis += rank if axis < 0 else 0

    # Scales are float32 in the model; TFLite-Micro widens them to double.
    input_scale = float(np.float32(input_.scale))
    twice_input_scale = 2.0 * input_scale
    input_multiplier, input_shift = multiplier_smaller_than_one(graph, op, input_scale / twice_input_scale, "input")
    output_multiplier, output_shift = multiplier_smaller_than_one(
        graph, op, twice_input_scale / ((1 << LEFT_SHIFT) * float(np.float32(output.scale))), "output")
    params: dict[str, ParamValue] = {
        "outer_size": math.prod(input_.shape[:axis]), "axis_size": input_.shape[axis],
        "inner_size": math.prod(input_.shape[axis + 1:]),
        "exclusive": int(bool(op.options.get("exclusive", False))),
        "reverse": int(bool(op.options.get("reverse", False))),
        "input_offset": -input_.zero_point, "left_shift": LEFT_SHIFT,
        "input_multiplier": input_multiplier, "input_shift": input_shift,
        "output_multiplier": output_multiplier, "output_shift": output_shift,
        "output_offset": output.zero_point, "activation_min": INT8_MIN, "activation_max": INT8_MAX,
    }
    return KernelCall(function="te_cumsum_s8", header="te_cumsum_s8.h", params_type="te_cumsum_params",
                      params=params, args=(TensorArg(input_.index), TensorArg(output.index)), macs=0)
