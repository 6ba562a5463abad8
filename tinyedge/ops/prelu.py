"""PRELU: int8 parametric ReLU, x >= 0 ? x : alpha * x, alpha broadcast over the input.

Keras PReLU gives it, alpha a constant (shared_axes make it broadcast). TFLite-Micro's
Prepare (CalculatePreluParams) quantizes two multipliers in double,
QuantizeMultiplier(input_scale / output_scale) for x >= 0 and
QuantizeMultiplier(input_scale * alpha_scale / output_scale) for x < 0, and the reference
BroadcastPrelu4DSlow requantizes (x - input zero point), or its product with (alpha - alpha
zero point), with the one that applies, adds the output zero point and clamps. Like
TFLite-Micro, a tensor quantized per channel is read with its first scale and zero point.
"""

from __future__ import annotations

from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import KernelCall, ParamValue, lowering
from tinyedge.ops._binary import binary_kernel_call, binary_operands
from tinyedge.ops._quant import quantize_multiplier


def _first(tensor: Tensor) -> tuple[float, int]:
    """TFLite-Micro's TfLiteTensor.params: the first scale and zero point of the tensor's quantization."""
    quant = tensor.quant
    if quant is None:
        return tensor.scale, tensor.zero_point  # the error that names the unquantized tensor
    return float(quant.scale[0]), int(quant.zero_point[0])


@lowering("PRELU")
def lower_prelu(graph: Graph, op: Operator) -> KernelCall:
    operands = binary_operands(graph, op, per_tensor=False)
    (input_scale, input_zp), (alpha_scale, alpha_zp), (output_scale, output_zp) = (
        _first(t) for t in (operands.input1, operands.input2, operands.output))
    positive = quantize_multiplier(float(input_scale) / float(output_scale))
    negative = quantize_multiplier(float(input_scale) * float(alpha_scale) / float(output_scale))
    params: dict[str, ParamValue] = {
        "input_offset": -input_zp, "alpha_offset": -alpha_zp, "output_offset": output_zp,
        "positive_multiplier": positive[0], "positive_shift": positive[1],
        "negative_multiplier": negative[0], "negative_shift": negative[1],
    }
    return binary_kernel_call(graph, op, operands, "te_prelu_s8", "te_prelu_params", params)
