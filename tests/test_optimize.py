"""`--optimize speed|ram`: "ram" plans an arena no larger than "speed" (smaller where a kernel's
scratch sits at the peak and a scratch-free variant exists), both plans pass the independent
checker, both firmwares equal tflite_micro byte for byte on trained weights, and the report
records the choice."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import pytest

from tests.ops.keras_training import train_briefly
from tinyedge.api import compile as compile_api
from tinyedge.cli import main
from tinyedge.codegen import CompiledModel, compile_graph
from tinyedge.errors import TinyEdgeError
from tinyedge.host import run_host
from tinyedge.importer import parse_tflite
from tinyedge.ir import Graph, Operator, Tensor
from tinyedge.ops import KernelCall, ScratchArg, TensorArg
from tinyedge.pipeline import build
from tinyedge.plan import RAM, SPEED, live_bytes, plan_memory, planned_calls
from tinyedge.plan_check import plan_problems
from tinyedge.verify import random_samples, verify

layers = keras.layers


def _residual_model() -> keras.Model:
    """A ResNet-style block: the ADD (its table variant's 2 KB of scratch) is where the most bytes are live."""
    x = keras.Input((16, 16, 3))
    a = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    b = layers.Conv2D(8, 3, padding="same", activation="relu")(a)
    b = layers.Conv2D(8, 3, padding="same")(b)
    c = layers.ReLU()(layers.Add()([a, b]))
    d = layers.DepthwiseConv2D(3, padding="same", activation="relu")(c)
    return keras.Model(x, layers.Dense(4)(layers.Flatten()(layers.AveragePooling2D(4)(d))))


def _ds_cnn_model() -> keras.Model:
    """A small DS-CNN: a strided conv, depthwise and pointwise pairs (in place), pooling, dense."""
    x = keras.Input((20, 10, 1))
    y = layers.Conv2D(16, (4, 3), strides=2, padding="same", activation="relu")(x)
    for _ in range(2):
        y = layers.DepthwiseConv2D(3, padding="same", activation="relu")(y)
        y = layers.Conv2D(16, 1, activation="relu")(y)
    y = layers.Flatten()(layers.AveragePooling2D((10, 5))(y))
    return keras.Model(x, layers.Dense(6, activation="softmax")(y))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, quantize_for_test) -> dict[str, Path]:
    """The two models trained briefly (real weight statistics), quantized once."""
    folder = tmp_path_factory.mktemp("optimize")
    models = {}
    for name, build_model in (("residual", _residual_model), ("ds_cnn", _ds_cnn_model)):
        keras.utils.set_random_seed(0)
        models[name] = quantize_for_test(train_briefly(build_model()), folder / f"{name}.tflite")
    return models


def _compiled(tflite: Path, optimize: str) -> CompiledModel:
    return compile_graph(parse_tflite(tflite.read_bytes(), name=tflite.stem), optimize=optimize)


def _host_outputs_are_bit_exact(tflite: Path, model: CompiledModel, folder: Path) -> bool:
    firmware = build(model, "host", folder)
    inputs = random_samples(model, 4, seed=3)
    return verify(tflite.read_bytes(), model, inputs, run_host(firmware.elf, inputs, model.output_bytes)).bit_exact


def test_ram_takes_the_scratch_free_add_at_the_peak_and_both_plans_are_bit_exact(trained, tmp_path):
    tflite = trained["residual"]
    speed, ram = _compiled(tflite, SPEED), _compiled(tflite, RAM)
    assert (speed.plan.optimize, ram.plan.optimize) == (SPEED, RAM)
    assert plan_problems(speed.graph, speed.calls, speed.plan) == []
    assert plan_problems(ram.graph, ram.calls, ram.plan) == []
    assert speed.plan.lean == frozenset() and {c.function for c in speed.calls} >= {"te_add_table_s8"}
    add = next(i for i, op in enumerate(ram.graph.operators) if op.opcode == "ADD")
    assert add in ram.plan.lean and ram.calls[add].function == "te_add_s8"
    assert ram.calls[add].fallback.startswith("--optimize ram: te_add_s8 needs 0 B of scratch")
    # The table's 2 KB, less what the peak moves to: the convolutions' scratch (their widened columns
    # and, at 12 pixels or more, the copy of their constants), so the saving depends on those kernels.
    assert ram.plan.arena_bytes < speed.plan.arena_bytes
    for name, model in (("speed", speed), ("ram", ram)):
        assert _host_outputs_are_bit_exact(tflite, model, tmp_path / name), name


def test_ram_never_plans_above_speed_and_moves_a_layer_only_to_shrink_the_arena(trained, tmp_path):
    tflite = trained["ds_cnn"]
    speed, ram = _compiled(tflite, SPEED), _compiled(tflite, RAM)
    assert plan_problems(ram.graph, ram.calls, ram.plan) == []
    assert ram.plan.arena_bytes <= speed.plan.arena_bytes
    if ram.plan.lean:  # whether a lean variant pays depends on the kernels' scratch and in-place rules
        assert ram.plan.arena_bytes < speed.plan.arena_bytes
    changed = {i for i, (a, b) in enumerate(zip(speed.calls, ram.calls))
               if (a.function, a.params) != (b.function, b.params)}
    assert changed == ram.plan.lean
    for i in changed:  # a plain kernel says why; the same fast kernel reads its constants in place
        if ram.calls[i].function == speed.calls[i].function:
            assert ram.calls[i].fallback is None and _copied(ram.calls[i]) == 0 < _copied(speed.calls[i])
        else:
            assert ram.calls[i].fallback.startswith("--optimize ram:")
    assert _host_outputs_are_bit_exact(tflite, ram, tmp_path / "ram")


def _copied(call: KernelCall) -> int:
    """The constants a fast convolution copies into its scratch (conv2d_constants_bytes, depthwise_constants_words)."""
    return int(call.params.get("constants_bytes", 0)) + 4 * int(call.params.get("constants_words", 0))


def test_ram_keeps_a_fast_depthwise_that_reads_its_constants_in_place(trained):
    """The DS-CNN's peak holds a depthwise layer's constants copy: "ram" drops the copy, not the fast kernel
    (the plain depthwise kernel cannot write over its input, so it would be no saving)."""
    speed, ram = _compiled(trained["ds_cnn"], SPEED), _compiled(trained["ds_cnn"], RAM)
    kept = [i for i in ram.plan.lean if ram.calls[i].function == speed.calls[i].function]
    assert kept and ram.plan.arena_bytes < speed.plan.arena_bytes
    assert all(ram.calls[i].fallback is None and _copied(ram.calls[i]) == 0 for i in kept)


def _chain(scratch_at: int, scratch: int) -> tuple[Graph, list[KernelCall], dict[int, KernelCall]]:
    """t0 -> op0 -> t1 -> op1 -> t2 -> op2 -> t3 (64, 512, 512, 32 bytes; t3 is the caller's); op
    `scratch_at` has `scratch` bytes of scratch, and a lean variant without it."""
    tensors = tuple(Tensor(i, f"t{i}", (1, n), "int8") for i, n in enumerate((64, 512, 512, 32)))
    ops = tuple(Operator(i, "TEST", (i,), (i + 1,)) for i in range(3))
    calls, lean = [], {}
    for i in range(3):
        args = (ScratchArg(scratch),) if i == scratch_at else ()
        calls.append(KernelCall("fast", "f.h", "p", {}, (TensorArg(i), *args, TensorArg(i + 1))))
        if args:
            lean[i] = KernelCall("plain", "p.h", "p", {}, (TensorArg(i), TensorArg(i + 1)))
    return Graph("chain", tensors, ops, (0,), (3,)), calls, lean


def test_planner_swaps_a_kernel_for_its_lean_variant_only_when_that_lowers_the_arena():
    graph, calls, lean = _chain(scratch_at=1, scratch=1024)  # op 1: t1 + t2 + 1 KB live, the peak
    speed, ram = plan_memory(graph, calls), plan_memory(graph, calls, RAM, lean)
    assert ram.lean == {1} and ram.arena_bytes == speed.arena_bytes - 1024 == 1024
    assert live_bytes(ram, 3) == [64, 576, 1024, 512]  # per step from -1: t0; t0 + t1; t1 + t2; t2
    final = planned_calls(calls, lean, ram)
    assert final[1].function == "plain" and "needs 1,024 B at the arena's peak" in final[1].fallback
    assert plan_problems(graph, final, ram) == []
    # op 0 holds t0 + t1 + 256 B, fewer than op 1's t1 + t2: dropping the scratch would not lower the
    # arena, so the fast kernel stays.
    graph, calls, lean = _chain(scratch_at=0, scratch=256)
    ram = plan_memory(graph, calls, RAM, lean)
    assert ram.lean == frozenset() and ram.arena_bytes == plan_memory(graph, calls).arena_bytes == 1024
    assert planned_calls(calls, lean, ram)[0].function == "fast"


def test_compile_records_the_goal_in_report_json_and_the_summary(trained, tmp_path, capsys):
    out = tmp_path / "nrf"
    assert main(["compile", str(trained["residual"]), "--board", "nrf52840", "-o", str(out), "--samples", "2",
                 "--backend", "builtin", "--optimize", "ram"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["memory"]["optimize"] == "ram" and report["verification"]["bit_exact"]
    assert any(layer.get("fallback", "").startswith("--optimize ram:") for layer in report["layers"])
    assert "planned for ram" in capsys.readouterr().out
    assert "planned for ram" in (out / "report.html").read_text()
    assert main(["generate", str(trained["residual"]), "-o", str(tmp_path / "gen")]) == 0
    assert "(planned for speed)" in capsys.readouterr().out


def test_an_unknown_goal_is_refused_in_one_line_before_any_work(trained, tmp_path, capsys):
    with pytest.raises(TinyEdgeError, match=r"^unknown optimization goal 'small'; choose one of: speed, ram$"):
        compile_api(trained["ds_cnn"], board="nrf52840", out_dir=tmp_path / "api", optimize="small")
    assert not (tmp_path / "api").exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", str(trained["ds_cnn"]), "-o", str(tmp_path / "cli"), "--optimize", "small"])
    assert exit_info.value.code != 0 and "invalid choice: 'small'" in capsys.readouterr().err
    assert not (tmp_path / "cli").exists()

