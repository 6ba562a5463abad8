"""CONV_2D and DEPTHWISE_CONV_2D: int8 convolutions with per-output-channel requantization.

Parameters follow TFLite-Micro's Prepare (conv_common.cc, depthwise_conv_common.cc):
padding from ComputePaddingHeightWidth, one (multiplier, shift) per output channel from
PopulateConvolutionQuantizationParams (a per-tensor filter scale is broadcast to every
channel), clamp bounds from the fused activation. Filter zero points are ignored, as the
reference per-channel kernels ignore them (int8 weights are symmetric).
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import ConstArg, KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import (
    activation_range,
    fused_activation,
    nhwc,
    out_size,
    padding_before,
    per_channel_multipliers,
    require_int8,
)


@dataclass(frozen=True)
class _Window:
    """The sliding-window geometry shared by both convolutions."""

    stride_height: int
    stride_width: int
    dilation_height: int
    dilation_width: int
    pad_height: int
    pad_width: int

    def params(self) -> dict[str, ParamValue]:
        return {"stride_height": self.stride_height, "stride_width": self.stride_width,
                "dilation_height": self.dilation_height, "dilation_width": self.dilation_width,
                "pad_height": self.pad_height, "pad_width": self.pad_width}


def _window(graph: Graph, op: Operator, input_hw: tuple[int, int], filter_hw: tuple[int, int]) -> _Window:
    options = op.options
    padding = str(options.get("padding", "SAME"))
    if padding not in ("SAME", "VALID"):
        raise UnsupportedOpError(f"{graph.describe(op)}: padding {padding} is not supported")
    stride_h, stride_w = int(options.get("strideH", 1)), int(options.get("strideW", 1))
    dilation_h, dilation_w = int(options.get("dilationHFactor", 1)), int(options.get("dilationWFactor", 1))
    if min(stride_h, stride_w, dilation_h, dilation_w) < 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: stride {stride_h}x{stride_w} and dilation "
                                 f"{dilation_h}x{dilation_w} must be at least 1")
    (in_h, in_w), (filter_h, filter_w) = input_hw, filter_hw
    # TFLite-Micro derives the padding from the output size it computes itself.
    out_h = out_size(padding, in_h, filter_h, stride_h, dilation_h)
    out_w = out_size(padding, in_w, filter_w, stride_w, dilation_w)
    return _Window(stride_h, stride_w, dilation_h, dilation_w,
                   padding_before(stride_h, dilation_h, in_h, filter_h, out_h),
                   padding_before(stride_w, dilation_w, in_w, filter_w, out_w))


def _requantization(graph: Graph, op: Operator, input_: Tensor, filter_: Tensor, output: Tensor,
                    channels: int) -> tuple[dict[str, ParamValue], tuple[ConstArg, ...]]:
    """Offsets, clamp bounds and per-channel (multiplier, shift) arrays of a convolution."""
    if input_.quant is None or output.quant is None or filter_.quant is None:
        raise UnsupportedOpError(f"{graph.describe(op)}: input, filter and output must be quantized")
    scales = filter_.quant.scale
    if len(scales) not in (1, channels):
        raise UnsupportedOpError(f"{graph.describe(op)}: filter '{filter_.name}' has {len(scales)} scales "
                                 f"for {channels} output channels")
    multipliers, shifts = per_channel_multipliers(input_.scale, scales, output.scale, channels)
    act_min, act_max = activation_range(fused_activation(op), output)
    params: dict[str, ParamValue] = {
        "input_offset": -input_.zero_point, "output_offset": output.zero_point,
        "activation_min": act_min, "activation_max": act_max,
        "output_multiplier": "@multiplier", "output_shift": "@shift",
    }
    return params, (ConstArg("multiplier", "int32_t", multipliers), ConstArg("shift", "int32_t", shifts))


def _check_bias(graph: Graph, op: Operator, bias_index: int, channels: int) -> None:
    if bias_index < 0:
        return
    bias = graph.tensor(bias_index)
    if bias.dtype != "int32" or bias.size != channels:
        raise UnsupportedOpError(f"{graph.describe(op)}: bias '{bias.name}' must be int32 with {channels} "
                                 f"values (it is {bias.dtype}{list(bias.shape)})")


def _operands(graph: Graph, op: Operator) -> tuple[int, int, int, int]:
    if len(op.inputs) not in (2, 3) or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected input, filter, optional bias and one output")
    input_index, filter_index = op.inputs[0], op.inputs[1]
    bias_index = op.inputs[2] if len(op.inputs) == 3 else -1
    require_int8(graph, op, input_index, filter_index, op.outputs[0])
    if not graph.tensor(filter_index).is_constant:
        raise UnsupportedOpError(f"{graph.describe(op)}: the filter must be a constant tensor")
    return input_index, filter_index, bias_index, op.outputs[0]


@lowering("CONV_2D")
def lower_conv2d(graph: Graph, op: Operator) -> KernelCall:
    input_index, filter_index, bias_index, output_index = _operands(graph, op)
    input_, filter_, output = graph.tensor(input_index), graph.tensor(filter_index), graph.tensor(output_index)
    batches, in_h, in_w, in_c = nhwc(input_.shape)
    out_c, filter_h, filter_w, filter_in_c = nhwc(filter_.shape)
    _, out_h, out_w, output_depth = nhwc(output.shape)
    if output_depth != out_c or filter_in_c < 1 or in_c % filter_in_c or out_c % (in_c // filter_in_c):
        raise UnsupportedOpError(f"{graph.describe(op)}: filter {list(filter_.shape)} does not fit input "
                                 f"{list(input_.shape)} and output {list(output.shape)}")
    _check_bias(graph, op, bias_index, out_c)
    groups = in_c // filter_in_c
    window = _window(graph, op, (in_h, in_w), (filter_h, filter_w))
    quant_params, constants = _requantization(graph, op, input_, filter_, output, out_c)
    params: dict[str, ParamValue] = {
        "batches": batches, "input_height": in_h, "input_width": in_w, "input_depth": in_c,
        "filter_height": filter_h, "filter_width": filter_w, "filter_input_depth": filter_in_c,
        "filters_per_group": out_c // groups,
        "output_height": out_h, "output_width": out_w, "output_depth": out_c,
        **window.params(), **quant_params,
    }
    return KernelCall(
        function="te_conv2d_s8", header="te_conv2d_s8.h", params_type="te_conv2d_params", params=params,
        args=(TensorArg(input_index), TensorArg(filter_index), TensorArg(bias_index), TensorArg(output_index)),
        macs=batches * out_h * out_w * out_c * filter_h * filter_w * filter_in_c,
        constants=constants,
    )


@lowering("DEPTHWISE_CONV_2D")
def lower_depthwise_conv2d(graph: Graph, op: Operator) -> KernelCall:
    input_index, filter_index, bias_index, output_index = _operands(graph, op)
    input_, filter_, output = graph.tensor(input_index), graph.tensor(filter_index), graph.tensor(output_index)
    batches, in_h, in_w, in_c = nhwc(input_.shape)
    one, filter_h, filter_w, out_c = nhwc(filter_.shape)
    _, out_h, out_w, output_depth = nhwc(output.shape)
    multiplier = int(op.options.get("depthMultiplier", 1))
    # The reference kernel loops over the depth_multiplier option; one that disagrees
    # with the shapes would read past the filter, so it is refused here.
    if one != 1 or output_depth != out_c or multiplier < 1 or out_c != in_c * multiplier:
        raise UnsupportedOpError(f"{graph.describe(op)}: filter {list(filter_.shape)} and depth multiplier "
                                 f"{multiplier} do not fit input {list(input_.shape)} and output "
                                 f"{list(output.shape)}")
    _check_bias(graph, op, bias_index, out_c)
    window = _window(graph, op, (in_h, in_w), (filter_h, filter_w))
    quant_params, constants = _requantization(graph, op, input_, filter_, output, out_c)
    params: dict[str, ParamValue] = {
        "batches": batches, "input_height": in_h, "input_width": in_w, "input_depth": in_c,
        "depth_multiplier": multiplier, "filter_height": filter_h, "filter_width": filter_w,
        "output_height": out_h, "output_width": out_w, "output_depth": out_c,
        **window.params(), **quant_params,
    }
    return KernelCall(
        function="te_depthwise_conv2d_s8", header="te_depthwise_conv2d_s8.h",
        params_type="te_depthwise_conv2d_params", params=params,
        args=(TensorArg(input_index), TensorArg(filter_index), TensorArg(bias_index), TensorArg(output_index)),
        macs=batches * out_h * out_w * out_c * filter_h * filter_w,
        constants=constants,
    )
