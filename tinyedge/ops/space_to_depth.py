"""SPACE_TO_DEPTH: each block_size x block_size patch of pixels becomes one pixel's channels
(tf.nn.space_to_depth, the "focus" stem of some detectors).

As TFLite-Micro's space_to_depth.cc Prepare: a 4-D int8 input whose height and width
block_size divides; output [batches, height / block, width / block, depth * block^2]. Bytes are
copied unchanged (no quantization check in TFLite-Micro).
"""

from __future__ import annotations

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import require_int8


@lowering("SPACE_TO_DEPTH")
def lower_space_to_depth(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected one input and one output")
    require_int8(graph, op, op.inputs[0], op.outputs[0])
    input_, output = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    block = int(op.options.get("blockSize", 0))
    if len(input_.shape) != 4 or block <= 0 or input_.shape[1] % block or input_.shape[2] % block:
        raise UnsupportedOpError(f"{graph.describe(op)}: TFLite-Micro needs a 4-D input whose height and width "
                                 f"block_size divides, not {list(input_.shape)} with block_size {block}")
    batches, height, width, depth = input_.shape
    if output.shape != (batches, height // block, width // block, depth * block * block):
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} does not match input "
                                 f"{list(input_.shape)} with block_size {block}")
    params: dict[str, ParamValue] = {"batches": batches, "output_height": height // block,
                                     "output_width": width // block, "block_size": block, "input_depth": depth}
    return KernelCall(function="te_space_to_depth_s8", header="te_space_to_depth_s8.h",
                      params_type="te_space_to_depth_params", params=params,
                      args=(TensorArg(input_.index), TensorArg(output.index)), macs=0)
