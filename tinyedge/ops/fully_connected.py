"""FULLY_CONNECTED: int8 matrix-vector products, per-channel or per-tensor weights.

Parameters follow TFLite-Micro's CalculateOpDataFullyConnected (fully_connected_common.cc):

- per-channel weights (one scale per output, what TensorFlow 2.x converters write): one
  (multiplier, shift) per output channel from input_scale * filter_scale / output_scale,
  all in double;
- per-tensor weights (older converters): a single (multiplier, shift), the filter zero
  point applied as an offset, and the bias scale checked against input_scale * filter_scale
  (GetQuantizedConvolutionMultipler). TFLite's source takes that product in float32, but
  the tflite_micro build this project checks against matches the double product and not
  the float32 one (measured on accumulators where the two round differently), so the
  product is taken in double here too.

The input may have any rank: rows = output elements / output depth (FlatSizeSkipDim of
the output), accum_depth = the filter's last dimension. keepNumDims changes only the
output tensor's shape, not the arithmetic.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import ConstArg, KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import (
    activation_range,
    fused_activation,
    per_channel_multipliers,
    require_int8,
)

# GetQuantizedConvolutionMultipler refuses a bias scale this far (relative to the output
# scale) from input_scale * filter_scale.
BIAS_SCALE_TOLERANCE = 0.02


def _per_tensor_multiplier(graph: Graph, op: Operator, input_: Tensor, filter_: Tensor, bias: Tensor | None,
                           output: Tensor) -> tuple[int, int]:
    if bias is not None and bias.quant is not None:
        product = float(input_.scale) * float(filter_.scale)
        if abs(product - float(bias.scale)) / float(output.scale) > BIAS_SCALE_TOLERANCE:
            raise UnsupportedOpError(f"{graph.describe(op)}: bias scale {bias.scale} does not match input scale x "
                                     f"filter scale {product}; TFLite-Micro refuses this layer too")
    multipliers, shifts = per_channel_multipliers(input_.scale, filter_.quant.scale, output.scale, 1)
    return int(multipliers[0]), int(shifts[0])


@lowering("FULLY_CONNECTED")
def lower_fully_connected(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) not in (2, 3) or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected input, weights, optional bias and one output")
    input_index, filter_index, output_index = op.inputs[0], op.inputs[1], op.outputs[0]
    bias_index = op.inputs[2] if len(op.inputs) == 3 else -1
    require_int8(graph, op, input_index, filter_index, output_index)
    input_, filter_, output = graph.tensor(input_index), graph.tensor(filter_index), graph.tensor(output_index)
    if not filter_.is_constant:
        raise UnsupportedOpError(f"{graph.describe(op)}: the weights must be a constant tensor")
    if op.options.get("weightsFormat", 0) != 0:
        raise UnsupportedOpError(f"{graph.describe(op)}: only the default weights format is supported "
                                 f"(got weightsFormat {op.options['weightsFormat']})")
    if input_.quant is None or output.quant is None or filter_.quant is None:
        raise UnsupportedOpError(f"{graph.describe(op)}: input, weights and output must be quantized")
    if len(filter_.shape) < 2 or not output.shape:
        raise UnsupportedOpError(f"{graph.describe(op)}: weights {list(filter_.shape)} must be 2-D or more")

    accum_depth = filter_.shape[-1]
    output_depth = output.shape[-1]
    rows = output.size // output_depth if output_depth else 0
    if output_depth > filter_.shape[-2] or input_.size != rows * accum_depth:
        raise UnsupportedOpError(f"{graph.describe(op)}: weights {list(filter_.shape)} do not fit input "
                                 f"{list(input_.shape)} and output {list(output.shape)}")

    bias = graph.tensor(bias_index) if bias_index >= 0 else None
    if bias is not None and (bias.dtype != "int32" or bias.size != output_depth):
        raise UnsupportedOpError(f"{graph.describe(op)}: bias '{bias.name}' must be int32 with {output_depth} "
                                 f"values (it is {bias.dtype}{list(bias.shape)})")

    per_channel = filter_.quant.per_channel
    if per_channel:
        if len(filter_.quant.scale) != filter_.shape[filter_.quant.axis]:
            raise UnsupportedOpError(f"{graph.describe(op)}: weights '{filter_.name}' have "
                                     f"{len(filter_.quant.scale)} scales along dimension {filter_.quant.axis} "
                                     f"of shape {list(filter_.shape)}")
        multipliers, shifts = per_channel_multipliers(input_.scale, filter_.quant.scale, output.scale,
                                                      len(filter_.quant.scale))
        filter_offset = 0  # the per-channel reference kernel ignores the weights' zero point
    else:
        multiplier, shift = _per_tensor_multiplier(graph, op, input_, filter_, bias, output)
        multipliers, shifts = np.array([multiplier], dtype=np.int32), np.array([shift], dtype=np.int32)
        filter_offset = -filter_.zero_point

    act_min, act_max = activation_range(fused_activation(op), output)
    params: dict[str, ParamValue] = {
        "rows": rows, "accum_depth": accum_depth, "output_depth": output_depth,
        "input_offset": -input_.zero_point, "filter_offset": filter_offset, "output_offset": output.zero_point,
        "activation_min": act_min, "activation_max": act_max,
        "per_channel": int(per_channel), "output_multiplier": "@multiplier", "output_shift": "@shift",
    }
    return KernelCall(
        function="te_fully_connected_s8", header="te_fully_connected_s8.h",
        params_type="te_fully_connected_params", params=params,
        args=(TensorArg(input_index), TensorArg(filter_index), TensorArg(bias_index), TensorArg(output_index)),
        macs=rows * output_depth * accum_depth,
        constants=(ConstArg("multiplier", "int32_t", multipliers), ConstArg("shift", "int32_t", shifts)),
    )
