"""MEAN: int8 mean over constant axes (Keras GlobalAveragePooling2D gives axes [1, 2]).

Current TFLite-Micro (reduce_common.cc, EvalIntegerMean) always takes the requantizing
path, reference_ops::QuantizedMeanOrSum, even when input and output share scale and zero
point (older releases divided the raw sum with C's truncating division in that case; the
installed runtime rounds, and the tests check that). The input/output scale ratio is
quantized in double, then divided by the element count in integers after a left shift of
up to 32 bits for precision; the zero-point-corrected int32 sum of each output is
requantized with it and clamped. The sums live in an int32 scratch buffer. int16 tensors
(16x8 mode) run te_mean_s16, the same arithmetic clamped to int16.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import ConstArg, KernelCall, ParamValue, ScratchArg, TensorArg, lowering
from tinyedge.ops._quant import QUANTIZED, quantize_multiplier, require_dtype

MAX_RANK = 5  # the input ranks TFLite-Micro's reduce handles


def resolve_axes(graph: Graph, op: Operator, axes: np.ndarray, rank: int) -> list[int]:
    """TFLite's ResolveAxis: negative axes count from the end, duplicates are dropped."""
    resolved: list[int] = []
    for axis in (int(a) for a in axes.reshape(-1)):
        current = axis + rank if axis < 0 else axis
        if not 0 <= current < rank:
            raise UnsupportedOpError(f"{graph.describe(op)}: axis {axis} is out of range for a {rank}-D input")
        if current not in resolved:
            resolved.append(current)
    return resolved


def mean_multiplier(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """(multiplier, shift) of QuantizedMeanOrSum: the scale ratio with 1/count folded in."""
    multiplier, shift = quantize_multiplier(float(input_scale) / float(output_scale))
    # Shift the significand left by floor(log2(count)) bits, at most 32 and never past an
    # exponent of -31, before the integer division (TFLite's C++ divides int64 values).
    extra = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << extra) // count, shift - extra


def mean_kernel(dtype: str) -> str:
    """te_mean_s8, or te_mean_s16 for int16 tensors (MEAN and SUM)."""
    return "te_mean_s16" if dtype == "int16" else "te_mean_s8"


def reduction_geometry(graph: Graph, op: Operator, dtypes: tuple[str, ...] = ("int8",)
                       ) -> tuple[Tensor, Tensor, list[int], ConstArg, ConstArg, int]:
    """(input, output, resolved axes, 5-D input shape, 5-D output strides, number of outputs): what every
    reduction (MEAN, SUM, REDUCE_MAX, REDUCE_MIN) checks and works out the same way; input and output of one
    dtype from `dtypes`."""
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input, an axis tensor and one output")
    require_dtype(graph, op, dtypes, op.inputs[0], op.outputs[0])
    input_, axis, output = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    if axis.data is None or axis.dtype != "int32":
        raise UnsupportedOpError(f"{graph.describe(op)}: the axes must be a constant int32 tensor")
    for tensor in (input_, output):
        if tensor.quant is None or tensor.quant.per_channel:
            raise UnsupportedOpError(f"{graph.describe(op)}: tensor '{tensor.name}' must be quantized per tensor")
    rank = len(input_.shape)
    if not 1 <= rank <= MAX_RANK:
        raise UnsupportedOpError(f"{graph.describe(op)}: inputs of 1 to {MAX_RANK} dimensions are supported, "
                                 f"not {list(input_.shape)}")
    axes = resolve_axes(graph, op, axis.data, rank)
    kept_shape = [1 if d in axes else n for d, n in enumerate(input_.shape)]
    num_outputs = int(np.prod(kept_shape, dtype=np.int64))
    if num_outputs != output.size or input_.size == 0:
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} does not match the reduction "
                                 f"of {list(input_.shape)} over axes {axes}")
    # Where each input element lands: row-major over the kept dimensions, stride 0 on reduced ones.
    strides, step = [0] * rank, 1
    for d in reversed(range(rank)):
        if d not in axes:
            strides[d] = step
            step *= input_.shape[d]
    pad = MAX_RANK - rank
    shape = ConstArg("input_shape", "int32_t", np.array([1] * pad + list(input_.shape), dtype=np.int32))
    output_strides = ConstArg("output_strides", "int32_t", np.array([0] * pad + strides, dtype=np.int32))
    return input_, output, axes, shape, output_strides, num_outputs


@lowering("MEAN", activations=QUANTIZED)
def lower_mean(graph: Graph, op: Operator) -> KernelCall:
    input_, output, axes, shape, strides, num_outputs = reduction_geometry(graph, op, QUANTIZED)
    count = int(np.prod([input_.shape[a] for a in axes], dtype=np.int64))
    multiplier, shift = mean_multiplier(input_.scale, output.scale, count)
    sum_offset = -input_.zero_point * count
    if not -(2**31) <= sum_offset < 2**31:
        raise UnsupportedOpError(f"{graph.describe(op)}: {count} elements per mean overflow the int32 sum")

    params: dict[str, ParamValue] = {
        "input_shape": "@input_shape", "output_strides": "@output_strides",
        "num_outputs": num_outputs, "sum_offset": sum_offset, "multiplier": multiplier, "shift": shift,
        "output_offset": output.zero_point,
    }
    constants = (shape, strides)
    kernel = mean_kernel(input_.dtype)
    return KernelCall(function=kernel, header=f"{kernel}.h", params_type="te_mean_params", params=params,
                      args=(TensorArg(input_.index), ScratchArg(4 * num_outputs, "int32_t"),
                            TensorArg(output.index)),
                      macs=0, constants=constants)
