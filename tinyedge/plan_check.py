"""An independent check of a memory plan: no two live tensors share a byte, step by step.

It shares nothing with the planner but the plan it is given: lifetimes are worked out
again from the graph (first op that writes a tensor, last op that reads it; graph inputs
live from before the first op, graph outputs to the end), and at every op step the byte
range of each live tensor and of that op's scratch is compared with every other. A planner
bug (a lifetime off by one, a wrong offset) then shows up here instead of as wrong outputs.
The only overlap allowed is the one an op declares, checked by the kernel's own rule:
- `KernelCall.in_place`: output at the same offset and of the same size as inputs[0];
- `KernelCall.in_place_shift`: output starting at least that many bytes below inputs[0];
and in both cases inputs[0] must not be read after that op.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyedge.ir import Graph
from tinyedge.ops import KernelCall, ScratchArg
from tinyedge.plan import ALIGNMENT, MemoryPlan

BEFORE_FIRST_OP = -1


@dataclass(frozen=True)
class _Range:
    label: str
    tensor: int | None  # None for scratch
    start: int
    end: int  # exclusive


def lifetimes(graph: Graph) -> dict[int, tuple[int, int]]:
    """Tensor -> (first step it is live, last step it is live) for every non-constant tensor an op touches."""
    first: dict[int, int] = {t: BEFORE_FIRST_OP for t in graph.inputs}
    last: dict[int, int] = {t: BEFORE_FIRST_OP for t in graph.inputs}
    for step, op in enumerate(graph.operators):
        for t in op.outputs:
            first.setdefault(t, step)
            last[t] = max(last.get(t, step), step)
        for t in op.inputs:
            if t >= 0 and not graph.tensor(t).is_constant:
                first.setdefault(t, step)  # read before any op writes it: a graph input missing from inputs
                last[t] = max(last.get(t, step), step)
    end = len(graph.operators) - 1
    for t in graph.outputs:
        first.setdefault(t, BEFORE_FIRST_OP)
        last[t] = max(last.get(t, end), end)
    return {t: (first[t], last[t]) for t in first if not graph.tensor(t).is_constant}


def plan_problems(graph: Graph, calls: list[KernelCall] | tuple[KernelCall, ...], plan: MemoryPlan) -> list[str]:
    """Everything wrong with `plan` for this graph, one line each; a correct plan gives []."""
    problems: list[str] = []
    life = lifetimes(graph)
    external = set(graph.outputs) | set(graph.inputs)
    for t in sorted(life):
        if t not in external and t not in plan.tensor_offsets:
            problems.append(f"tensor #{t} '{graph.tensor(t).name}' lives between ops but has no arena offset")

    def tensor_range(t: int) -> _Range:
        offset = plan.tensor_offsets[t]
        return _Range(f"tensor #{t} '{graph.tensor(t).name}'", t, offset, offset + graph.tensor(t).nbytes)

    allowed: dict[int, tuple[int, int]] = {}  # step -> (inputs[0], outputs[0]) whose overlap the op declares
    for step in sorted(plan.in_place):
        problem = _in_place_problem(graph, calls, plan, life, step)
        if problem:
            problems.append(problem)
        else:
            op = graph.operators[step]
            allowed[step] = (op.inputs[0], op.outputs[0])

    ranges = [tensor_range(t) for t in sorted(plan.tensor_offsets)]
    for step, offset in sorted(plan.scratch_offsets.items()):
        nbytes = sum(a.nbytes for a in calls[step].args if isinstance(a, ScratchArg))
        ranges.append(_Range(f"scratch of op {step}", None, offset, offset + nbytes))
    for r in ranges:
        if r.start < 0 or r.end > plan.arena_bytes or r.start % ALIGNMENT:
            problems.append(f"{r.label} at [{r.start}, {r.end}) is outside the {plan.arena_bytes}-byte arena "
                            f"or not aligned to {ALIGNMENT}")

    for step in range(BEFORE_FIRST_OP, len(graph.operators)):
        live = [r for r in ranges if r.tensor is not None and r.tensor in life
                and life[r.tensor][0] <= step <= life[r.tensor][1]]
        live += [r for r in ranges if r.tensor is None and r.label == f"scratch of op {step}"]
        for i, a in enumerate(live):
            for b in live[i + 1:]:
                if a.start < b.end and b.start < a.end and {a.tensor, b.tensor} != set(allowed.get(step, ())):
                    problems.append(f"op step {step}: {a.label} [{a.start}, {a.end}) and {b.label} "
                                    f"[{b.start}, {b.end}) are both live and share bytes")
    return problems


def _in_place_problem(graph: Graph, calls: list[KernelCall] | tuple[KernelCall, ...], plan: MemoryPlan,
                      life: dict[int, tuple[int, int]], step: int) -> str | None:
    """Why the plan may not let op `step` write over its first input, or None if the kernel allows it."""
    op, call = graph.operators[step], calls[step]
    name = f"op {step} {op.opcode} (declared in place)"
    if not op.inputs or op.inputs[0] < 0:
        return f"{name} has no first input to write over"
    source, target = op.inputs[0], op.outputs[0]
    if source not in plan.tensor_offsets or target not in plan.tensor_offsets:
        return f"{name}: its first input and output are not both in the arena"
    if life[source][1] != step:
        return f"{name}: its first input #{source} is still read at op {life[source][1]}"
    source_at, target_at = plan.tensor_offsets[source], plan.tensor_offsets[target]
    if call.in_place:
        if target_at != source_at or graph.tensor(target).nbytes != graph.tensor(source).nbytes:
            return (f"{name}: an element-wise kernel needs its output at its input's offset with the same size "
                    f"(input {source_at}+{graph.tensor(source).nbytes}, output {target_at}+"
                    f"{graph.tensor(target).nbytes})")
        return None
    if call.in_place_shift is not None:
        if target_at + call.in_place_shift > source_at:
            return (f"{name}: the kernel needs its output to start at least {call.in_place_shift} bytes below its "
                    f"input (input at {source_at}, output at {target_at})")
        return None
    return f"{name}: its kernel {call.function} cannot write over its input"
