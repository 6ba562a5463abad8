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
"""

from __future__ import annotations

import argparse
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
from tinyedge.simulate import simulate

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


# Per board: the figure to compare with. Vendor figures where the vendor publishes one for the chip
# (nRF52840, STM32F746, STM32L552, ESP32-C3), Arm's per-core figures otherwise.
PUBLISHED: dict[str, Published] = {
    "nrf52840": Published(212 / 64, "nRF52840 Product Specification v1.7, CPU chapter: 212 CoreMark at 64 MHz, "
                                     "from flash, cache enabled", "not stated in the specification"),
    "stm32f746g-disco": Published(1082 / 216, "ST AN4667 (STM32F7 system architecture and performance): 1082 "
                                              "CoreMark at 216 MHz, code in flash over AXI with L1 caches on or "
                                              "over ITCM with ART", "IAR EWARM, high optimization for speed "
                                                                     "(X-CUBE-32F7PERF projects)"),
    "stm32f4-discovery": Published(3.40, "Arm: Cortex-M4 3.40 CoreMark/MHz (Arm's Cortex-M processor comparison; "
                                         "ST gives 566 CoreMark at 168 MHz for the STM32F407, 3.37/MHz)",
                                   "Arm's figure: Arm Compiler, flags not stated"),
    "stm32l552": Published(442 / 110, "STM32L552xx datasheet: 442 CoreMark at 110 MHz (4.02/MHz; Arm gives "
                                      "Cortex-M33 4.02/MHz)", "not stated in the datasheet"),
    "rp2040": Published(2.46, "Arm: Cortex-M0+ 2.46 CoreMark/MHz (Arm's Cortex-M0+ page; Cortex-M0 2.33)",
                        "Arm's figure: Arm Compiler, flags not stated; zero-wait memory"),
    "esp32c3": Published(409.25 / 160, "Espressif coremark component example output on ESP32-C3: 409.25 "
                                       "iterations/s at 160 MHz (datasheet: 407.22 CoreMark, 2.55/MHz)",
                         "GCC 12.2 -O3, code in IRAM"),
}


@dataclass(frozen=True)
class Case:
    board: Board
    iterations: int
    instructions: int
    cycles: float
    stall_cycles: float  # of `cycles`: memory stalls, where the cycle model simulates them
    cycle_model: str

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


def run_case(board: Board, coremark: Path, iterations: int, opt: str) -> Case:
    with tempfile.TemporaryDirectory(prefix="tinyedge-coremark-") as tmp:
        elf = build_coremark(board, coremark, iterations, opt, Path(tmp))
        result = simulate(elf, board, [b"\0"], budget=2_000_000_000)
    if "2K performance run parameters for coremark." not in result.console or CRC_ERROR.search(result.console):
        raise TinyEdgeError(f"CoreMark did not validate on {board.name}; console: {result.console[-400:]!r}")
    stalls = getattr(result.samples[0], "stall_cycles", 0.0)
    return Case(board, iterations, result.instructions[0], result.cycles[0], stalls, result.cycle_model)


def compiler_version(board: Board) -> str:
    """The cross-compiler's version number, as the table names it."""
    proc = subprocess.run([f"{board.compiler.toolchain}-gcc", "-dumpversion"], capture_output=True, text=True)
    return proc.stdout.strip() or "(version unknown)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coremark", type=Path, required=True, help="a checkout of github.com/eembc/coremark")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--opt", default="O2", choices=("O2", "O3", "Os"), help="CoreMark's optimization level")
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
    for name in names:
        board = load_board(name)
        case = run_case(board, args.coremark, args.iterations, args.opt)
        published = PUBLISHED[name]
        error = case.coremark_per_mhz / published.coremark_per_mhz - 1
        print(f"| CoreMark, {name} ({board.core}, {board.clock_hz / 1e6:g} MHz) | {case.coremark_per_mhz:.2f} "
              f"({case.coremark:.0f} at {board.clock_hz / 1e6:g} MHz) | {published.coremark_per_mhz:.2f} | "
              f"{error:+.1%} | {case.instructions / case.iterations:,.0f} | "
              f"{case.cycles / case.instructions:.3f} ({case.stall_cycles / case.instructions:.3f}) | "
              f"{published.source} | here: GCC {compiler_version(board)} ({' '.join(board.compiler.cflags)} "
              f"-{args.opt}); published: "
              f"{published.toolchain} |", flush=True)
        print(f"  cycle model: {case.cycle_model}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
