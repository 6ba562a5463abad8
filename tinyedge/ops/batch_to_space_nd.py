"""BATCH_TO_SPACE_ND: interleaved sub-images stacked along the batch put back together into
one image, then cropped (tf.batch_to_space, the second half of an unfused dilated convolution).

As TFLite-Micro's batch_to_space_nd.cc: 3-D (NHC) or 4-D (NHWC) input and output of the same
rank; block shape and crops int32 (tinyedge needs them constant). Bytes are copied unchanged.
TFLite-Micro writes only the output pixels some input pixel lands on and checks no shape;
tinyedge refuses an output shape that does not follow from the block and crops, so that every
output byte is written.
"""

from __future__ import annotations

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import require_int8
from tinyedge.ops._strided import constant_ints
from tinyedge.ops.space_to_batch_nd import nhwc_extended


@lowering("BATCH_TO_SPACE_ND")
def lower_batch_to_space_nd(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 3 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input, a block shape, crops and one output")
    require_int8(graph, op, op.inputs[0], op.outputs[0])
    input_, output = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    rank = len(input_.shape)
    if rank not in (3, 4) or len(output.shape) != rank:
        raise UnsupportedOpError(f"{graph.describe(op)}: TFLite-Micro takes 3-D or 4-D input and output of one "
                                 f"rank, not {list(input_.shape)} -> {list(output.shape)}")
    block = constant_ints(graph, op, graph.tensor(op.inputs[1]), "block shape")
    crops = constant_ints(graph, op, graph.tensor(op.inputs[2]), "crops")
    spatial = rank - 2
    if len(block) != spatial or len(crops) != 2 * spatial or min(block) < 1 or min(crops) < 0:
        raise UnsupportedOpError(f"{graph.describe(op)}: block shape {block} and crops {crops} do not fit a "
                                 f"{rank}-D input")
    block_height, block_width = block[0], block[1] if rank == 4 else 1
    crop_top, crop_bottom = crops[0], crops[1]
    crop_left, crop_right = (crops[2], crops[3]) if rank == 4 else (0, 0)
    batches, height, width, depth = nhwc_extended(input_.shape)
    expected = (batches // (block_height * block_width), height * block_height - crop_top - crop_bottom,
                width * block_width - crop_left - crop_right, depth)
    if batches % (block_height * block_width) or min(expected) < 1 or nhwc_extended(output.shape) != expected:
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} does not follow from input "
                                 f"{list(input_.shape)}, block shape {block} and crops {crops}")
    params: dict[str, ParamValue] = {
        "input_batches": batches, "input_height": height, "input_width": width, "depth": depth,
        "output_batches": expected[0], "output_height": expected[1], "output_width": expected[2],
        "block_height": block_height, "block_width": block_width, "crop_top": crop_top, "crop_left": crop_left,
    }
    return KernelCall(function="te_batch_to_space_nd_s8", header="te_batch_to_space_nd_s8.h",
                      params_type="te_batch_to_space_nd_params", params=params,
                      args=(TensorArg(input_.index), TensorArg(output.index)), macs=0)
