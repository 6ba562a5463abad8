"""RESIZE_NEAREST_NEIGHBOR: each output pixel is a copy of the nearest input pixel (Keras
Resizing(interpolation="nearest"), and UpSampling2D once tinyedge.quantize rewrites it).

As TFLite-Micro's ResizeNearestNeighborPrepare: a 4-D input, a constant int32 size of two
elements (output height, width); the bytes are copied whatever the quantization (TFLite-Micro
neither checks nor requantizes it; the converter gives the output the input's). The source
row and column of every output row and column are worked out here, in float32 as
reference_ops::GetNearestNeighbor does, and emitted as two index tables. An int16 tensor
(16x8 mode) is copied as bytes, each pixel twice as long.
"""

from __future__ import annotations

import math

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import ConstArg, KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import QUANTIZED, require_dtype, round_half_away


def nearest_neighbor(output_index: int, input_size: int, output_size: int, align_corners: bool,
                     half_pixel_centers: bool) -> int:
    """reference_ops::GetNearestNeighbor, in its float32 arithmetic."""
    f32 = np.float32
    if align_corners and output_size > 1:
        scale = f32(input_size - 1) / f32(output_size - 1)
    else:
        scale = f32(input_size) / f32(output_size)
    position = float((f32(output_index) + f32(0.5 if half_pixel_centers else 0.0)) * scale)
    nearest = round_half_away(position) if align_corners else math.floor(position)
    nearest = min(nearest, input_size - 1)
    return max(0, nearest) if half_pixel_centers else nearest


@lowering("RESIZE_NEAREST_NEIGHBOR", activations=QUANTIZED)
def lower_resize_nearest_neighbor(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input, a size and one output")
    require_dtype(graph, op, QUANTIZED, op.inputs[0], op.outputs[0])
    input_, size, output = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    if len(input_.shape) != 4:
        raise UnsupportedOpError(f"{graph.describe(op)}: TFLite-Micro resizes 4-D inputs only, not "
                                 f"{list(input_.shape)}")
    if size.dtype != "int32" or size.shape != (2,) or size.data is None:
        raise UnsupportedOpError(f"{graph.describe(op)}: the size '{size.name}' must be a constant int32 tensor "
                                 "of two values (TFLite-Micro refuses a computed size)")
    batches, input_height, input_width, depth = input_.shape
    output_height, output_width = (int(v) for v in size.data)
    if output.shape != (batches, output_height, output_width, depth):
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} is not the input "
                                 f"{list(input_.shape)} resized to {[output_height, output_width]}")
    align_corners = bool(op.options.get("alignCorners", False))
    half_pixel_centers = bool(op.options.get("halfPixelCenters", False))
    rows = [nearest_neighbor(y, input_height, output_height, align_corners, half_pixel_centers)
            for y in range(output_height)]
    columns = [nearest_neighbor(x, input_width, output_width, align_corners, half_pixel_centers)
               for x in range(output_width)]
    params: dict[str, ParamValue] = {
        "batches": batches, "input_height": input_height, "input_width": input_width,
        "depth": depth * np.dtype(input_.dtype).itemsize,  # bytes per pixel
        "output_height": output_height, "output_width": output_width,
        "source_rows": "@source_rows", "source_columns": "@source_columns",
    }
    constants = (ConstArg("source_rows", "int32_t", np.array(rows, dtype=np.int32)),
                 ConstArg("source_columns", "int32_t", np.array(columns, dtype=np.int32)))
    return KernelCall(function="te_resize_nearest_neighbor_s8", header="te_resize_nearest_neighbor_s8.h",
                      params_type="te_resize_nearest_neighbor_params", params=params,
                      args=(TensorArg(input_.index, view="int8_t"), TensorArg(output.index, view="int8_t")), macs=0,
                      constants=constants)
