"""MLPerf Tiny's TFLM + CMSIS-NN reference on NUCLEO-L4R5ZI, rebuilt and counted here, against its
published latencies; and tinyedge's own compile of the same models on the same board file.

    python benchmarks/validate_mlperf_l4r5zi.py --tflm PATH [--tflm-old PATH ...] --models DIR
        [--board nucleo-l4r5zi] [--only kws ...] [--no-tinyedge]

--tflm: a TFLite-Micro tree (third-party downloads in place; its Makefile runs python3 scripts that
import Pillow), built with TFLM's own release flags (core -Os, kernels -O2) for Cortex-M4F with
CMSIS-NN. --tflm-old (repeatable): an older TFLite-Micro tree, one whose Makefile has a single
OPTIMIZATION_LEVEL (tflite-micro's history starts in April 2021; TFLM 2.3.1 itself lives only in
tensorflow/tensorflow), with the CMSIS_5 of the caller's choice in its downloads, built the way
the reference submission built TFLM 2.3.1: everything at -Os (Mbed CLI's default develop profile
for GCC_ARM); labelled by its folder name. --models: the folder of the four MLPerf Tiny int8 models
(kws_ref_model, vww_96_int8, pretrainedResnet_quant, ad01_int8 .tflite). Of TFLM's kernel files only
those the four models call are compiled (tflm_firmware.MLPERF_KERNELS), with TFLM's own commands.

Each model runs once (one seeded random int8 input) in the built-in emulator on the board file,
whose [setup] and [[cache]] tables make the memory model: the ART's 1 KB instruction and 256 B data
caches in front of flash at 5 wait states, prefetch off, each 64-bit flash read they miss charged
5 cycles. Printed beside the stalls: how many of them instruction fetches caused (code that does
not fit the 1 KB cache is what separates the builds). The current build's outputs are checked byte for byte
against tflite_micro (the Python package), and so are the old builds'.

The older trees measured (docs/cycle-model.md gives the figures): tflite-micro a37043ff7
(2021-04-09, the first commit with TFLM's Makefile) with its own CMSIS_5 pin 0d7e4fa7 (2021-02),
and the same tree with CMSIS_5 9daaa7a34 (2020-06-11, the first with the cmsis_nn_context
interface whole, as TFLM 2.3 calls it) whose kernels/cmsis_nn/depthwise_conv.cc calls
arm_depthwise_conv_s8_opt, as TF's CMSIS-NN depthwise kernel of 2020 did, instead of the
wrapper that picks the 3x3 variant (the call and its get_buffer_size both switched to _opt's).
Third-party downloads for tflite-micro a37043ff7: flatbuffers dca12522, gemmlowp 719139ce, ruy
38a9266b, and a downloads/gcc_embedded/bin of links to the system's arm-none-eabi tools.

Printed: per model and build, exact instructions between the inference markers, the estimate's
cycles (memory stalls in brackets), latency at the board clock, the error against the published
TFLM figure, and the cycles per instruction the published figure implies. Nothing is fitted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tflm_firmware import Library, build_firmware, build_library, compiler_version, text_bytes  # noqa: E402

from tinyedge.boards import Board, load_board  # noqa: E402
from tinyedge.simulate import simulate  # noqa: E402

BOARD = "nucleo-l4r5zi"
CURRENT_MAKE = ["TARGET=cortex_m_generic", "TARGET_ARCH=cortex-m4+fp", "OPTIMIZED_KERNEL_DIR=cmsis_nn",
                "BUILD_TYPE=release"]
OLD_MAKE = [*CURRENT_MAKE, "OPTIMIZATION_LEVEL=-Os", "CC_WARNINGS="]
SOURCE = ("MLPerf Tiny Inference v0.5 results, reference submission (TFLM 2.3.1 + CMSIS-NN, Mbed OS, "
          "NUCLEO-L4R5ZI at 120 MHz)")
ST_SOURCE = "MLPerf Tiny Inference results, STMicroelectronics' submission (X-CUBE-AI v1.2) on the NUCLEO-L4R5ZI"


@dataclass(frozen=True)
class Case:
    key: str
    model: str  # file stem in --models
    name: str
    macs: int
    published_ms: float  # TFLM + CMSIS-NN reference
    st_ms: float  # ST's X-CUBE-AI on the same board


CASES = (
    Case("kws", "kws_ref_model", "keyword spotting DS-CNN", 2_656_768, 181.9, 43.2),
    Case("vww", "vww_96_int8", "visual wake words MobileNetV1-0.25", 7_489_664, 600.6, 88.9),
    Case("ic", "pretrainedResnet_quant", "image classification ResNet-8", 12_501_632, 704.2, 165.1),
    Case("ad", "ad01_int8", "anomaly detection FC autoencoder", 264_192, 10.05, 5.26),
)


@dataclass(frozen=True)
class Run:
    instructions: int
    cycles: float
    stalls: float
    fetch_stalls: float  # of `stalls`, the whole run's share from instruction fetches, scaled to the inference
    text: int
    output: bytes
    cycle_model: str


def sample_input(model: Path, seed: int = 0) -> tuple[bytes, np.ndarray]:
    """One random input in the model's own dtype and shape (seeded)."""
    from tflite_micro import runtime
    interpreter = runtime.Interpreter.from_file(str(model))
    detail = interpreter.get_input_details(0)
    info = np.iinfo(detail["dtype"])
    array = np.random.default_rng(seed).integers(info.min, info.max, size=detail["shape"], dtype=detail["dtype"],
                                                 endpoint=True)
    return array.tobytes(), array


def reference_output(model: Path, array: np.ndarray) -> bytes:
    from tflite_micro import runtime
    interpreter = runtime.Interpreter.from_file(str(model))
    interpreter.set_input(array, 0)
    interpreter.invoke()
    return interpreter.get_output(0).tobytes()


def run_tflm(library: Library, board: Board, model: Path, sample: bytes, work: Path) -> Run:
    elf = build_firmware(library, board, model, work)
    result = simulate(elf, board, [sample], budget=2_000_000_000)
    stalls = result.samples[0].stall_cycles
    misses = {name: counts[1] * next(c.miss_cycles for c in board.caches if c.name == name)
              for name, counts in result.cache_misses.items()}
    fetch = sum(v for name, v in misses.items() if next(c.serves for c in board.caches if c.name == name)
                == "instruction")
    share = fetch / sum(misses.values()) if sum(misses.values()) else 0.0
    return Run(result.instructions[0], result.cycles[0], stalls, stalls * share, text_bytes(elf, board),
               result.outputs[0], result.cycle_model)


def run_tinyedge(model: Path, board: Board, work: Path) -> dict:
    """`tinyedge compile` on the board, as a user runs it; its report.json's simulation block."""
    out = work / f"tinyedge-{model.stem}"
    proc = subprocess.run([sys.executable, "-m", "tinyedge.cli", "compile", str(model), "--board", board.name,
                           "-o", str(out), "--force", "--samples", "1"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"tinyedge compile {model.name} failed:\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}")
    return json.loads((out / "report.json").read_text())["simulation"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tflm", type=Path, required=True, help="a TFLite-Micro tree (current)")
    parser.add_argument("--tflm-old", type=Path, action="append", default=[],
                        help="an older TFLite-Micro tree, built at -Os as Mbed did (repeatable; labelled by "
                             "its folder name)")
    parser.add_argument("--models", type=Path, required=True, help="folder of the MLPerf Tiny int8 .tflite files")
    parser.add_argument("--board", default=BOARD)
    parser.add_argument("--only", nargs="*", choices=[c.key for c in CASES])
    parser.add_argument("--no-tinyedge", action="store_true", help="skip tinyedge's own compile of the models")
    parser.add_argument("--keep", type=Path, help="keep the firmware projects in this folder")
    args = parser.parse_args(argv)
    board = load_board(args.board)
    cases = [c for c in CASES if not args.only or c.key in args.only]
    missing = [c.model for c in cases if not (args.models / f"{c.model}.tflite").is_file()]
    if missing:
        print(f"error: {args.models} lacks {', '.join(m + '.tflite' for m in missing)}", file=sys.stderr)
        return 2
    gcc_root = f"TARGET_TOOLCHAIN_ROOT={Path(shutil.which('arm-none-eabi-gcc') or '/usr/bin/x').parent}/"
    builds = [("TFLM now + CMSIS-NN (core -Os, kernels -O2)", build_library(args.tflm, [*CURRENT_MAKE, gcc_root]))]
    for old in args.tflm_old:  # GCC 12 wants <limits> where TFLM of 2021 relied on it being included
        builds.append((f"{old.name} (all -Os)", build_library(old, OLD_MAKE, extra_flags=("-include", "limits"))))
    clock = board.clock_hz or 1
    work = Path(tempfile.mkdtemp(prefix="tinyedge-mlperf-l4r5zi-")) if args.keep is None else args.keep
    rows = []
    try:
        for case in cases:
            model = args.models / f"{case.model}.tflite"
            sample, array = sample_input(model)
            expected = reference_output(model, array)
            published_cycles = case.published_ms * 1e-3 * clock
            first_output = None
            for label, library in builds:
                run = run_tflm(library, board, model, sample, work / f"{case.key}-{len(rows)}")
                exact = "bit-exact vs tflite_micro" if run.output == expected else (
                    "same as the current build" if run.output == first_output else "OUTPUT DIFFERS")
                first_output = run.output if first_output is None else first_output
                ms = run.cycles / clock * 1e3
                rows.append(f"| {case.key} | {label} | {run.instructions:,} | {run.instructions / case.macs:.2f} | "
                            f"{run.cycles:,.0f} ({run.stalls:,.0f}; fetches {run.fetch_stalls:,.0f}) | "
                            f"{run.cycles / run.instructions:.2f} | {ms:.1f} | {case.published_ms:g} | "
                            f"{ms / case.published_ms - 1:+.1%} | {published_cycles / run.instructions:.2f} | "
                            f"{run.text:,} | {exact} |")
                print(rows[-1], flush=True)
                print(f"  cycle model: {run.cycle_model}", file=sys.stderr)
            if not args.no_tinyedge:
                sim = run_tinyedge(model, board, work)
                stalls, ms = sim.get("stall_cycles", 0), sim["latency_ms"]
                rows.append(f"| {case.key} | tinyedge compile | {sim['instructions']:,} | "
                            f"{sim['instructions'] / case.macs:.2f} | {sim['cycles']:,} ({stalls:,}) "
                            f"| {sim['cycles'] / sim['instructions']:.2f} | {ms:.1f} | "
                            f"TFLM {case.published_ms:g}; ST {case.st_ms:g} | vs ST {ms / case.st_ms - 1:+.1%}"
                            f" | - | - | bit-exact (tinyedge's own check) |")
                print(rows[-1], flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"board {board.name}: {board.description}; GCC {compiler_version(board)}; published: {SOURCE}; "
          f"ST: {ST_SOURCE}")
    print("| model | build | instructions | instr/MAC | est. cycles (memory stalls; of them instruction fetches) | "
          "CPI | est. ms at 120 MHz | published ms | error | CPI the published ms needs | flash image B | output |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
