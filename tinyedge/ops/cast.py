"""CAST between int8 and the other integer types TFLite-Micro's cast.cc converts: int8 to int16
or int32 (and to int8), int16 or int32 to int8, and bool to int8 (0 or 1).

TFLite-Micro converts each value as C++'s static_cast does: nothing is requantized, a wider
value keeps its integer, and a value outside int8 wraps modulo 256 (two's complement, as gcc and
clang convert). The quantizations of input and output are not read. Casts that touch no int8
tensor (float32, uint32, int16 <-> int32) are left out: an int8 model has none.
"""

from __future__ import annotations

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, TensorArg, lowering

CONVERSIONS = {("int8", "int8"): "TE_CAST_S8_TO_S8", ("int8", "int16"): "TE_CAST_S8_TO_S16",
               ("int8", "int32"): "TE_CAST_S8_TO_S32", ("int16", "int8"): "TE_CAST_S16_TO_S8",
               ("int32", "int8"): "TE_CAST_S32_TO_S8", ("bool", "int8"): "TE_CAST_BOOL_TO_S8"}


@lowering("CAST", activations=None)  # int8 <-> int16 in an int8 model: the conversions are checked below
def lower_cast(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected one input and one output")
    input_, output = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    conversion = CONVERSIONS.get((input_.dtype, output.dtype))
    if conversion is None:
        choices = ", ".join(f"{a} -> {b}" for a, b in CONVERSIONS)
        raise UnsupportedOpError(f"{graph.describe(op)}: a cast from {input_.dtype} to {output.dtype}; tinyedge "
                                 f"casts {choices}")
    if input_.size != output.size:
        raise UnsupportedOpError(f"{graph.describe(op)}: input {list(input_.shape)} and output "
                                 f"{list(output.shape)} hold different numbers of elements")
    return KernelCall(function="te_cast_s8", header="te_cast_s8.h", params_type="te_cast_params",
                      params={"conversion": conversion, "size": output.size},
                      args=(TensorArg(input_.index), TensorArg(output.index)))
