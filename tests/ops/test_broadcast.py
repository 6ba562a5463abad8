"""Broadcasting of 5-D and 6-D operands (TFLite-Micro broadcasts binary element-wise ops up to
6-D): tinyedge merges neighbouring dimensions the inputs read alike until 4 remain, and the
bytes still match tflite_micro's, for every binary element-wise op."""

from __future__ import annotations

import numpy as np
from single_op import OpCase, TensorSpec, check_cases, log_uniform, random_zero_point
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

OPTIONS = {"ADD": schema.AddOptionsT, "SUB": schema.SubOptionsT, "MUL": schema.MulOptionsT,
           "SQUARED_DIFFERENCE": None, "MAXIMUM": None, "MINIMUM": None}
PER_OP = 30


def _high_rank_shapes(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Output rank 5 or 6, cut into at most 4 runs of dimensions; in each run an input has every
    dimension or broadcasts every one (never both inputs broadcast)."""
    rank = int(rng.integers(5, 7))
    out = tuple(int(d) for d in rng.integers(1, 4, size=rank))
    cuts = sorted(rng.choice(np.arange(1, rank), size=int(rng.integers(0, 4)), replace=False).tolist())
    patterns = [(False, False), (True, False), (False, True)]
    shape1, shape2 = [], []
    for start, stop in zip([0, *cuts], [*cuts, rank]):
        broadcast1, broadcast2 = patterns[int(rng.integers(0, 3))]
        for d in out[start:stop]:
            shape1.append(1 if broadcast1 else d)
            shape2.append(1 if broadcast2 else d)
    return tuple(shape1), tuple(shape2), out


def _cases(seed: int) -> list[OpCase]:
    rng = np.random.default_rng(seed)
    cases = []
    for opcode, options in OPTIONS.items():
        for number in range(PER_OP):
            shape1, shape2, out = _high_rank_shapes(rng)
            # One input scale, and an output scale near what a converter would give the op.
            scale = log_uniform(rng, -2, 0)
            output_scale = {"MUL": scale * scale * 64, "SQUARED_DIFFERENCE": scale * scale * 64,
                            "MAXIMUM": scale, "MINIMUM": scale}.get(opcode, 2 * scale)
            inputs = tuple(TensorSpec(shape, scale, random_zero_point(rng)) for shape in (shape1, shape2))
            cases.append(OpCase(opcode, inputs, TensorSpec(out, output_scale, random_zero_point(rng)),
                                options() if options else None, f"seed {seed} {opcode} #{number}"))
    return cases


def test_five_and_six_dimensional_broadcasts_match_tflite_micro_for_every_binary_op(tmp_path):
    models = check_cases(_cases(seed=31), tmp_path)
    collapsed = [m for m in models if max(len(t.shape) for t in m.graph.tensors) > 4
                 and any(0 in c.values.tolist() for c in m.calls[0].constants)]
    assert len(collapsed) > len(models) // 2, "most cases broadcast (rather than run flat)"
