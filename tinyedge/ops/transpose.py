"""TRANSPOSE: the input's axes in the order of a constant permutation (Keras Permute).

As TFLite-Micro's TransposePrepare: inputs of 1 to 5 dimensions, a constant 1-D int32
permutation with one entry per input axis, each in range. The bytes are copied unchanged
(the converter gives the output the input's quantization; TFLite-Micro does not check it).
A permutation that repeats an axis TFLite-Micro would run into reading the wrong elements;
tinyedge refuses it. An int16 tensor (16x8 mode) is moved as bytes, each element an innermost
axis of two (_strided.in_bytes); a 5-D one whose bytes would need a sixth axis (no axis of size 1,
the last axis moved) runs te_transpose_s16 on its elements instead.
"""

from __future__ import annotations

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import ConstArg, KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import QUANTIZED, require_dtype
from tinyedge.ops._strided import RANK, constant_ints, extended, in_bytes, int32_array, row_major_strides


@lowering("TRANSPOSE", activations=QUANTIZED)
def lower_transpose(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input, a permutation and one output")
    require_dtype(graph, op, QUANTIZED, op.inputs[0], op.outputs[0])
    input_, output = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    rank = len(input_.shape)
    if not 1 <= rank <= RANK:
        raise UnsupportedOpError(f"{graph.describe(op)}: TFLite-Micro transposes 1-D to 5-D tensors, not "
                                 f"{list(input_.shape)}")
    perm_tensor = graph.tensor(op.inputs[1])
    perm = constant_ints(graph, op, perm_tensor, "permutation")
    if len(perm_tensor.shape) != 1 or sorted(perm) != list(range(rank)):
        raise UnsupportedOpError(f"{graph.describe(op)}: permutation {perm} is not an order of the {rank} axes")
    if output.shape != tuple(input_.shape[p] for p in perm):
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} is not input "
                                 f"{list(input_.shape)} permuted by {perm}")
    # Output axis d walks input axis perm[d]; leading axes added to reach 5-D have size 1.
    input_strides = row_major_strides(input_.shape)
    counts, steps = list(output.shape), [input_strides[p] for p in perm]
    kernel, view = "te_transpose_s8", "int8_t"
    itemsize = np.dtype(input_.dtype).itemsize
    if itemsize > 1:
        geometry = in_bytes(0, counts, steps, itemsize)
        if geometry is not None:
            _, counts, steps = geometry
        else:
            kernel, view = "te_transpose_s16", "int16_t"
    params: dict[str, ParamValue] = {"output_shape": "@output_shape", "input_steps": "@input_steps"}
    constants = (ConstArg("output_shape", "int32_t", int32_array(extended(counts))),
                 ConstArg("input_steps", "int32_t", int32_array(extended(steps))))
    args = (TensorArg(input_.index, view=view), TensorArg(output.index, view=view))
    return KernelCall(function=kernel, header=f"{kernel}.h", params_type="te_transpose_params",
                      params=params, args=args, macs=0, constants=constants)
