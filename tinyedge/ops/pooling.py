"""AVERAGE_POOL_2D and MAX_POOL_2D: int8 pooling over NHWC windows.

Parameters follow TFLite-Micro's PoolingPrepare (pooling_common.cc): padding from
ComputePaddingHeightWidth with dilation 1, clamp bounds from the fused activation. The
reference kernels pool raw int8 values, so TFLite-Micro refuses an output whose scale
(within 1e-6) or zero point differs from the input's; so do we. int16 tensors (16x8 mode) run
te_avg_pool2d_s16 / te_max_pool2d_s16, the same arithmetic with int16 clamp bounds.
"""

from __future__ import annotations

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import QUANTIZED, fused_activation_range, nhwc, out_size, padding_before, require_dtype

SCALE_TOLERANCE = 1.0e-6  # TFLite-Micro's check that input and output scales agree

_KERNELS = {"AVERAGE_POOL_2D": "te_avg_pool2d", "MAX_POOL_2D": "te_max_pool2d"}


def _padding(graph: Graph, op: Operator, image: int, filt: int, stride: int, out: int, axis: str) -> int:
    """Padding before the input along one axis.

    An average over a window that lies entirely in the padding divides by zero, and
    TFLite-Micro fails the inference; a max pool of such a window gives -128 (int16: -32768), clamped.
    """
    padding = str(op.options.get("padding", "SAME"))
    if padding not in ("SAME", "VALID"):
        raise UnsupportedOpError(f"{graph.describe(op)}: padding {padding} is not supported")
    if filt < 1 or stride < 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: filter {axis} {filt} and stride {stride} must be at least 1")
    # TFLite-Micro derives the padding from the output size it computes itself.
    pad = padding_before(stride, 1, image, filt, out_size(padding, image, filt, stride, 1))
    empty_window = pad >= filt or (out - 1) * stride - pad >= image
    if empty_window and op.opcode == "AVERAGE_POOL_2D":
        raise UnsupportedOpError(f"{graph.describe(op)}: a pooling window along the {axis} lies entirely in "
                                 "the padding")
    return pad


@lowering("AVERAGE_POOL_2D", "MAX_POOL_2D", activations=QUANTIZED)
def lower_pool2d(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected one input and one output")
    dtype = require_dtype(graph, op, QUANTIZED, op.inputs[0], op.outputs[0])
    input_, output = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if len(input_.shape) != 4 or len(output.shape) != 4:
        raise UnsupportedOpError(f"{graph.describe(op)}: input and output must be 4-D (NHWC)")
    if input_.quant is None or output.quant is None or input_.quant.per_channel or output.quant.per_channel:
        raise UnsupportedOpError(f"{graph.describe(op)}: input and output must be quantized per tensor")
    if abs(input_.scale - output.scale) > SCALE_TOLERANCE or input_.zero_point != output.zero_point:
        raise UnsupportedOpError(f"{graph.describe(op)}: input and output quantization differ (scale "
                                 f"{input_.scale:g} vs {output.scale:g}, zero point {input_.zero_point} vs "
                                 f"{output.zero_point}); TFLite-Micro requires them equal")
    batches, in_h, in_w, depth = nhwc(input_.shape)
    out_batches, out_h, out_w, out_depth = nhwc(output.shape)
    if (out_batches, out_depth) != (batches, depth):
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} does not match input "
                                 f"{list(input_.shape)} in batches and channels")
    options = op.options
    filter_h, filter_w = int(options.get("filterHeight", 1)), int(options.get("filterWidth", 1))
    stride_h, stride_w = int(options.get("strideH", 1)), int(options.get("strideW", 1))
    act_min, act_max = fused_activation_range(graph, op, output)
    params: dict[str, ParamValue] = {
        "batches": batches, "input_height": in_h, "input_width": in_w, "depth": depth,
        "output_height": out_h, "output_width": out_w,
        "filter_height": filter_h, "filter_width": filter_w, "stride_height": stride_h, "stride_width": stride_w,
        "pad_height": _padding(graph, op, in_h, filter_h, stride_h, out_h, "height"),
        "pad_width": _padding(graph, op, in_w, filter_w, stride_w, out_w, "width"),
        "activation_min": act_min, "activation_max": act_max,
    }
    kernel = _KERNELS[op.opcode]
    suffix = "s16" if dtype == "int16" else "s8"
    return KernelCall(function=f"{kernel}_{suffix}", header=f"{kernel}_{suffix}.h", params_type=f"{kernel}_params",
                      params=params, args=(TensorArg(input_.index), TensorArg(output.index)), macs=0)
