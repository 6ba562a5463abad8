"""ELU: int8 through a 256-entry table (TFLite-Micro's elu.cc).

TFLite-Micro's Prepare tabulates x < 0 ? expf(x) - 1 : x over every int8 input in float32
(PopulateLookupTable); the lowering builds the same table (tinyedge.ops._lut) and the
kernel only looks bytes up. Any input and output quantization is accepted, as TFLite-Micro
accepts it.
"""

from __future__ import annotations

import numpy as np

from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, lowering
from tinyedge.ops._lut import expf, float_lookup_table, lookup_call
from tinyedge.ops.activations import _unary_int8


def elu(x: np.float32) -> np.float32:
    return np.float32(expf(x) - np.float32(1.0)) if x < np.float32(0.0) else x


@lowering("ELU")
def lower_elu(graph: Graph, op: Operator) -> KernelCall:
    input_, output = _unary_int8(graph, op)
    table = float_lookup_table(input_.scale, input_.zero_point, output.scale, output.zero_point, elu)
    return lookup_call(op, input_.size, table)
