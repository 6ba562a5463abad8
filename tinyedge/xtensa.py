"""`compile` for the ESP32-family boards no emulator runs here (Xtensa: esp32, esp32s3).

The ESP-IDF project with TFLite-Micro's checksums for its samples, a bit-exact check of the
same model C and kernels in a host build, idf.py's build where ESP-IDF is installed, and an
analytical estimate labelled as one (tinyedge/estimate.py). tinyedge.api sends these boards
here; tinyedge.pipeline, which the estimate's calibration runs, never imports this module.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path

from tinyedge import espidf
from tinyedge.board_setup import clock_source
from tinyedge.boards import Board, load_board
from tinyedge.build import build_firmware, render_project
from tinyedge.codegen import CompiledModel
from tinyedge.console import SEMIHOSTING
from tinyedge.errors import TinyEdgeError
from tinyedge.espidf import MAIN_STACK_BYTES, PROJECT_NAME, AppSizes, EspIdfProject, flash_size_mb
from tinyedge.estimate import Estimate, core_scaling, estimate
from tinyedge.evaluate import load_eval_data, measure_accuracy
from tinyedge.host import run_host
from tinyedge.outdir import output_folder
from tinyedge.pipeline import CompileResult, Log, Progress, quantize_and_generate
from tinyedge.provenance import collect
from tinyedge.report import (
    DEFAULT_BATTERY_MAH,
    BoardInfo,
    EspIdfInfo,
    EstimatedLayer,
    EstimateInfo,
    MemoryInfo,
    ModelInfo,
    Report,
    VerificationInfo,
    power_at_rate,
    write_html,
    write_json,
)
from tinyedge.verify import Verification, compare_outputs

HOST_CHECK = ("host build of the same sources: the ESP-IDF component's model C and kernels, compiled with the "
              "system C compiler and run here, not on the chip")


def compile_estimated(model_path: Path, board: Board, out_dir: Path, calib: Path | None = None,
                      source: Path | None = None, samples: int = 4, rate_hz: float = 1.0,
                      battery_mah: float = DEFAULT_BATTERY_MAH, budget: int | None = None, backend: str = "auto",
                      log: Log | None = None, console: str = SEMIHOSTING, force: bool = False,
                      command: str | None = None, activations: str | None = None,
                      eval_data: Path | None = None, optimize: str = "speed") -> CompileResult:
    """`compile` for an ESP32-family board no emulator runs here (Xtensa: esp32, esp32s3).

    Quantize, generate, render the ESP-IDF project (with TFLite-Micro's checksums for its
    samples), check the same model C and kernels bit-exact in a host build, build the project
    with idf.py where ESP-IDF is installed, and report an analytical estimate, labelled as one.
    """
    log = log or (lambda message: None)
    if board.is_host or board.flashing is None or board.flashing.esptool_chip is None:
        raise TinyEdgeError(f"board '{board.name}' cannot be emulated here: `compile` needs a Cortex-M or RISC-V "
                            "board, or an ESP32-family board (ESP-IDF project and an analytical estimate); use "
                            "`tinyedge run --board host` to run the model on this machine")
    if console != SEMIHOSTING:
        raise TinyEdgeError(f"--console {console} is for bare-metal boards; board {board.name}'s ESP-IDF app "
                            "prints on the USB serial port already")
    target = espidf.idf_target(board)
    core_scaling(board)  # a core without a calibrated estimate fails before any work
    if budget is not None:
        raise TinyEdgeError(f"--budget checks the instructions the emulator counts; no emulator runs board "
                            f"{board.name} ({board.core}) here: drop --budget, or set it on an emulated board")
    if backend != "auto":
        raise TinyEdgeError(f"--backend {backend}: no emulator runs board {board.name} ({board.core}) here; "
                            "drop --backend for it")
    evaluation = None if eval_data is None else load_eval_data(eval_data)  # bad data fails before any work
    progress = Progress(6 if evaluation is None else 7, log)
    with output_folder(out_dir, (model_path, calib, source, eval_data), force) as scratch:
        quantized, model = quantize_and_generate(model_path, scratch, calib, source, progress, log, activations,
                                                 optimize, board)
        tflite = quantized.tflite
        progress(f"render the ESP-IDF project for {target}")
        checked = espidf.render_checked_project(scratch, board, model, tflite, calib, samples)
        progress("verify a host build of the same sources against TFLite-Micro")
        host = load_board("host")  # once, for the host check and the accuracy's host build
        outputs, host_compiler = run_component_on_host(scratch / "components" / espidf.COMPONENT, model,
                                                       checked.samples, host)
        verification = compare_outputs(checked.expected, outputs)
        est = estimate(model, board)
        accuracy = None
        if evaluation is not None:
            progress(f"accuracy on the labelled samples of {eval_data.name} (int8: a host build; float: TensorFlow)")
            accuracy = measure_accuracy(evaluation, eval_data, model, model_path, source, host)
        host_check = f"{host_compiler} (the host check; ESP-IDF's own toolchain builds the chip's firmware)"
        provenance = collect(calib, quantized, host_check, command)  # reads the .tflite while it is in scratch
    out_dir = Path(out_dir)
    try:  # idf.py records the project's path in its build folder: build where the project stays
        if espidf.available():
            progress(f"build with idf.py (target {target})")
            build_result = espidf.build_espidf(out_dir)
            sizes = espidf.app_sizes(build_result, board)
        else:
            progress("build with idf.py: skipped, ESP-IDF is not installed")
            log(f"tinyedge: {espidf.missing_message(out_dir)}")
            build_result, sizes = None, None
        progress("estimate and report")
        report = build_estimate_report(model, tflite, board, checked.project, est, verification, sizes, rate_hz,
                                       battery_mah)
        report = dataclasses.replace(report, provenance=provenance, accuracy=accuracy)
        write_json(report, out_dir / "report.json")
        write_html(report, out_dir / "report.html")
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)  # no half-built project without its report
        raise
    elf = None if build_result is None else out_dir / build_result.app_elf.relative_to(build_result.out_dir)
    return CompileResult(out_dir, model, report, elf)


def run_component_on_host(component: Path, model: CompiledModel, samples: list[bytes],
                          host: Board | None = None) -> tuple[list[bytes], str]:
    """Build the ESP-IDF component's model C with its kernels for the host, run the samples.

    Returns the outputs and the host compiler that built them.

    The host project copies the component's model/ folder; its kernels and headers come from
    the same firmware/ files as the component's, which is checked byte for byte first.
    """
    host = host or load_board("host")
    with tempfile.TemporaryDirectory(prefix="tinyedge-hostcheck-") as tmp:
        host_dir = Path(tmp) / "host"
        render_project(host_dir, host, model_dir=component / "model", kernel_sources=model.kernel_sources)
        for folder, pattern in (("kernels", "*.c"), ("include", "*.h")):
            for copy in sorted((host_dir / folder).glob(pattern)):
                original = component / folder / copy.name
                if not original.is_file() or original.read_bytes() != copy.read_bytes():
                    raise TinyEdgeError(f"the host check's {folder}/{copy.name} differs from the ESP-IDF "
                                        f"component's; the host build would not test the same sources")
        firmware = build_firmware(host_dir, host)
        return run_host(firmware.elf, samples, model.output_bytes), firmware.compiler


def build_estimate_report(model: CompiledModel, tflite: Path, board: Board, project: EspIdfProject, est: Estimate,
                          verification: Verification, sizes: AppSizes | None, rate_hz: float,
                          battery_mah: float) -> Report:
    """The report of a board without an emulator: an `estimate` section instead of `simulation`."""
    assert board.clock_hz is not None and board.power is not None
    power = board.power
    ram_available = board.data_region.length
    flash_total = flash_size_mb(board) << 20  # the module's flash; the app partition is part of it
    if sizes is None:
        note = ("flash and RAM are not known: ESP-IDF is not installed, so the project was not built (weights and "
                "arena are the planner's); build it with `idf.py build` for its figures")
        memory = MemoryInfo(None, None, model.plan.arena_bytes, None, model.weight_bytes, None, None, None,
                            project.partitioning.app_bytes, ram_available, note, flash_total_bytes=flash_total,
                            optimize=model.plan.optimize)
    else:
        note = (f"flash: build/{PROJECT_NAME}.bin as written to the app partition; RAM: static IRAM, DRAM and bss of "
                f"build/{PROJECT_NAME}.elf (heap and task stacks come on top; the main task's stack is "
                f"{MAIN_STACK_BYTES:,} B); stack use not measured")
        memory = MemoryInfo(sizes.flash_bytes, sizes.ram_bytes, model.plan.arena_bytes, None, model.weight_bytes,
                            sizes.text_bytes, sizes.data_bytes, sizes.bss_bytes, project.partitioning.app_bytes,
                            ram_available, note, flash_total_bytes=flash_total, optimize=model.plan.optimize)
    built = sizes is not None
    espidf_info = EspIdfInfo(
        target=project.target, project=".", built=built, app_bin=f"build/{PROJECT_NAME}.bin" if built else None,
        note="built with idf.py" if built else "generated, not built: ESP-IDF is not installed here")
    estimate_info = EstimateInfo(
        source="analytical estimate (tinyedge.estimate), not a measurement: no emulator runs this core here",
        label=est.label, calibration=est.calibration, fitted_on=f"{est.proxy} ({est.proxy_cycle_model})",
        assumption=est.assumption, instructions=est.instructions, cycles=est.cycles, latency_ms=est.latency_ms,
        energy_uj=est.energy_uj, cycles_optimistic=est.cycles_optimistic,
        latency_ms_optimistic=est.latency_ms_optimistic,
        optimistic_basis=f"the same layers priced with the fits of {est.optimistic_board}, whose kernels use DSP SIMD",
        layers=tuple(EstimatedLayer(layer.index, layer.name, layer.op, layer.kernel, layer.macs, layer.instructions,
                                    layer.cycles, layer.basis) for layer in est.layers))
    return Report(
        model=ModelInfo(model.graph.name, model.macs, model.params, tflite.name, model.model_sha256),
        board=BoardInfo(board.name, board.core, board.clock_hz, clock_source(board)),
        memory=memory,
        simulation=None,
        power=power_at_rate(est.latency_ms, power.active.value, power.sleep.value, power.supply.value,
                            f"{power.active.source}; sleep: {power.sleep.source}", rate_hz, battery_mah),
        verification=VerificationInfo(verification.reference, verification.samples, verification.bit_exact,
                                      verification.mismatched_samples, method=HOST_CHECK),
        layers=(),
        estimate=estimate_info,
        espidf=espidf_info,
    )
