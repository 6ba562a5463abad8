"""L2_NORMALIZATION: int8 x / |x| over the last axis (tf.math.l2_normalize in a Keras model).

TFLite-Micro's Prepare (l2norm.cc) only reads the input zero point, requires at most 4
dimensions and no fused activation; the reference integer kernel writes x / |x| in units of
1/128 with no output offset and never reads the output's quantization (the converter gives
it scale 1/128 and zero point 0). The inverse square root of each row's sum of squares is
GetInvSqrtQuantizedMultiplierExp, in the kernel (te_nn_inv_sqrt.h).
"""

from __future__ import annotations

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import fused_activation
from tinyedge.ops.activations import _unary_int8

MAX_RANK = 4
MAX_DEPTH = (2**31 - 1) // (255 * 255)  # rows whose sum of squares fits int32


@lowering("L2_NORMALIZATION")
def lower_l2_normalization(graph: Graph, op: Operator) -> KernelCall:
    input_, output = _unary_int8(graph, op)
    if not 1 <= len(input_.shape) <= MAX_RANK or input_.shape[-1] != output.shape[-1]:
        raise UnsupportedOpError(f"{graph.describe(op)}: input {list(input_.shape)} and output {list(output.shape)} "
                                 f"must have 1 to {MAX_RANK} dimensions and the same last one")
    if fused_activation(op) != "NONE":
        raise UnsupportedOpError(f"{graph.describe(op)}: a fused {fused_activation(op)} on L2_NORMALIZATION is "
                                 "refused by TFLite-Micro")
    depth = input_.shape[-1]
    if depth > MAX_DEPTH:
        raise UnsupportedOpError(f"{graph.describe(op)}: rows of {depth} values overflow the int32 sum of squares "
                                 f"(at most {MAX_DEPTH})")
    params: dict[str, ParamValue] = {"outer_size": input_.size // depth if depth else 0, "depth": depth,
                                     "input_zero_point": input_.zero_point}
    return KernelCall(function="te_l2_normalization_s8", header="te_l2_normalization_s8.h",
                      params_type="te_l2_normalization_params", params=params,
                      args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])), in_place=True)
