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
  and clamped. The arithmetic is te_mean_s8's, so SUM runs on that kernel (te_mean_s16 for
  int16 tensors, 16x8 mode; TFLite-Micro's REDUCE_MAX and REDUCE_MIN have no int16 form).
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, ScratchArg, TensorArg, lowering
from tinyedge.ops._quant import QUANTIZED, quantize_multiplier
from tinyedge.ops.mean import mean_kernel, reduction_geometry

_MIN_MAX_KERNELS = {"REDUCE_MAX": "te_reduce_max_s8", "REDUCE_MIN": "te_reduce_min_s8"}


@lowering("REDUCE_MAX", "REDUCE_MIN")
def lower_reduce_min_max(graph: Graph, op: Operator) -> KernelCall:
    input_, output, _axes, shape, strides, num_outputs = reduction_geometry(graph, op)
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


@lowering("SUM", activations=QUANTIZED)
def lower_sum(graph: Graph, op: Operator) -> KernelCall:
    input_, output, axes, shape, strides, num_outputs = reduction_geometry(graph, op, QUANTIZED)
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
    kernel = mean_kernel(input_.dtype)
    return KernelCall(function=kernel, header=f"{kernel}.h", params_type="te_mean_params", params=params,
                      args=(TensorArg(input_.index), ScratchArg(4 * num_outputs, "int32_t"), TensorArg(output.index)),
                      constants=(shape, strides))
