"""DEPTH_TO_SPACE: each pixel's channels spread over a block_size x block_size patch
(tf.nn.depth_to_space, the pixel shuffle of super-resolution models).

As TFLite-Micro's depth_to_space.cc Prepare: a 4-D int8 input, block_size > 0 dividing the
depth by block_size squared; output [batches, height * block, width * block, depth / block^2].
Bytes are copied unchanged (no quantization check in TFLite-Micro; the converter gives the
output the input's).
"""

from __future__ import annotations

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import require_int8


@lowering("DEPTH_TO_SPACE")
def lower_depth_to_space(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected one input and one output")
    require_int8(graph, op, op.inputs[0], op.outputs[0])
    input_, output = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    block = int(op.options.get("blockSize", 0))
    if len(input_.shape) != 4 or block <= 0 or input_.shape[3] % (block * block):
        raise UnsupportedOpError(f"{graph.describe(op)}: TFLite-Micro needs a 4-D input whose depth block_size "
                                 f"squared divides, not {list(input_.shape)} with block_size {block}")
    batches, height, width, depth = input_.shape
    if output.shape != (batches, height * block, width * block, depth // (block * block)):
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} does not match input "
                                 f"{list(input_.shape)} with block_size {block}")
    params: dict[str, ParamValue] = {"batches": batches, "input_height": height, "input_width": width,
                                     "block_size": block, "output_depth": depth // (block * block)}
    return KernelCall(function="te_depth_to_space_s8", header="te_depth_to_space_s8.h",
                      params_type="te_depth_to_space_params", params=params,
                      args=(TensorArg(input_.index), TensorArg(output.index)), macs=0)
