"""SPACE_TO_BATCH_ND: the padded image cut into block_height x block_width interleaved
sub-images stacked along the batch (tf.space_to_batch, the first half of a dilated
convolution the converter did not fuse).

As TFLite-Micro's space_to_batch_nd.cc: 3-D (NHC, one spatial axis) or 4-D (NHWC) input and
output of the same rank; block shape and paddings int32, read as TFLite-Micro reads them
(tinyedge needs them constant). TFLite-Micro pads with SpaceToBatchParams.output_offset, which
its Prepare never sets: the padding bytes are whatever that arena memory held (seen: 1, 16,
-64, ...), so no firmware can match them. tinyedge refuses padding, and runs the unpadded op
(a pure rearrangement, bytes copied unchanged) that TFLite-Micro computes reproducibly. Output
shapes that do not follow from the block, which TFLite-Micro does not check, are refused.
"""

from __future__ import annotations

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import require_int8
from tinyedge.ops._strided import constant_ints


def nhwc_extended(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """ExtendShapeSpaceToBatch / ExtendShapeBatchToSpace: NHC becomes NH1C."""
    return (shape[0], shape[1], shape[2], shape[3]) if len(shape) == 4 else (shape[0], shape[1], 1, shape[2])


@lowering("SPACE_TO_BATCH_ND")
def lower_space_to_batch_nd(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 3 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected an input, a block shape, paddings and one output")
    require_int8(graph, op, op.inputs[0], op.outputs[0])
    input_, output = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    rank = len(input_.shape)
    if rank not in (3, 4) or len(output.shape) != rank:
        raise UnsupportedOpError(f"{graph.describe(op)}: TFLite-Micro takes 3-D or 4-D input and output of one "
                                 f"rank, not {list(input_.shape)} -> {list(output.shape)}")
    block = constant_ints(graph, op, graph.tensor(op.inputs[1]), "block shape")
    paddings = constant_ints(graph, op, graph.tensor(op.inputs[2]), "paddings")
    spatial = rank - 2
    if len(block) != spatial or len(paddings) != 2 * spatial or min(block) < 1 or min(paddings) < 0:
        raise UnsupportedOpError(f"{graph.describe(op)}: block shape {block} and paddings {paddings} do not fit "
                                 f"a {rank}-D input")
    if any(paddings):
        raise UnsupportedOpError(f"{graph.describe(op)}: paddings {paddings}: TFLite-Micro fills padding with an "
                                 "uninitialized value (SpaceToBatchParams.output_offset is never set), so its "
                                 "output cannot be reproduced; pad with a PAD layer (ZeroPadding2D) before it")
    block_height, block_width = block[0], block[1] if rank == 4 else 1
    batches, height, width, depth = nhwc_extended(input_.shape)
    expected = (batches * block_height * block_width, height // block_height, width // block_width, depth)
    if height % block_height or width % block_width or nhwc_extended(output.shape) != expected:
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} does not follow from input "
                                 f"{list(input_.shape)} and block shape {block}")
    params: dict[str, ParamValue] = {
        "input_batches": batches, "depth": depth, "output_batches": expected[0], "output_height": expected[1],
        "output_width": expected[2], "block_height": block_height, "block_width": block_width,
    }
    return KernelCall(function="te_space_to_batch_nd_s8", header="te_space_to_batch_nd_s8.h",
                      params_type="te_space_to_batch_nd_params", params=params,
                      args=(TensorArg(input_.index), TensorArg(output.index)), macs=0)
