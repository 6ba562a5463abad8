"""The cycle model against published measurements: CoreMark on every emulated board.

CoreMark (github.com/eembc/coremark; pass a checkout or an unpacked copy with --coremark) is
built with the board's own firmware flags (tinyedge's C_FLAGS, -O2, and the board's [compiler]
cflags), around tinyedge's port (benchmarks/coremark_port/: CoreMark's timed loop between the
inference markers) and the board's start-up code ([setup]: clocks, flash, caches). The built-in
emulator runs it: exact instructions, and the cycle model's estimate of the timed loop. Predicted
CoreMark/MHz = iterations x 10^6 / estimated cycles; CoreMark = that x the board's clock in MHz.
Each case is compared with a published figure (PUBLISHED: value, source, compiler and flags); the
run must print CoreMark's own "2K performance run" line and no CRC error, or it is refused.

Nothing here is fitted: the timing tables and board files are what the report uses.

    python benchmarks/validate_cycle_model.py --coremark PATH [--iterations N] [--opt O3] [board ...]

--opt O3 compiles CoreMark's own files at that level (#pragma GCC optimize in the port header;
the runtime keeps -O2), nearer the published runs' "highest optimization for speed".
--breakdown prints, per board, where the estimated compute cycles of the timed loop go: cycles
per instruction class, refills (taken entries; the extra P of register and load-into-PC
branches), and each rule's adjustment (load pipelining, address-dependency and load-use stalls,
folded ITs), with counts per iteration.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tinyedge.boards import Board, list_boards, load_board
from tinyedge.build import build_firmware, render_project
from tinyedge.errors import TinyEdgeError
from tinyedge.simulate import simulate, unicorn_backend
from tinyedge.simulate.block_counter import BlockTable, Snapshot, between

PORT = Path(__file__).with_name("coremark_port")
COREMARK_SOURCES = ("core_list_join.c", "core_main.c", "core_matrix.c", "core_state.c", "core_util.c", "coremark.h")
STUB_MODEL_H = """\
#ifndef TINYEDGE_MODEL_H
#define TINYEDGE_MODEL_H
#include <stdint.h>
#define TINYEDGE_INPUT_BYTES 1
#define TINYEDGE_OUTPUT_BYTES 1
#endif
"""
CRC_ERROR = re.compile(r"ERROR! (list|matrix|state) crc")


@dataclass(frozen=True)
class Published:
    coremark_per_mhz: float
    source: str
    toolchain: str  # the compiler and flags the published figure used, where the source says
    gcc: bool = False  # built with GCC, as here: like for like (the vendors' and Arm's figures are not)


# Per board: the figures to compare with, one case each. The vendor's figure where the vendor
# publishes one for the chip (nRF52840, STM32F746, STM32L552, ESP32-C3), else Arm's per-core figure;
# and, where one is published, a GCC-built figure for the same core: the vendors and Arm build with
# IAR or Arm Compiler, which score 15-30% higher on CoreMark than GCC on the same core.
PUBLISHED: dict[str, tuple[Published, ...]] = {
    "nrf52840": (
        Published(212 / 64, "nRF52840 Product Specification v1.7, CPU chapter: 212 CoreMark at 64 MHz, "
                            "from flash, cache enabled", "not stated in the specification"),
        Published(165.501645 / 64, "Zephyr samples/benchmarks/coremark README (Nordic): nRF52832 (the same "
                                   "Cortex-M4F at 64 MHz, from flash), 165.50 iterations/s",
                  "GCC 12.1.0 -O3 (Zephyr SDK), data on the stack", gcc=True),
    ),
    "stm32f746g-disco": (
        Published(1082 / 216, "ST AN4667 (STM32F7 system architecture and performance): 1082 CoreMark at 216 "
                              "MHz, code in flash over AXI with L1 caches on or over ITCM with ART",
                  "IAR EWARM, high optimization for speed (X-CUBE-32F7PERF projects)"),
    ),
    "stm32f4-discovery": (
        Published(3.40, "Arm: Cortex-M4 3.40 CoreMark/MHz (Arm's Cortex-M processor comparison; ST gives 566 "
                        "CoreMark at 168 MHz for the STM32F407, 3.37/MHz)",
                  "Arm's figure: Arm Compiler, flags not stated"),
    ),
    "stm32l552": (
        Published(442 / 110, "STM32L552xx datasheet: 442 CoreMark at 110 MHz (4.02/MHz; Arm gives Cortex-M33 "
                             "4.02/MHz)", "not stated in the datasheet"),
        Published(3.39595, "github.com/GorgonMeducer/coremark_cortex-m33 README (commit b61755d): Cortex-M33 on "
                           "MPS2 AN505, zero-wait SRAM, 3.396 CoreMark/MHz (Arm Compiler 6.21 -Omax LTO there: 3.97)",
                  "GCC 10.3-2021.10 -O3, newlib-nano", gcc=True),
    ),
    "rp2040": (
        Published(2.46, "Arm: Cortex-M0+ 2.46 CoreMark/MHz (Arm's Cortex-M0+ page; Cortex-M0 2.33)",
                  "Arm's figure: Arm Compiler, flags not stated; zero-wait memory"),
        Published(236.653082 / 125, "github.com/KafCoppelia/pico-coremark README: RP2040 at 125 MHz, run from "
                                    "RAM, 236.65 iterations/s (another port, GCC 9.2.1 -O3: 157.13)",
                  "GCC 11.2.1 -O3", gcc=True),
    ),
    "esp32c3": (
        Published(409.25 / 160, "Espressif coremark component example output on ESP32-C3: 409.25 iterations/s at "
                                "160 MHz (datasheet: 407.22 CoreMark, 2.55/MHz)", "GCC 12.2 -O3, code in IRAM",
                  gcc=True),
    ),
}


@dataclass(frozen=True)
class Case:
    board: Board
    iterations: int
    instructions: int
    cycles: float
    stall_cycles: float  # of `cycles`: memory stalls, where the cycle model simulates them
    cycle_model: str
    breakdown: dict[str, float] | None = None  # CycleModel.breakdown of the timed loop, if asked

    @property
    def coremark_per_mhz(self) -> float:
        return self.iterations * 1e6 / self.cycles

    @property
    def coremark(self) -> float:
        assert self.board.clock_hz is not None
        return self.coremark_per_mhz * self.board.clock_hz / 1e6


def build_coremark(board: Board, coremark: Path, iterations: int, opt: str, work: Path) -> Path:
    """The CoreMark firmware for `board`: tinyedge's project with CoreMark as its 'model'."""
    stub = work / "stub"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "tinyedge_model.h").write_text(STUB_MODEL_H)
    (stub / "tinyedge_model.c").write_text('#include "tinyedge_model.h"\n')
    project = render_project(work / "project", board, stub, kernel_sources=())
    model = project / "model"
    for name in COREMARK_SOURCES:
        shutil.copyfile(coremark / name, model / name)
    shutil.copyfile(PORT / "core_portme.c", model / "core_portme.c")
    portme = (PORT / "core_portme.h").read_text()
    flags = " ".join(("gcc", *board.compiler.cflags, f"-{opt}"))
    portme = portme.replace("#ifndef ITERATIONS\n#define ITERATIONS 10\n#endif",
                            f"#define ITERATIONS {iterations}").replace(
        '#define COMPILER_FLAGS "tinyedge firmware flags"', f'#define COMPILER_FLAGS "{flags}"')
    if opt != "O2":
        portme = portme.replace("#include <stdint.h>\n", f'#include <stdint.h>\n\n#pragma GCC optimize("{opt}")\n', 1)
    (model / "core_portme.h").write_text(portme)
    shutil.copyfile(PORT / "main.c", project / "main.c")
    return build_firmware(project, board).elf


@contextlib.contextmanager
def _breakdown_of_first_sample(into: dict[str, float]):
    """While active, the built-in emulator's first measured sample is also broken down by its cycle
    model (CycleModel.breakdown) into `into`: the sample's blocks and counts are only inside the run."""
    original = unicorn_backend.Emulation._measure

    def measure(self, index, sample, end):  # type: ignore[no-untyped-def]
        if index == 0:
            table = self.counter.blocks()
            n = len(end.counts)
            blocks = BlockTable(table.addresses[:n], table.sizes[:n], table.insns[:n])
            executed: Snapshot = between(sample.begin, end)
            into.update(self.model.breakdown(blocks, executed, lambda a, s: bytes(self.uc.mem_read(a, s))))
        return original(self, index, sample, end)

    unicorn_backend.Emulation._measure = measure  # type: ignore[method-assign]
    try:
        yield
    finally:
        unicorn_backend.Emulation._measure = original  # type: ignore[method-assign]


def run_case(board: Board, coremark: Path, iterations: int, opt: str, breakdown: bool = False) -> Case:
    parts: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="tinyedge-coremark-") as tmp:
        elf = build_coremark(board, coremark, iterations, opt, Path(tmp))
        with _breakdown_of_first_sample(parts) if breakdown else contextlib.nullcontext():
            result = simulate(elf, board, [b"\0"], budget=2_000_000_000)
    if "2K performance run parameters for coremark." not in result.console or CRC_ERROR.search(result.console):
        raise TinyEdgeError(f"CoreMark did not validate on {board.name}; console: {result.console[-400:]!r}")
    stalls = getattr(result.samples[0], "stall_cycles", 0.0)
    return Case(board, iterations, result.instructions[0], result.cycles[0], stalls, result.cycle_model,
                parts or None)


def print_breakdown(case: Case) -> None:
    """The timed loop's compute cycles by class and rule, per CoreMark iteration."""
    assert case.breakdown is not None
    parts = case.breakdown
    compute = sum(v for k, v in parts.items() if not k.startswith("n:"))
    print(f"\n{case.board.name}: compute cycles per iteration {compute / case.iterations:,.0f} "
          f"(memory stalls {case.stall_cycles / case.iterations:,.0f}); "
          f"instructions {case.instructions / case.iterations:,.0f}")
    print("| part | cycles/iteration | share | count/iteration |")
    print("|---|---:|---:|---:|")
    for key, value in sorted(((k, v) for k, v in parts.items() if not k.startswith("n:")), key=lambda kv: -abs(kv[1])):
        count = parts.get(f"n:{key}")
        shown = f"{count / case.iterations:,.0f}" if count is not None else ""
        print(f"| {key} | {value / case.iterations:,.0f} | {value / compute:.1%} | {shown} |")


def compiler_version(board: Board) -> str:
    """The cross-compiler's version number, as the table names it."""
    proc = subprocess.run([f"{board.compiler.toolchain}-gcc", "-dumpversion"], capture_output=True, text=True)
    return proc.stdout.strip() or "(version unknown)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coremark", type=Path, required=True, help="a checkout of github.com/eembc/coremark")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--opt", default="O2", choices=("O2", "O3", "Os"), help="CoreMark's optimization level")
    parser.add_argument("--breakdown", action="store_true", help="where the estimated cycles go, per board")
    parser.add_argument("boards", nargs="*", help="default: every emulated board with a published figure")
    args = parser.parse_args(argv)
    missing = [name for name in COREMARK_SOURCES if not (args.coremark / name).is_file()]
    if missing:
        print(f"error: {args.coremark} is not a CoreMark checkout (no {', '.join(missing)}); "
              "git clone https://github.com/eembc/coremark and pass its folder", file=sys.stderr)
        return 2
    names = args.boards or [n for n in list_boards() if n in PUBLISHED and load_board(n).emulated]
    print("| case | predicted CoreMark/MHz | published | error | instr/iteration | cycles/instr (stalls) | source | "
          "compiler, flags |")
    print("|---|---|---|---|---|---|---|---|")
    cases = []
    for name in names:
        board = load_board(name)
        case = run_case(board, args.coremark, args.iterations, args.opt, args.breakdown)
        cases.append(case)
        for published in PUBLISHED[name]:
            error = case.coremark_per_mhz / published.coremark_per_mhz - 1
            against = "a GCC build" if published.gcc else "the vendor's or Arm's figure"
            print(f"| CoreMark, {name} ({board.core}, {board.clock_hz / 1e6:g} MHz) against {against} | "
                  f"{case.coremark_per_mhz:.2f} ({case.coremark:.0f} at {board.clock_hz / 1e6:g} MHz) | "
                  f"{published.coremark_per_mhz:.2f} | {error:+.1%} | {case.instructions / case.iterations:,.0f} | "
                  f"{case.cycles / case.instructions:.3f} ({case.stall_cycles / case.instructions:.3f}) | "
                  f"{published.source} | here: GCC {compiler_version(board)} ({' '.join(board.compiler.cflags)} "
                  f"-{args.opt}); published: {published.toolchain} |", flush=True)
        print(f"  cycle model: {case.cycle_model}", file=sys.stderr)
    for case in cases if args.breakdown else ():
        print_breakdown(case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
