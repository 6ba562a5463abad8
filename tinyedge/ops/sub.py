"""SUB: int8 element-wise subtraction with broadcasting up to 4-D and a fused activation.

Parameters follow TFLite-Micro's CalculateOpDataSub (sub.cc): as for ADD, both inputs are
rescaled to twice the larger input scale with 20 bits of headroom, every multiplier is
computed in double (the installed tflite_micro does; newer sources divide in float32, which
changes bytes: see tests/ops/test_sub.py) and quantized with
QuantizeMultiplierSmallerThanOneExp. Large outputs use te_sub_table_s8, the same bytes with
each input's rescaling looked up (see tinyedge.ops._binary.table_variant_params).

With int16 activations (16x8 mode) the headroom is 15 bits and te_sub_s16 runs: TFLite-Micro's
int16 SUB is the same general rescaling (no power-of-two shortcut), any zero points.
"""

from __future__ import annotations

from dataclasses import replace

from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, lowering
from tinyedge.ops._binary import (
    TABLE_SCRATCH,
    binary_kernel_call,
    binary_operands,
    multiplier_smaller_than_one,
    table_variant_params,
)
from tinyedge.ops._quant import QUANTIZED, fused_activation_range
from tinyedge.ops.conv import NoFastKernel

LEFT_SHIFT = 20  # headroom bits for int8 inputs
LEFT_SHIFT_INT16 = 15  # for int16 inputs: 65535 << 15 < 2^31
SUB_TABLE = "te_sub_table_s8"  # the same bytes through per-input tables, from TABLE_MIN_ELEMENTS on


@lowering("SUB", activations=QUANTIZED)
def lower_sub(graph: Graph, op: Operator) -> KernelCall:
    operands = binary_operands(graph, op, dtypes=QUANTIZED)
    in1, in2, output = operands.input1, operands.input2, operands.output
    int16 = output.dtype == "int16"
    left_shift = LEFT_SHIFT_INT16 if int16 else LEFT_SHIFT
    twice_max_input_scale = 2.0 * max(float(in1.scale), float(in2.scale))
    in1_multiplier, in1_shift = multiplier_smaller_than_one(graph, op, in1.scale / twice_max_input_scale, "input 1")
    in2_multiplier, in2_shift = multiplier_smaller_than_one(graph, op, in2.scale / twice_max_input_scale, "input 2")
    out_multiplier, out_shift = multiplier_smaller_than_one(
        graph, op, twice_max_input_scale / ((1 << left_shift) * float(output.scale)), "output")
    act_min, act_max = fused_activation_range(graph, op, output)
    params: dict[str, ParamValue] = {
        "input1_offset": -in1.zero_point, "input2_offset": -in2.zero_point, "left_shift": left_shift,
        "input1_multiplier": in1_multiplier, "input1_shift": in1_shift,
        "input2_multiplier": in2_multiplier, "input2_shift": in2_shift,
        "output_multiplier": out_multiplier, "output_shift": out_shift,
        "output_offset": output.zero_point, "activation_min": act_min, "activation_max": act_max,
    }
    if int16:
        return binary_kernel_call(graph, op, operands, "te_sub_s16", "te_sub_params", params)
    table = table_variant_params(operands, params)  # |table1[x] - table2[y]| <= 255 * 2^20 < 2^30
    if not isinstance(table, NoFastKernel):
        return binary_kernel_call(graph, op, operands, SUB_TABLE, "te_sub_table_params", table, "te_sub_s8.h",
                                  TABLE_SCRATCH)
    return replace(binary_kernel_call(graph, op, operands, "te_sub_s8", "te_sub_params", params), fallback=table.reason)
