"""Speed of the built-in emulator backend on a Cortex-M4 int8 multiply-accumulate loop.

Builds (with arm-none-eabi-as/ld) a firmware whose inference is a ~500 million instruction
int8 MAC loop shaped like a reference convolution kernel (ldrsb, ldrsb, smlabb, subs, bne:
five instructions per block, a worst case for per-block hooks), then prints guest MIPS for:

    no hook        bare Unicorn, nothing counted (the ceiling)
    C block hook   tinyedge's counter with the per-block histogram (what simulate() uses)
    + memory model the same with a board's memory model on (tinyedge/simulate/memory_model.py):
                   fetches through a 16 KB cache, operands read from RAM (the MAC loop as is)
                   and from flash (every second instruction a flash read through the model:
                   its worst case; weights in flash are about one read in six instructions), the
                   flash reads as simulate() takes them (data_reads "auto": trapped, then planned
                   once dense), all trapped, and all planned
    Python hook    the fallback / test oracle, on a shorter run
    start-up       simulate() call to the first emulated instruction, with the counter library
                   already compiled and on first use (compiling it into a fresh cache)

and checks that the counted instructions equal the count worked out from the program, and that the
three ways of taking the flash reads give the same cycles.
MIPS use wall time and, in brackets, this process's CPU time (steadier on a busy machine).

With --models, also models compiled for --boards (into --workdir, reused when a firmware is already
there): the MLPerf-Tiny-shaped examples by name (kws vww ic ad) or .tflite files (the trained MLPerf
Tiny models). Per model and board, the columns are:

    run            instructions per timed run (whole inferences, at least --samples)
    off            MIPS with the board's memory model off (the ceiling with the model on)
    trap           memory model on, every flash data read trapped (data_reads="trap": data-only flash
                   pages mapped as Unicorn MMIO, a callback per read)
    plan           memory model on, flash data reads planned (data_reads="plan": each block's load
                   addresses worked out from the registers at block entry)
    auto           memory model on, data_reads="auto", the default (what simulate() users get): trapped
                   until the run so far reads flash data densely, then planned
    auto-wall      auto in wall time rather than CPU time
    switched       whether the auto run switched to planned reads ("fell back": a block could not be
                   planned and the run was repeated trapped)
    reads/insn     flash data reads per instruction (what decides between trapping and planning)
    stalls         memory model's stall cycles as a share of all cycles

MIPS are of this process's CPU time, the best of --repeat runs; the three memory-model runs are checked
to give the same flash data reads and, per inference and per layer, the same instructions, cycles and
stall cycles.

    python benchmarks/emulator_speed.py [--outer 1500000] [--python-outer 20000] [--repeat 3]
        [--models kws vww ic ad] [--boards nrf52840 rp2040] [--workdir DIR] [--samples 40000000]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import unicorn
from unicorn.arm_const import UC_ARM_REG_SP, UC_CPU_ARM_CORTEX_M4

from tinyedge.boards import Cache, load_board
from tinyedge.simulate import Memory, SimTarget, block_counter, cycle_model_for, simulate
from tinyedge.simulate.firmware_image import load_image
from tinyedge.simulate.unicorn_backend import TCG_BUFFER_BYTES, Emulation

INNER = 64  # MACs per row
PER_ROW = 3 + INNER * 5 + 2  # row setup, MAC loop, row loop

PROGRAM = f"""
    .syntax unified
    .cpu cortex-m4
    .thumb
    .section .vectors, "a"
    .word 0x20010000
    .word reset
    .text
    .global reset
    .thumb_func
reset:
    bl te_inference_begin
    ldr r0, =OUTER
row:
    ldr r1, =0x20000000
    ldr r2, =0x20000100
    movs r3, #{INNER}
mac:
    ldrsb r4, [r1], #1
    ldrsb r5, [r2], #1
    smlabb r6, r4, r5, r6
    subs r3, r3, #1
    bne mac
    subs r0, r0, #1
    bne row
    bl te_inference_end
    movs r0, #0x18
    ldr r1, =0x20026
    bkpt 0xab
    b .
    .thumb_func
te_inference_begin:
    bx lr
    .thumb_func
te_inference_end:
    bx lr
"""

BOARD = SimTarget("bench-m4", "cortex-m4", 64_000_000,
                  (Memory("flash", 0x0, 0x10000, "flash"), Memory("ram", 0x20000000, 0x10000, "ram")))
# The same board with a memory model: a 16 KB two-way cache with 8-byte lines (RP2040-like).
CACHED = replace(BOARD, name="bench-m4-cache",
                 caches=(Cache("cache", "flash", "both", 16384, 8, 2, 100, "always", "benchmark figure"),))
# The operands as page-aligned constant arrays in flash, for the flash-reading variant.
FLASH_OPERANDS = """
    .section .rodata
    .balign 1024
    .type wa, %object
    .size wa, 1024
wa: .fill 1024, 1, 3
    .type wb, %object
    .size wb, 1024
wb: .fill 1024, 1, 5
"""


def expected_inference(outer: int) -> int:
    # te_inference_begin's bx lr, ldr r0, the rows, bl te_inference_end
    return 1 + 1 + outer * PER_ROW + 1


def build(folder: Path, outer: int, flash_operands: bool = False) -> Path:
    for tool in ("arm-none-eabi-as", "arm-none-eabi-ld"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (Debian: apt-get install binutils-arm-none-eabi)")
    program = PROGRAM
    if flash_operands:
        program = program.replace("=0x20000000", "=wa").replace("=0x20000100", "=wb") + FLASH_OPERANDS
    stem = f"mac{outer}{'-flash' if flash_operands else ''}"
    source = folder / f"{stem}.s"
    source.write_text(program)
    obj, elf = folder / f"{stem}.o", folder / f"{stem}.elf"
    subprocess.run(["arm-none-eabi-as", "--defsym", f"OUTER={outer}", str(source), "-o", str(obj)], check=True)
    subprocess.run(["arm-none-eabi-ld", "-e", "reset", "-Ttext=0x100", "--section-start=.vectors=0", str(obj),
                    "-o", str(elf)], check=True)
    return elf


def bare_unicorn(elf: Path) -> tuple[float, float]:
    """Seconds (wall, CPU) of the whole program on Unicorn with no hook but the exit trap."""
    image = load_image(elf)
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
    uc.ctl_set_tcg_buffer_size(TCG_BUFFER_BYTES)  # as tinyedge's engines (unicorn_backend.py: translated code)
    uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M4)
    for memory in BOARD.memories:
        uc.mem_map(memory.origin, memory.length)
    for chunk in image.chunks:
        uc.mem_write(chunk.address, chunk.data)
    uc.reg_write(UC_ARM_REG_SP, int.from_bytes(uc.mem_read(0, 4), "little"))
    uc.hook_add(unicorn.UC_HOOK_INTR, lambda engine, _intno, _data: engine.emu_stop())
    wall, cpu = time.perf_counter(), time.process_time()
    uc.emu_start(int.from_bytes(uc.mem_read(4, 4), "little"), 0xFFFFFFF0)
    return time.perf_counter() - wall, time.process_time() - cpu


def timed_simulate(elf: Path, counter: str, board: SimTarget = BOARD):
    cpu = time.process_time()
    result = simulate(elf, board, [b""], counter=counter)
    return result, time.process_time() - cpu


def timed_emulation(elf: Path, data_reads: str, board: SimTarget = CACHED) -> tuple[float, float, int]:
    """(wall MIPS, CPU seconds, cycles) of `elf` on the memory-modelled board with flash data reads
    taken one way (data_reads "trap" or "plan"), through Emulation as simulate() runs it."""
    image = load_image(elf)
    run = Emulation(image, board, b"", cycle_model_for(board, image.arch, memory=True), counter="c",
                    data_reads=data_reads)
    cpu = time.process_time()
    measured = run.run()
    seconds = time.process_time() - cpu
    assert run.counter.status != block_counter.STATUS_PLAN_FAILED, f"{elf.name}: a block could not be planned"
    return measured.total_instructions / measured.run_seconds / 1e6, seconds, measured.samples[0].cycles


def compiled_model(name: str, board: str, workdir: Path) -> tuple[Path, int]:
    """The firmware ELF of model `name` (an example's name, or a .tflite file) for `board` (compiled into
    workdir unless already there) and its input bytes per sample."""
    tflite = name.endswith(".tflite")
    out = workdir / f"{Path(name).stem if tflite else name}-{board}"
    elf = out / "build" / "firmware.elf"
    if not elf.exists():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        from tinyedge import examples
        from tinyedge.pipeline import compile_model

        if tflite:
            compile_model(Path(name), board, out, samples=1, force=True)
        else:
            keras_path, calib = workdir / f"{name}.keras", workdir / f"{name}-calib.npy"
            if not keras_path.exists():
                model = examples.build(name)
                model.save(keras_path)
                rng = np.random.default_rng(0)
                np.save(calib, rng.uniform(-1, 1, (40, *model.inputs[0].shape[1:])).astype(np.float32))
            compile_model(keras_path, board, out, calib=calib, samples=1, force=True)
    header = (out / "model" / "tinyedge_model.h").read_text()
    return elf, int(re.search(r"#define TINYEDGE_INPUT_BYTES (\d+)", header).group(1))


def model_speed(elf: Path, board_name: str, input_bytes: int, instructions: int, repeat: int) -> list[str]:
    """One table row (the module docstring's columns): MIPS with the memory model off and with it on and
    its flash data reads trapped, planned and auto, each the best of `repeat` in process CPU time, auto
    also in wall time; whether auto switched to planned reads, flash data reads per instruction and the
    stall share. The three ways of reading flash data must agree on reads, misses and cycles."""
    board = load_board(board_name)
    image = load_image(elf)
    one = Emulation(image, board, bytes(input_bytes), cycle_model_for(board, image.arch, memory=True)).run()
    samples = max(1, -(-instructions // one.samples[0].instructions))
    data = bytes(np.random.default_rng(1).integers(0, 256, input_bytes * samples, dtype=np.uint8))
    best: dict[str, float] = {}
    results: dict[str, tuple] = {}
    fell_back: dict[str, bool] = {}
    wall_auto = float("inf")
    switched = set()
    for _ in range(repeat):
        for mode in ("off", "trap", "plan", "auto"):
            run = Emulation(image, board, data, cycle_model_for(board, image.arch, memory=mode != "off"),
                            counter="c", data_reads=mode if mode != "off" else "auto")
            cpu, wall = time.process_time(), time.perf_counter()
            measured = run.run()
            seconds = time.process_time() - cpu
            best[mode] = min(best.get(mode, seconds), seconds)
            if mode == "off":
                continue
            failed = run.counter.status == block_counter.STATUS_PLAN_FAILED  # run() repeated it trapped
            fell_back[mode] = fell_back.get(mode, False) or failed
            # Per inference (and layer) instructions, cycles and stalls, and the run's flash data reads; not
            # the run's instruction total: RV32 firmwares print cycle counts read from mcycle, which Unicorn
            # takes from the host's clock, so the instructions between inferences vary from run to run.
            results[mode] = (measured.samples, measured.memory_reads)
            if mode == "auto":
                on = measured
                wall_auto = min(wall_auto, time.perf_counter() - wall)
                switched.add("fell back" if failed else "yes" if run.counter.planning else "no")
    assert results["trap"] == results["plan"] == results["auto"], (elf, board_name, results)
    total = on.total_instructions
    reads = sum(on.memory_reads.values())
    stall = sum(s.stall_cycles for s in on.samples) / sum(s.cycles for s in on.samples)

    def mips(mode: str) -> str:
        return f"{total / best[mode] / 1e6:.0f}{'*' if fell_back.get(mode) else ''}"

    return [f"{total / 1e6:.1f} M", mips("off"), mips("trap"), mips("plan"), mips("auto"),
            f"{total / wall_auto / 1e6:.0f}", "/".join(sorted(switched)), f"{reads / total:.3f}", f"{stall:.0%}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outer", type=int, default=1_500_000, help="rows of the big run (~325 instructions each)")
    parser.add_argument("--python-outer", type=int, default=20_000, help="rows of the Python-hook run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is shown")
    parser.add_argument("--models", nargs="*", default=[], help="models to time: kws vww ic ad and/or .tflite paths")
    parser.add_argument("--boards", nargs="*", default=["nrf52840", "rp2040"], help="boards for --models")
    parser.add_argument("--workdir", type=Path, help="where --models are compiled and kept (default: a temporary "
                        "folder)")
    parser.add_argument("--samples", type=int, default=40_000_000,
                        help="instructions per --models run, whole inferences (at least one)")
    args = parser.parse_args()
    if args.models:
        print_models(args)

    with tempfile.TemporaryDirectory(prefix="tinyedge-bench-") as tmp:
        folder = Path(tmp)
        big, small = build(folder, args.outer), build(folder, args.python_outer)

        # First use: compile the counter library into an empty cache.
        os.environ["TINYEDGE_CACHE"] = str(folder / "cache")
        cold = simulate(small, BOARD, [b""], counter="c")
        warm = min((simulate(small, BOARD, [b""], counter="c") for _ in range(args.repeat)),
                   key=lambda r: r.startup_seconds)

        total_big = expected_inference(args.outer) + 5  # + the calls around it and the exit
        bare = [bare_unicorn(big) for _ in range(args.repeat)]
        counted = [timed_simulate(big, "c") for _ in range(args.repeat)]
        modelled = [timed_simulate(big, "c", CACHED) for _ in range(args.repeat)]
        big_flash = build(folder, args.outer, flash_operands=True)
        modelled_flash = [timed_simulate(big_flash, "c", CACHED) for _ in range(args.repeat)]
        trapped_flash = [timed_emulation(big_flash, "trap") for _ in range(args.repeat)]
        planned_flash = [timed_emulation(big_flash, "plan") for _ in range(args.repeat)]
        python, python_cpu = timed_simulate(small, "python")

    for result, _ in counted:
        assert result.instructions == (expected_inference(args.outer),), result.instructions
        assert result.total_instructions == total_big
    assert python.instructions == (expected_inference(args.python_outer),), python.instructions

    def mips(instructions: int, seconds: float) -> float:
        return instructions / seconds / 1e6

    best_bare = min(bare)
    best_counted, best_counted_cpu = max(counted, key=lambda rc: rc[0].guest_mips)
    best_modelled, best_modelled_cpu = max(modelled, key=lambda rc: rc[0].guest_mips)
    best_flash, best_flash_cpu = max(modelled_flash, key=lambda rc: rc[0].guest_mips)
    assert best_flash.instructions == best_counted.instructions and best_flash.samples[0].stall_cycles > 0
    assert {cycles for _, _, cycles in trapped_flash + planned_flash} == {best_flash.cycles[0]}
    best_trapped, best_planned = max(trapped_flash), max(planned_flash)
    rows = [
        ("no hook (bare Unicorn)", total_big, mips(total_big, best_bare[0]), mips(total_big, best_bare[1])),
        ("C block hook + histogram", total_big, best_counted.guest_mips, mips(total_big, best_counted_cpu)),
        ("+ memory model, RAM reads", total_big, best_modelled.guest_mips, mips(total_big, best_modelled_cpu)),
        ("+ memory model, flash reads", total_big, best_flash.guest_mips, mips(total_big, best_flash_cpu)),
        ("  the same, all trapped", total_big, best_trapped[0], mips(total_big, best_trapped[1])),
        ("  the same, all planned", total_big, best_planned[0], mips(total_big, best_planned[1])),
        ("Python block hook", python.total_instructions, python.guest_mips,
         mips(python.total_instructions, python_cpu)),
    ]
    print(f"Cortex-M4 int8 MAC loop, {INNER} MACs per row, 5 instructions per block "
          f"(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)")
    for name, instructions, wall, cpu in rows:
        print(f"  {name:<28} {instructions / 1e6:8.1f} M instructions  {wall:7.1f} MIPS  [{cpu:7.1f} CPU]")
    print(f"  counts exact: {expected_inference(args.outer):,} instructions per inference, as worked out")
    print(f"  start-up: {warm.startup_seconds * 1e3:.1f} ms with the counter library cached, "
          f"{cold.startup_seconds * 1e3:.1f} ms on first use (compiles it)")
    return 0


def print_models(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="tinyedge-bench-models-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"Models, built-in emulator, MIPS of process CPU time (best of {args.repeat}): memory model off, on "
              f"with flash data reads trapped, planned, auto (the default); auto in wall time "
              f"(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)")
        widths = (8, 5, 5, 5, 5, 9, 9, 10, 6)
        heads = ("run", "off", "trap", "plan", "auto", "auto-wall", "switched", "reads/insn", "stalls")
        print(f"  {'model':<22} {'board':<9} " + " ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True)))
        fell_back = False
        for board in args.boards:
            for name in args.models:
                elf, input_bytes = compiled_model(name, board, workdir)
                cells = model_speed(elf, board, input_bytes, args.samples, args.repeat)
                fell_back = fell_back or any(c.endswith("*") for c in cells)
                print(f"  {Path(name).stem:<22} {board:<9} "
                      + " ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)), flush=True)
        if fell_back:
            print("  * a block could not be planned: the run was repeated with every data read trapped")
        print(f"  (load average {os.getloadavg()[0]:.2f} at the end)")


if __name__ == "__main__":
    sys.exit(main())
