"""EMBEDDING_LOOKUP: rows of an int8 table picked by int32 ids (TFLite's embedding_lookup).

As TFLite-Micro's EmbeddingLookUpPrepare and EvalSimple: input 0 the ids (int32, 1-D), input 1
the table (rank 2 or more, its rows along dimension 0); the output is [ids, table.shape[1:]],
each row's bytes copied unchanged. TFLite-Micro also dequantizes to a float32 output (its
hybrid path); tinyedge takes the int8 output only. An id outside the table fails the
inference in TFLite-Micro: constant ids are checked here, run-time ids must stay inside.
"""

from __future__ import annotations

import math

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator
from tinyedge.ops import KernelCall, ParamValue, TensorArg, lowering
from tinyedge.ops._quant import require_int8


@lowering("EMBEDDING_LOOKUP")
def lower_embedding_lookup(graph: Graph, op: Operator) -> KernelCall:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: expected ids, a table and one output")
    ids, table, output = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    if ids.dtype != "int32" or len(ids.shape) != 1:
        raise UnsupportedOpError(f"{graph.describe(op)}: ids '{ids.name}' must be a 1-D int32 tensor "
                                 f"(they are {ids.dtype} {list(ids.shape)}; TFLite-Micro refuses others)")
    require_int8(graph, op, op.inputs[1], op.outputs[0])
    if len(table.shape) < 2:
        raise UnsupportedOpError(f"{graph.describe(op)}: table '{table.name}' {list(table.shape)} must have "
                                 "two dimensions or more (TFLite-Micro refuses it)")
    expected = (ids.shape[0], *table.shape[1:])
    if output.shape != expected:
        raise UnsupportedOpError(f"{graph.describe(op)}: output {list(output.shape)} is not the looked-up "
                                 f"{list(expected)}")
    num_rows = table.shape[0]
    if ids.data is not None and ((ids.data < 0) | (ids.data >= num_rows)).any():
        raise UnsupportedOpError(f"{graph.describe(op)}: ids {np.asarray(ids.data).tolist()} leave the "
                                 f"table's {num_rows} rows (TFLite-Micro fails the inference on them)")
    params: dict[str, ParamValue] = {
        "num_ids": ids.shape[0], "num_rows": num_rows, "row_size": math.prod(table.shape[1:]),
    }
    return KernelCall(function="te_embedding_lookup_s8", header="te_embedding_lookup_s8.h",
                      params_type="te_embedding_lookup_params", params=params,
                      args=(TensorArg(ids.index), TensorArg(table.index), TensorArg(output.index)), macs=0)
