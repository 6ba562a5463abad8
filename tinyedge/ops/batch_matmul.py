"""BATCH_MATMUL (keras.ops.matmul, attention scores and values): int8 batched matrix products.

Parameters follow TFLite-Micro's BatchMatMulPrepare (batch_matmul.cc): both operands and the
output int8 with one scale and zero point each (either operand may be a constant), ranks 2
to 5, batch dimensions that are equal or 1 (broadcast), the depths of lhs and rhs equal after
adj_x / adj_y, and an output with as many elements as the product. The multiplier is
QuantizeMultiplier(lhs_scale * rhs_scale / output_scale) in double (see `matmul_multiplier`
for why not float32 as TFLite's source reads); no fused activation,
so outputs clamp to the int8 range. TFLite-Micro transposes an operand flagged adj_* into a
buffer before its loops; here the kernels read it through strides, which sums the same
products.

`batch_matmul_variant` chooses the kernel: te_batch_matmul_s8 (the reference loops), or
te_batch_matmul_widened_s8, which gives the same bytes faster: each rhs matrix and lhs row
is widened to int16 with its zero point subtracted (so no offset is left for the inner loop),
then two rows by two columns are summed with 16-bit multiply-accumulates. A constant rhs is
widened here (`widen_constant`), into flash rather than the arena.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import ConstArg, KernelCall, ParamValue, ScratchArg, TensorArg, lowering
from tinyedge.ops._mac_shapes import BATCH_DIMS, batch_strides, matmul_dims, padded_batch
from tinyedge.ops._quant import quantize_multiplier, require_int8
from tinyedge.ops.conv import requested_fallback, variants_enabled

BATCH_MATMUL_REFERENCE = "te_batch_matmul_s8"
BATCH_MATMUL_WIDENED = "te_batch_matmul_widened_s8"


def matmul_multiplier(lhs_scale: float, rhs_scale: float, output_scale: float) -> tuple[int, int]:
    """QuantizeMultiplier(lhs_scale * rhs_scale / output_scale), all in double.

    TFLite's GetQuantizedConvolutionMultipler (without a bias) multiplies the two scales in
    float32, but the installed tflite_micro's bytes follow the double product (as for
    FULLY_CONNECTED): test_batch_matmul holds an accumulator on which the two differ.
    """
    return quantize_multiplier(float(lhs_scale) * float(rhs_scale) / float(output_scale))


WIDENED_BLOCK_COLS = 16  # TE_BATCH_MATMUL_WIDENED_BLOCK_COLS


def widened_scratch_bytes(block: int, depth: int) -> int:
    """TE_BATCH_MATMUL_WIDENED_SCRATCH_BYTES: `block` rhs columns (in pairs) and two lhs rows as int16,
    depth padded to 4, and a gather of depth bytes."""
    padded = (depth + 3) // 4 * 4
    return 2 * padded * (block + (block & 1) + 2) + padded


def widen_constant(rhs: np.ndarray, adj_y: bool, zero_point: int) -> np.ndarray:
    """A constant rhs as te_batch_matmul_widened_s8 reads it: per matrix, (rhs - zero point) in int16,
    columns in pairs, depth in groups of 4 stored x0, x2, x1, x3, the pair interleaved group by group,
    zero-padded to whole groups and pairs."""
    matrices = rhs.reshape(-1, *rhs.shape[-2:]).astype(np.int16) - zero_point
    if adj_y:  # stored [cols, depth]
        matrices = matrices.transpose(0, 2, 1)
    count, depth, cols = matrices.shape
    padded = np.zeros((count, (depth + 3) // 4 * 4, cols + (cols & 1)), dtype=np.int16)
    padded[:, :depth, :cols] = matrices
    columns = padded.transpose(0, 2, 1)  # [count, cols, depth]
    groups = columns.reshape(count, columns.shape[1] // 2, 2, -1, 4)[..., [0, 2, 1, 3]]
    return groups.transpose(0, 1, 3, 2, 4).reshape(-1)


def batch_matmul_variant() -> str:
    return BATCH_MATMUL_WIDENED if variants_enabled() else BATCH_MATMUL_REFERENCE


@lowering("BATCH_MATMUL", activations=("int8", "int16"))
def lower_batch_matmul(graph: Graph, op: Operator) -> KernelCall:
    if op.inputs and graph.tensor(op.inputs[0]).dtype == "int16":  # 16x8 mode
        from tinyedge.ops._mac_16x8 import lower_batch_matmul_16x8
        return lower_batch_matmul_16x8(graph, op, requested_fallback())
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected two inputs and one output")
    lhs_index, rhs_index, output_index = op.inputs[0], op.inputs[1], op.outputs[0]
    require_int8(graph, op, lhs_index, rhs_index, output_index)
    lhs, rhs, output = graph.tensor(lhs_index), graph.tensor(rhs_index), graph.tensor(output_index)
    for tensor in (lhs, rhs, output):
        if tensor.quant is None or tensor.quant.per_channel:
            raise UnsupportedOpError(f"{graph.describe(op)}: tensor '{tensor.name}' must be quantized per tensor "
                                     "(TFLite-Micro's int8 BATCH_MATMUL reads one scale and zero point)")
    adj_x, adj_y, rows, depth, rhs_depth, cols = matmul_dims(graph, op, lhs, rhs)
    if depth != rhs_depth:
        raise UnsupportedOpError(f"{graph.describe(op)}: lhs {list(lhs.shape)} (adj_x {adj_x}) and rhs "
                                 f"{list(rhs.shape)} (adj_y {adj_y}) do not have the same depth")
    lhs_batch, rhs_batch = padded_batch(lhs.shape), padded_batch(rhs.shape)
    if any(a != b and 1 not in (a, b) for a, b in zip(lhs_batch, rhs_batch)):
        raise UnsupportedOpError(f"{graph.describe(op)}: the batch dimensions of {list(lhs.shape)} and "
                                 f"{list(rhs.shape)} do not broadcast")
    out_batches = tuple(max(a, b) for a, b in zip(lhs_batch, rhs_batch))
    out_rank = max(len(lhs.shape), len(rhs.shape))
    elements = int(np.prod(out_batches, dtype=np.int64)) * rows * cols
    if output.size != elements or len(output.shape) < out_rank:
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} does not hold the product "
                                 f"{[*out_batches[BATCH_DIMS - (out_rank - 2):], rows, cols]}")

    multiplier, shift = matmul_multiplier(lhs.scale, rhs.scale, output.scale)
    lhs_strides, rhs_strides = batch_strides(lhs.shape, out_batches), batch_strides(rhs.shape, out_batches)
    params: dict[str, ParamValue] = {
        **{f"batches{d}": out_batches[d] for d in range(BATCH_DIMS)},
        **{f"lhs_batch_stride{d}": lhs_strides[d] for d in range(BATCH_DIMS)},
        **{f"rhs_batch_stride{d}": rhs_strides[d] for d in range(BATCH_DIMS)},
        "rows": rows, "cols": cols, "depth": depth,
        "lhs_row_stride": 1 if adj_x else depth, "lhs_depth_stride": rows if adj_x else 1,
        "rhs_depth_stride": 1 if adj_y else cols, "rhs_col_stride": depth if adj_y else 1,
        "lhs_offset": -lhs.zero_point, "rhs_offset": -rhs.zero_point, "output_offset": output.zero_point,
        "output_multiplier": multiplier, "output_shift": shift,
    }
    macs = elements * depth
    function = batch_matmul_variant()
    if function == BATCH_MATMUL_WIDENED:
        # A constant rhs is widened here, once: flash instead of arena, and no widening at run time.
        if rhs.data is not None:
            rhs_args: tuple[TensorArg | ConstArg, ...] = (
                TensorArg(-1), ConstArg("rhs_widened", "int16_t", widen_constant(rhs.data, adj_y, rhs.zero_point)))
        else:
            rhs_args = (TensorArg(rhs_index), TensorArg(-1))
        return KernelCall(
            function=function, header=f"{function}.h", params_type="te_batch_matmul_params", params=params,
            args=(TensorArg(lhs_index), *rhs_args,
                  ScratchArg(widened_scratch_bytes(0 if rhs.data is not None else min(cols, WIDENED_BLOCK_COLS), depth),
                             "int16_t"),
                  TensorArg(output_index)),
            macs=macs,
        )
    return KernelCall(
        function=BATCH_MATMUL_REFERENCE, header=f"{BATCH_MATMUL_REFERENCE}.h", params_type="te_batch_matmul_params",
        params=params, args=(TensorArg(lhs_index), TensorArg(rhs_index), TensorArg(output_index)), macs=macs,
        fallback=requested_fallback(),
    )
