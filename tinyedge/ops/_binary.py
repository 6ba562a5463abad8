"""What the binary element-wise ops share (ADD, SUB, MUL, SQUARED_DIFFERENCE, MAXIMUM, MINIMUM).

Broadcasting follows TFLite-Micro: shapes are extended on the left with 1s, and a dimension
where an input has size 1 is read with stride 0. The kernels take the output shape and both
inputs' strides as three int32[4] constants; without broadcasting (same shapes up to leading
1s, TFLite's "non-broadcast" case) they get one flat run: shape [1, 1, 1, size], strides
[0, 0, 0, 1]. Up to 4-D the kernels loop over the shapes as they are; beyond, dimensions are
merged where that changes nothing (see broadcast_geometry).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import Arg, ConstArg, KernelCall, ParamValue, ScratchArg, TensorArg
from tinyedge.ops._quant import quantize_multiplier, require_dtype
from tinyedge.ops.conv import FAST_ACC_LIMIT, FAST_RIGHT_SHIFTS, NoFastKernel, requested_fallback

BROADCAST_RANK = 4


@dataclass(frozen=True)
class BinaryOperands:
    input1: Tensor
    input2: Tensor
    output: Tensor


def binary_operands(graph: Graph, op: Operator, per_tensor: bool = True,
                    dtypes: tuple[str, ...] = ("int8",)) -> BinaryOperands:
    """The op's two inputs and its output, all of one dtype from `dtypes` (int8; int16 where the op has
    a 16x8 kernel); per_tensor: each quantized with one scale."""
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected two inputs and one output")
    require_dtype(graph, op, dtypes, op.inputs[0], op.inputs[1], op.outputs[0])
    in1, in2, output = (graph.tensor(i) for i in (*op.inputs, op.outputs[0]))
    if per_tensor:
        for tensor in (in1, in2, output):
            if tensor.quant is None or tensor.quant.per_channel:
                raise UnsupportedOpError(f"{graph.describe(op)}: tensor '{tensor.name}' must be quantized per tensor")
    return BinaryOperands(in1, in2, output)


def _row_major_strides(shape: tuple[int, ...]) -> list[int]:
    strides, step = [], 1
    for dim in reversed(shape):
        strides.append(step)
        step *= dim
    return strides[::-1]


def _without_leading_ones(shape: tuple[int, ...]) -> tuple[int, ...]:
    dims = list(shape)
    while dims and dims[0] == 1:
        dims.pop(0)
    return tuple(dims)


def _extended(shape: tuple[int, ...], rank: int = BROADCAST_RANK) -> tuple[int, ...]:
    return (1,) * (rank - len(shape)) + tuple(shape)


def _collapsed(shape1: tuple[int, ...], shape2: tuple[int, ...],
               out_shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The same broadcast with fewer dimensions: output dimensions of size 1 left out, and neighbours
    that both inputs read alike (each either has them all or broadcasts them all) merged into one."""
    groups: list[list[int]] = []  # [input1 size, input2 size, output size]
    previous: tuple[bool, bool] | None = None
    for d1, d2, d_out in zip(shape1, shape2, out_shape):
        if d_out == 1:
            continue
        pattern = (d1 == 1, d2 == 1)
        if pattern == previous:
            groups[-1] = [groups[-1][0] * d1, groups[-1][1] * d2, groups[-1][2] * d_out]
        else:
            groups.append([d1, d2, d_out])
        previous = pattern
    return tuple(g[0] for g in groups), tuple(g[1] for g in groups), tuple(g[2] for g in groups)


def broadcast_geometry(graph: Graph, op: Operator, in1: Tensor, in2: Tensor,
                       output: Tensor) -> tuple[list[int], list[int], list[int]]:
    """(output shape, input1 strides, input2 strides), all 4-D, in elements.

    Operands of more than 4 dimensions (TFLite-Micro broadcasts up to 6-D) are collapsed first,
    which works whenever their broadcast pattern changes at most 3 times.
    """
    if _without_leading_ones(in1.shape) == _without_leading_ones(in2.shape):
        # Same shape (up to leading 1s): no broadcasting, one flat run over the elements.
        if in1.size != output.size:
            raise UnsupportedOpError(f"{graph.describe(op)}: input shapes {list(in1.shape)} and "
                                     f"{list(in2.shape)} do not give output {list(output.shape)}")
        return [1, 1, 1, output.size], [0, 0, 0, 1], [0, 0, 0, 1]
    rank = max(len(in1.shape), len(in2.shape), len(output.shape), BROADCAST_RANK)
    shape1, shape2, out_shape = (_extended(s, rank) for s in (in1.shape, in2.shape, output.shape))
    for d1, d2, d_out in zip(shape1, shape2, out_shape):
        if d1 not in (1, d_out) or d2 not in (1, d_out) or max(d1, d2) != d_out:
            raise UnsupportedOpError(f"{graph.describe(op)}: input shapes {list(in1.shape)} and "
                                     f"{list(in2.shape)} do not broadcast to output {list(output.shape)}")
    if rank > BROADCAST_RANK:
        shape1, shape2, out_shape = _collapsed(shape1, shape2, out_shape)
        if len(out_shape) > BROADCAST_RANK:
            raise UnsupportedOpError(f"{graph.describe(op)}: broadcasting is supported up to {BROADCAST_RANK}-D "
                                     f"(after merging dimensions), shapes are {list(in1.shape)} and "
                                     f"{list(in2.shape)}")
        shape1, shape2, out_shape = (_extended(s, BROADCAST_RANK) for s in (shape1, shape2, out_shape))
    # A dimension of size 1 never advances (it is broadcast, or the output has size 1 there too).
    strides1 = [0 if d == 1 else s for d, s in zip(shape1, _row_major_strides(shape1))]
    strides2 = [0 if d == 1 else s for d, s in zip(shape2, _row_major_strides(shape2))]
    return list(out_shape), strides1, strides2


def broadcast_constants(graph: Graph, op: Operator, operands: BinaryOperands) -> tuple[ConstArg, ...]:
    """The output_shape, input1_strides and input2_strides arrays the kernels' params point at."""
    out_shape, strides1, strides2 = broadcast_geometry(graph, op, operands.input1, operands.input2,
                                                       operands.output)
    return (ConstArg("output_shape", "int32_t", np.array(out_shape, dtype=np.int32)),
            ConstArg("input1_strides", "int32_t", np.array(strides1, dtype=np.int32)),
            ConstArg("input2_strides", "int32_t", np.array(strides2, dtype=np.int32)))


def binary_kernel_call(graph: Graph, op: Operator, operands: BinaryOperands, kernel: str, params_type: str,
                       params: dict[str, ParamValue], header: str | None = None,
                       scratch: ScratchArg | None = None) -> KernelCall:
    """`kernel(&params, input1, input2, output[, scratch])`, declared in `header` (default `kernel`.h),
    with the broadcast geometry appended to `params` (fields output_shape, input1_strides,
    input2_strides)."""
    geometry = {"output_shape": "@output_shape", "input1_strides": "@input1_strides",
                "input2_strides": "@input2_strides"}
    args: tuple[Arg, ...] = (TensorArg(operands.input1.index), TensorArg(operands.input2.index),
                             TensorArg(operands.output.index), *((scratch,) if scratch else ()))
    # Input 1 not broadcast has the output's layout: each element is read before it is written.
    in_place = operands.input1.size == operands.output.size
    return KernelCall(function=kernel, header=header or f"{kernel}.h", params_type=params_type,
                      params={**params, **geometry},
                      args=args, in_place=in_place, constants=broadcast_constants(graph, op, operands))


def multiplier_smaller_than_one(graph: Graph, op: Operator, real: float, what: str) -> tuple[int, int]:
    """TFLite's QuantizeMultiplierSmallerThanOneExp: a multiplier in (0, 1), exponent <= 0.

    TFLite-Micro aborts on a factor outside (0, 1); tinyedge refuses the op instead.
    """
    if not 0.0 < real < 1.0:
        raise UnsupportedOpError(f"{graph.describe(op)}: the {what} rescale factor {real:g} is outside (0, 1); "
                                 f"TFLite-Micro cannot run this {op.opcode}")
    multiplier, shift = quantize_multiplier(real)
    assert shift <= 0, (real, shift)
    return multiplier, shift


# Table variants (te_sub_table_s8, te_squared_difference_table_s8; te_add_table_s8 for ADD): the
# rescaled value of each input is one of 256, computed once per call into two int32 tables of
# scratch; past a few hundred elements the lookups save more than filling the tables costs.
TABLE_MIN_ELEMENTS = 512
TABLE_SCRATCH = ScratchArg(2 * 256 * 4, "int32_t")


def table_variant_params(operands: BinaryOperands,
                         params: dict[str, ParamValue]) -> dict[str, ParamValue] | NoFastKernel:
    """A table variant's params from the plain kernel's, or why the plain kernel stays: fewer than
    TABLE_MIN_ELEMENTS outputs (a choice, no reason) or reference_kernels(). The variants
    requantize with te_nn_rescale in the form output_rescale picks; the callers bound its input
    below 2^30."""
    if operands.output.size < TABLE_MIN_ELEMENTS:
        return NoFastKernel()
    reason = requested_fallback()
    if reason is not None:
        return NoFastKernel(reason)
    table = {k: v for k, v in params.items() if k not in ("output_shift", "output_offset")}
    return table | output_rescale(int(params["output_multiplier"]), int(params["output_shift"]),
                                  int(params["output_offset"]), FAST_ACC_LIMIT - 1)


# te_nn_rescale's forms (te_nn_dsp.h)
RESCALE_ROUNDING, RESCALE_LEFT, RESCALE_GENERAL = 0, 1, 2


def output_rescale(multiplier: int, shift: int, output_offset: int, bound: int) -> dict[str, ParamValue]:
    """The elementwise fast kernels' output rescale of values |x| <= bound (te_nn_rescale), for every
    (multiplier, TFLite shift): the rounding form for right shifts in FAST_RIGHT_SHIFTS (a zero
    multiplier takes it with any shift), a left shift's form where the bound keeps x << shift below
    2^30, else the reference arithmetic."""
    right = 1 if multiplier == 0 else -shift
    if right in FAST_RIGHT_SHIFTS and bound < FAST_ACC_LIMIT:
        rounding = (1 << (right - 1)) + output_offset * (1 << right)
        return {"output_rounding": rounding, "shift": right, "form": RESCALE_ROUNDING}
    if shift >= 0 and bound << shift < FAST_ACC_LIMIT:
        return {"output_rounding": output_offset, "shift": shift, "form": RESCALE_LEFT}
    return {"output_rounding": output_offset, "shift": shift, "form": RESCALE_GENERAL}
