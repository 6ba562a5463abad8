"""The cycle model against the CMSIS-NN paper's CIFAR-10 network on a Cortex-M7 at 216 MHz.

Published: L. Lai, N. Suda, V. Chandra, "CMSIS-NN: Efficient Neural Network Kernels for Arm Cortex-M
CPUs", arXiv:1801.06601 (January 2018), section 5: the network of Caffe's CIFAR-10 example (three
5x5 convolutions with ReLU, each followed by a 3x3 stride-2 pooling, max then average, average; a
fully-connected layer of 10) on an Arm Cortex-M7 board at 216 MHz with the legacy q7 CMSIS-NN
kernels: per-layer runtime, 99.1 ms in all (10.1 images/s). PUBLISHED holds the per-layer figures
with the caveat on where they were read.

Predicted: the built-in emulator runs a firmware ELF of that network on a board (default
stm32f746g-disco: 216 MHz, L1 caches on as its start-up code sets them) and splits the inference
at the call sites of tinyedge_model_invoke: exact instructions, estimated cycles with the memory
stalls the board's memory model simulates, latency at the board's clock. The ReLU after each
convolution counts to its row, as the paper's table has no ReLU row; softmax counts to ip1.

The firmware is not built here. The network's code and weights are Arm's (github.com/ARM-software/
CMSIS_5, CMSIS/NN/Examples/ARM/arm_nn_examples/cifar10 and the q7 kernels of CMSIS/NN/Source, both
removed from CMSIS_5 since: take a commit of early 2018 to match the paper), and tinyedge keeps no
copy of them nor a recipe that builds them. --elf takes a firmware for the board built on
tinyedge's firmware runtime (tinyedge.build.render_project and build_firmware; main reads
input.bin, brackets one tinyedge_model_invoke() with te_inference_begin/te_inference_end and
writes the 10 outputs to output.bin) whose tinyedge_model_invoke calls, once each and in this
order: EXPECTED_CALLS below (the example's own sequence; mark it no-optimize-sibling-calls so the
last call stays a call). The script checks that sequence from the ELF before it runs it.

--network paper: the paper's shapes (conv2 5x5x32x32, conv3 5x5x32x64, ip1 1024x10), every row
compared. --network example: the shapes CMSIS_5's example ships with its trained weights (conv2
5x5x32x16, conv3 5x5x16x32, ip1 512x10); only conv1 and pool1 have the paper's shapes and are
compared. Timing of these kernels does not depend on the weight values (no data-dependent
branches but the max pooling's compare), so the paper's shapes may carry any weights.

    python benchmarks/validate_cmsis_cifar10.py --elf FIRMWARE.elf [--network paper] [--board B]

Nothing here is fitted: the timing tables and board file are what the report uses.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.elffile import ELFFile

from tinyedge.boards import load_board
from tinyedge.errors import TinyEdgeError
from tinyedge.simulate import simulate
from tinyedge.simulate.firmware_image import INVOKE_SYMBOL, FirmwareImage, disassembler, load_image

# Checked offline on 2026-12-05 with the search tools; the paper's own text was not retrievable (every stored copy
# gives only its opening), so each figure below rests on the source named for it in SOURCE.
SOURCE = ("Lai, Suda, Chandra, arXiv:1801.06601 (2018), section 5, CIFAR-10 network on a Cortex-M7 at 216 MHz; the "
          "paper's text could not be read here. Total 99.1 ms (10.1 images/s): confirmed by Arm's blog by co-author "
          "V. Chandra (23 Jan 2018, 'New CMSIS-NN Neural Network Kernels Boost Efficiency in Microcontrollers by "
          "~5x'), in its Chinese edition as copied in github teddyxiong53/blog_source _posts/npu\u4e4bcmsis-nn.md: "
          "about 99.1 ms per image, 10.1 images/s, 249 MOps/s, on a 216 MHz NUCLEO-F746ZG mbed board (its per-layer "
          "table is an image). conv1 31.4, conv2 42.8, conv3 22.6, ip1 0.1 ms: as a third party quotes the paper's "
          "table (github majianjia/nnom docs/guide_development.md, 'refer to Table 1 in the paper'). pool1 1.6, "
          "pool2 0.4, pool3 0.2 ms: recalled, found in no source (they only fill the 2.2 ms the other rows leave of "
          "the 99.1 ms)")
PUBLISHED_TOOLCHAIN = ("not found (no source above names a compiler; Arm's blog names only the board, an mbed "
                       "NUCLEO-F746ZG); CMSIS_5's example project, not the paper: Arm Compiler 5.06u5, Keil MDK")

# tinyedge_model_invoke's calls, in order, and the row of the paper's table each one counts to.
EXPECTED_CALLS: tuple[tuple[str, str], ...] = (
    ("arm_convolve_HWC_q7_RGB", "conv1"), ("arm_relu_q7", "conv1"), ("arm_maxpool_q7_HWC", "pool1"),
    ("arm_convolve_HWC_q7_fast", "conv2"), ("arm_relu_q7", "conv2"), ("arm_avepool_q7_HWC", "pool2"),
    ("arm_convolve_HWC_q7_fast", "conv3"), ("arm_relu_q7", "conv3"), ("arm_avepool_q7_HWC", "pool3"),
    ("arm_fully_connected_q7", "ip1"), ("arm_softmax_q7", "ip1"),
)


@dataclass(frozen=True)
class Layer:
    name: str
    shape: str
    macs: int  # multiply-accumulates (pooling: window reads), from the shapes


def _conv(name: str, size: int, ch_in: int, ch_out: int) -> Layer:
    return Layer(name, f"5x5x{ch_in}x{ch_out} -> {size}x{size}x{ch_out}", size * size * ch_out * 25 * ch_in)


def _pool(name: str, kind: str, size: int, ch: int) -> Layer:
    return Layer(name, f"3x3/2 {kind} -> {size}x{size}x{ch}", size * size * ch * 9)


def network(conv2_out: int, conv3_out: int) -> tuple[Layer, ...]:
    return (_conv("conv1", 32, 3, 32), _pool("pool1", "max", 16, 32),
            _conv("conv2", 16, 32, conv2_out), _pool("pool2", "avg", 8, conv2_out),
            _conv("conv3", 8, conv2_out, conv3_out), _pool("pool3", "avg", 4, conv3_out),
            Layer("ip1", f"{16 * conv3_out}x10 (+softmax)", 16 * conv3_out * 10))


NETWORKS = {"paper": network(32, 64), "example": network(16, 32)}

# ms per layer on the paper's network (ReLU folded into the convolutions), and the total. The total rests on Arm's
# blog, conv1-3 and ip1 on a third party's copy of the paper's table; the three pooling rows on no source (SOURCE).
PUBLISHED_MS = {"conv1": 31.4, "pool1": 1.6, "conv2": 42.8, "pool2": 0.4, "conv3": 22.6, "pool3": 0.2, "ip1": 0.1}
PUBLISHED_TOTAL_MS = 99.1


@dataclass(frozen=True)
class Row:
    layer: Layer
    instructions: int
    cycles: float
    stall_cycles: float

    def ms(self, clock_hz: int) -> float:
        return self.cycles / clock_hz * 1e3


def callees(image: FirmwareImage) -> list[str]:
    """The function each call site of tinyedge_model_invoke calls (BL's target; '?' for a BLX through a register)."""
    names = []
    for site in image.call_sites(INVOKE_SYMBOL):
        code = image.code_bytes(site, 4)
        insn = next(disassembler(image.arch).disasm(code or b"", site), None)
        target = insn.operands[0].imm if insn is not None and insn.insn_name() == "bl" else None
        names.append(image.function_at(target) if target is not None else "?")
    return names


def check_calls(image: FirmwareImage) -> None:
    found = callees(image)
    expected = [name for name, _ in EXPECTED_CALLS]
    if found != expected:
        raise TinyEdgeError(f"{image.path.name}: {INVOKE_SYMBOL} calls {', '.join(found) or 'nothing'}; this "
                            f"benchmark needs, in order: {', '.join(expected)} (see the module docstring)")


def compiler(elf: Path) -> str:
    """The compiler named in the ELF's .comment section (GCC writes its version there)."""
    with elf.open("rb") as f:
        section = ELFFile(f).get_section_by_name(".comment")
        text = section.data().decode(errors="replace") if section is not None else ""
    names = sorted({part.strip() for part in text.split("\0") if part.strip()})
    return "; ".join(names) or "(not recorded in the ELF)"


def measure(elf: Path, board_name: str, layers: tuple[Layer, ...]) -> tuple[list[Row], float, float, str, bytes]:
    board = load_board(board_name)
    check_calls(load_image(elf))
    result = simulate(elf, board, [b"\0"], budget=2_000_000_000, expected_layers=len(EXPECTED_CALLS))
    per_row: dict[str, list[float]] = {layer.name: [0, 0.0, 0.0] for layer in layers}
    for stats, (_, row) in zip(result.layers, EXPECTED_CALLS, strict=True):
        acc = per_row[row]
        acc[0] += stats.instructions
        acc[1] += stats.cycles
        acc[2] += stats.stall_cycles
    rows = [Row(layer, int(per_row[layer.name][0]), per_row[layer.name][1], per_row[layer.name][2])
            for layer in layers]
    sample = result.samples[0]
    return rows, sample.cycles, sample.stall_cycles, result.cycle_model, result.outputs[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elf", type=Path, required=True, help="the network's firmware (see the module docstring)")
    parser.add_argument("--network", choices=tuple(NETWORKS), default="paper",
                        help="the shapes the firmware was built with (default: the paper's)")
    parser.add_argument("--board", default="stm32f746g-disco")
    args = parser.parse_args(argv)
    if not args.elf.is_file():
        print(f"error: {args.elf} is not a file", file=sys.stderr)
        return 2
    layers = NETWORKS[args.network]
    board = load_board(args.board)
    assert board.clock_hz is not None
    try:
        rows, cycles, stalls, model, output = measure(args.elf, args.board, layers)
    except TinyEdgeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    clock_mhz = board.clock_hz / 1e6
    print(f"CIFAR-10 ({args.network} shapes) on {board.name} ({board.core}, {clock_mhz:g} MHz), "
          f"firmware compiled by {compiler(args.elf)}; outputs {list(output)}")
    print("| layer | shape | MACs | instructions | est. cycles (stalls) | est. cycles/MAC | predicted ms | "
          "published ms | error |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        ms = row.ms(board.clock_hz)
        same_shape = args.network == "paper" or row.layer == NETWORKS["paper"][layers.index(row.layer)]
        published = PUBLISHED_MS[row.layer.name] if same_shape else None
        print(f"| {row.layer.name} | {row.layer.shape} | {row.layer.macs:,} | {row.instructions:,} | "
              f"{row.cycles:,.0f} ({row.stall_cycles:,.0f}) | {row.cycles / row.layer.macs:.2f} | {ms:.2f} | "
              f"{'n/a (other shape)' if published is None else f'{published:g}'} | "
              f"{'' if published is None else f'{ms / published - 1:+.1%}'} |")
    total_ms = cycles / board.clock_hz * 1e3
    instructions = sum(r.instructions for r in rows)
    macs = sum(r.layer.macs for r in rows)
    compared = args.network == "paper"
    print(f"| total | | {macs:,} | {instructions:,} | {cycles:,.0f} ({stalls:,.0f}) | {cycles / macs:.2f} | "
          f"{total_ms:.2f} | {PUBLISHED_TOTAL_MS:g}{'' if compared else ' (other network)'} | "
          f"{f'{total_ms / PUBLISHED_TOTAL_MS - 1:+.1%}' if compared else ''} |")
    print(f"source: {SOURCE}; published compiler: {PUBLISHED_TOOLCHAIN}")
    print(f"  cycle model: {model}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
