"""The stages chained the way the CLI runs them, usable from Python as well.

Output folders are written in a scratch sibling and moved into place at the end, and only
ever replace a folder tinyedge made (tinyedge/outdir.py).
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tinyedge.board_setup import clock_source
from tinyedge.boards import Board, load_board
from tinyedge.build import Firmware, build_firmware, render_project
from tinyedge.codegen import CompiledModel, IOTensor, compile_graph, model_sha256, render_model
from tinyedge.console import SEMIHOSTING, UART, UART_SAMPLES, check_console
from tinyedge.errors import TinyEdgeError
from tinyedge.evaluate import load_eval_data, measure_accuracy
from tinyedge.host import run_host
from tinyedge.importer import load_tflite
from tinyedge.outdir import check_output_file, output_folder, write_file_atomically
from tinyedge.plan import SPEED, check_optimize
from tinyedge.provenance import collect
from tinyedge.report import (
    DEFAULT_BATTERY_MAH,
    BoardInfo,
    FirmwareInfo,
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
from tinyedge.verify import (
    Verification,
    compare_outputs,
    join_tensors,
    random_samples,
    reference_outputs,
    split_tensors,
)

if TYPE_CHECKING:
    from tinyedge.quantize import QuantizeResult
    from tinyedge.simulate import SimResult

Log = Callable[[str], None]


@dataclass(frozen=True)
class Generated:
    out_dir: Path
    tflite: Path
    model: CompiledModel


def quantize_stage(model_path: Path, workdir: Path, calib: Path | None = None, source: Path | None = None,
                   log: Log | None = None, activations: str | None = None) -> QuantizeResult:
    """The model as a quantized workdir/model.tflite (quantized now unless it already is), with how it was made.

    `activations`: "int8" (full int8, the default for a Keras model) or "int16" (16x8 mode); None takes
    a quantized .tflite with whichever it has."""
    from tinyedge.quantize import QuantizeResult, is_quantized, quantized_activations

    model_path = Path(model_path)
    if model_path.suffix == ".tflite" and model_path.is_file() and is_quantized(model_path) and \
            activations in (None, quantized_activations(model_path)):
        target = workdir / "model.tflite"
        shutil.copyfile(model_path, target)
        return QuantizeResult(target, passthrough=True, synthetic_calibration=False, agreement=None)
    from tinyedge.quantize import quantize  # TensorFlow runs in a child of quantize: only when needed

    return quantize(model_path, workdir / "model.tflite", calib=calib, source=source, log=log,
                    activations=activations)


def ensure_int8(model_path: Path, workdir: Path, calib: Path | None = None, source: Path | None = None,
                log: Log | None = None, activations: str | None = None) -> Path:
    """The model as a quantized .tflite in workdir (quantized now unless it already is)."""
    return quantize_stage(model_path, workdir, calib, source, log, activations).tflite


def compile_tflite(path: Path, name: str | None = None, optimize: str = SPEED,
                   board: Board | None = None) -> CompiledModel:
    """Import, lower and plan an int8 .tflite; `name` is how reports call the model (default: file stem);
    `optimize` "speed" or "ram" (tinyedge/plan.py); `board`, where known, for what its core's kernels take
    (Board.dsp_extension)."""
    graph = load_tflite(path)
    if name:
        graph = dataclasses.replace(graph, name=name)
    return compile_graph(graph, model_sha256(path), optimize, board is None or board.dsp_extension)


def render(model: CompiledModel, board: Board | str, out_dir: Path, console: str = SEMIHOSTING,
           samples: Sequence[bytes] = ()) -> None:
    """The model's C and a firmware project for `board` around it, buildable on its own.

    console "uart": the standalone variant, with `samples` compiled in (tinyedge/console.py)."""
    render_model(model, out_dir)
    render_project(out_dir, board, kernel_sources=model.kernel_sources, console=console, samples=samples)


def build(model: CompiledModel, board: Board | str, out_dir: Path) -> Firmware:
    render(model, board, out_dir)
    return build_firmware(out_dir, board)


def generate(model_path: Path, out_dir: Path, board: str = "host", calib: Path | None = None,
             source: Path | None = None, log: Log | None = None, force: bool = False,
             activations: str | None = None, optimize: str = SPEED) -> Generated:
    board_data = load_board(board)  # an unknown board fails before any work
    check_optimize(optimize)
    with output_folder(out_dir, (model_path, calib, source), force, command="generate") as scratch:
        tflite = ensure_int8(model_path, scratch, calib, source, log, activations)
        model = compile_tflite(tflite, name=Path(model_path).stem, optimize=optimize, board=board_data)
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
        raise TinyEdgeError(f"cannot read input {path}: {exc}; give an {model.inputs[0].dtype} array saved with "
                            "numpy.save") from exc
    shape, want = model.inputs[0].shape, model.inputs[0]
    if array.dtype != np.dtype(want.dtype):
        how = "" if want.scale is None else f" (quantize with scale {want.scale:.6g} and zero point {want.zero_point})"
        raise TinyEdgeError(f"input {path} has dtype {array.dtype}; the firmware takes {want.dtype}{how}")
    if array.shape == shape:
        return [join_tensors(model.inputs, [array])], False
    if array.shape[1:] == shape or (shape and shape[0] == 1 and array.shape[1:] == shape[1:]):
        if len(array) == 0:
            raise TinyEdgeError(f"input {path} holds no samples")
        return [join_tensors(model.inputs, [a.reshape(shape)]) for a in array], True
    raise TinyEdgeError(f"input {path} has shape {list(array.shape)}; the model takes {list(shape)} "
                        f"or a batch [N, {', '.join(map(str, shape))}]")


def outputs_array(model: CompiledModel, outputs: list[bytes], batched: bool) -> np.ndarray:
    arrays = [split_tensors(model.outputs[:1], o)[0] for o in outputs]
    return np.stack(arrays) if batched else arrays[0]


def run_model(model_path: Path, board: str, input_path: Path, output_path: Path, calib: Path | None = None,
              backend: str = "auto", log: Log | None = None, activations: str | None = None,
              optimize: str = SPEED) -> np.ndarray:
    """Run the model's firmware on the inputs (host build, or the built-in emulator) and save the outputs."""
    board_data = load_board(board)
    check_optimize(optimize)
    output_path = check_output_file(output_path, (model_path, input_path, calib))
    with tempfile.TemporaryDirectory(prefix="tinyedge-run-") as tmp:
        workdir = Path(tmp)
        tflite = ensure_int8(Path(model_path), workdir, calib, log=log, activations=activations)
        model = compile_tflite(tflite, name=Path(model_path).stem, optimize=optimize, board=board_data)
        if len(model.outputs) != 1:
            raise TinyEdgeError(f"the model has {len(model.outputs)} outputs; `run` writes single-output models")
        samples, batched = load_input_samples(Path(input_path), model)
        firmware = build(model, board_data, workdir / board_data.name)
        if board_data.is_host:
            outputs = run_host(firmware.elf, samples, model.output_bytes)
        else:
            from tinyedge.simulate import DEFAULT_BUDGET, backends

            choice = backends.pick(backend, board_data)
            if log is not None and choice.why != "named":
                log(f"emulator: {choice.name} ({choice.why})")
            sim = backends.run(choice.name, firmware.elf, board_data, samples, budget=DEFAULT_BUDGET,
                               expected_layers=len(model.layers))
            outputs = list(sim.outputs)
        result = outputs_array(model, outputs, batched)
    buffer = io.BytesIO()
    np.save(buffer, result)
    write_file_atomically(output_path, buffer.getvalue())
    return result


# ---------------------------------------------------------------- compile: the whole mission

@dataclass(frozen=True)
class CompileResult:
    out_dir: Path
    model: CompiledModel
    report: Report
    elf: Path | None  # None for an ESP-IDF project that was not built

    @property
    def contents(self) -> str:
        """What the output folder holds besides the reports, as the CLI says it."""
        if self.report.espidf is None:
            assert self.elf is not None
            return f"firmware {self.elf.name}"
        if self.elf is None:
            return "ESP-IDF project (not built)"
        return f"ESP-IDF project, built ({self.report.espidf.app_bin})"


class Progress:
    """One line per stage on stderr, with the time the previous stage took."""

    def __init__(self, stages: int, log: Log):
        self.stages, self.log, self.step = stages, log, 0
        self.started = time.perf_counter()

    def __call__(self, what: str) -> None:
        self.step += 1
        self.log(f"[{self.step}/{self.stages}] {what}  ({time.perf_counter() - self.started:.1f} s elapsed)")


def quantize_and_generate(model_path: Path, workdir: Path, calib: Path | None, source: Path | None,
                           progress: Progress, log: Log, activations: str | None = None, optimize: str = SPEED,
                           board: Board | None = None) -> tuple[QuantizeResult, CompiledModel]:
    """The first two stages of every `compile`: the quantized .tflite in workdir, and the compiled model."""
    progress("quantize")
    quantized = quantize_stage(model_path, workdir, calib, source, log, activations)
    progress("generate C" + ("" if optimize == SPEED else f" (memory planned for {optimize})"))
    return quantized, compile_tflite(quantized.tflite, name=Path(model_path).stem, optimize=optimize, board=board)


def verification_samples(model: CompiledModel, calib: Path | None, count: int) -> list[bytes]:
    """Inputs for the firmware-vs-reference check: calibration samples quantized to the inputs' dtypes, else
    seeded random."""
    if calib is None:
        return random_samples(model, count, seed=0)
    from tinyedge.quantize import load_calibration  # numpy only; TensorFlow stays unimported

    arrays = load_calibration(calib, [t.shape for t in model.inputs])
    count = min(count, len(arrays[0]))
    samples = []
    for i in range(count):
        parts = [_quantized(a[i], t) for a, t in zip(arrays, model.inputs)]
        samples.append(join_tensors(model.inputs, parts))
    return samples


def _quantized(values: np.ndarray, t: IOTensor) -> np.ndarray:
    """A float sample as the firmware takes it: quantized with the input's scale, clipped to its dtype."""
    if t.scale is None:  # an index or shape input: taken as it is
        return np.asarray(values).astype(t.dtype)
    info = np.iinfo(t.dtype)
    return np.clip(np.round(values / t.scale) + t.zero_point, info.min, info.max).astype(t.dtype)


def compile_model(model_path: Path, board: Board | str, out_dir: Path, calib: Path | None = None,
                  source: Path | None = None, samples: int = 4, rate_hz: float = 1.0,
                  battery_mah: float = DEFAULT_BATTERY_MAH, budget: int | None = None, backend: str = "auto",
                  log: Log | None = None, console: str = SEMIHOSTING, force: bool = False,
                  command: str | None = None, activations: str | None = None,
                  eval_data: Path | None = None, optimize: str = SPEED) -> CompileResult:
    """Quantize, generate, cross-compile, run in the emulator, verify against TFLite-Micro, report.

    `eval_data` (labelled samples, tinyedge/evaluate.py) adds the int8 and float accuracy to the report.

    Boards the emulator cannot run (esp32, esp32s3) are refused here: tinyedge.api.compile_model sends
    them to tinyedge.xtensa.compile_estimated, so this module never imports the estimate (whose
    calibration runs this compile). console "uart" builds the standalone UART variant
    (tinyedge/console.py); the emulator runs it with the board's UART modelled, and uart_samples.json
    records TFLite-Micro's checksum of each compiled-in sample for `tinyedge flash --measure`.
    """
    from tinyedge.simulate import DEFAULT_BUDGET, backends

    log = log or (lambda message: None)
    board_data = board if isinstance(board, Board) else load_board(board)
    if not board_data.emulated:  # tinyedge.api sends these boards to tinyedge.xtensa
        raise TinyEdgeError(f"board '{board_data.name}' cannot be emulated here: compile it with tinyedge.compile "
                            "(or `tinyedge compile`), which gives an ESP32-family board an ESP-IDF project and an "
                            "analytical estimate")
    check_console(console, board_data)
    check_optimize(optimize)
    choice = backends.pick(backend, board_data, console)
    backend = choice.name
    backends.check_board(backend, board_data)  # a board the backend cannot run fails before any work
    backends.check_console(backend, console)
    evaluation = None if eval_data is None else load_eval_data(eval_data)  # bad data fails before any work
    progress = Progress(6 if evaluation is None else 7, log)
    with output_folder(out_dir, (model_path, calib, source, eval_data), force) as scratch:
        quantized, model = quantize_and_generate(model_path, scratch, calib, source, progress, log, activations,
                                                 optimize, board_data)
        tflite = quantized.tflite
        inputs = verification_samples(model, calib, samples)
        render(model, board_data, scratch, console, inputs)
        progress(f"cross-compile for {board_data.name}" + (" (UART variant)" if console == UART else ""))
        firmware = build_firmware(scratch, board_data)
        progress(f"run {len(inputs)} inferences in the {backend} emulator"
                 + ("" if choice.why == "named" else f" ({choice.why})"))
        # The emulator stops a runaway firmware well before the default hang limit when a budget is set.
        hang_limit = DEFAULT_BUDGET if budget is None else min(DEFAULT_BUDGET, 2 * budget * len(inputs) + 10_000_000)
        sim = backends.run(backend, firmware.elf, board_data, inputs, budget=hang_limit,
                           expected_layers=len(model.layers), console=console)
        check_budget(sim.instructions, budget)
        progress("verify against TFLite-Micro")
        expected = reference_outputs(tflite.read_bytes(), model, inputs)
        verification = compare_outputs(expected, list(sim.outputs))
        if console == UART:
            checksums = [f"{zlib.crc32(out):08x}" for out in expected]
            (scratch / UART_SAMPLES).write_text(json.dumps({"checksums": checksums}, indent=2) + "\n")
        else:  # the Renode suite feeds input.bin through semihosting
            write_ci_suites(scratch, board_data, model, firmware, inputs, expected,
                            budget or 2 * max(sim.instructions))
        accuracy = None
        if evaluation is not None:
            progress(f"accuracy on the labelled samples of {eval_data.name} (int8: a host build; float: TensorFlow)")
            accuracy = measure_accuracy(evaluation, eval_data, model, model_path, source)
        progress("report")
        report = build_report(model, tflite, board_data, firmware, sim, verification, rate_hz, battery_mah, backend)
        report = dataclasses.replace(report, provenance=collect(calib, quantized, firmware.compiler, command),
                                     accuracy=accuracy)
        if console == UART:
            report = dataclasses.replace(report, firmware=uart_firmware_info(board_data, report))
        check_fits_with_stack(board_data, report.memory)
        write_json(report, scratch / "report.json")
        write_html(report, scratch / "report.html")
        elf = Path(out_dir) / firmware.elf.relative_to(scratch.resolve())
    return CompileResult(Path(out_dir), model, report, elf)


def uart_firmware_info(board: Board, report: Report) -> FirmwareInfo:
    """Which UART the standalone variant prints on, and its latency at the clock its set-up leaves the core at."""
    assert board.console is not None and report.simulation is not None
    clock = board.clock_hz  # the start-up code's [setup] runs in this variant too
    return FirmwareInfo(UART, board.console.uart, clock, report.simulation.cycles / clock * 1000.0)


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
        model_constants=firmware.model_constants, optimize=model.plan.optimize,
        model_constants_ram_bytes=firmware.model_constants_ram_bytes if firmware.model_constants != "flash" else None,
    )
    layers = tuple(
        LayerFigures(layer.index, layer.name, layer.opcode, layer.macs, stats.instructions, int(round(stats.cycles)),
                     kernel=call.function, fallback=call.fallback, stall_cycles=int(round(stats.stall_cycles)))
        for layer, call, stats in zip(model.layers, model.calls, sim.layers))
    return Report(
        model=ModelInfo(model.graph.name, model.macs, model.params, tflite.name, model.model_sha256),
        board=BoardInfo(board.name, board.core, board.clock_hz, clock_source(board)),
        memory=memory,
        simulation=SimulationInfo(
            backend=backend_description(backend, sim),
            instructions=sim.instructions[worst], cycles=cycles, cycle_model=sim.cycle_model,
            latency_ms=latency_ms, energy_uj=energy_uj(latency_ms, power.active.value, power.supply.value),
            guest_mips=sim.guest_mips, stall_cycles=int(round(sim.samples[worst].stall_cycles))),
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
