"""16x8-mode (int16 activation) versions of the int8 single-op cases.

The int8 test files already draw hundreds of random shapes, geometries and scales per op;
`as_int16` turns such a case into the same op with int16 activations, so the 16x8 tests cover
the same configurations without copying their generators. TensorFlow writes zero point 0 on
every int16 activation; where TFLite-Micro accepts others, `ZERO_POINTS_MAPPED` moves each int8
zero point to zero_point * 256 (equal zero points stay equal, as ops such as PAD or
CONCATENATION need), with a random low byte where nothing requires equality.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from single_op import OpCase, TensorSpec

ZERO_POINTS_ZERO = "zero"  # every int16 zero point 0, as TensorFlow's 16x8 converter writes them
ZERO_POINTS_MAPPED = "mapped"  # int8 zero point z becomes z * 256 (equalities kept)
INT16_MIN, INT16_MAX = -32768, 32767


def _zero_point(zero_point: int | object, mode: str) -> int | object:
    if not np.isscalar(zero_point):
        return zero_point  # per-channel: left as it is (weights, not activations)
    return 0 if mode == ZERO_POINTS_ZERO else int(zero_point) * 256


def as_int16_spec(spec: TensorSpec, rng: np.random.Generator, mode: str = ZERO_POINTS_ZERO) -> TensorSpec:
    """An int8 tensor as int16 (other dtypes unchanged); constant values redrawn over the int16 range."""
    if spec.dtype != "int8":
        return spec
    data = None
    if spec.data is not None:
        data = rng.integers(INT16_MIN, INT16_MAX, size=np.shape(spec.data), dtype=np.int16, endpoint=True)
    return replace(spec, dtype="int16", zero_point=_zero_point(spec.zero_point, mode), data=data)


def as_int16(case: OpCase, rng: np.random.Generator, mode: str = ZERO_POINTS_ZERO,
             keep_constants: bool = False) -> OpCase:
    """The case with every int8 tensor int16; hand-worked samples dropped (they are int8 bytes).

    keep_constants: constant int8 tensors keep their values (widened), for ops whose constants must
    stay in a range (PADV2's pad value, a scalar that must equal the output zero point's domain...).
    """
    def convert(spec: TensorSpec) -> TensorSpec:
        converted = as_int16_spec(spec, rng, mode)
        if keep_constants and spec.data is not None and spec.dtype == "int8":
            converted = replace(converted, data=np.asarray(spec.data).astype(np.int16))
        return converted

    more = {"more_outputs": tuple(convert(s) for s in case.more_outputs)} if hasattr(case, "more_outputs") else {}
    return replace(case, inputs=tuple(convert(s) for s in case.inputs), output=convert(case.output),
                   label=f"{case.label} int16/{mode}", samples=(), expected=(), **more)


def as_int16_cases(cases: list[OpCase], seed: int, modes: tuple[str, ...] = (ZERO_POINTS_ZERO, ZERO_POINTS_MAPPED),
                   keep_constants: bool = False) -> list[OpCase]:
    """Each case as int16, the zero-point modes taken in turn."""
    rng = np.random.default_rng(seed)
    return [as_int16(case, rng, modes[number % len(modes)], keep_constants) for number, case in enumerate(cases)]
