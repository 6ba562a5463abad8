"""DIV: int8 element-wise division with broadcasting up to 4-D and a fused activation
(keras.ops.divide, `a / b`).

Parameters follow TFLite-Micro's div.cc CalculateOpDataDiv: one multiplier
input1_scale / (input2_scale * output_scale), the division done in float32 as TFLite-Micro
does it and only then widened to double for QuantizeMultiplier. The kernel divides as
reference_ops::DivElementwise: the divisor's reciprocal from GetReciprocal, the dividend
normalized by its leading sign bits, one requantization by the combined shift.

A divisor equal to its zero point is a division by zero, which TFLite-Micro leaves undefined:
a constant divisor holding its zero point is refused; a run-time one must not hold it. A quotient
far below one output step makes the reference shift an int32 by 32 or more; te_div_s8
reproduces what the installed tflite_micro gives then (see its source).
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, lowering
from tinyedge.ops._binary import binary_kernel_call, binary_operands
from tinyedge.ops._quant import fused_activation_range, quantize_multiplier


@lowering("DIV")
def lower_div(graph: Graph, op: Operator) -> KernelCall:
    operands = binary_operands(graph, op)
    in1, in2, output = operands.input1, operands.input2, operands.output
    if in2.data is not None and (np.asarray(in2.data) == in2.zero_point).any():
        raise UnsupportedOpError(f"{graph.describe(op)}: the constant divisor '{in2.name}' holds its zero point "
                                 f"{in2.zero_point} (a division by zero)")
    # float32 arithmetic, as in TFLite-Micro: input1->params.scale / (input2->params.scale * output->params.scale).
    real = np.float32(in1.scale) / (np.float32(in2.scale) * np.float32(output.scale))
    output_multiplier, output_shift = quantize_multiplier(float(real))
    # The kernel's last right shift, leading sign bits (23-31) + reciprocal exponent (0-7) - output_shift,
    # must stay inside [0, 62], where the reference's arithmetic is defined or reproduced (te_div_s8.c).
    if not -24 <= output_shift <= 23:
        raise UnsupportedOpError(f"{graph.describe(op)}: the rescale factor {float(real):g} "
                                 "(input1_scale / (input2_scale * output_scale)) is outside [2^-25, 2^23)")
    act_min, act_max = fused_activation_range(graph, op, output)
    params: dict[str, ParamValue] = {
        "input1_offset": -in1.zero_point, "input2_offset": -in2.zero_point,
        "output_multiplier": output_multiplier, "output_shift": output_shift, "output_offset": output.zero_point,
        "activation_min": act_min, "activation_max": act_max,
    }
    return binary_kernel_call(graph, op, operands, "te_div_s8", "te_div_params", params)
