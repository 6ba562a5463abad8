"""REDUCE_MAX, REDUCE_MIN and SUM: int8 reductions over constant axes.

Keras GlobalMaxPooling2D gives REDUCE_MAX over axes [1, 2]; `keras.ops.sum` gives SUM.
The axes are resolved as TFLite's ResolveAxis does (negative axes count from the end,
duplicates dropped); an empty axis list copies the input.

- REDUCE_MAX / REDUCE_MIN (reduce_common.cc, EvalMinMaxHelper): TFLite-Micro requires the
  output's scale and zero point to equal the input's and compares the raw bytes; each
  output starts at -128 (max) or 127 (min).
- SUM (PrepareMeanOrSumHelper, QuantizedMeanOrSum with compute_sum): the zero-point
  corrected int32 sum of each output is requantized with QuantizeMultiplier(double(input
  scale) / double(output scale)), unlike MEAN without dividing by the count, then offset
  and clamped. The arithmetic is te_mean_s8's, so SUM runs on that kernel.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import ConstArg, KernelCall, ParamValue, ScratchArg, TensorArg, lowering
from tinyedge.ops._quant import quantize_multiplier, require_int8
from tinyedge.ops.mean import MAX_RANK, resolve_axes

_MIN_MAX_KERNELS = {"REDUCE_MAX": "te_reduce_max_s8", "REDUCE_MIN": "te_reduce_min_s8"}


def _reduction(graph: Graph, op: Operator) -> tuple[Tensor, Tensor, list[int], ConstArg, ConstArg, int]:
    """(input, output, resolved axes, 5-D input shape, 5-D output strides, number of outputs)."""
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input, an axis tensor and one output")
    require_int8(graph, op, op.inputs[0], op.outputs[0])
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


@lowering("REDUCE_MAX", "REDUCE_MIN")
def lower_reduce_min_max(graph: Graph, op: Operator) -> KernelCall:
    input_, output, _axes, shape, strides, num_outputs = _reduction(graph, op)
    if float(input_.scale) != float(output.scale) or input_.zero_point != output.zero_point:
        raise UnsupportedOpError(f"{graph.describe(op)}: an int8 {op.opcode} needs the output quantized as its input "
                                 f"(scale {input_.scale} zero point {input_.zero_point}, not scale {output.scale} "
                                 f"zero point {output.zero_point}); TFLite-Micro refuses this layer too")
    kernel = _MIN_MAX_KERNELS[op.opcode]
    params: dict[str, ParamValue] = {"input_shape": "@input_shape", "output_strides": "@output_strides",
                                     "num_outputs": num_outputs}
    return KernelCall(function=kernel, header=f"{kernel}.h", params_type=f"{kernel.removesuffix('_s8')}_params",
                      params=params,
                      args=(TensorArg(input_.index), TensorArg(output.index)), constants=(shape, strides))


@lowering("SUM")
def lower_sum(graph: Graph, op: Operator) -> KernelCall:
    input_, output, axes, shape, strides, num_outputs = _reduction(graph, op)
    count = int(np.prod([input_.shape[a] for a in axes], dtype=np.int64))
    multiplier, shift = quantize_multiplier(float(input_.scale) / float(output.scale))
    sum_offset = -input_.zero_point * count
    if not -(2**31) <= sum_offset < 2**31:
        raise UnsupportedOpError(f"{graph.describe(op)}: {count} elements per sum overflow the int32 sum")
    params: dict[str, ParamValue] = {
        "input_shape": "@input_shape", "output_strides": "@output_strides",
        "num_outputs": num_outputs, "sum_offset": sum_offset, "multiplier": multiplier, "shift": shift,
        "output_offset": output.zero_point,
    }
    return KernelCall(function="te_mean_s8", header="te_mean_s8.h", params_type="te_mean_params", params=params,
                      args=(TensorArg(input_.index), ScratchArg(4 * num_outputs, "int32_t"), TensorArg(output.index)),
                      constants=(shape, strides))
