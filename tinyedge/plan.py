"""Plan stage: every activation tensor gets a fixed offset in one static arena.

Buffers are placed greedily, largest first, at the lowest offset that does not overlap a
buffer alive at the same time (the approach of TFLite-Micro's greedy planner). An
element-wise op whose input dies at that op writes its output over the input (in place).
The input of a single-input model lives in the arena too, alive from before the first op to
its last reader, so its bytes are reused afterwards (tinyedge_model_input() points at it);
the outputs, and the inputs of a model with several, live in the caller's buffers.
tinyedge.plan_check checks a plan with lifetimes and byte ranges of its own.

Two goals (`--optimize`). Both search, from the plans with and without convolutions writing
over their inputs, which ops write in place and the placement order (that costs no cycles).
"speed", the default, keeps the kernels as they were lowered: the fast variants with their
scratch. "ram" also tries, for an op whose scratch lies where the most bytes are live, a variant with
less (lean_calls: the fast kernel reading its constants in place, or the plain one without
scratch, slower), kept wherever the arena shrinks however little; the KernelCall of each layer
that takes a plain kernel says so in its `fallback`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tinyedge.errors import TinyEdgeError
from tinyedge.ir import Graph
from tinyedge.ops import KernelCall, ScratchArg

ALIGNMENT = 16
SPEED, RAM = "speed", "ram"
OPTIMIZE_GOALS = (SPEED, RAM)
SEARCH_MOVES = 48  # in-place choices tried per round, the ops nearest the arena's peak first
# Bounds the search's compile time whatever the graph (a count, not a clock: the same plan on every
# machine): placements tried x ops placed. About 1 s on a 30-op MobileNet, 5 s on 400 ops.
SEARCH_BUDGET = 60_000


@dataclass(frozen=True)
class Buffer:
    name: str
    nbytes: int
    first: int  # index of the op that writes it (-1: before the first op)
    last: int  # index of the last op that reads it
    offset: int

    def overlaps_in_time(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class MemoryPlan:
    arena_bytes: int
    buffers: tuple[Buffer, ...]
    tensor_offsets: dict[int, int]  # arena tensors: tensor index -> byte offset
    scratch_offsets: dict[int, int]  # op index -> byte offset of its scratch buffer
    in_place: frozenset[int]  # op indices whose output reuses their first input's buffer
    optimize: str = SPEED  # the goal the plan was made for (OPTIMIZE_GOALS)
    lean: frozenset[int] = frozenset()  # ops planned with their scratch-free variant (lean_calls), "ram" only


def _align(value: int) -> int:
    return (value + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def check_optimize(goal: str) -> str:
    """`goal` if it is one of OPTIMIZE_GOALS; a user error naming them otherwise."""
    if goal not in OPTIMIZE_GOALS:
        raise TinyEdgeError(f"unknown optimization goal '{goal}'; choose one of: {', '.join(OPTIMIZE_GOALS)}")
    return goal


def scratch_bytes(call: KernelCall) -> int:
    return sum(a.nbytes for a in call.args if isinstance(a, ScratchArg))


def lean_calls(graph: Graph, calls: Sequence[KernelCall], copy_free: bool = False) -> dict[int, KernelCall]:
    """For each op whose kernel takes scratch: the variant "ram" may take instead where it takes less.

    The plain variant (lowered under reference_kernels(), the context that turns the fast variants
    off; the plain kernels give the same bytes), or with `copy_free`, first the same fast kernel
    reading its constants in place (lowered under constants_read_in_place(): the convolutions' copy
    of their constants is most of their scratch, and the plain depthwise kernel cannot write over
    its input as the fast one does, so it is often no saving at all)."""
    from tinyedge.ops import lower
    from tinyedge.ops.conv import constants_read_in_place, reference_kernels

    lean: dict[int, KernelCall] = {}
    for op, call in zip(graph.operators, calls):
        if not scratch_bytes(call):
            continue
        if copy_free:
            with constants_read_in_place():
                in_place = lower(graph, op)
            if in_place.function == call.function and scratch_bytes(in_place) < scratch_bytes(call):
                lean[op.index] = in_place
                continue
        with reference_kernels():
            plain = lower(graph, op)
        if plain.function != call.function and scratch_bytes(plain) < scratch_bytes(call):
            lean[op.index] = plain
    return lean


def planned_calls(calls: Sequence[KernelCall], lean: dict[int, KernelCall], plan: MemoryPlan) -> tuple[KernelCall, ...]:
    """The calls `plan` was made for: the lean variant of the ops in plan.lean, a plain kernel's reason as its
    fallback (the same fast kernel reading its constants in place falls back to nothing)."""
    def chosen(index: int, call: KernelCall) -> KernelCall:
        if index not in plan.lean:
            return call
        if lean[index].function == call.function:
            return lean[index]
        reason = (f"--optimize ram: {lean[index].function} needs {scratch_bytes(lean[index]):,} B of scratch where "
                  f"{call.function} needs {scratch_bytes(call):,} B at the arena's peak")
        return dataclasses.replace(lean[index], fallback=reason)

    return tuple(chosen(i, call) for i, call in enumerate(calls))


def plan_memory(graph: Graph, calls: Sequence[KernelCall], optimize: str = SPEED,
                lean: dict[int, KernelCall] | None = None) -> MemoryPlan:
    """The arena plan for `optimize` (see the module's docstring); `lean`: lean_calls(), used by "ram" only.

    Both goals search which ops write over their input and the placement order (_smallest_plan):
    overwriting an input shares one buffer between the two tensors for both lifetimes, which usually
    saves a tensor's worth of RAM but can raise the peak elsewhere. That costs no cycles, so "speed"
    searches too; only "ram" may also trade a kernel for its lean variant, and it never plans above "speed".
    """
    calls = list(calls)
    speed = _smallest_plan(graph, calls, {})
    if check_optimize(optimize) == SPEED:
        return speed
    ram = _smallest_plan(graph, calls, lean or {})
    return ram if ram.arena_bytes < speed.arena_bytes else dataclasses.replace(speed, optimize=RAM)


def live_bytes(plan: MemoryPlan, steps: int) -> list[int]:
    """Per op step (-1 first): the bytes of the plan's buffers live at that step, a lower bound of its arena."""
    return [sum(b.nbytes for b in plan.buffers if b.first <= step <= b.last) for step in range(-1, steps)]


def _smallest_plan(graph: Graph, calls: list[KernelCall], lean: dict[int, KernelCall]) -> MemoryPlan:
    """Greedy descent from the smaller of the plans with and without convolutions in place: each round
    tries, at the steps where the most bytes are live, one op's lean variant, all of them together, or
    one op's in-place choice flipped (the nearest SEARCH_MOVES), and keeps the move that shrinks the
    arena most, within SEARCH_BUDGET. Every candidate is placed in the four _ORDERS."""
    capable = [i for i, call in enumerate(calls) if call.in_place or call.in_place_shift is not None]
    cost = max(len(calls), 1) * len(_ORDERS)  # of one evaluate()
    budget = SEARCH_BUDGET - 2 * cost

    def evaluate(lean_ops: frozenset[int], off: frozenset[int]) -> MemoryPlan:
        effective = [lean[i] if i in lean_ops else call for i, call in enumerate(calls)]
        plans = [_plan(graph, effective, no_in_place=off, order=order) for order in range(len(_ORDERS))]
        best = min(plans, key=lambda plan: plan.arena_bytes)
        return dataclasses.replace(best, optimize=RAM if lean else SPEED, lean=lean_ops)

    shifted = frozenset(i for i in capable if not calls[i].in_place)
    state, best = min((((frozenset(), off), evaluate(frozenset(), off)) for off in (frozenset(), shifted)),
                      key=lambda s: s[1].arena_bytes)
    while budget >= cost:
        live = live_bytes(best, len(calls))
        peaks = [step - 1 for step, nbytes in enumerate(live) if nbytes == max(live)]
        lean_ops, off = state
        at_peak = [i for i in lean if i not in lean_ops and i in peaks]
        moves = [(lean_ops | {i}, off) for i in at_peak]
        if len(at_peak) > 1:
            moves.append((lean_ops | set(at_peak), off))
        nearest = sorted(capable, key=lambda i: min(abs(i - step) for step in peaks))[:SEARCH_MOVES]
        moves = (moves + [(lean_ops, off ^ {i}) for i in nearest])[:budget // cost]
        budget -= cost * len(moves)
        tried = [(evaluate(*move), move) for move in moves]
        if not tried:
            break
        plan, move = min(tried, key=lambda t: (t[0].arena_bytes, len(t[1][0]), len(t[1][1])))
        if plan.arena_bytes >= best.arena_bytes:
            break
        state, best = (frozenset(move[0]), frozenset(move[1])), plan
    return best


_Span = list[int]  # [low, high, first, last]: bytes relative to the buffer's root tensor, op steps
_ORDERS: tuple[Callable[[_Span], tuple[int, ...]], ...] = (
    lambda s: (s[0] - s[1], s[2]),  # largest first (TFLite-Micro's greedy planner), "speed"'s order
    lambda s: (s[2], s[0] - s[1]),  # by first writer
    lambda s: (s[2] - s[3], s[0] - s[1]),  # longest-lived first
    lambda s: (s[0] - s[1], -s[3]),  # largest first, the latest to die first among equals
)


def _plan(graph: Graph, calls: list[KernelCall], overlap_convolutions: bool = True,
          no_in_place: frozenset[int] = frozenset(), order: int = 0) -> MemoryPlan:
    """One plan: ops in `no_in_place` never write over their input (nor, without `overlap_convolutions`, any
    op that declares only an in_place_shift); `order` indexes _ORDERS."""
    if not overlap_convolutions:
        no_in_place |= {i for i, call in enumerate(calls) if not call.in_place and call.in_place_shift is not None}
    external = set(graph.outputs) | (set(graph.inputs) if len(graph.inputs) != 1 else set())
    external |= set(graph.inputs) & set(graph.outputs)  # a model that passes its input through
    producer: dict[int, int] = {t: -1 for t in graph.inputs}
    last_use: dict[int, int] = {}
    for op in graph.operators:
        for t in op.outputs:
            producer[t] = op.index
            last_use.setdefault(t, op.index)
        for t in op.inputs:
            if t >= 0:
                last_use[t] = op.index
    # Variable tensors (recurrent state: SVDF's) keep their bytes from one invocation to the next: a buffer of
    # their own for the whole program, never shared; the static arena starts zeroed, as TFLite-Micro's state.
    for t in (t.index for t in graph.tensors if t.variable and not t.is_constant):
        producer[t], last_use[t] = -1, len(graph.operators)

    def in_arena(t: int) -> bool:
        return t >= 0 and not graph.tensor(t).is_constant and t not in external

    # Tensors that share one buffer (in-place chains) point at a common root tensor, at an
    # offset relative to it (negative when an output starts below the input it overwrites).
    root: dict[int, int] = {}
    relative: dict[int, int] = {}
    in_place: set[int] = set()
    for op, call in zip(graph.operators, calls):
        source, target = op.inputs[0] if op.inputs else -1, op.outputs[0]
        if op.index in no_in_place or not (in_arena(source) and in_arena(target) and last_use[source] == op.index):
            continue
        if call.in_place and graph.tensor(source).nbytes == graph.tensor(target).nbytes:
            shift = 0
        elif call.in_place_shift is not None:
            shift = _align(call.in_place_shift)
        else:
            continue
        root[target] = root.get(source, source)
        relative[target] = relative.get(source, 0) - shift
        in_place.add(op.index)

    spans: dict[str, _Span] = {}  # buffer name -> [low, high, first, last]
    owner: dict[int, str] = {}
    for t in sorted(producer):
        if not in_arena(t):
            continue
        buffer_root = root.get(t, t)
        name = f"#{buffer_root} {graph.tensor(buffer_root).name}"  # tensor names need not be unique
        owner[t] = name
        low, high = relative.get(t, 0), relative.get(t, 0) + graph.tensor(t).nbytes
        first, last = producer[t], last_use.get(t, producer[t])
        span = spans.setdefault(name, [low, high, first, last])
        span[:] = [min(span[0], low), max(span[1], high), min(span[2], first), max(span[3], last)]
    scratch_names: dict[int, str] = {}
    for op, call in zip(graph.operators, calls):
        scratch = scratch_bytes(call)
        if scratch:
            scratch_names[op.index] = f"scratch of layer {op.index} {op.opcode}"
            spans[scratch_names[op.index]] = [0, scratch, op.index, op.index]

    placed: list[Buffer] = []
    for name, (low, high, first, last) in sorted(spans.items(), key=lambda item: _ORDERS[order](item[1])):
        nbytes, offset = high - low, 0
        candidate = Buffer(name, nbytes, first, last, 0)
        for other in sorted((b for b in placed if b.overlaps_in_time(candidate)), key=lambda b: b.offset):
            if offset + nbytes <= other.offset:
                break
            offset = max(offset, _align(other.offset + other.nbytes))
        placed.append(Buffer(name, nbytes, first, last, offset))

    offsets = {b.name: b.offset - spans[b.name][0] for b in placed}  # where each root tensor starts
    arena = _align(max((b.offset + b.nbytes for b in placed), default=0))
    return MemoryPlan(
        arena_bytes=arena,
        buffers=tuple(sorted(placed, key=lambda b: (b.offset, b.first))),
        tensor_offsets={t: offsets[name] + relative.get(t, 0) for t, name in owner.items()},
        scratch_offsets={op: offsets[name] for op, name in scratch_names.items()},
        in_place=frozenset(in_place),
    )
