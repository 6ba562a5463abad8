"""PRELU: int8 parametric ReLU, x >= 0 ? x : alpha * x, alpha broadcast over the input.

Keras PReLU gives it, alpha a constant (shared_axes make it broadcast). TFLite-Micro's
Prepare (CalculatePreluParams) quantizes two multipliers in double,
QuantizeMultiplier(input_scale / output_scale) for x >= 0 and
QuantizeMultiplier(input_scale * alpha_scale / output_scale) for x < 0, and the reference
BroadcastPrelu4DSlow requantizes (x - input zero point), or its product with (alpha - alpha
zero point), with the one that applies, adds the output zero point and clamps. Like
TFLite-Micro, a tensor quantized per channel is read with its first scale and zero point.
In 16x8 mode TFLite-Micro takes an int16 input and output with an int8 alpha only (te_prelu_s16).
"""

from __future__ import annotations

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import KernelCall, ParamValue, lowering
from tinyedge.ops._binary import BinaryOperands, binary_kernel_call, binary_operands
from tinyedge.ops._quant import QUANTIZED, quantize_multiplier, require_dtype


def _first(tensor: Tensor) -> tuple[float, int]:
    """TFLite-Micro's TfLiteTensor.params: the first scale and zero point of the tensor's quantization."""
    quant = tensor.quant
    if quant is None:
        return tensor.scale, tensor.zero_point  # the error that names the unquantized tensor
    return float(quant.scale[0]), int(quant.zero_point[0])


def _int16_operands(graph: Graph, op: Operator) -> BinaryOperands:
    """int16 input and output, int8 alpha: the one 16x8 form TFLite-Micro's PreluPrepare takes."""
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input, an alpha and one output")
    require_dtype(graph, op, ("int16",), op.inputs[0], op.outputs[0])
    require_dtype(graph, op, ("int8",), op.inputs[1])
    return BinaryOperands(*(graph.tensor(i) for i in (*op.inputs, op.outputs[0])))


@lowering("PRELU", activations=QUANTIZED)
def lower_prelu(graph: Graph, op: Operator) -> KernelCall:
    int16 = graph.tensor(op.outputs[0]).dtype == "int16"
    operands = _int16_operands(graph, op) if int16 else binary_operands(graph, op, per_tensor=False)
    (input_scale, input_zp), (alpha_scale, alpha_zp), (output_scale, output_zp) = (
        _first(t) for t in (operands.input1, operands.input2, operands.output))
    positive = quantize_multiplier(float(input_scale) / float(output_scale))
    negative = quantize_multiplier(float(input_scale) * float(alpha_scale) / float(output_scale))
    params: dict[str, ParamValue] = {
        "input_offset": -input_zp, "alpha_offset": -alpha_zp, "output_offset": output_zp,
        "positive_multiplier": positive[0], "positive_shift": positive[1],
        "negative_multiplier": negative[0], "negative_shift": negative[1],
    }
    return binary_kernel_call(graph, op, operands, "te_prelu_s16" if int16 else "te_prelu_s8", "te_prelu_params",
                              params)
