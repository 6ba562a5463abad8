"""The memory planner reuses freed space and never lets two live tensors share bytes."""

from __future__ import annotations

from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import KernelCall, ScratchArg, TensorArg
from tinyedge.plan import overlapping_live_buffers, plan_memory


def _chain_graph(sizes: list[int], skip: bool) -> tuple[Graph, list[KernelCall]]:
    """Tensor i feeds op i; with `skip`, tensor 1 is also read by the last op (a residual)."""
    tensors = tuple(Tensor(i, f"t{i}", (1, size), "int8") for i, size in enumerate(sizes))
    ops, calls = [], []
    for i in range(len(sizes) - 1):
        inputs = (i, 1) if skip and i == len(sizes) - 2 else (i,)
        ops.append(Operator(i, "TEST", inputs, (i + 1,)))
        scratch = (ScratchArg(64),) if i == 2 else ()
        calls.append(KernelCall("f", "f.h", "p", {}, (*map(TensorArg, inputs), *scratch, TensorArg(i + 1)),
                                in_place=(i == 3)))
    return Graph("chain", tensors, tuple(ops), (0,), (len(sizes) - 1,)), calls


def test_chain_reuses_freed_buffers():
    sizes = [100, 400, 300, 300, 300, 200, 50]
    plan = plan_memory(*_chain_graph(sizes, skip=False))
    assert overlapping_live_buffers(plan) == []
    # the output lives in the caller's buffer; the arena holds at most two tensors at a time,
    # the input among them until its reader is done
    assert plan.arena_bytes <= 400 + 304 + 64 + 16
    assert 0 in plan.tensor_offsets and len(sizes) - 1 not in plan.tensor_offsets
    model_input = next(b for b in plan.buffers if b.name.startswith("#0 "))
    assert (model_input.first, model_input.last) == (-1, 0)


def test_inputs_of_a_model_with_several_stay_in_the_callers_buffer():
    graph, calls = _chain_graph([100, 400, 300], skip=False)
    two_inputs = Graph("two", graph.tensors, graph.operators, (0, 1), graph.outputs)
    plan = plan_memory(two_inputs, calls)
    assert 0 not in plan.tensor_offsets and 1 not in plan.tensor_offsets


def test_in_place_op_writes_over_its_dying_input():
    graph, calls = _chain_graph([100, 400, 300, 300, 300, 200, 50], skip=False)
    plan = plan_memory(graph, calls)
    assert 3 in plan.in_place
    assert plan.tensor_offsets[4] == plan.tensor_offsets[3]


def test_residual_keeps_its_tensor_alive_until_the_add():
    graph, calls = _chain_graph([100, 400, 300, 300, 300, 200, 50], skip=True)
    plan = plan_memory(graph, calls)
    assert overlapping_live_buffers(plan) == []
    residual = next(b for b in plan.buffers if b.name.startswith("#1 "))
    assert residual.last == len(graph.operators) - 1
