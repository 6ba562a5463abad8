"""simulate: run a firmware ELF in the built-in emulator (Unicorn) and measure each inference.

    result = simulate("build/firmware.elf", board, [sample0_bytes, sample1_bytes])
    result.outputs[0]          # output bytes the firmware wrote for sample 0
    result.instructions[0]     # exact instructions, te_inference_begin -> te_inference_end
    result.cycles[0]           # estimated cycles (result.cycle_model says which model)
    result.layers              # per layer: instructions and cycles of the worst-case sample

Instruction counts are exact: whole executed blocks are counted, so instructions an IT block
skips count as issued, as QEMU and Renode count them. Cycles are an estimate from the per-core
timing tables in timing.toml, and SimResult.cycle_model names the table used.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tinyedge.console import CONSOLES, SEMIHOSTING, UART
from tinyedge.errors import TinyEdgeError
from tinyedge.simulate.cycle_model import CycleModel, core_timing
from tinyedge.simulate.firmware_image import load_image
from tinyedge.simulate.memory_model import memory_model_for
from tinyedge.simulate.peripherals import UartModel
from tinyedge.simulate.target import FLASH, Memory, SimBoard, SimTarget, core_spec
from tinyedge.simulate.unicorn_backend import DEFAULT_BUDGET, LayerStats, SampleStats, run

__all__ = ["DEFAULT_BUDGET", "LayerStats", "Memory", "SampleStats", "SimBoard", "SimResult", "SimTarget",
           "cycle_model_for", "simulate"]


@dataclass(frozen=True)
class SimResult:
    board: str
    outputs: tuple[bytes, ...]  # per sample, the bytes written to output.bin
    console: str  # everything printed through semihosting
    instructions: tuple[int, ...]  # per sample, exact
    total_instructions: int  # the whole run: startup, I/O and every inference
    cycles: tuple[float, ...]  # per sample, estimated
    cycle_model: str  # which model made `cycles`
    clock_hz: int
    layers: tuple[LayerStats, ...]  # per layer, of sample `layers_sample`
    layers_sample: int  # the sample with the most instructions (worst case)
    samples: tuple[SampleStats, ...]  # everything per sample, layers included
    stack_bytes: int  # initial SP - lowest SP reached (or deepest stack write)
    counter: str  # "c" (compiled block hook) or "python" (fallback)
    guest_mips: float  # emulated instructions per second of emulation, in millions
    startup_seconds: float  # simulate() call to the first emulated instruction
    wall_seconds: float  # the whole simulate() call
    # The whole run's data reads per modelled flash region and, per cache, line look-ups and
    # misses (memory_model.py); empty without a memory model or from a backend that does not trace reads.
    memory_reads: dict[str, int] = field(default_factory=dict)
    cache_misses: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def latency_seconds(self) -> tuple[float, ...]:
        """Estimated latency per sample at the board clock."""
        return tuple(c / self.clock_hz for c in self.cycles)


def cycle_model_for(board: SimBoard, arch: str, memory: bool = False) -> CycleModel:
    """The board's cycle model; `memory`: with its memory system (caches, flash read buffers),
    which only a backend that sees every read can run (the built-in one)."""
    flash = tuple((m.origin, m.origin + m.length) for m in board.memories if m.kind == FLASH)
    return CycleModel(core_timing(board.core), arch, int(board.fetch_wait_states), flash,
                      memory_model_for(board), memory)


def simulate(elf_path: str | Path, board: SimBoard, input_bytes: Sequence[bytes], *,
             budget: int = DEFAULT_BUDGET, counter: str = "auto",
             expected_layers: int | None = None, console: str = SEMIHOSTING) -> SimResult:
    """Run the firmware on `board` with `input_bytes` (one bytes object per sample).

    budget: instructions after which the firmware counts as hung.
    counter: "auto" (C block hook when a C compiler exists, else Python), "c" or "python".
    expected_layers: when given, the number of call sites found in tinyedge_model_invoke must match.
    console: "uart" for the UART variant (tinyedge/console.py), which carries its samples: it runs
    until it has printed len(input_bytes) result lines, on the board's modelled UART
    (tinyedge/simulate/peripherals.py); `board` must then be a tinyedge Board with a [console].
    """
    started = time.perf_counter()
    if console not in CONSOLES:
        raise TinyEdgeError(f"unknown console '{console}'; valid consoles: {', '.join(CONSOLES)}")
    if not input_bytes:
        raise TinyEdgeError("simulate() needs at least one input sample")
    core_spec(board.core)  # an unknown core fails before any work
    if not board.clock_hz:
        raise TinyEdgeError(f"board {board.name} has no clock_hz: the emulator needs one for its timing")
    image = load_image(Path(elf_path))
    model = cycle_model_for(board, image.arch, memory=True)
    uart = UartModel(board, len(input_bytes)) if console == UART else None  # type: ignore[arg-type]
    measured = run(image, board, input_bytes, model, budget=budget, counter=counter, uart=uart)
    layer_count = len(measured.samples[0].layers) if measured.samples else 0
    if expected_layers is not None and layer_count != expected_layers:
        raise TinyEdgeError(f"{image.path.name}: tinyedge_model_invoke has {layer_count} call sites but the "
                            f"model has {expected_layers} layers; the generated model must call exactly one "
                            "kernel per layer")
    if len(measured.samples) != len(input_bytes):
        raise TinyEdgeError(f"the firmware ran {len(measured.samples)} inferences for {len(input_bytes)} input "
                            f"samples of {len(input_bytes[0])} bytes: does each sample have "
                            "TINYEDGE_INPUT_BYTES bytes?")
    sizes = {len(o) for o in measured.outputs}
    if len(sizes) > 1:
        raise TinyEdgeError(f"the firmware wrote outputs of different sizes per sample: {sorted(sizes)}")
    worst = max(measured.samples, key=lambda s: s.instructions)
    return SimResult(
        board=board.name,
        outputs=measured.outputs,
        console=measured.console,
        instructions=tuple(s.instructions for s in measured.samples),
        total_instructions=measured.total_instructions,
        cycles=tuple(s.cycles for s in measured.samples),
        cycle_model=model.name,
        clock_hz=board.clock_hz,
        layers=worst.layers,
        layers_sample=worst.index,
        samples=measured.samples,
        stack_bytes=measured.initial_sp - measured.lowest_sp,
        counter=measured.counter,
        guest_mips=measured.total_instructions / max(measured.run_seconds, 1e-9) / 1e6,
        startup_seconds=measured.run_started - started,
        wall_seconds=time.perf_counter() - started,
        memory_reads=measured.memory_reads,
        cache_misses=measured.cache_misses,
    )
