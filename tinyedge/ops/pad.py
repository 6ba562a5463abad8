"""PAD and PADV2: int8 constant padding (Keras ZeroPadding2D gives PAD).

As TFLite-Micro's PadPrepare (pad.cc): paddings must be a constant [rank, 2] tensor,
inputs up to 5-D, and the output shape must equal the input's plus the paddings. PAD
fills with the output zero point (a real zero); PADV2 fills with its constant value,
whose quantization must be the output's. The bytes of the input are copied unchanged.

With int16 activations (16x8 mode, te_pad_s16) TFLite-Micro's pad.cc fills PAD with the integer
0 whatever the output zero point (TensorFlow writes 0 there, so it is a real zero) and PADV2
with its constant's value, its quantization unchecked; tinyedge fills alike.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import ConstArg, KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import QUANTIZED, require_dtype

MAX_RANK = 5  # reference_ops::PadKernelMaxDimensionCount()


def _pad_value(graph: Graph, op: Operator) -> int:
    output = graph.tensor(op.outputs[0])
    if output.quant is None or output.quant.per_channel:
        raise UnsupportedOpError(f"{graph.describe(op)}: the output must be quantized per tensor")
    int16 = output.dtype == "int16"
    if len(op.inputs) == 2 or op.inputs[2] < 0:
        return 0 if int16 else output.zero_point
    value = graph.tensor(op.inputs[2])
    require_dtype(graph, op, (output.dtype,), value.index)
    if value.data is None or value.size != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: the pad value '{value.name}' must be a constant scalar")
    if int16:
        return int(value.data.reshape(-1)[0])
    if (value.quant is None or value.quant.per_channel or value.zero_point != output.zero_point
            or np.float32(value.scale) != np.float32(output.scale)):
        raise UnsupportedOpError(f"{graph.describe(op)}: the pad value '{value.name}' must have the output's "
                                 "scale and zero point")
    return int(value.data.reshape(-1)[0])


@lowering("PAD", "PADV2", activations=QUANTIZED)
def lower_pad(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) not in (2, 3) or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input, paddings, an optional pad value "
                                 "and one output")
    dtype = require_dtype(graph, op, QUANTIZED, op.inputs[0], op.outputs[0])
    input_, paddings, output = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    rank = len(input_.shape)
    if rank > MAX_RANK:
        raise UnsupportedOpError(f"{graph.describe(op)}: inputs of up to {MAX_RANK} dimensions are supported, "
                                 f"not {list(input_.shape)}")
    if paddings.data is None or paddings.size != 2 * len(output.shape) or len(output.shape) != rank:
        raise UnsupportedOpError(f"{graph.describe(op)}: the paddings must be a constant tensor of "
                                 f"[{rank}, 2] values")
    pairs = paddings.data.reshape(rank, 2).astype(np.int64)
    if (pairs < 0).any() or any(int(i + lo + hi) != o for i, (lo, hi), o in zip(input_.shape, pairs, output.shape)):
        raise UnsupportedOpError(f"{graph.describe(op)}: paddings {pairs.tolist()} do not take input "
                                 f"{list(input_.shape)} to output {list(output.shape)}")
    extend = MAX_RANK - rank
    output_shape = np.array([1] * extend + list(output.shape), dtype=np.int32)
    left = np.array([0] * extend + pairs[:, 0].tolist(), dtype=np.int32)
    right = np.array([0] * extend + pairs[:, 1].tolist(), dtype=np.int32)
    params: dict[str, ParamValue] = {"output_shape": "@output_shape", "left_padding": "@left_padding",
                                     "right_padding": "@right_padding", "pad_value": _pad_value(graph, op)}
    constants = (ConstArg("output_shape", "int32_t", output_shape), ConstArg("left_padding", "int32_t", left),
                 ConstArg("right_padding", "int32_t", right))
    kernel = "te_pad_s16" if dtype == "int16" else "te_pad_s8"
    return KernelCall(function=kernel, header=f"{kernel}.h", params_type="te_pad_params", params=params,
                      args=(TensorArg(input_.index), TensorArg(output.index)), macs=0, constants=constants)
