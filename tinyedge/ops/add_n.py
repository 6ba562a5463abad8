"""ADD_N: the element-wise sum of two or more int8 tensors of one shape (keras.ops.add_n style
sums, tf.math.add_n).

Parameters follow TFLite-Micro's add_n.cc CalculateOpData: every input has the first one's
shape, scale and zero point (it refuses anything else); each input is rescaled to twice its
scale with 20 bits of headroom (a multiplier of exactly 1/2), the sum back to the output
scale, both multipliers from QuantizeMultiplierSmallerThanOneExp (so the output factor must
lie in (0, 1)); no fused activation. The reference kernel starts each sum from the rescaled
input offset (its `x = 0` is `input1_offset`), and te_add_n_s8 does the same.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, TensorArg, TensorListArg, lowering
from tinyedge.ops._quant import INT8_MAX, INT8_MIN, quantize_multiplier, require_int8

LEFT_SHIFT = 20  # TFLite-Micro's kAddNIntegerShift


def _smaller_than_one(graph: Graph, op: Operator, real: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp, whose checks abort TFLite-Micro outside (0, 1)."""
    if not 0.0 < real < 1.0:
        raise UnsupportedOpError(f"{graph.describe(op)}: the {what} rescale factor {real:g} is outside (0, 1); "
                                 "TFLite-Micro cannot run this ADD_N")
    multiplier, shift = quantize_multiplier(real)
    assert shift <= 0, (real, shift)
    return multiplier, shift


@lowering("ADD_N")
def lower_add_n(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) < 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected two or more inputs and one output")
    require_int8(graph, op, *op.inputs, op.outputs[0])
    inputs, output = [graph.tensor(i) for i in op.inputs], graph.tensor(op.outputs[0])
    first = inputs[0]
    for tensor in (*inputs, output):
        if tensor.quant is None or tensor.quant.per_channel:
            raise UnsupportedOpError(f"{graph.describe(op)}: tensor '{tensor.name}' must be quantized per tensor")
    for tensor in inputs[1:]:
        if tensor.shape != first.shape:
            raise UnsupportedOpError(f"{graph.describe(op)}: input '{tensor.name}' {list(tensor.shape)} is not "
                                     f"shaped as '{first.name}' {list(first.shape)} (TFLite-Micro refuses it)")
        if tensor.zero_point != first.zero_point or np.float32(tensor.scale) != np.float32(first.scale):
            raise UnsupportedOpError(f"{graph.describe(op)}: input '{tensor.name}' is not quantized as "
                                     f"'{first.name}' (TFLite-Micro requires one scale and zero point)")
    if output.size != first.size:
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} is not shaped as the "
                                 f"inputs {list(first.shape)}")

    # Scales are float32 in the model; TFLite-Micro widens them to double.
    twice_input_scale = 2.0 * float(np.float32(first.scale))
    input_multiplier, input_shift = _smaller_than_one(graph, op, float(np.float32(first.scale)) / twice_input_scale,
                                                      "input")
    output_multiplier, output_shift = _smaller_than_one(
        graph, op, twice_input_scale / ((1 << LEFT_SHIFT) * float(np.float32(output.scale))), "output")
    params: dict[str, ParamValue] = {
        "num_inputs": len(inputs), "size": output.size, "input_offset": -first.zero_point,
        "left_shift": LEFT_SHIFT, "input_multiplier": input_multiplier, "input_shift": input_shift,
        "output_multiplier": output_multiplier, "output_shift": output_shift,
        "output_offset": output.zero_point, "activation_min": INT8_MIN, "activation_max": INT8_MAX,
    }
    return KernelCall(function="te_add_n_s8", header="te_add_n_s8.h", params_type="te_add_n_params",
                      params=params, args=(TensorListArg(tuple(op.inputs)), TensorArg(output.index)),
                      macs=0)
