"""QUANTIZE (int8 -> int8 requantization, float32 -> int8, and int16/int32 requantization: below)
and DEQUANTIZE (int8 -> float32).

Parameters follow TFLite-Micro's PrepareQuantizeReference (quantize_common.cc) and
DequantizePrepare (dequantize_common.cc):

- int8 -> int8: QuantizeMultiplier(double(input_scale) / double(output_scale)), then
  reference_ops::Requantize (offset, requantize, offset, clamp);
- float32 -> int8: reference_ops::AffineQuantize, round(x / output_scale) in float32;
- int8 -> float32: reference_ops::Dequantize, scale * (x - zero_point).

Float scales reach the C parameter struct as float literals that hold the tensor's
float32 scale exactly.

Requantization with int16 or int32 on either side (16x8 mode: int16 -> int16, int16 <-> int8,
int16 <-> int32 as TFLite-Micro's seanet models use, int8 <-> int32) runs te_quantize_s16 with
the same multiplier; each pair TFLite-Micro's EvalQuantizeReference instantiates is taken.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import QUANTIZED, quantize_multiplier

QUANTIZE_FROM_INT8, QUANTIZE_FROM_FLOAT32 = 0, 1  # te_quantize_params.input_type
# (input, output) dtypes te_quantize_s16 requantizes between: the integer pairs of TFLite-Micro's
# EvalQuantizeReference other than int8 -> int8 (te_quantize_s8).
WIDE_REQUANTIZE = {("int16", "int16"), ("int16", "int8"), ("int8", "int16"), ("int16", "int32"),
                   ("int32", "int16"), ("int8", "int32"), ("int32", "int8")}


def c_float(value: float) -> str:
    """A C float literal equal to float32(value): the shortest decimal that reads back to it."""
    return repr(float(np.float32(value))) + "f"


def _per_tensor(graph: Graph, op: Operator, tensor: Tensor) -> None:
    if tensor.quant is None or tensor.quant.per_channel:
        raise UnsupportedOpError(f"{graph.describe(op)}: tensor '{tensor.name}' must be quantized per tensor")
    if not float(tensor.scale) > 0.0:
        raise UnsupportedOpError(f"{graph.describe(op)}: tensor '{tensor.name}' has scale {tensor.scale}")


def _unary(graph: Graph, op: Operator) -> tuple[Tensor, Tensor]:
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected one input and one output")
    input_, output = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if input_.size != output.size:
        raise UnsupportedOpError(f"{graph.describe(op)}: input {list(input_.shape)} and output "
                                 f"{list(output.shape)} differ in size")
    return input_, output


def _lower_wide_requantize(graph: Graph, op: Operator, input_: Tensor, output: Tensor) -> KernelCall:
    """te_quantize_s16: a requantization with an int16 or int32 side."""
    _per_tensor(graph, op, input_)
    _per_tensor(graph, op, output)
    multiplier, shift = quantize_multiplier(float(input_.scale) / float(output.scale))
    params: dict[str, ParamValue] = {
        "size": input_.size, "input_bytes": np.dtype(input_.dtype).itemsize,
        "output_bytes": np.dtype(output.dtype).itemsize, "input_zero_point": input_.zero_point,
        "output_zero_point": output.zero_point, "multiplier": multiplier, "shift": shift,
    }
    return KernelCall(
        function="te_quantize_s16", header="te_quantize_s16.h", params_type="te_quantize_s16_params", params=params,
        args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])), in_place=input_.dtype == output.dtype,
    )


@lowering("QUANTIZE", activations=(*QUANTIZED, "float32"))  # float32: a float model input
def lower_quantize(graph: Graph, op: Operator) -> KernelCall:
    input_, output = _unary(graph, op)
    if (input_.dtype, output.dtype) in WIDE_REQUANTIZE:
        return _lower_wide_requantize(graph, op, input_, output)
    if output.dtype != "int8":
        raise UnsupportedOpError(f"{graph.describe(op)}: quantizing {input_.dtype} to {output.dtype} is not "
                                 "supported: int8, int16 and int32 to one another, or float32 to int8")
    _per_tensor(graph, op, output)
    if input_.dtype == "int8":
        _per_tensor(graph, op, input_)
        multiplier, shift = quantize_multiplier(float(input_.scale) / float(output.scale))
        params: dict[str, ParamValue] = {
            "size": input_.size, "input_type": QUANTIZE_FROM_INT8, "input_zero_point": input_.zero_point,
            "output_zero_point": output.zero_point, "multiplier": multiplier, "shift": shift,
            "output_scale": c_float(output.scale),
        }
        in_place = True
    elif input_.dtype == "float32":
        params = {
            "size": input_.size, "input_type": QUANTIZE_FROM_FLOAT32, "input_zero_point": 0,
            "output_zero_point": output.zero_point, "multiplier": 0, "shift": 0,
            "output_scale": c_float(output.scale),
        }
        in_place = False  # a float element is wider than the int8 written over it
    else:
        raise UnsupportedOpError(f"{graph.describe(op)}: quantizing {input_.dtype} to int8 is not supported: "
                                 "int8, int16 and int32 to one another, or float32 to int8")
    return KernelCall(
        function="te_quantize_s8", header="te_quantize_s8.h", params_type="te_quantize_params", params=params,
        args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])), in_place=in_place,
    )


@lowering("DEQUANTIZE", activations=("int8", "float32"))  # float32: a float model output
def lower_dequantize(graph: Graph, op: Operator) -> KernelCall:
    input_, output = _unary(graph, op)
    if input_.dtype != "int8" or output.dtype != "float32":
        raise UnsupportedOpError(f"{graph.describe(op)}: only int8 -> float32 dequantization is supported "
                                 f"(this is {input_.dtype} -> {output.dtype})")
    _per_tensor(graph, op, input_)
    params: dict[str, ParamValue] = {
        "size": input_.size, "zero_point": input_.zero_point, "scale": c_float(input_.scale),
    }
    return KernelCall(
        function="te_dequantize_s8", header="te_dequantize_s8.h", params_type="te_dequantize_params",
        params=params, args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])),
    )
