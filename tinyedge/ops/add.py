"""ADD: int8 element-wise addition with broadcasting up to 4-D and a fused activation.

Parameters follow TFLite-Micro's CalculateOpDataAdd (add_common.cc): both inputs are
rescaled to twice the larger input scale with 20 bits of headroom, every multiplier is
computed in double and quantized with QuantizeMultiplierSmallerThanOneExp. Broadcasting
as all binary element-wise ops do it (tinyedge.ops._binary).

With int16 activations (16x8 mode) the headroom is 15 bits and te_add_s16 runs: TFLite-Micro
takes its general rescaling path for int16 (no power-of-two shortcut), any zero points.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import Arg, ConstArg, KernelCall, ParamValue, ScratchArg, TensorArg, lowering
from tinyedge.ops._binary import broadcast_geometry, multiplier_smaller_than_one
from tinyedge.ops._quant import QUANTIZED, fused_activation_range, require_dtype
from tinyedge.ops.conv import requested_fallback, variants_enabled

LEFT_SHIFT = {"int8": 20, "int16": 15}  # headroom bits: (input + offset) << LEFT_SHIFT fits int32
# te_add_table_s8 fills two 256-entry tables per call (about 5,300 instructions on nrf52840)
# and then costs 28 instructions an element against te_add_s8's 47 (both with te_add_requantize):
# measured break-even near 280 elements (256: 12.5k against 12.2k; 512: 19.6k against 24.2k).
ADD_TABLE = "te_add_table_s8"
ADD_TABLE_MIN_ELEMENTS = 320
ADD_TABLE_BYTES = 2 * 256 * 4


@lowering("ADD", activations=QUANTIZED)
def lower_add(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected two inputs and one output")
    dtype = require_dtype(graph, op, QUANTIZED, op.inputs[0], op.inputs[1], op.outputs[0])
    left_shift = LEFT_SHIFT[dtype]
    in1, in2, output = (graph.tensor(i) for i in (*op.inputs, op.outputs[0]))
    for tensor in (in1, in2, output):
        if tensor.quant is None or tensor.quant.per_channel:
            raise UnsupportedOpError(f"{graph.describe(op)}: tensor '{tensor.name}' must be quantized per tensor")
    out_shape, strides1, strides2 = broadcast_geometry(graph, op, in1, in2, output)

    # Scales are float32 in the model; TFLite-Micro widens them to double before dividing.
    twice_max_input_scale = 2.0 * float(max(np.float32(in1.scale), np.float32(in2.scale)))
    in1_multiplier, in1_shift = multiplier_smaller_than_one(
        graph, op, float(in1.scale) / twice_max_input_scale, "input 1")
    in2_multiplier, in2_shift = multiplier_smaller_than_one(
        graph, op, float(in2.scale) / twice_max_input_scale, "input 2")
    out_multiplier, out_shift = multiplier_smaller_than_one(
        graph, op, twice_max_input_scale / ((1 << left_shift) * float(output.scale)), "output")
    act_min, act_max = fused_activation_range(graph, op, output)

    params: dict[str, ParamValue] = {
        "input1_offset": -in1.zero_point, "input2_offset": -in2.zero_point, "left_shift": left_shift,
        "input1_multiplier": in1_multiplier, "input1_shift": in1_shift,
        "input2_multiplier": in2_multiplier, "input2_shift": in2_shift,
        "output_multiplier": out_multiplier, "output_shift": out_shift,
        "output_offset": output.zero_point, "activation_min": act_min, "activation_max": act_max,
        "output_shape": "@output_shape", "input1_strides": "@input1_strides", "input2_strides": "@input2_strides",
    }
    constants = (ConstArg("output_shape", "int32_t", np.array(out_shape, dtype=np.int32)),
                 ConstArg("input1_strides", "int32_t", np.array(strides1, dtype=np.int32)),
                 ConstArg("input2_strides", "int32_t", np.array(strides2, dtype=np.int32)))
    # The output may overwrite input 1 when input 1 is not broadcast (it then has the
    # output's layout, and each element is read before it is written).
    in_place = in1.size == output.size
    args: tuple[Arg, ...] = (TensorArg(in1.index), TensorArg(in2.index), TensorArg(output.index))
    if dtype == "int16":
        return KernelCall(function="te_add_s16", header="te_add_s16.h", params_type="te_add_params", params=params,
                          args=args, macs=0, in_place=in_place, constants=constants)
    function = "te_add_s8"
    if variants_enabled() and output.size >= ADD_TABLE_MIN_ELEMENTS:
        function, args = ADD_TABLE, (*args, ScratchArg(ADD_TABLE_BYTES, "int32_t"))
    fallback = requested_fallback() if output.size >= ADD_TABLE_MIN_ELEMENTS else None
    return KernelCall(function=function, header="te_add_s8.h", params_type="te_add_params", params=params,
                      args=args, macs=0, in_place=in_place, constants=constants, fallback=fallback)
