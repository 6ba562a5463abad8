"""The cycle model against published measurements: CoreMark on every emulated board.

This repository holds no third-party benchmark code and no recipe that builds it, so each board's
CoreMark firmware (github.com/eembc/coremark) is built outside it, as a tinyedge firmware project
whose "model" is CoreMark: the board's own start-up code ([setup]: clocks, flash, caches) and flags
(tinyedge's C_FLAGS and the board's [compiler] cflags), a main that reads input.bin and writes
output.bin through te_runtime.h (the emulator's protocol), and a port whose timed loop sits between
te_inference_begin() and te_inference_end() and whose ee_printf writes to the firmware console. The
built-in emulator runs the ELF: exact instructions, and the cycle model's estimate of the timed
loop. Predicted CoreMark/MHz = iterations x 10^6 / estimated cycles (iterations, compiler and flags
read from CoreMark's own report); CoreMark = that x the board's clock in MHz. Each case is compared
with a published figure (PUBLISHED: value, source, compiler and flags); the run must print
CoreMark's "2K performance run" line and no CRC error, or it is refused.

Nothing here is fitted: the timing tables and board files are what the report uses.

    python benchmarks/validate_cycle_model.py --elf BOARD=FIRMWARE.elf [--elf BOARD=...] [--breakdown]

--breakdown prints, per board, where the estimated compute cycles of the timed loop go: cycles
per instruction class, refills (taken entries; the extra P of register and load-into-PC
branches), and each rule's adjustment (load pipelining, address-dependency and load-use stalls,
folded ITs), with counts per iteration.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from tinyedge.boards import Board, list_boards, load_board
from tinyedge.errors import TinyEdgeError
from tinyedge.simulate import simulate, unicorn_backend
from tinyedge.simulate.block_counter import BlockTable, Snapshot, between

CRC_ERROR = re.compile(r"ERROR! (list|matrix|state) crc")
ITERATIONS = re.compile(r"^Iterations\s*:\s*(\d+)", re.MULTILINE)
COMPILER = re.compile(r"^Compiler (version|flags)\s*:\s*(.*)$", re.MULTILINE)


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
    compiler: str  # CoreMark's report: compiler version and flags
    breakdown: dict[str, float] | None = None  # CycleModel.breakdown of the timed loop, if asked

    @property
    def coremark_per_mhz(self) -> float:
        return self.iterations * 1e6 / self.cycles

    @property
    def coremark(self) -> float:
        assert self.board.clock_hz is not None
        return self.coremark_per_mhz * self.board.clock_hz / 1e6


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


def run_case(board: Board, elf: Path, breakdown: bool = False) -> Case:
    parts: dict[str, float] = {}
    with _breakdown_of_first_sample(parts) if breakdown else contextlib.nullcontext():
        result = simulate(elf, board, [b"\0"], budget=2_000_000_000)
    iterations = ITERATIONS.search(result.console)
    if ("2K performance run parameters for coremark." not in result.console or CRC_ERROR.search(result.console)
            or iterations is None):
        raise TinyEdgeError(f"CoreMark did not validate on {board.name}; console: {result.console[-400:]!r}")
    compiler = "; ".join(value.strip() for _, value in COMPILER.findall(result.console)) or "not reported"
    stalls = getattr(result.samples[0], "stall_cycles", 0.0)
    return Case(board, int(iterations.group(1)), result.instructions[0], result.cycles[0], stalls,
                result.cycle_model, compiler, parts or None)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elf", action="append", required=True, metavar="BOARD=ELF",
                        help="a board's CoreMark firmware, built as the description says (repeat per board)")
    parser.add_argument("--breakdown", action="store_true", help="where the estimated cycles go, per board")
    args = parser.parse_args(argv)
    elves: dict[str, Path] = {}
    for item in args.elf:
        name, _, path = item.partition("=")
        if name not in list_boards() or name not in PUBLISHED or not Path(path).is_file():
            print(f"error: --elf {item}: want BOARD=FIRMWARE.elf with BOARD one of {', '.join(PUBLISHED)} and an "
                  "existing ELF", file=sys.stderr)
            return 2
        elves[name] = Path(path)
    print("| case | predicted CoreMark/MHz | published | error | instr/iteration | cycles/instr (stalls) | source | "
          "compiler, flags |")
    print("|---|---|---|---|---|---|---|---|")
    cases = []
    for name, elf in elves.items():
        board = load_board(name)
        case = run_case(board, elf, args.breakdown)
        cases.append(case)
        for published in PUBLISHED[name]:
            error = case.coremark_per_mhz / published.coremark_per_mhz - 1
            against = "a GCC build" if published.gcc else "the vendor's or Arm's figure"
            print(f"| CoreMark, {name} ({board.core}, {board.clock_hz / 1e6:g} MHz) against {against} | "
                  f"{case.coremark_per_mhz:.2f} ({case.coremark:.0f} at {board.clock_hz / 1e6:g} MHz) | "
                  f"{published.coremark_per_mhz:.2f} | {error:+.1%} | {case.instructions / case.iterations:,.0f} | "
                  f"{case.cycles / case.instructions:.3f} ({case.stall_cycles / case.instructions:.3f}) | "
                  f"{published.source} | here: {case.compiler}; published: {published.toolchain} |", flush=True)
        print(f"  cycle model: {case.cycle_model}", file=sys.stderr)
    for case in cases if args.breakdown else ():
        print_breakdown(case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
