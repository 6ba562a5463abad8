"""LOG_SOFTMAX: int8 log-softmax over the last axis (keras.ops.log_softmax, tf.nn.log_softmax).

TFLite-Micro's Prepare (log_softmax.cc) requires the output quantized with scale exactly
16/256 and zero point 127, and computes with beta 1 (PreprocessLogSoftmaxScalingExp):

- input_multiplier, input_left_shift, diff_min as SOFTMAX's (PreprocessSoftmaxScaling,
  CalculateInputRadius(5, shift)): see tinyedge.ops.softmax.softmax_scaling;
- reverse_scaling_divisor, reverse_scaling_shift = QuantizeMultiplierSmallerThanOneExp of
  (1 << (31 - input_left_shift)) / double(input_multiplier).

The kernel is the reference LogSoftmaxQuantized, gemmlowp fixed point throughout.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import quantize_multiplier
from tinyedge.ops.activations import _unary_int8
from tinyedge.ops.softmax import SCALED_DIFF_INTEGER_BITS, softmax_scaling

OUTPUT_SCALE = np.float32(16.0 / 256.0)
OUTPUT_ZERO_POINT = 127


@lowering("LOG_SOFTMAX")
def lower_log_softmax(graph: Graph, op: Operator) -> KernelCall:
    input_, output = _unary_int8(graph, op)
    if np.float32(output.scale) != OUTPUT_SCALE or output.zero_point != OUTPUT_ZERO_POINT:
        raise UnsupportedOpError(f"{graph.describe(op)}: an int8 log-softmax output must have scale 16/256 and zero "
                                 f"point 127 (it has {output.scale} and {output.zero_point}); TFLite-Micro refuses "
                                 "this layer too")
    if not input_.shape or input_.shape != output.shape:
        raise UnsupportedOpError(f"{graph.describe(op)}: input {list(input_.shape)} and output "
                                 f"{list(output.shape)} must have the same non-scalar shape")
    if not float(input_.scale) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)) > 1.0:
        raise UnsupportedOpError(f"{graph.describe(op)}: input scale {input_.scale} is too small for TFLite-Micro's "
                                 "int8 log-softmax (its scaling multiplier must exceed 1)")
    multiplier, left_shift, diff_min = softmax_scaling(1.0, input_.scale)
    divisor, divisor_shift = quantize_multiplier(float(1 << (31 - left_shift)) / float(multiplier))
    assert divisor_shift <= 0, (input_.scale, divisor_shift)
    depth = input_.shape[-1]
    params: dict[str, ParamValue] = {
        "outer_size": input_.size // depth if depth else 0, "depth": depth,
        "input_multiplier": multiplier, "input_left_shift": left_shift,
        "reverse_scaling_divisor": divisor, "reverse_scaling_shift": divisor_shift, "diff_min": diff_min,
    }
    return KernelCall(function="te_log_softmax_s8", header="te_log_softmax_s8.h", params_type="te_log_softmax_params",
                      params=params, args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])), in_place=True)
