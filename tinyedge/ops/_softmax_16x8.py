"""SOFTMAX with int16 input and output (16x8 mode), as TFLite-Micro's SoftmaxInt16 computes it.

Prepare (softmax_common.cc) requires zero point 0 on input and output and an output scale within
0.001/32768 of 1/32768 (in float32), and builds two 513-entry int16 tables with LUTPopulate<int16_t>
(float32 throughout, the C library's expf): exp(x) over [-10, 0] and 1 / (1 + x) over [0, 1], both
written in Q0.15 with the midpoint bias that halves the interpolation error. They depend on nothing in
the model, but they are computed here, step for step as Prepare computes them, and passed as ConstArgs
(stored once per model). The input difference x - max(row) is brought to the exp table's scale
(65535 steps for 10.0) with QuantizeMultiplier(input_scale * beta / (10 / 65535)), in double.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import ConstArg, KernelCall, ParamValue, TensorArg
from tinyedge.ops._lut import expf, roundf
from tinyedge.ops._quant import INT16_MAX, INT16_MIN, quantize_multiplier, require_dtype

LUT_STEPS = 512  # 513 entries: 512 segments of 128 int16 inputs, and the last point
OUTPUT_SCALE = np.float32(1.0) / np.float32(32768)
OUTPUT_SCALE_TOLERANCE = np.float32(0.001) * np.float32(1.0) / np.float32(32768)
MAX_LEFT_SHIFT = 31  # the reference's diff * (1 << shift) is no longer defined beyond


def lut_populate_int16(transform: Callable[[np.float32], np.float32], input_scale: np.float32,
                       input_zero_point: int, output_scale: np.float32, output_zero_point: int) -> np.ndarray:
    """LUTPopulateInt16<float>: 513 int16 samples of `transform` over the int16 input range, each but the
    last less half its midpoint's interpolation error."""
    f32 = np.float32
    input_min = input_scale * f32(INT16_MIN - input_zero_point)
    input_max = input_scale * f32(INT16_MAX - input_zero_point)
    output_min = output_scale * f32(INT16_MIN - output_zero_point)
    output_max = output_scale * f32(INT16_MAX - output_zero_point)
    step = (input_max - input_min) / f32(LUT_STEPS)
    half_step = step / f32(2)
    output_scaling_inv = f32(INT16_MAX - INT16_MIN + 1) / (output_max - output_min)
    table = np.zeros(LUT_STEPS + 1, dtype=np.int16)
    for i in range(LUT_STEPS):
        val = transform(input_min + f32(i) * step)
        val_midpoint = transform(input_min + f32(i) * step + half_step)
        val_next = transform(input_min + f32(i + 1) * step)
        sample_val = roundf(val * output_scaling_inv)
        midpoint_interp_val = roundf((val_next * output_scaling_inv + roundf(val * output_scaling_inv)) / f32(2))
        midpoint_val = roundf(val_midpoint * output_scaling_inv)
        bias = roundf((midpoint_interp_val - midpoint_val) / f32(2))
        table[i] = int(min(max(sample_val - bias, f32(INT16_MIN)), f32(INT16_MAX)))
    last = roundf(transform(input_max) * output_scaling_inv)
    table[LUT_STEPS] = int(min(max(last, f32(INT16_MIN)), f32(INT16_MAX)))
    return table


def _one_over_one_plus_x(value: np.float32) -> np.float32:
    return np.float32(1.0) / (np.float32(1.0) + value)


@functools.cache
def softmax_luts() -> tuple[np.ndarray, np.ndarray]:
    """(exp_lut, one_over_one_plus_x_lut) as InitializeLutForInt16 populates them."""
    f32 = np.float32
    span = f32(INT16_MAX - INT16_MIN)  # 65535
    exp_lut = lut_populate_int16(expf, f32(10.0) / span, INT16_MAX, f32(2.0) / span, 0)
    reciprocal_lut = lut_populate_int16(_one_over_one_plus_x, f32(1.0) / span, INT16_MIN, f32(2.0) / span, 0)
    return exp_lut, reciprocal_lut


def lower_softmax_s16(graph: Graph, op: Operator) -> KernelCall:
    """int16 -> int16 SOFTMAX over the last axis: te_softmax_s16."""
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected one input and one output")
    require_dtype(graph, op, ("int16",), op.inputs[0], op.outputs[0])
    input_, output = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if input_.quant is None or output.quant is None or input_.quant.per_channel or output.quant.per_channel:
        raise UnsupportedOpError(f"{graph.describe(op)}: input and output must be quantized per tensor")
    if (input_.zero_point, output.zero_point) != (0, 0):
        raise UnsupportedOpError(f"{graph.describe(op)}: an int16 SOFTMAX needs zero point 0 on its input and output "
                                 f"(they are {input_.zero_point} and {output.zero_point}); TFLite-Micro refuses "
                                 "this layer too")
    if abs(np.float32(output.scale) - OUTPUT_SCALE) > OUTPUT_SCALE_TOLERANCE:
        raise UnsupportedOpError(f"{graph.describe(op)}: an int16 SOFTMAX output must have scale 1/32768 (it has "
                                 f"{output.scale}); TFLite-Micro refuses this layer too")
    if not input_.shape or input_.shape != output.shape:
        raise UnsupportedOpError(f"{graph.describe(op)}: input {list(input_.shape)} and output "
                                 f"{list(output.shape)} must have the same non-scalar shape")
    beta = float(np.float32(op.options.get("beta", 1.0)))
    multiplier, shift = quantize_multiplier(float(np.float32(input_.scale)) * beta / (10.0 / 65535.0))
    if shift > MAX_LEFT_SHIFT:
        raise UnsupportedOpError(f"{graph.describe(op)}: beta {beta} x input scale {input_.scale} is too large for "
                                 "TFLite-Micro's int16 softmax (its integer rescaling overflows)")
    exp_lut, reciprocal_lut = softmax_luts()
    depth = input_.shape[-1]
    params: dict[str, ParamValue] = {
        "outer_size": input_.size // depth if depth else 0, "depth": depth,
        "input_multiplier": multiplier, "input_shift": shift,
        "exp_lut": "@exp_lut", "one_over_one_plus_x_lut": "@one_over_one_plus_x_lut",
    }
    return KernelCall(
        function="te_softmax_s16", header="te_softmax_s16.h", params_type="te_softmax_s16_params", params=params,
        args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])), in_place=True,
        constants=(ConstArg("exp_lut", "int16_t", exp_lut), ConstArg("one_over_one_plus_x_lut", "int16_t",
                                                                     reciprocal_lut)),
    )
