"""MLPerf Tiny's TFLM + CMSIS-NN reference on NUCLEO-L4R5ZI, counted here, against its published
latencies; and tinyedge's own compile of the same models on the same board file.

    python benchmarks/validate_mlperf_l4r5zi.py --build LABEL=DIR [--build LABEL=DIR ...] --models DIR
        [--board nucleo-l4r5zi] [--only kws ...] [--no-tinyedge]

This repository holds no third-party code and no recipe that builds it, so the TFLite-Micro
firmware is built outside it; each --build names a folder of ELFs, one per model (kws.elf, vww.elf,
ic.elf, ad.elf), for the board: TFLM's library for Cortex-M4F with CMSIS-NN, the model's .tflite
linked in as a sized data object (so the memory model sees it as weights), a main that runs the
interpreter between te_inference_begin() and te_inference_end() on one input read from input.bin
and writes its output to output.bin (te_runtime.h, the emulator's protocol), and tinyedge's own
start-up code, runtime and linker script for the board (tinyedge.build.render_project), so the
board's [setup] clocks, wait states and caches are those of tinyedge's firmware. --models: the
folder of the four MLPerf Tiny int8 models (benchmarks/mlperf_tiny.py).

Each model runs once (one seeded random int8 input) in the built-in emulator on the board file,
whose [setup] and [[cache]] tables make the memory model: the ART's 1 KB instruction and 256 B data
caches in front of flash at 5 wait states, prefetch off, each 64-bit flash read they miss charged
5 cycles. Printed beside the stalls: how many of them instruction fetches caused. Every build's
output is checked byte for byte against tflite_micro (the Python package).

The builds measured for docs/cycle-model.md: TFLM at the commit ANCHORS.md used, with its release
flags (core -Os, kernels -O2); tflite-micro a37043ff7 (2021-04-09, the first commit with TFLM's
Makefile) with its own CMSIS_5 pin 0d7e4fa7 (2021-02), all -Os as the reference submission's Mbed
build did; and the same tree with CMSIS_5 9daaa7a34 (2020-06-11) whose depthwise kernel calls
arm_depthwise_conv_s8_opt, as TF's CMSIS-NN depthwise kernel of 2020 did, all -Os.

Printed: per model and build, exact instructions between the inference markers, the estimate's
cycles (memory stalls in brackets), latency at the board clock, the error against the published
TFLM figure, and the cycles per instruction the published figure implies. Nothing is fitted.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyedge.boards import Board, load_board
from tinyedge.build import toolchain
from tinyedge.simulate import simulate

BOARD = "nucleo-l4r5zi"
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


def text_bytes(elf: Path, board: Board) -> int:
    """Bytes of the ELF's flash image (code, constants, the model, the .data load image)."""
    proc = subprocess.run([toolchain(board).tool("size"), "-A", str(elf)], capture_output=True, text=True, check=True)
    sizes = {parts[0]: int(parts[1]) for parts in (line.split() for line in proc.stdout.splitlines())
             if len(parts) >= 3 and parts[1].isdigit()}
    return sum(size for name, size in sizes.items() if name in (".vectors", ".text", ".rodata", ".init_array",
                                                                 ".ARM.exidx", ".data"))


def compilers(elf: Path, board: Board) -> str:
    """The compilers the ELF's objects name in their .comment section."""
    proc = subprocess.run([toolchain(board).tool("readelf"), "-p", ".comment", str(elf)], capture_output=True,
                          text=True)
    return ", ".join(sorted(set(re.findall(r"GCC: \(.*?\) [\d.]+", proc.stdout)))) or "(not recorded)"


def run_tflm(elf: Path, board: Board, sample: bytes) -> Run:
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
    parser.add_argument("--build", action="append", required=True, metavar="LABEL=DIR",
                        help="a TFLite-Micro build: a folder of kws.elf, vww.elf, ic.elf, ad.elf (repeatable)")
    parser.add_argument("--models", type=Path, required=True, help="folder of the MLPerf Tiny int8 .tflite files")
    parser.add_argument("--board", default=BOARD)
    parser.add_argument("--only", nargs="*", choices=[c.key for c in CASES])
    parser.add_argument("--no-tinyedge", action="store_true", help="skip tinyedge's own compile of the models")
    parser.add_argument("--keep", type=Path, help="keep tinyedge's own compiles in this folder")
    args = parser.parse_args(argv)
    board = load_board(args.board)
    cases = [c for c in CASES if not args.only or c.key in args.only]
    missing = [c.model for c in cases if not (args.models / f"{c.model}.tflite").is_file()]
    if missing:
        print(f"error: {args.models} lacks {', '.join(m + '.tflite' for m in missing)}", file=sys.stderr)
        return 2
    builds = [(label, Path(folder)) for label, _, folder in (item.partition("=") for item in args.build)]
    absent = [str(folder / f"{c.key}.elf") for _, folder in builds for c in cases
              if not (folder / f"{c.key}.elf").is_file()]
    if absent:
        print(f"error: no firmware {', '.join(absent)} (see --help for what a build folder holds)", file=sys.stderr)
        return 2
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
            for label, folder in builds:
                run = run_tflm(folder / f"{case.key}.elf", board, sample)
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
    first_elf = builds[0][1] / f"{cases[0].key}.elf"
    print(f"board {board.name}: {board.description}; TFLM built with {compilers(first_elf, board)}; "
          f"published: {SOURCE}; ST: {ST_SOURCE}")
    print("| model | build | instructions | instr/MAC | est. cycles (memory stalls; of them instruction fetches) | "
          "CPI | est. ms at 120 MHz | published ms | error | CPI the published ms needs | flash image B | output |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
