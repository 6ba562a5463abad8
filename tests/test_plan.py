"""The memory planner reuses freed space, and an independent checker catches any plan that
lets two live tensors share bytes (tinyedge.plan_check shares no code with the planner)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tinyedge import plan as planner
from tinyedge.codegen import compile_graph
from tinyedge.importer import parse_tflite
from tinyedge.ir import Graph, Operator, Quantization, Tensor
from tinyedge.ops import KernelCall, ScratchArg, TensorArg
from tinyedge.plan import MemoryPlan, plan_memory
from tinyedge.plan_check import lifetimes, plan_problems


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


SIZES = [100, 400, 300, 300, 300, 200, 50]


def _moved(plan: MemoryPlan, **changes: object) -> MemoryPlan:
    return dataclasses.replace(plan, **changes)


def test_chain_reuses_freed_buffers():
    graph, calls = _chain_graph(SIZES, skip=False)
    plan = plan_memory(graph, calls)
    assert plan_problems(graph, calls, plan) == []
    # the output lives in the caller's buffer; the arena holds at most two tensors at a time,
    # the input among them until its reader is done
    assert plan.arena_bytes <= 400 + 304 + 64 + 16
    assert 0 in plan.tensor_offsets and len(SIZES) - 1 not in plan.tensor_offsets
    model_input = next(b for b in plan.buffers if b.name.startswith("#0 "))
    assert (model_input.first, model_input.last) == (-1, 0)


def test_inputs_of_a_model_with_several_stay_in_the_callers_buffer():
    graph, calls = _chain_graph([100, 400, 300], skip=False)
    two_inputs = Graph("two", graph.tensors, graph.operators, (0, 1), graph.outputs)
    plan = plan_memory(two_inputs, calls)
    assert 0 not in plan.tensor_offsets and 1 not in plan.tensor_offsets
    assert plan_problems(two_inputs, calls, plan) == []


def test_in_place_op_writes_over_its_dying_input():
    graph, calls = _chain_graph(SIZES, skip=False)
    plan = plan_memory(graph, calls)
    assert 3 in plan.in_place
    assert plan.tensor_offsets[4] == plan.tensor_offsets[3]


def test_residual_keeps_its_tensor_alive_until_the_add():
    graph, calls = _chain_graph(SIZES, skip=True)
    plan = plan_memory(graph, calls)
    assert plan_problems(graph, calls, plan) == []
    residual = next(b for b in plan.buffers if b.name.startswith("#1 "))
    assert residual.last == len(graph.operators) - 1


# -- the checker's own lifetimes ---------------------------------------------------------------

def test_checker_lifetimes_run_from_first_writer_to_last_reader():
    graph, _ = _chain_graph(SIZES, skip=True)
    life = lifetimes(graph)
    assert life[0] == (-1, 0)  # a graph input is live before the first op
    assert life[1] == (0, 5)  # written by op 0, read by op 1 and by the residual add (op 5)
    assert life[3] == (2, 3)
    assert life[6] == (5, 5)  # a graph output is live to the end


# -- deliberately broken plans: each one is caught ---------------------------------------------

def test_checker_catches_two_live_tensors_on_the_same_bytes():
    graph, calls = _chain_graph(SIZES, skip=False)
    plan = plan_memory(graph, calls)
    offsets = dict(plan.tensor_offsets)
    offsets[2] = offsets[1] + 16  # t1 and t2 are both live at op 1 (it reads t1, writes t2)
    problems = plan_problems(graph, calls, _moved(plan, tensor_offsets=offsets))
    assert any(p.startswith("op step 1: tensor #1 't1'") and "tensor #2 't2'" in p for p in problems), problems


def test_checker_counts_one_shared_byte_as_overlap_and_touching_ranges_as_apart():
    graph, calls = _chain_graph(SIZES, skip=False)
    plan = plan_memory(graph, calls)  # only the pair t1, t2 (both live at op 1) is looked at

    def t1_t2_overlaps(t1_offset: int, t2_offset: int) -> list[str]:
        offsets = {**plan.tensor_offsets, 1: t1_offset, 2: t2_offset}
        return [p for p in plan_problems(graph, calls, _moved(plan, tensor_offsets=offsets))
                if "share bytes" in p and "tensor #1 " in p and "tensor #2 " in p]

    assert len(t1_t2_overlaps(0, SIZES[1] - 1)) == 1  # t2 starts on t1's last byte
    assert len(t1_t2_overlaps(SIZES[2] - 1, 0)) == 1  # t2 ends on t1's first byte
    assert t1_t2_overlaps(0, SIZES[1]) == t1_t2_overlaps(SIZES[2], 0) == []


def test_checker_catches_an_output_placed_over_its_still_needed_input():
    # What a planner with an off-by-one lifetime test (`<` for `<=`) does: tensor 2's life
    # (ops 1..2) only touches tensor 1's (ops 0..1) at op 1, so it reuses tensor 1's bytes.
    graph, calls = _chain_graph(SIZES, skip=False)
    plan = plan_memory(graph, calls)
    offsets = dict(plan.tensor_offsets)
    offsets[2] = offsets[1]
    problems = plan_problems(graph, calls, _moved(plan, tensor_offsets=offsets))
    assert problems and problems[0].startswith("op step 1: tensor #1 't1' [0, 400) and tensor #2"), problems


def test_checker_catches_a_planner_whose_lifetime_test_is_off_by_one(monkeypatch):
    graph, calls = _chain_graph(SIZES, skip=True)
    monkeypatch.setattr(planner.Buffer, "overlaps_in_time",
                        lambda self, other: self.first < other.last and other.first < self.last)
    plan = plan_memory(graph, calls)
    assert plan_problems(graph, calls, plan) != []


def test_checker_catches_a_tensor_reusing_a_residual_before_its_last_reader():
    graph, calls = _chain_graph(SIZES, skip=True)
    plan = plan_memory(graph, calls)
    offsets = dict(plan.tensor_offsets)
    offsets[5] = offsets[1]  # t5 is written at op 4, but t1 is read again at op 5
    problems = plan_problems(graph, calls, _moved(plan, tensor_offsets=offsets))
    assert any(p.startswith("op step 4:") for p in problems) and any(p.startswith("op step 5:") for p in problems)


def test_checker_catches_scratch_over_a_live_tensor():
    graph, calls = _chain_graph(SIZES, skip=False)
    plan = plan_memory(graph, calls)
    scratch = {2: plan.tensor_offsets[2]}  # op 2 reads t2 while it uses its scratch
    problems = plan_problems(graph, calls, _moved(plan, scratch_offsets=scratch))
    assert any("scratch of op 2" in p and "tensor #2" in p for p in problems), problems


def test_checker_catches_a_tensor_outside_the_arena():
    graph, calls = _chain_graph(SIZES, skip=False)
    plan = plan_memory(graph, calls)
    problems = plan_problems(graph, calls, _moved(plan, arena_bytes=plan.arena_bytes - 16))
    assert any("outside the" in p for p in problems), problems


def test_checker_catches_an_intermediate_tensor_without_an_offset():
    graph, calls = _chain_graph(SIZES, skip=False)
    plan = plan_memory(graph, calls)
    offsets = {t: o for t, o in plan.tensor_offsets.items() if t != 5}
    problems = plan_problems(graph, calls, _moved(plan, tensor_offsets=offsets))
    assert problems == ["tensor #5 't5' lives between ops but has no arena offset"]


def test_checker_catches_in_place_for_a_kernel_that_cannot_write_over_its_input():
    graph, calls = _chain_graph(SIZES, skip=False)
    plan = plan_memory(graph, calls)
    offsets = dict(plan.tensor_offsets)
    offsets[3] = offsets[2]  # op 2's call declares neither in_place nor in_place_shift
    problems = plan_problems(graph, calls, _moved(plan, tensor_offsets=offsets, in_place=plan.in_place | {2}))
    assert any("op 2 TEST (declared in place): its kernel f cannot write over its input" in p for p in problems)
    assert any(p.startswith("op step 2:") for p in problems)  # the overlap itself is not excused


def test_checker_catches_in_place_over_an_input_read_later():
    sizes = [100, 300, 300, 50]
    graph, calls = _chain_graph(sizes, skip=True)  # op 2 reads t2 and the residual t1
    calls = [dataclasses.replace(c, in_place=(i == 1)) for i, c in enumerate(calls)]
    plan = plan_memory(graph, calls)
    assert 1 not in plan.in_place  # the planner keeps t1 apart: op 2 still reads it
    offsets = dict(plan.tensor_offsets)
    offsets[2] = offsets[1]
    problems = plan_problems(graph, calls, _moved(plan, tensor_offsets=offsets, in_place=plan.in_place | {1}))
    assert any("its first input #1 is still read at op 2" in p for p in problems), problems


def test_checker_catches_element_wise_in_place_at_another_offset():
    graph, calls = _chain_graph(SIZES, skip=False)
    plan = plan_memory(graph, calls)
    offsets = dict(plan.tensor_offsets)
    offsets[4] = offsets[3] + 16
    problems = plan_problems(graph, calls, _moved(plan, tensor_offsets=offsets))
    assert any("needs its output at its input's offset" in p for p in problems), problems


def _shifted_graph(shift: int) -> tuple[Graph, list[KernelCall]]:
    """t0 -> op0 -> t1 -> op1 (may write over t1 starting `shift` bytes below it) -> t2 -> op2 -> t3."""
    graph, calls = _chain_graph([64, 256, 256, 32], skip=False)
    calls = [dataclasses.replace(c, in_place=False, in_place_shift=shift if i == 1 else None)
             for i, c in enumerate(calls)]
    return graph, calls


def test_checker_accepts_a_shifted_in_place_plan_and_catches_one_shifted_too_little():
    graph, calls = _shifted_graph(40)
    plan = planner._plan(graph, calls, overlap_convolutions=True)
    assert 1 in plan.in_place and plan.tensor_offsets[1] - plan.tensor_offsets[2] == 48  # 40, aligned
    assert plan_problems(graph, calls, plan) == []
    offsets = dict(plan.tensor_offsets)
    offsets[2] = offsets[1] - 32  # 32 bytes below: the kernel needs 40
    problems = plan_problems(graph, calls, _moved(plan, tensor_offsets=offsets))
    assert any("at least 40 bytes below its input" in p for p in problems), problems


# -- real plans of compiled models ---------------------------------------------------------------

def _conv_graph() -> Graph:
    """A residual block of int8 convolutions: 1x1 stem, two 3x3 convs, ADD with the stem, ReLU."""
    rng = np.random.default_rng(0)
    act = Quantization((0.05,), (-3,))
    tensors: list[Tensor] = []

    def tensor(name: str, shape: tuple[int, ...], dtype: str = "int8", quant: Quantization = act,
               data: np.ndarray | None = None) -> int:
        tensors.append(Tensor(len(tensors), name, shape, dtype, quant, data))
        return len(tensors) - 1

    def conv(source: int, out_c: int, k: int, name: str) -> Operator:
        in_c = tensors[source].shape[-1]
        weights = tensor(f"{name}/w", (out_c, k, k, in_c), quant=Quantization((0.01,) * out_c, (0,) * out_c),
                         data=rng.integers(-127, 128, (out_c, k, k, in_c), dtype=np.int8))
        bias = tensor(f"{name}/b", (out_c,), "int32", Quantization((0.0005,) * out_c, (0,) * out_c),
                      data=rng.integers(-500, 500, out_c, dtype=np.int32))
        out = tensor(name, (1, 8, 8, out_c))
        return Operator(len(ops), "CONV_2D", (source, weights, bias), (out,), {"padding": "SAME"})

    ops: list[Operator] = []
    x = tensor("x", (1, 8, 8, 4))
    for source, out_c, k, name in ((x, 8, 1, "stem"), (None, 8, 3, "a"), (None, 8, 3, "b")):
        ops.append(conv(ops[-1].outputs[0] if source is None else source, out_c, k, name))
    total = tensor("sum", (1, 8, 8, 8))
    ops.append(Operator(len(ops), "ADD", (ops[2].outputs[0], ops[0].outputs[0]), (total,)))
    out = tensor("out", (1, 8, 8, 8))
    ops.append(Operator(len(ops), "RELU", (total,), (out,)))
    return Graph("residual", tuple(tensors), tuple(ops), (x,), (out,))


@pytest.mark.parametrize("overlap_convolutions", [True, False])
def test_real_plan_of_a_residual_conv_block_passes_the_checker(overlap_convolutions):
    model = compile_graph(_conv_graph())
    plan = planner._plan(model.graph, list(model.calls), overlap_convolutions)
    assert plan_problems(model.graph, model.calls, plan) == []
    assert plan.in_place  # the ADD writes over its dying input at least
    if overlap_convolutions:
        assert any(model.calls[i].in_place_shift is not None for i in plan.in_place)


def test_real_plan_of_a_keyword_spotter_passes_the_checker(tiny_kws_tflite):
    model = compile_graph(parse_tflite(tiny_kws_tflite.read_bytes(), "tiny_kws"))
    assert plan_problems(model.graph, model.calls, model.plan) == []
