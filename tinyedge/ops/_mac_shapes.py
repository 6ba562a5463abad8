"""Shapes and checks that the int8 and 16x8 lowerings of TRANSPOSE_CONV, BATCH_MATMUL and
FULLY_CONNECTED share. It sits below both (transpose_conv.py, batch_matmul.py, fully_connected.py
and _mac_16x8.py import it, it imports none of them), so each rule is written once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import ParamValue
from tinyedge.ops._quant import out_size, padding_before

# TFLite's inputs of TRANSPOSE_CONV.
OUTPUT_SHAPE_INPUT, FILTER_INPUT, DATA_INPUT, BIAS_INPUT = range(4)

# BATCH_MATMUL's operand ranks, what TFLite-Micro accepts.
MIN_RANK, MAX_RANK = 2, 5
BATCH_DIMS = MAX_RANK - 2

# GetQuantizedConvolutionMultipler refuses a bias scale this far (relative to the output
# scale) from input_scale * filter_scale.
BIAS_SCALE_TOLERANCE = 0.02


def fully_connected_dims(graph: Graph, op: Operator, input_: Tensor, filter_: Tensor, output: Tensor
                         ) -> tuple[int, int, int]:
    """A FULLY_CONNECTED's (accumulation depth, output depth, rows), its weights format, quantization and
    shapes checked as TFLite-Micro's Prepare checks them."""
    if op.options.get("weightsFormat", 0) != 0:
        raise UnsupportedOpError(f"{graph.describe(op)}: only the default weights format is supported "
                                 f"(got weightsFormat {op.options['weightsFormat']})")
    if input_.quant is None or output.quant is None or filter_.quant is None:
        raise UnsupportedOpError(f"{graph.describe(op)}: input, weights and output must be quantized")
    if len(filter_.shape) < 2 or not output.shape:
        raise UnsupportedOpError(f"{graph.describe(op)}: weights {list(filter_.shape)} must be 2-D or more")
    accum_depth, output_depth = filter_.shape[-1], output.shape[-1]
    rows = output.size // output_depth if output_depth else 0
    if output_depth > filter_.shape[-2] or input_.size != rows * accum_depth:
        raise UnsupportedOpError(f"{graph.describe(op)}: weights {list(filter_.shape)} do not fit input "
                                 f"{list(input_.shape)} and output {list(output.shape)}")
    return accum_depth, output_depth, rows


def shape4(graph: Graph, op: Operator, index: int, what: str) -> tuple[int, int, int, int]:
    """The 4-D shape of tensor `index` (the op's `what`), or the refusal naming it."""
    shape = graph.tensor(index).shape
    if len(shape) != 4:
        raise UnsupportedOpError(f"{graph.describe(op)}: the {what} must be 4-D, not {list(shape)}")
    return shape[0], shape[1], shape[2], shape[3]


def landing_pairs(inputs: int, taps: int, stride: int, pad: int, outputs: int) -> int:
    """(input position, tap) pairs of a transposed convolution that land inside the output (its MACs' share)."""
    positions = np.arange(inputs)[:, None] * stride - pad + np.arange(taps)[None, :]
    return int(((positions >= 0) & (positions < outputs)).sum())


@dataclass(frozen=True)
class Geometry:
    """Shapes, strides and padding of one transposed convolution (NHWC; filter [out, h, w, in])."""

    batches: int
    input_height: int
    input_width: int
    input_depth: int
    filter_height: int
    filter_width: int
    output_height: int
    output_width: int
    output_depth: int
    stride_height: int
    stride_width: int
    pad_height: int
    pad_width: int

    def params(self) -> dict[str, ParamValue]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def macs(self) -> int:
        """Multiply-accumulates of the taps that land inside the output."""
        rows = landing_pairs(self.input_height, self.filter_height, self.stride_height, self.pad_height,
                             self.output_height)
        cols = landing_pairs(self.input_width, self.filter_width, self.stride_width, self.pad_width,
                             self.output_width)
        return self.batches * rows * cols * self.input_depth * self.output_depth


def check_transpose_conv_scales(graph: Graph, op: Operator, input_: Tensor, filter_: Tensor, output: Tensor,
                                out_c: int) -> np.ndarray:
    """The filter scales of a TRANSPOSE_CONV (one, or one per output channel along dimension 0)."""
    if input_.quant is None or output.quant is None or filter_.quant is None:
        raise UnsupportedOpError(f"{graph.describe(op)}: input, filter and output must be quantized")
    scales = filter_.quant.scale
    if len(scales) not in (1, out_c) or (filter_.quant.per_channel and filter_.quant.axis != 0):
        raise UnsupportedOpError(f"{graph.describe(op)}: filter '{filter_.name}' has {len(scales)} scales along "
                                 f"dimension {filter_.quant.axis}; TFLite-Micro needs one, or one per output "
                                 f"channel ({out_c}) along dimension 0")
    return scales


def transpose_conv_shapes(graph: Graph, op: Operator, input_index: int, filter_index: int, output_index: int
                          ) -> tuple[tuple[int, int, int, int], tuple[int, int], tuple[int, int, int]]:
    """A TRANSPOSE_CONV's input NHWC, filter (height, width) and output (height, width, depth), checked to
    fit one another (filter [out, h, w, in])."""
    batches, in_h, in_w, in_c = shape4(graph, op, input_index, "input")
    out_c, filter_h, filter_w, filter_in_c = shape4(graph, op, filter_index, "filter")
    out_batches, out_h, out_w, output_depth = shape4(graph, op, output_index, "output")
    if filter_in_c != in_c or output_depth != out_c or out_batches != batches:
        input_, filter_, output = graph.tensor(input_index), graph.tensor(filter_index), graph.tensor(output_index)
        raise UnsupportedOpError(f"{graph.describe(op)}: filter {list(filter_.shape)} does not fit input "
                                 f"{list(input_.shape)} and output {list(output.shape)}")
    return (batches, in_h, in_w, in_c), (filter_h, filter_w), (out_h, out_w, out_c)


def transpose_conv_window(graph: Graph, op: Operator, input_nhwc: tuple[int, int, int, int],
                          filter_hw: tuple[int, int], output_hwc: tuple[int, int, int]) -> Geometry:
    """A TRANSPOSE_CONV's geometry: its strides, and the padding ComputePaddingHeightWidth gives for the
    OUTPUT size (dilation 1)."""
    batches, in_h, in_w, in_c = input_nhwc
    (filter_h, filter_w), (out_h, out_w, out_c) = filter_hw, output_hwc
    padding = str(op.options.get("padding", "SAME"))
    if padding not in ("SAME", "VALID"):
        raise UnsupportedOpError(f"{graph.describe(op)}: padding {padding} is not supported")
    stride_h, stride_w = int(op.options.get("strideH", 1)), int(op.options.get("strideW", 1))
    if min(stride_h, stride_w) < 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: stride {stride_h}x{stride_w} must be at least 1")
    return Geometry(
        batches, in_h, in_w, in_c, filter_h, filter_w, out_h, out_w, out_c, stride_h, stride_w,
        padding_before(stride_h, 1, out_h, filter_h, out_size(padding, out_h, filter_h, stride_h, 1)),
        padding_before(stride_w, 1, out_w, filter_w, out_size(padding, out_w, filter_w, stride_w, 1)))


def matmul_dims(graph: Graph, op: Operator, lhs: Tensor, rhs: Tensor) -> tuple[bool, bool, int, int, int, int]:
    """A BATCH_MATMUL's (adj_x, adj_y, rows, depth, rhs depth, cols), its operands' ranks checked."""
    for tensor in (lhs, rhs):
        if not MIN_RANK <= len(tensor.shape) <= MAX_RANK:
            raise UnsupportedOpError(f"{graph.describe(op)}: operand '{tensor.name}' has shape "
                                     f"{list(tensor.shape)}; TFLite-Micro multiplies {MIN_RANK}-D to {MAX_RANK}-D")
    adj_x, adj_y = bool(op.options.get("adjX", False)), bool(op.options.get("adjY", False))
    rows, depth = (lhs.shape[-1], lhs.shape[-2]) if adj_x else (lhs.shape[-2], lhs.shape[-1])
    rhs_depth, cols = (rhs.shape[-1], rhs.shape[-2]) if adj_y else (rhs.shape[-2], rhs.shape[-1])
    return adj_x, adj_y, rows, depth, rhs_depth, cols


def padded_batch(shape: tuple[int, ...]) -> tuple[int, ...]:
    """An operand's batch dimensions, padded with leading 1s to BATCH_DIMS."""
    return (1,) * (BATCH_DIMS - (len(shape) - 2)) + tuple(shape[:-2])


def batch_strides(shape: tuple[int, ...], out_batches: tuple[int, ...]) -> list[int]:
    """Element strides of an operand's batch dimensions (padded to BATCH_DIMS), 0 where it is broadcast."""
    batch = padded_batch(shape)
    matrix = shape[-2] * shape[-1]
    return [0 if batch[d] == 1 and out_batches[d] != 1 else matrix * int(np.prod(batch[d + 1:], dtype=np.int64))
            for d in range(BATCH_DIMS)]


def check_bias_scale(graph: Graph, op: Operator, input_: Tensor, filter_: Tensor, bias: Tensor | None,
                     output: Tensor) -> None:
    """GetQuantizedConvolutionMultipler's check of a per-tensor layer's bias scale."""
    if bias is not None and bias.quant is not None:
        product = float(input_.scale) * float(filter_.scale)
        if abs(product - float(bias.scale)) / float(output.scale) > BIAS_SCALE_TOLERANCE:
            raise UnsupportedOpError(f"{graph.describe(op)}: bias scale {bias.scale} does not match input scale x "
                                     f"filter scale {product}; TFLite-Micro refuses this layer too")
