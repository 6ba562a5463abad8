"""Shape arithmetic shared by the data-movement lowerings (TRANSPOSE, STRIDED_SLICE, SLICE, ...).

Their kernels walk a 5-D output in row-major order and read the input at
`start + sum(index[d] * input_steps[d])`: these helpers extend shapes to 5-D as TFLite's
RuntimeShape::ExtendedShape does and give row-major strides in elements.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyedge.errors import UnsupportedOpError
from tinyedge.ir import Graph, Operator, Tensor

RANK = 5


def extended(shape: Sequence[int], rank: int = RANK) -> list[int]:
    """`shape` with leading 1s up to `rank` dimensions."""
    return [1] * (rank - len(shape)) + [int(d) for d in shape]


def row_major_strides(shape: Sequence[int]) -> list[int]:
    """Elements between neighbours along each axis of a row-major tensor."""
    strides = [1] * len(shape)
    for axis in range(len(shape) - 2, -1, -1):
        strides[axis] = strides[axis + 1] * int(shape[axis + 1])
    return strides


def int32_array(values: Sequence[int]) -> np.ndarray:
    return np.array([int(v) for v in values], dtype=np.int32)


def constant_ints(graph: Graph, op: Operator, tensor: Tensor, what: str, dtypes: tuple[str, ...] = ("int32",)
                  ) -> list[int]:
    """The values of a constant integer operand (begin, perm, axis, paddings ...).

    Some TFLite-Micro kernels refuse a computed one in Prepare (TRANSPOSE, STRIDED_SLICE, SPLIT), others
    read it at every call (SLICE, MIRROR_PAD); tinyedge works the geometry out before any C is written,
    so it needs every one constant (the converter makes them so for a model of fixed shape).
    """
    if tensor.data is None or tensor.dtype not in dtypes:
        raise UnsupportedOpError(f"{graph.describe(op)}: the {what} '{tensor.name}' must be a constant "
                                 f"{' or '.join(dtypes)} tensor, not one computed while the model runs")
    return [int(v) for v in tensor.data.reshape(-1)]



def in_bytes(start: int, counts: Sequence[int], steps: Sequence[int], itemsize: int,
             rank: int = RANK) -> tuple[int, list[int], list[int]] | None:
    """A strided copy in elements of `itemsize` bytes (start, counts, steps) as the same copy in bytes,
    for the byte-moving kernels to move int16 tensors (16x8 mode): each element becomes an innermost
    axis of `itemsize` bytes. Axes walked once are left out and neighbours that read one run are
    merged, so that at most `rank` axes remain; None where more would."""
    counts_b = [int(c) for c in counts] + [itemsize]
    steps_b = [int(s) * itemsize for s in steps] + [1]
    kept = [(c, s) for c, s in zip(counts_b, steps_b) if c != 1] or [(1, 1)]
    merged = [kept[0]]
    for count, step in kept[1:]:
        outer_count, outer_step = merged[-1]
        if outer_step == count * step:  # the outer axis continues where the inner run ends
            merged[-1] = (outer_count * count, step)
        else:
            merged.append((count, step))
    if len(merged) > rank:
        return None
    return start * itemsize, [c for c, _ in merged], [s for _, s in merged]
