"""PACK: N tensors of one shape stacked along a new axis (keras.ops.stack, tf.stack).

TFLite-Micro's pack.cc has no Prepare: Eval copies, for each of the values_count inputs,
`copy_size` elements per outer slice into its place, the bytes unchanged whatever the
quantization. That is CONCATENATION's copy along the new axis, so PACK runs on
te_concatenation_s8 with every input's copy size equal. tinyedge also checks what Eval takes
for granted: values_count inputs of one shape, and an output of that shape with N inserted.
int16 tensors (16x8 mode) are stacked as bytes.
"""

from __future__ import annotations

import math

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import ConstArg, KernelCall, ParamValue, TensorArg, TensorListArg, lowering
from tinyedge.ops._quant import QUANTIZED, require_dtype


@lowering("PACK", activations=QUANTIZED)
def lower_pack(graph: Graph, op: Operator) -> KernelCall:
    count = int(op.options.get("valuesCount", len(op.inputs)))
    if not op.inputs or count != len(op.inputs) or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: {len(op.inputs)} inputs for values_count {count}")
    require_dtype(graph, op, QUANTIZED, *op.inputs, op.outputs[0])
    inputs, output = [graph.tensor(i) for i in op.inputs], graph.tensor(op.outputs[0])
    shape = inputs[0].shape
    if any(t.shape != shape for t in inputs):
        raise UnsupportedOpError(f"{graph.describe(op)}: the inputs must share one shape, not "
                                 f"{[list(t.shape) for t in inputs]}")
    axis = int(op.options.get("axis", 0))
    axis += len(output.shape) if axis < 0 else 0
    if not 0 <= axis <= len(shape) or output.shape != (*shape[:axis], count, *shape[axis:]):
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} is not {count} inputs "
                                 f"{list(shape)} stacked along axis {op.options.get('axis', 0)}")
    copy_size = math.prod(shape[axis:]) * np.dtype(output.dtype).itemsize  # bytes
    params: dict[str, ParamValue] = {"num_inputs": count, "outer_size": math.prod(shape[:axis]),
                                     "copy_sizes": "@copy_sizes"}
    return KernelCall(function="te_concatenation_s8", header="te_concatenation_s8.h",
                      params_type="te_concatenation_params", params=params,
                      args=(TensorListArg(tuple(op.inputs), view="int8_t"), TensorArg(output.index, view="int8_t")),
                      macs=0,
                      constants=(ConstArg("copy_sizes", "int32_t", np.full(count, copy_size, dtype=np.int32)),))
