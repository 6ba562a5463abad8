"""SQUARED_DIFFERENCE: int8 (input1 - input2)^2 element-wise with broadcasting up to 4-D.

Parameters follow TFLite-Micro's PrepareQuantized (squared_difference.cc): both inputs are
rescaled to twice the larger input scale with 7 bits of headroom (so the square of their
difference fits in int32), in double; the output multiplier, that scale squared over
2^14 times the output scale, goes through QuantizeMultiplier and may exceed 1. The op has no
fused activation: the output is clamped to the int8 range. Large outputs use
te_squared_difference_table_s8, the same bytes with each input's rescaling looked up (see
tinyedge.ops._binary.table_variant_params).

With int16 activations (16x8 mode) TFLite-Micro requires zero point 0 everywhere and uses no
headroom (left shift 0); te_squared_difference_s16 runs the same arithmetic with int16 clamps.
"""

from __future__ import annotations

from dataclasses import replace

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, lowering
from tinyedge.ops._binary import (
    TABLE_SCRATCH,
    binary_kernel_call,
    binary_operands,
    multiplier_smaller_than_one,
    table_variant_params,
)
from tinyedge.ops._quant import QUANTIZED, quantize_multiplier
from tinyedge.ops.conv import NoFastKernel

LEFT_SHIFT = 7  # headroom bits for int8 inputs: (255 << 7)^2 still fits in int32
LEFT_SHIFT_INT16 = 0  # none for int16 inputs: 32767^2 already nearly fills int32
SQUARED_DIFFERENCE_TABLE = "te_squared_difference_table_s8"  # per-input tables, from TABLE_MIN_ELEMENTS on


@lowering("SQUARED_DIFFERENCE", activations=QUANTIZED)
def lower_squared_difference(graph: Graph, op: Operator) -> KernelCall:
    operands = binary_operands(graph, op, dtypes=QUANTIZED)
    in1, in2, output = operands.input1, operands.input2, operands.output
    int16 = output.dtype == "int16"
    left_shift = LEFT_SHIFT_INT16 if int16 else LEFT_SHIFT
    if int16 and (in1.zero_point, in2.zero_point, output.zero_point) != (0, 0, 0):
        raise UnsupportedOpError(f"{graph.describe(op)}: an int16 SQUARED_DIFFERENCE needs zero point 0 on its "
                                 "inputs and output (TFLite-Micro refuses others)")
    twice_max_input_scale = 2.0 * max(float(in1.scale), float(in2.scale))
    in1_multiplier, in1_shift = multiplier_smaller_than_one(graph, op, in1.scale / twice_max_input_scale, "input 1")
    in2_multiplier, in2_shift = multiplier_smaller_than_one(graph, op, in2.scale / twice_max_input_scale, "input 2")
    # (1 << 14) * output scale is a float32 product in TFLite-Micro; a power of two times a float32 is exact.
    out_multiplier, out_shift = quantize_multiplier(
        twice_max_input_scale * twice_max_input_scale / ((1 << 2 * left_shift) * float(output.scale)))
    params: dict[str, ParamValue] = {
        "input1_offset": -in1.zero_point, "input2_offset": -in2.zero_point, "left_shift": left_shift,
        "input1_multiplier": in1_multiplier, "input1_shift": in1_shift,
        "input2_multiplier": in2_multiplier, "input2_shift": in2_shift,
        "output_multiplier": out_multiplier, "output_shift": out_shift, "output_offset": output.zero_point,
    }
    if int16:
        return binary_kernel_call(graph, op, operands, "te_squared_difference_s16", "te_squared_difference_params",
                                  params)
    # |a - b| <= 2 * 255 * 2^7 / 2 = 32640, so the square stays below 2^30 as the table variant needs.
    table = table_variant_params(operands, params)
    if not isinstance(table, NoFastKernel):
        return binary_kernel_call(graph, op, operands, SQUARED_DIFFERENCE_TABLE, "te_squared_difference_table_params",
                                  table, "te_squared_difference_s8.h", TABLE_SCRATCH)
    call = binary_kernel_call(graph, op, operands, "te_squared_difference_s8", "te_squared_difference_params", params)
    return replace(call, fallback=table.reason)
