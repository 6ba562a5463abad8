"""STRIDED_SLICE: every stride-th element between begin and end along each axis (Python
slicing of a tensor, x[:, 1:5:2], in Keras models and their Lambda layers).

As TFLite-Micro (strided_slice_common.cc, reference_ops::StridedSlice): inputs of 1 to 4
dimensions; begin, end and strides constant int32 of one value per axis, no stride 0;
begin_mask, end_mask and shrink_axis_mask honoured, ellipsis_mask, new_axis_mask and the
offset option ignored (TFLite-Micro zeroes them). Prepare's output-shape check is done here
with its StartForAxis/StopForAxis; the elements are read where Eval's
StridedSliceStartForAxis/EndForAxis put them. Bytes are copied unchanged: an int16 tensor
(16x8 mode) is sliced as bytes, each element an innermost axis of two (_strided.in_bytes).
"""

from __future__ import annotations

import math

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import ConstArg, KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import QUANTIZED, require_dtype
from tinyedge.ops._strided import RANK, constant_ints, extended, in_bytes, int32_array, row_major_strides

MAX_RANK = 4
INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1


def _clamp(value: int, low: int, high: int) -> int:
    return high if value > high else low if value < low else value


def _prepare_start_stop(size: int, begin: int, end: int, stride: int, begin_masked: bool, end_masked: bool,
                        shrink: bool) -> tuple[int, int]:
    """strided_slice::StartForAxis and StopForAxis (what Prepare checks the output shape with)."""
    if size == 0:
        return 0, 0
    start = (INT_MIN if stride > 0 else INT_MAX) if begin_masked else begin
    start += size if start < 0 else 0
    start = _clamp(start, 0, size) if stride > 0 else _clamp(start, -1, size - 1)
    if shrink:
        return start, start + 1
    stop = (INT_MAX if stride > 0 else INT_MIN) if end_masked else end
    stop += size if stop < 0 else 0
    stop = _clamp(stop, 0, size) if stride > 0 else _clamp(stop, -1, size - 1)
    return start, stop


def _eval_start_stop(size: int, begin: int, end: int, stride: int, begin_masked: bool, end_masked: bool,
                     shrink: bool) -> tuple[int, int]:
    """strided_slice::StridedSliceStartForAxis and StridedSliceEndForAxis (where Eval reads)."""
    start = begin + size if begin < 0 else begin
    start = _clamp(start, 0, size) if stride > 0 else _clamp(start, -1, size - 1)
    if begin_masked:
        start = 0 if stride > 0 else size - 1
    if shrink:
        return start, start if start >= size else start + 1
    stop = end + size if end < 0 else end
    stop = _clamp(stop, 0, size) if stride > 0 else _clamp(stop, -1, size - 1)
    if end_masked:
        stop = size if stride > 0 else -1
    return start, stop


def _count(start: int, stop: int, stride: int) -> int:
    """How many times `for (i = start; stride > 0 ? i < stop : i > stop; i += stride)` runs."""
    return max(0, -((start - stop) // stride)) if stride > 0 else max(0, (start - stop + (-stride) - 1) // -stride)


@lowering("STRIDED_SLICE", activations=QUANTIZED)
def lower_strided_slice(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 4 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input, begin, end, strides and one output")
    require_dtype(graph, op, QUANTIZED, op.inputs[0], op.outputs[0])
    input_, output = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    rank = len(input_.shape)
    if rank > MAX_RANK:
        raise UnsupportedOpError(f"{graph.describe(op)}: TFLite-Micro slices up to {MAX_RANK}-D tensors, not "
                                 f"{list(input_.shape)}")
    begin, end, strides = (constant_ints(graph, op, graph.tensor(i), what)
                           for i, what in zip(op.inputs[1:], ("begin", "end", "strides")))
    if not len(begin) == len(end) == len(strides) == rank:
        raise UnsupportedOpError(f"{graph.describe(op)}: begin, end and strides need {rank} values each")
    if 0 in strides:
        raise UnsupportedOpError(f"{graph.describe(op)}: a stride of 0 (TFLite-Micro: stride value has to be "
                                 "non-zero)")
    begin_mask, end_mask = int(op.options.get("beginMask", 0)), int(op.options.get("endMask", 0))
    shrink_mask = int(op.options.get("shrinkAxisMask", 0))

    kept_shape, starts, counts = [], [], []
    for axis, size in enumerate(input_.shape):
        masks = (bool(begin_mask >> axis & 1), bool(end_mask >> axis & 1), bool(shrink_mask >> axis & 1))
        start, stop = _prepare_start_stop(size, begin[axis], end[axis], strides[axis], *masks)
        dim = max(0, math.ceil(np.float32(stop - start) / np.float32(strides[axis])))
        if not masks[2]:
            kept_shape.append(int(dim))
        start, stop = _eval_start_stop(size, begin[axis], end[axis], strides[axis], *masks)
        starts.append(start)
        counts.append(_count(start, stop, strides[axis]))
    if tuple(kept_shape) != output.shape:
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} is not the {kept_shape} this "
                                 "slice gives (TFLite-Micro refuses it)")
    if math.prod(counts) != output.size:
        raise UnsupportedOpError(f"{graph.describe(op)}: TFLite-Micro would read {math.prod(counts)} elements "
                                 f"for an output of {output.size}")
    input_strides = row_major_strides(input_.shape)
    start = sum(s * t for s, t in zip(starts, input_strides))
    return strided_copy(graph, op, start, counts, [s * t for s, t in zip(strides, input_strides)])


def strided_copy(graph: Graph, op: Operator, start: int, counts: list[int], steps: list[int]) -> KernelCall:
    """The te_strided_slice_s8 call (SLICE uses it too: a slice is a strided slice of stride 1): the output
    walks `counts`, reading the input from element `start` on by `steps` elements per axis. Elements
    wider than a byte are copied as bytes."""
    input_, output = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    itemsize = np.dtype(input_.dtype).itemsize
    if itemsize > 1:
        geometry = in_bytes(start, counts, steps, itemsize)
        if geometry is None:
            raise UnsupportedOpError(f"{graph.describe(op)}: this {input_.dtype} slice of {list(input_.shape)} "
                                     f"needs more than {RANK} axes as bytes")
        start, counts, steps = geometry
    params: dict[str, ParamValue] = {"start": start, "output_shape": "@output_shape", "input_steps": "@input_steps"}
    constants = (ConstArg("output_shape", "int32_t", int32_array(extended(counts, RANK))),
                 ConstArg("input_steps", "int32_t", int32_array(extended(steps, RANK))))
    return KernelCall(function="te_strided_slice_s8", header="te_strided_slice_s8.h",
                      params_type="te_strided_slice_params", params=params,
                      args=(TensorArg(input_.index, view="int8_t"), TensorArg(output.index, view="int8_t")), macs=0,
                      constants=constants)
