"""NEG, EXP and L2_POOL_2D: TFLite-Micro runs them in float only, so an int8 one is refused by
tinyedge before any C is written (and TFLite-Micro refuses it too: checked here); a Keras model
that leaves one in float is refused at the quantize stage (tests/test_partly_float.py)."""

from __future__ import annotations

import numpy as np
import pytest
from single_op import OpCase, TensorSpec, single_op_tflite
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.codegen import compile_graph
from tinyedge.errors import TinyEdgeError
from tinyedge.importer import parse_tflite
from tinyedge.ops import find_unsupported, supported_ops
from tinyedge.reference import run_reference


def _l2_pool_options() -> schema.Pool2DOptionsT:
    options = schema.Pool2DOptionsT()
    options.filterHeight = options.filterWidth = options.strideH = options.strideW = 2
    return options


CASES = {
    "NEG": OpCase("NEG", (TensorSpec((1, 4), 0.1, 0),), TensorSpec((1, 4), 0.1, 0)),
    "EXP": OpCase("EXP", (TensorSpec((1, 4), 0.1, 0),), TensorSpec((1, 4), 0.1, 0)),
    "L2_POOL_2D": OpCase("L2_POOL_2D", (TensorSpec((1, 4, 4, 2), 0.1, 0),), TensorSpec((1, 2, 2, 2), 0.1, 0),
                         _l2_pool_options()),
}


@pytest.mark.parametrize("opcode", sorted(CASES))
def test_int8_op_that_tflite_micro_runs_in_float_only_is_refused_by_both(opcode):
    case = CASES[opcode]
    flatbuffer = single_op_tflite(case)
    graph = parse_tflite(flatbuffer)
    assert opcode not in supported_ops() and [op.opcode for op in find_unsupported(graph)] == [opcode]
    with pytest.raises(TinyEdgeError, match=rf"no kernel for, so nothing was generated: {opcode} \(layer 0; instead: "):
        compile_graph(graph)
    with pytest.raises(TinyEdgeError, match=opcode):
        run_reference(flatbuffer, [[np.zeros(case.inputs[0].shape, dtype=np.int8)]])
