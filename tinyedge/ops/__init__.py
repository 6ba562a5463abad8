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
    # The C element type the kernel takes the tensor as, when not its own: "int8_t" for kernels that move
    # bytes whatever the elements are (RESHAPE of an int16 tensor passes its bytes). None: its own type.
    view: str | None = None


@dataclass(frozen=True)
class TensorListArg:
    """Several tensors passed as one array of pointers: inputs (CONCATENATION), or with
    `writable` the outputs of an op that has several (SPLIT, UNPACK)."""

    indices: tuple[int, ...]
    writable: bool = False  # int8_t *const[] rather than const int8_t *const[]
    # The C element type the kernel takes the tensors as, when not the first tensor's own: "int8_t" for
    # byte-moving kernels given int16 tensors (as TensorArg.view). None: the first tensor's type.
    view: str | None = None


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
# The activation dtypes each op's lowering handles. An op reading or writing an activation of another
# one (int16 in 16x8 mode where only int8 kernels exist) is unsupported, never lowered as if it were int8.
_ACTIVATIONS: dict[str, tuple[str, ...] | None] = {}  # None: the lowering checks its dtypes itself (CAST)
# Dtypes that say how an op's activations are quantized (int32 and bool tensors are indices, shapes,
# flags or an ARG_MAX's result: the lowering checks those itself).
_MODE_DTYPES = ("int8", "int16", "uint8", "float16", "float32", "float64")
_MODE_NAMES = {"int16": "int16 activations (16x8 mode)", "uint8": "uint8 activations",
               "int8": "int8 activations"}


def lowering(*opcodes: str, activations: tuple[str, ...] | None = ("int8",)) -> Callable[[Lowering], Lowering]:
    """Register a lowering for `opcodes`; `activations`: the activation dtypes it handles, or None for an op
    that converts between dtypes and checks them itself."""
    def register(fn: Lowering) -> Lowering:
        for opcode in opcodes:
            _LOWERINGS[opcode] = fn
            _ACTIVATIONS[opcode] = activations
        return fn

    return register


def activation_dtypes(graph: Graph, op: Operator) -> set[str]:
    """The quantized (or float) dtypes of the op's activations: not constants, not a recurrent op's state."""
    tensors = (graph.tensor(i) for i in (*op.inputs, *op.outputs) if i >= 0)
    return {t.dtype for t in tensors if not t.is_constant and not t.variable and t.dtype in _MODE_DTYPES}


def _unsupported_mode(graph: Graph, op: Operator) -> str | None:
    """The activation dtype the op's lowering lacks ("int16"), else None."""
    handled = _ACTIVATIONS.get(op.opcode, ())
    if handled is None:
        return None
    missing = activation_dtypes(graph, op) - set(handled)
    return min(missing) if missing else None


def supported_ops(activations: str | None = None) -> list[str]:
    """Every op with a lowering; with `activations` ("int16"), those whose lowering handles that dtype."""
    _load_all()
    return sorted(op for op in _LOWERINGS if activations is None or activations in (_ACTIVATIONS[op] or ()))


def _load_all() -> None:
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


def lower(graph: Graph, op: Operator) -> KernelCall:
    _load_all()
    fn = _LOWERINGS.get(op.opcode)
    if fn is None or _unsupported_mode(graph, op):
        raise UnsupportedOpError(unsupported_message(graph, [op]))
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
    """Ops with no lowering, or none for their activations' dtype."""
    _load_all()
    return [op for op in graph.operators if op.opcode not in _LOWERINGS or _unsupported_mode(graph, op)]


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
        mode = _unsupported_mode(graph, op) if op.opcode in _LOWERINGS else None
        by_opcode.setdefault(f"{op.opcode} with {_MODE_NAMES.get(mode, mode)}" if mode else op.opcode, []).append(op)
    parts = []
    for opcode, found in by_opcode.items():
        indices = ", ".join(str(op.index) for op in found[:5]) + (", ..." if len(found) > 5 else "")
        layers = sorted({layer for op in found if (layer := graph.keras_layer(op)) is not None})
        where = f"layer{'s' if len(found) > 1 else ''} {indices}"
        if layers:
            where += f", Keras layer{'s' if len(layers) > 1 else ''} " + ", ".join(f"'{name}'" for name in layers)
        instead = f"; instead: {REPLACEMENTS[opcode]}" if opcode in REPLACEMENTS else ""
        if " with " in opcode and found[0].opcode in _LOWERINGS:
            handled = ", ".join(_ACTIVATIONS[found[0].opcode] or ())
            instead = f"; tinyedge runs {found[0].opcode} with {handled} activations"
        parts.append(f"{opcode} ({where}{instead})")
    return (f"the model uses op{'s' if len(by_opcode) > 1 else ''} tinyedge has no kernel for, so nothing was "
            f"generated: {'; '.join(parts)} (supported ops: docs/ops.md)")
