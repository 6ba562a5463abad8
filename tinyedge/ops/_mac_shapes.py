"""Shapes and checks that the int8 and 16x8 lowerings of TRANSPOSE_CONV, BATCH_MATMUL and
FULLY_CONNECTED share. It sits below both (transpose_conv.py, batch_matmul.py, fully_connected.py
and _mac_16x8.py import it, it imports none of them), so each rule is written once."""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor

# TFLite's inputs of TRANSPOSE_CONV.
OUTPUT_SHAPE_INPUT, FILTER_INPUT, DATA_INPUT, BIAS_INPUT = range(4)

# BATCH_MATMUL's operand ranks, what TFLite-Micro accepts.
MIN_RANK, MAX_RANK = 2, 5
BATCH_DIMS = MAX_RANK - 2

# GetQuantizedConvolutionMultipler refuses a bias scale this far (relative to the output
# scale) from input_scale * filter_scale.
BIAS_SCALE_TOLERANCE = 0.02


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


def batch_strides(shape: tuple[int, ...], out_batches: tuple[int, ...]) -> list[int]:
    """Element strides of an operand's batch dimensions (padded to BATCH_DIMS), 0 where it is broadcast."""
    batch = (1,) * (BATCH_DIMS - (len(shape) - 2)) + tuple(shape[:-2])
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
