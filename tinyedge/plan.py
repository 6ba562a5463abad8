"""Plan stage: every activation tensor gets a fixed offset in one static arena.

Buffers are placed greedily, largest first, at the lowest offset that does not overlap a
buffer alive at the same time (the approach of TFLite-Micro's greedy planner). An
element-wise op whose input dies at that op writes its output over the input (in place).
The input of a single-input model lives in the arena too, alive from before the first op to
its last reader, so its bytes are reused afterwards (tinyedge_model_input() points at it);
the outputs, and the inputs of a model with several, live in the caller's buffers.
tinyedge.plan_check checks a plan with lifetimes and byte ranges of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyedge.ir import Graph
from tinyedge.ops import KernelCall, ScratchArg

ALIGNMENT = 16


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


def _align(value: int) -> int:
    return (value + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def plan_memory(graph: Graph, calls: list[KernelCall]) -> MemoryPlan:
    """The smaller of two plans: with and without convolutions writing over their inputs.

    Overwriting an input shares one buffer between the two tensors for both lifetimes, which
    usually saves a tensor's worth of RAM but can raise the peak elsewhere; trying both is cheap.
    """
    plans = [_plan(graph, calls, overlap_convolutions) for overlap_convolutions in (True, False)]
    return min(plans, key=lambda plan: plan.arena_bytes)


def _plan(graph: Graph, calls: list[KernelCall], overlap_convolutions: bool) -> MemoryPlan:
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
        if not (in_arena(source) and in_arena(target) and last_use[source] == op.index):
            continue
        if call.in_place and graph.tensor(source).nbytes == graph.tensor(target).nbytes:
            shift = 0
        elif call.in_place_shift is not None and overlap_convolutions:
            shift = _align(call.in_place_shift)
        else:
            continue
        root[target] = root.get(source, source)
        relative[target] = relative.get(source, 0) - shift
        in_place.add(op.index)

    spans: dict[str, list[int]] = {}  # buffer name -> [low, high, first, last], bytes relative to its root
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
        scratch = [a.nbytes for a in call.args if isinstance(a, ScratchArg)]
        if scratch:
            scratch_names[op.index] = f"scratch of layer {op.index} {op.opcode}"
            spans[scratch_names[op.index]] = [0, sum(scratch), op.index, op.index]

    placed: list[Buffer] = []
    for name, (low, high, first, last) in sorted(spans.items(), key=lambda item: (item[1][0] - item[1][1],
                                                                                   item[1][2])):
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

