"""SOFTMAX: int8 in, int8 out, over the last axis, any beta.

TFLite-Micro runs int8 -> int8 softmax with reference_ops::Softmax, gemmlowp fixed point
throughout (no lookup table: TFLite-Micro builds tables only for int16 softmax).
Parameters follow CalculateSoftmaxParams (softmax_common.cc), in double as there:

- input_multiplier, input_left_shift = QuantizeMultiplierGreaterThanOne of
  min(beta * input_scale * 2^(31 - 5), 2^31 - 1) (PreprocessSoftmaxScaling; the 5 is
  the integer bits of the scaled difference, Q5.26);
- diff_min = -CalculateInputRadius(5, input_left_shift) = -floor(31 * 2^26 / 2^shift).

The output must be quantized with scale exactly 1/256 and zero point -128: TFLite-Micro
refuses any other int8 softmax output.

An int16 output after an int8 input (te_softmax_s8_s16) runs the same arithmetic into units of
1/65536 with zero point -32768, its output scale within 0.001/65536 of 1/65536 (float32), as
TFLite-Micro requires. An int16 input (16x8 mode) lowers in tinyedge.ops._softmax_16x8.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import QUANTIZED, quantize_multiplier_greater_than_one, require_int8
from tinyedge.ops._softmax_16x8 import lower_softmax_s16

SCALED_DIFF_INTEGER_BITS = 5
MAX_REAL_MULTIPLIER = float((1 << 31) - 1)  # double-rounding build of TFLite-Micro
OUTPUT_SCALE = float(np.float32(1.0 / 256.0))
OUTPUT_ZERO_POINT = -128
INT16_OUTPUT_SCALE = np.float32(1.0) / np.float32(65536)  # int8 input, int16 output
INT16_OUTPUT_SCALE_TOLERANCE = np.float32(0.001) * np.float32(1.0) / np.float32(65536)
INT16_OUTPUT_ZERO_POINT = -32768


def softmax_scaling(beta: float, input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min) as CalculateSoftmaxParams computes them."""
    real = min(float(beta) * float(input_scale) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)), MAX_REAL_MULTIPLIER)
    multiplier, left_shift = quantize_multiplier_greater_than_one(real)
    # CalculateInputRadius(5, shift, 31) = floor((2^5 - 1) * 2^26 / 2^shift): exact in integers.
    radius = (((1 << SCALED_DIFF_INTEGER_BITS) - 1) << (31 - SCALED_DIFF_INTEGER_BITS)) >> left_shift
    return multiplier, left_shift, -radius


@lowering("SOFTMAX", activations=QUANTIZED)
def lower_softmax(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected one input and one output")
    input_index, output_index = op.inputs[0], op.outputs[0]
    if graph.tensor(input_index).dtype == "int16":
        return lower_softmax_s16(graph, op)
    int16_output = graph.tensor(output_index).dtype == "int16"
    require_int8(graph, op, input_index, *(() if int16_output else (output_index,)))
    input_, output = graph.tensor(input_index), graph.tensor(output_index)
    if input_.quant is None or output.quant is None or input_.quant.per_channel or output.quant.per_channel:
        raise UnsupportedOpError(f"{graph.describe(op)}: input and output must be quantized per tensor")
    if int16_output and (abs(np.float32(output.scale) - INT16_OUTPUT_SCALE) > INT16_OUTPUT_SCALE_TOLERANCE
                         or output.zero_point != INT16_OUTPUT_ZERO_POINT):
        raise UnsupportedOpError(f"{graph.describe(op)}: an int16 softmax output after an int8 input must have "
                                 f"scale 1/65536 and zero point -32768 (it has {output.scale} and "
                                 f"{output.zero_point}); TFLite-Micro refuses this layer too")
    if not int16_output and (float(np.float32(output.scale)) != OUTPUT_SCALE
                             or output.zero_point != OUTPUT_ZERO_POINT):
        raise UnsupportedOpError(f"{graph.describe(op)}: an int8 softmax output must have scale 1/256 and zero "
                                 f"point -128 (it has {output.scale} and {output.zero_point})")
    if not input_.shape or input_.shape != output.shape:
        raise UnsupportedOpError(f"{graph.describe(op)}: input {list(input_.shape)} and output "
                                 f"{list(output.shape)} must have the same non-scalar shape")
    beta = float(op.options.get("beta", 1.0))
    if not float(beta) * float(input_.scale) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)) > 1.0:
        raise UnsupportedOpError(f"{graph.describe(op)}: beta {beta} x input scale {input_.scale} is too small "
                                 "for TFLite-Micro's int8 softmax (its scaling multiplier must exceed 1)")

    multiplier, left_shift, diff_min = softmax_scaling(beta, input_.scale)
    depth = input_.shape[-1]
    params: dict[str, ParamValue] = {
        "outer_size": input_.size // depth if depth else 0, "depth": depth,
        "input_multiplier": multiplier, "input_left_shift": left_shift, "diff_min": diff_min,
    }
    kernel = "te_softmax_s8_s16" if int16_output else "te_softmax_s8"
    return KernelCall(
        function=kernel, header=f"{kernel}.h", params_type="te_softmax_params", params=params,
        args=(TensorArg(input_index), TensorArg(output_index)), in_place=not int16_output,
    )
