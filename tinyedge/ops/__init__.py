"""Lowering: each supported TFLite operator becomes one call to a C kernel in firmware/kernels.

An op lives in one module of this package, registered with `@lowering("OPNAME")`. The
function gets the graph and the operator and returns a `KernelCall`: which kernel to
call, its parameter struct (every value a compile-time constant, computed here exactly
as TFLite-Micro's Prepare step computes it) and its arguments. Adding an op means one
module here plus its kernel in firmware/kernels/.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tinyedge.errors import TinyEdgeError, UnsupportedOpError
from tinyedge.ir import Graph, Operator


@dataclass(frozen=True)
class TensorArg:
    """A tensor of the graph passed as a pointer (arena, model input/output, or constant array)."""

    index: int  # -1: absent optional tensor, passed as NULL


@dataclass(frozen=True)
class TensorListArg:
    """Several tensors passed as one array of pointers: inputs (CONCATENATION), or with
    `writable` the outputs of an op that has several (SPLIT, UNPACK)."""

    indices: tuple[int, ...]
    writable: bool = False  # int8_t *const[] rather than const int8_t *const[]


@dataclass(frozen=True)
class ConstArg:
    """A constant array computed at lowering time (per-channel multipliers, lookup tables)."""

    name: str  # suffix; the generated identifier is prefixed with the layer name
    ctype: str  # "int32_t", "int8_t", ...
    values: np.ndarray


@dataclass(frozen=True)
class ScratchArg:
    """Working memory the kernel needs during the call; the planner places it in the arena."""

    nbytes: int
    ctype: str = "int32_t"


Arg = TensorArg | TensorListArg | ConstArg | ScratchArg
ParamValue = int | str  # str: a C expression such as the name of a ConstArg ("@multiplier")


@dataclass(frozen=True)
class KernelCall:
    """One generated C statement: `function(&params, args...)`.

    A params value that is a string starting with "@" names a ConstArg of this call; the
    code generator replaces it with the array's identifier.
    """

    function: str  # e.g. "te_conv2d_s8"
    header: str  # e.g. "te_conv2d_s8.h"
    params_type: str  # e.g. "te_conv2d_params"
    params: dict[str, ParamValue]
    args: tuple[Arg, ...]
    macs: int = 0
    # Output may share the buffer of inputs[0] when that input dies at this op
    # (element-wise ops that read each element before writing it).
    in_place: bool = False
    # Output may overwrite inputs[0] (when it dies at this op) if the output starts at least
    # this many bytes below it: kernels that read a window of the input before writing the
    # outputs it gives (te_conv2d_im2col_s8, te_conv2d_1x1_s8). None: never.
    in_place_shift: int | None = None
    constants: tuple[ConstArg, ...] = field(default_factory=tuple)
    # Why this reference kernel runs although the op has a fast variant (a channel's shift
    # outside the variant's range, "reference kernels requested"); None when a fast variant
    # runs, when none exists, and where the reference kernel is a choice (a small size).
    fallback: str | None = None


Lowering = Callable[[Graph, Operator], KernelCall]
_LOWERINGS: dict[str, Lowering] = {}


def lowering(*opcodes: str) -> Callable[[Lowering], Lowering]:
    def register(fn: Lowering) -> Lowering:
        for opcode in opcodes:
            _LOWERINGS[opcode] = fn
        return fn

    return register


def _load_all() -> None:
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


def supported_ops() -> list[str]:
    _load_all()
    return sorted(_LOWERINGS)


def lower(graph: Graph, op: Operator) -> KernelCall:
    _load_all()
    fn = _LOWERINGS.get(op.opcode)
    if fn is None:
        raise UnsupportedOpError(f"unsupported op: {graph.describe(op)}")
    try:
        return fn(graph, op)
    except TinyEdgeError as exc:
        if str(exc).startswith("layer "):
            raise
        raise type(exc)(f"{graph.describe(op)}: {exc}") from exc
    except (AssertionError, ArithmeticError, IndexError, KeyError, TypeError, ValueError) as exc:
        # The importer checks what every op relies on; an op's own invariants (ranks, option ranges,
        # scale ratios) that a damaged file breaks surface here, and must still name the layer.
        raise TinyEdgeError(f"{graph.describe(op)}: its tensors or options are not what a {op.opcode} can have "
                            f"({type(exc).__name__}: {exc}); re-export the model with the TensorFlow Lite "
                            "converter") from exc


def find_unsupported(graph: Graph) -> list[Operator]:
    _load_all()
    return [op for op in graph.operators if op.opcode not in _LOWERINGS]


# What a user can put in place of a layer whose op tinyedge (or TFLite-Micro's int8 set) lacks.
REPLACEMENTS = {
    "TILE": "repeat the tensor with Concatenate, or use UpSampling2D/UpSampling1D (tinyedge rewrites those)",
    "EXP": "use a softmax (SOFTMAX runs in int8) or a piecewise-linear activation",
    "NEG": "multiply by -1 (MUL runs in int8)",
    "L2_POOL_2D": "use AveragePooling2D or MaxPooling2D",
    "WHILE": "give recurrent layers a fixed sequence length (tinyedge unrolls them)",
}


def unsupported_message(graph: Graph, ops: list[Operator]) -> str:
    """One line for every op tinyedge lacks: each opcode once, with where it sits and what to use instead."""
    by_opcode: dict[str, list[Operator]] = {}
    for op in ops:
        by_opcode.setdefault(op.opcode, []).append(op)
    parts = []
    for opcode, found in by_opcode.items():
        indices = ", ".join(str(op.index) for op in found[:5]) + (", ..." if len(found) > 5 else "")
        layers = sorted({layer for op in found if (layer := graph.keras_layer(op)) is not None})
        where = f"layer{'s' if len(found) > 1 else ''} {indices}"
        if layers:
            where += f", Keras layer{'s' if len(layers) > 1 else ''} " + ", ".join(f"'{name}'" for name in layers)
        instead = f"; instead: {REPLACEMENTS[opcode]}" if opcode in REPLACEMENTS else ""
        parts.append(f"{opcode} ({where}{instead})")
    return (f"the model uses op{'s' if len(by_opcode) > 1 else ''} tinyedge has no kernel for, so nothing was "
            f"generated: {'; '.join(parts)} (supported ops: docs/ops.md)")
