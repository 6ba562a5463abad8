"""The stages chained the way the CLI runs them, usable from Python as well.

Output folders are written in a temporary sibling and renamed into place at the end, so
a failure never leaves a half-written folder behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tinyedge.boards import Board, load_board
from tinyedge.build import Firmware, build_firmware, render_project
from tinyedge.codegen import CompiledModel, compile_graph, model_sha256, render_model
from tinyedge.errors import TinyEdgeError
from tinyedge.host import run_host
from tinyedge.importer import load_tflite
from tinyedge.report import (
    DEFAULT_BATTERY_MAH,
    BoardInfo,
    LayerFigures,
    MemoryInfo,
    ModelInfo,
    Report,
    SimulationInfo,
    VerificationInfo,
    energy_uj,
    power_at_rate,
    write_html,
    write_json,
)
from tinyedge.verify import Verification, compare_outputs, random_samples, reference_outputs

if TYPE_CHECKING:
    from tinyedge.simulate import SimResult

Log = Callable[[str], None]


@dataclass(frozen=True)
class Generated:
    out_dir: Path
    tflite: Path
    model: CompiledModel


@contextlib.contextmanager
def atomic_output_dir(out_dir: Path) -> Iterator[Path]:
    """A scratch folder that replaces `out_dir` only if the block succeeds."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        yield scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if out_dir.exists():
        shutil.rmtree(out_dir)
    scratch.rename(out_dir)


def ensure_int8(model_path: Path, workdir: Path, calib: Path | None = None, source: Path | None = None,
                log: Log | None = None) -> Path:
    """The model as a full-int8 .tflite in workdir (quantized now unless it already is)."""
    from tinyedge.quantize import is_full_int8

    model_path = Path(model_path)
    if model_path.suffix == ".tflite" and model_path.is_file() and is_full_int8(model_path):
        target = workdir / "model.tflite"
        shutil.copyfile(model_path, target)
        return target
    from tinyedge.quantize import quantize  # imports TensorFlow: only when needed

    return quantize(model_path, workdir / "model.tflite", calib=calib, source=source, log=log).tflite


def compile_tflite(path: Path, name: str | None = None) -> CompiledModel:
    """Import, lower and plan an int8 .tflite; `name` is how reports call the model (default: file stem)."""
    graph = load_tflite(path)
    if name:
        graph = dataclasses.replace(graph, name=name)
    return compile_graph(graph, model_sha256(path))


def render(model: CompiledModel, board: Board | str, out_dir: Path) -> None:
    """The model's C and a firmware project for `board` around it, buildable on its own."""
    render_model(model, out_dir)
    render_project(out_dir, board, kernel_sources=model.kernel_sources)


def build(model: CompiledModel, board: Board | str, out_dir: Path) -> Firmware:
    render(model, board, out_dir)
    return build_firmware(out_dir, board)


def generate(model_path: Path, out_dir: Path, board: str = "host", calib: Path | None = None,
             source: Path | None = None, log: Log | None = None) -> Generated:
    board_data = load_board(board)  # an unknown board fails before any work
    with atomic_output_dir(out_dir) as scratch:
        tflite = ensure_int8(model_path, scratch, calib, source, log)
        model = compile_tflite(tflite, name=Path(model_path).stem)
        render(model, board_data, scratch)
    return Generated(Path(out_dir), Path(out_dir) / "model.tflite", model)


def load_input_samples(path: Path, model: CompiledModel) -> tuple[list[bytes], bool]:
    """Samples from an .npy of one input (the model's shape) or a batch of them.

    Returns the samples and whether the file held a batch (so outputs get a batch axis).
    """
    if len(model.inputs) != 1:
        raise TinyEdgeError(f"the model has {len(model.inputs)} inputs; `run` takes single-input models")
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise TinyEdgeError(f"cannot read input {path}: {exc}; give an int8 array saved with numpy.save") from exc
    shape = model.inputs[0].shape
    if array.dtype != np.int8:
        raise TinyEdgeError(f"input {path} has dtype {array.dtype}; the firmware takes int8 (quantize with scale "
                            f"{model.inputs[0].scale:.6g} and zero point {model.inputs[0].zero_point})")
    if array.shape == shape:
        return [array.tobytes()], False
    if array.shape[1:] == shape or (shape and shape[0] == 1 and array.shape[1:] == shape[1:]):
        if len(array) == 0:
            raise TinyEdgeError(f"input {path} holds no samples")
        return [a.tobytes() for a in array], True
    raise TinyEdgeError(f"input {path} has shape {list(array.shape)}; the model takes {list(shape)} "
                        f"or a batch [N, {', '.join(map(str, shape))}]")


def outputs_array(model: CompiledModel, outputs: list[bytes], batched: bool) -> np.ndarray:
    out = model.outputs[0]
    arrays = [np.frombuffer(o[out.offset:out.offset + out.nbytes], dtype=np.int8).reshape(out.shape) for o in outputs]
    return np.stack(arrays) if batched else arrays[0]


def run_model(model_path: Path, board: str, input_path: Path, output_path: Path, calib: Path | None = None,
              backend: str = "auto", log: Log | None = None) -> np.ndarray:
    """Run the model's firmware on the inputs (host build, or the built-in emulator) and save the outputs."""
    board_data = load_board(board)
    with tempfile.TemporaryDirectory(prefix="tinyedge-run-") as tmp:
        workdir = Path(tmp)
        tflite = ensure_int8(Path(model_path), workdir, calib, log=log)
        model = compile_tflite(tflite, name=Path(model_path).stem)
        if len(model.outputs) != 1:
            raise TinyEdgeError(f"the model has {len(model.outputs)} outputs; `run` writes single-output models")
        samples, batched = load_input_samples(Path(input_path), model)
        firmware = build(model, board_data, workdir / board_data.name)
        if board_data.is_host:
            outputs = run_host(firmware.elf, samples, model.output_bytes)
        else:
            from tinyedge.simulate import DEFAULT_BUDGET, backends

            sim = backends.run(backends.choose(backend), firmware.elf, board_data, samples, budget=DEFAULT_BUDGET,
                               expected_layers=len(model.layers))
            outputs = list(sim.outputs)
        result = outputs_array(model, outputs, batched)
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(output_path, result)
    return result


# ---------------------------------------------------------------- compile: the whole mission

@dataclass(frozen=True)
class CompileResult:
    out_dir: Path
    model: CompiledModel
    report: Report
    elf: Path


class _Progress:
    """One line per stage on stderr, with the time the previous stage took."""

    def __init__(self, stages: int, log: Log):
        self.stages, self.log, self.step = stages, log, 0
        self.started = time.perf_counter()

    def __call__(self, what: str) -> None:
        self.step += 1
        self.log(f"[{self.step}/{self.stages}] {what}  ({time.perf_counter() - self.started:.1f} s elapsed)")


def verification_samples(model: CompiledModel, calib: Path | None, count: int) -> list[bytes]:
    """Inputs for the firmware-vs-reference check: calibration samples quantized to int8, else seeded random."""
    if calib is None:
        return random_samples(model, count, seed=0)
    from tinyedge.quantize import load_calibration  # numpy only; TensorFlow stays unimported

    arrays = load_calibration(calib, [t.shape for t in model.inputs])
    count = min(count, len(arrays[0]))
    samples = []
    for i in range(count):
        parts = [np.clip(np.round(a[i] / t.scale) + t.zero_point, -128, 127).astype(np.int8).tobytes()
                 for a, t in zip(arrays, model.inputs)]
        samples.append(b"".join(parts))
    return samples


def compile_model(model_path: Path, board: str, out_dir: Path, calib: Path | None = None,
                  source: Path | None = None, samples: int = 4, rate_hz: float = 1.0,
                  battery_mah: float = DEFAULT_BATTERY_MAH, budget: int | None = None, backend: str = "auto",
                  log: Log | None = None) -> CompileResult:
    """Quantize, generate, cross-compile, run in the emulator, verify against TFLite-Micro, report."""
    from tinyedge.simulate import DEFAULT_BUDGET, backends

    log = log or (lambda message: None)
    board_data = load_board(board)
    backend = backends.choose(backend)
    backends.check_board(backend, board_data)  # a board the backend cannot run fails before any work
    if not board_data.emulated:
        raise TinyEdgeError(f"board '{board_data.name}' cannot be emulated here: `compile` needs a Cortex-M or "
                            "RISC-V board; use `tinyedge espidf` (ESP-IDF project and an analytical estimate) or "
                            "`tinyedge generate` for it")
    progress = _Progress(6, log)
    with atomic_output_dir(out_dir) as scratch:
        progress("quantize to full int8")
        tflite = ensure_int8(model_path, scratch, calib, source, log)
        progress("generate C")
        model = compile_tflite(tflite, name=Path(model_path).stem)
        render(model, board_data, scratch)
        progress(f"cross-compile for {board_data.name}")
        firmware = build_firmware(scratch, board_data)
        inputs = verification_samples(model, calib, samples)
        progress(f"run {len(inputs)} inferences in the {backend} emulator")
        # The emulator stops a runaway firmware well before the default hang limit when a budget is set.
        hang_limit = DEFAULT_BUDGET if budget is None else min(DEFAULT_BUDGET, 2 * budget * len(inputs) + 10_000_000)
        sim = backends.run(backend, firmware.elf, board_data, inputs, budget=hang_limit,
                           expected_layers=len(model.layers))
        check_budget(sim.instructions, budget)
        progress("verify against TFLite-Micro")
        expected = reference_outputs(tflite.read_bytes(), model, inputs)
        verification = compare_outputs(expected, list(sim.outputs))
        write_ci_suites(scratch, board_data, model, firmware, inputs, expected, budget or 2 * max(sim.instructions))
        progress("report")
        report = build_report(model, tflite, board_data, firmware, sim, verification, rate_hz, battery_mah, backend)
        check_fits_with_stack(board_data, report.memory)
        write_json(report, scratch / "report.json")
        write_html(report, scratch / "report.html")
        elf = Path(out_dir) / firmware.elf.relative_to(scratch.resolve())
    return CompileResult(Path(out_dir), model, report, elf)


def write_ci_suites(out_dir: Path, board: Board, model: CompiledModel, firmware: Firmware, inputs: list[bytes],
                    expected: list[bytes], budget: int) -> None:
    """renode/<board>.resc and renode/<model>.robot: the same check, runnable with `renode-test` alone.

    Without --budget, the suite allows twice the instructions measured here.
    """
    from tinyedge.simulate.renode_files import output_checksums, runs_in_renode, write_renode_files

    if runs_in_renode(board):
        write_renode_files(out_dir, board, model.graph.name, firmware.elf.relative_to(out_dir.resolve()),
                           output_checksums(expected), budget, inputs)


def check_budget(instructions: tuple[int, ...], budget: int | None) -> None:
    """The instruction budget of one inference (--budget), as CI checks it."""
    if budget is not None and max(instructions) > budget:
        raise TinyEdgeError(f"one inference takes {max(instructions):,} instructions, over the budget of "
                            f"{budget:,}; raise --budget or make the model smaller")


def check_fits_with_stack(board: Board, memory: MemoryInfo) -> None:
    """The linker checked data + bss; the stack the emulator measured must fit beside them."""
    if memory.ram_bytes > memory.ram_available:
        raise TinyEdgeError(f"the model does not fit board {board.name}: RAM {memory.ram_bytes:,} B used "
                            f"(data+bss {memory.ram_bytes - memory.stack_bytes:,} + measured stack "
                            f"{memory.stack_bytes:,}) > {memory.ram_available:,} B available")


def build_report(model: CompiledModel, tflite: Path, board: Board, firmware: Firmware, sim: SimResult,
                 verification: Verification, rate_hz: float, battery_mah: float, backend: str = "builtin") -> Report:
    assert board.clock_hz is not None and board.power is not None
    worst = max(range(len(sim.instructions)), key=lambda i: sim.instructions[i])
    cycles = int(round(sim.cycles[worst]))
    latency_ms = cycles / board.clock_hz * 1000.0
    power = board.power
    stack = max(sim.stack_bytes, firmware.stack.bytes)
    memory = MemoryInfo(
        flash_bytes=firmware.flash_used or firmware.text + firmware.data,
        ram_bytes=firmware.data + firmware.bss + stack,
        arena_bytes=model.plan.arena_bytes, stack_bytes=stack, weights_bytes=model.weight_bytes,
        text_bytes=firmware.text, data_bytes=firmware.data, bss_bytes=firmware.bss,
        flash_available=firmware.flash_available or 0, ram_available=firmware.ram_available or 0,
    )
    layers = tuple(
        LayerFigures(layer.index, layer.name, layer.opcode, layer.macs, stats.instructions, int(round(stats.cycles)))
        for layer, stats in zip(model.layers, sim.layers))
    return Report(
        model=ModelInfo(model.graph.name, model.macs, model.params, tflite.name, model.model_sha256),
        board=BoardInfo(board.name, board.core, board.clock_hz),
        memory=memory,
        simulation=SimulationInfo(
            backend=backend_description(backend, sim),
            instructions=sim.instructions[worst], cycles=cycles, cycle_model=sim.cycle_model,
            latency_ms=latency_ms, energy_uj=energy_uj(latency_ms, power.active.value, power.supply.value),
            guest_mips=sim.guest_mips),
        power=power_at_rate(latency_ms, power.active.value, power.sleep.value, power.supply.value,
                            f"{power.active.source}; sleep: {power.sleep.source}", rate_hz, battery_mah),
        verification=VerificationInfo(verification.reference, verification.samples, verification.bit_exact,
                                      verification.mismatched_samples),
        layers=layers,
    )


def backend_description(backend: str, sim: SimResult) -> str:
    if backend != "builtin":
        return sim.counter  # e.g. "qemu mps2-an386 + tinyedge plugin"
    import unicorn

    return f"builtin (Unicorn {unicorn.__version__}, {sim.counter} block counter)"
