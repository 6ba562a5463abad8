"""RESIZE_BILINEAR: int8 bilinear resize of an NHWC image (Keras Resizing(interpolation="bilinear"),
UpSampling2D(interpolation="bilinear")).

As TFLite-Micro's ResizeBilinearPrepare: a 4-D input, a constant int32 size of two values,
not both align_corners and half_pixel_centers. The int8 kernel is the float-free
reference_ops::ResizeBilinearInteger: source positions in units of 2^-10,
  scale = ((2^10 * input_size + output_size / 2) / output_size)     (align_corners: sizes - 1)
  position = index * scale (+ scale / 2 - 2^9 with half_pixel_centers)
  low = max(position / 2^10, 0), high = min((position + 2^10 - 1) / 2^10, input_size - 1)
in C's truncating integer division, worked out here per output row and column; the kernel
weighs the four raw input bytes with (2^10 - frac) and frac per axis and divides the 2^20
weighted sum by 2^20, rounding half away from zero. Nothing is requantized (TFLite-Micro
reads no quantization; the converter gives the output the input's).
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import ConstArg, KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import require_int8

ONE = 1 << 10  # positions in units of 2^-10


def c_div(a: int, b: int) -> int:
    """C's integer division: the quotient truncated toward zero."""
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b > 0) else -quotient


def interpolation_axis(input_size: int, output_size: int, align_corners: bool,
                       half_pixel_centers: bool) -> tuple[list[int], list[int], list[int]]:
    """(low, high, fraction) per output index along one axis: ComputeInterpolationValuesInteger."""
    if align_corners and output_size > 1:
        scale = c_div(ONE * (input_size - 1) + (output_size - 1) // 2, output_size - 1)
    else:
        scale = c_div(ONE * input_size + output_size // 2, output_size)
    lows, highs, fractions = [], [], []
    for index in range(output_size):
        position = index * scale + (c_div(scale, 2) - ONE // 2 if half_pixel_centers else 0)
        low = max(c_div(position, ONE), 0)
        lows.append(low)
        highs.append(min(c_div(position + ONE - 1, ONE), input_size - 1))
        fractions.append(position - ONE * low)  # negative above the first row with half_pixel_centers
    return lows, highs, fractions


@lowering("RESIZE_BILINEAR")
def lower_resize_bilinear(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input, a size and one output")
    require_int8(graph, op, op.inputs[0], op.outputs[0])
    input_, size, output = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    if len(input_.shape) != 4:
        raise UnsupportedOpError(f"{graph.describe(op)}: TFLite-Micro resizes 4-D inputs only, not "
                                 f"{list(input_.shape)}")
    if size.dtype != "int32" or size.shape != (2,) or size.data is None:
        raise UnsupportedOpError(f"{graph.describe(op)}: the size '{size.name}' must be a constant int32 tensor "
                                 "of two values (TFLite-Micro refuses a computed size)")
    align_corners = bool(op.options.get("alignCorners", False))
    half_pixel_centers = bool(op.options.get("halfPixelCenters", False))
    if align_corners and half_pixel_centers:
        raise UnsupportedOpError(f"{graph.describe(op)}: align_corners and half_pixel_centers together are refused "
                                 "by TFLite-Micro")
    batches, input_height, input_width, depth = input_.shape
    output_height, output_width = (int(v) for v in size.data)
    if output.shape != (batches, output_height, output_width, depth) or output_height < 1 or output_width < 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} is not the input "
                                 f"{list(input_.shape)} resized to {[output_height, output_width]}")
    rows = interpolation_axis(input_height, output_height, align_corners, half_pixel_centers)
    columns = interpolation_axis(input_width, output_width, align_corners, half_pixel_centers)
    names = ("low", "high", "fraction")
    constants = tuple(ConstArg(f"{axis}_{name}", "int32_t", np.array(values, dtype=np.int32))
                      for axis, table in (("row", rows), ("column", columns)) for name, values in zip(names, table))
    params: dict[str, ParamValue] = {
        "batches": batches, "input_height": input_height, "input_width": input_width, "depth": depth,
        "output_height": output_height, "output_width": output_width,
        **{c.name: f"@{c.name}" for c in constants},
    }
    return KernelCall(function="te_resize_bilinear_s8", header="te_resize_bilinear_s8.h",
                      params_type="te_resize_bilinear_params", params=params,
                      args=(TensorArg(input_.index), TensorArg(output.index)), constants=constants)
