"""QEMU backend: the firmware runs on a QEMU board model, counted by tinyedge's TCG plugin.

    result = simulate("build/firmware.elf", board, [sample0_bytes, sample1_bytes])

Same call and same SimResult as the built-in emulator (tinyedge.simulate.simulate). QEMU runs
the ELF on one of its machines (MACHINES: one with the board's core whose memory map holds every
memory the firmware uses), serves semihosting itself (input.bin and output.bin in a scratch
working directory, the console in a file), and faults where the hardware faults: an FPU
instruction before CPACR enables the FPU ends in the firmware's fault handler, whose report line
("tinyedge: fault=...") becomes the error.

The plugin (qemu_plugin.c, compiled with the host C compiler into the tinyedge cache on first
use) keeps the built-in emulator's per-block histogram: entries and taken-branch entries per
distinct block. It marks the entries of te_inference_begin, te_inference_end, the layer call
sites in tinyedge_model_invoke and the fault handlers, so instruction counts per sample and per
layer, and the cycle estimate from the same timing tables, are the built-in emulator's to the
instruction. Stack depth is the lowest address the firmware stores to below its initial stack
pointer and above its static data, as the built-in emulator's painted stack finds it.

Not every board has a QEMU machine: QEMU 7.2 has no Cortex-M0+, and a board whose memory lies
outside every machine of its core (stm32f746g-disco's flash at 0x08000000, stm32l552's, esp32c3's)
is refused with the reason; the built-in emulator runs them all.
"""

from __future__ import annotations

import functools
import re
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyedge import children
from tinyedge.errors import TinyEdgeError
from tinyedge.simulate import SimResult, cycle_model_for
from tinyedge.simulate.block_counter import (
    BLOCK_DTYPE,
    BlockTable,
    Snapshot,
    _host_compiler,
    between,
    compile_into_cache,
)
from tinyedge.simulate.cycle_model import BlockCosts
from tinyedge.simulate.firmware_image import (
    ARCH_ARM,
    ARCH_RISCV,
    BEGIN_SYMBOL,
    END_SYMBOL,
    INVOKE_SYMBOL,
    FirmwareImage,
    load_image,
)
from tinyedge.simulate.target import FLASH, SimBoard, SimMemory
from tinyedge.simulate.unicorn_backend import DEFAULT_BUDGET, LayerStats, SampleStats

PLUGIN_SOURCE = Path(__file__).with_name("qemu_plugin.c")
_PLUGIN_CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-fvisibility=hidden")
_INSTALL = "sudo apt-get install qemu-system-arm qemu-system-misc"
_MIB = 1 << 20
# QEMU with the plugin runs at hundreds of MIPS; the wall-clock limit assumes 20, to end a QEMU
# that stops making progress without halting the core.
_TIMEOUT_BASE_SECONDS = 60.0
_TIMEOUT_MIPS = 20e6
# Instructions a fault handler may run before the run stops: tinyedge's handler reports the fault
# and exits in about a thousand; a handler that spins (`b .`) would otherwise run to the budget,
# and QEMU runs a spinning fault handler at about 0.1 MIPS.
_FAULT_GRACE = 100_000


@dataclass(frozen=True)
class Machine:
    """A QEMU machine and the memory a firmware may occupy on it (RAM or ROM, no peripherals)."""

    name: str  # -M
    binary: str
    arch: str  # ARCH_ARM or ARCH_RISCV
    cores: tuple[str, ...]  # board cores it runs
    memory: tuple[tuple[int, int], ...]  # (origin, length)
    cpu: str | None = None  # -cpu; None: the machine's own core
    args: tuple[str, ...] = ()

    def holds(self, memory: SimMemory) -> bool:
        return any(start <= memory.origin and memory.origin + memory.length <= start + size
                   for start, size in self.memory)

    def describe(self) -> str:
        ranges = ", ".join(f"0x{start:08x}+{size // 1024} KB" for start, size in self.memory)
        return f"{self.name} ({ranges})"


# QEMU 7.2's machines, in order of preference for a core. Memory maps from QEMU's board models
# (`info mtree`): the MPS2 FPGA images have 4 MB of ZBT SSRAM at 0x0 and at 0x20000000 (AN505,
# with TrustZone, starts in Secure state: its secure aliases at 0x10000000 and 0x38000000);
# netduinoplus2 is an STM32F405 (1 MB flash at 0x08000000, 192 KB SRAM); RISC-V virt has its
# DRAM at 0x80000000 and a reset ROM that runs 6 instructions before jumping to the firmware.
MACHINES: tuple[Machine, ...] = (
    Machine("mps2-an386", "qemu-system-arm", ARCH_ARM, ("cortex-m4", "cortex-m4f"),
            ((0x00000000, 4 * _MIB), (0x20000000, 4 * _MIB)), cpu="cortex-m4"),
    Machine("netduinoplus2", "qemu-system-arm", ARCH_ARM, ("cortex-m4", "cortex-m4f"),
            ((0x08000000, 1 * _MIB), (0x20000000, 192 * 1024))),
    Machine("mps2-an500", "qemu-system-arm", ARCH_ARM, ("cortex-m7",),
            ((0x00000000, 4 * _MIB), (0x20000000, 4 * _MIB)), cpu="cortex-m7"),
    Machine("mps2-an505", "qemu-system-arm", ARCH_ARM, ("cortex-m33",),
            ((0x10000000, 4 * _MIB), (0x38000000, 4 * _MIB)), cpu="cortex-m33"),
    Machine("virt", "qemu-system-riscv32", ARCH_RISCV, ("rv32imc", "rv32imac"),
            ((0x80000000, 128 * _MIB),), args=("-bios", "none", "-m", "128M")),
)


def available() -> bool:
    """True when a QEMU system emulator for Cortex-M or RV32 is on PATH."""
    return any(shutil.which(binary) for binary in {m.binary for m in MACHINES})


def check_board(board: SimBoard) -> None:
    """Fail early (before a build) for a board no QEMU machine can run."""
    machine_for(board)


def machine_for(board: SimBoard, image: FirmwareImage | None = None) -> Machine:
    """The first machine of MACHINES with the board's core that holds every memory the firmware
    uses (without an image: the memories the board's layout puts code and data in, else all of
    them); a TinyEdgeError naming why if none does."""
    candidates = [m for m in MACHINES if board.core in m.cores]
    if not candidates:
        cores = sorted({core for m in MACHINES for core in m.cores})
        raise TinyEdgeError(f"QEMU cannot run board {board.name}: no QEMU machine has a {board.core} core "
                            f"(QEMU runs {', '.join(cores)}); use --backend builtin")
    used = used_memories(board, image) if image is not None else laid_out_memories(board)
    for machine in candidates:
        if all(machine.holds(m) for m in used):
            return machine
    layout = ", ".join(f"{m.name} 0x{m.origin:08x}+{m.length // 1024} KB" for m in used)
    machines = "; ".join(m.describe() for m in candidates)
    raise TinyEdgeError(f"QEMU cannot run board {board.name}: its firmware uses {layout}, outside the memory of "
                        f"every QEMU machine with a {board.core} core ({machines}); use --backend builtin")


def laid_out_memories(board: SimBoard) -> tuple[SimMemory, ...]:
    """The memories a tinyedge board file's [layout] names (code, data); all of them without one."""
    layout = getattr(board, "layout", None)
    if layout is None:
        return tuple(board.memories)
    return tuple(m for m in board.memories if m.name in (layout.code, layout.data))


def used_memories(board: SimBoard, image: FirmwareImage) -> tuple[SimMemory, ...]:
    """The board memories holding a section of the image (where it runs or where it is loaded),
    or its initial stack pointer."""
    spans = [(a, a + s) for a, s in image.allocated] + [(c.address, c.address + len(c.data)) for c in image.chunks]
    top = initial_sp(image)
    if top is not None:
        spans.append((top - 1, top))
    return tuple(m for m in board.memories
                 if any(start < m.origin + m.length and m.origin < end for start, end in spans))


def simulate(elf_path: str | Path, board: SimBoard, input_bytes: Sequence[bytes], *,
             budget: int = DEFAULT_BUDGET, expected_layers: int | None = None) -> SimResult:
    """Run the firmware on `board` in QEMU with `input_bytes` (one bytes object per sample).

    budget: instructions after which the firmware counts as hung.
    expected_layers: when given, the number of call sites found in tinyedge_model_invoke must match.
    """
    started = time.perf_counter()
    if not input_bytes:
        raise TinyEdgeError("simulate() needs at least one input sample")
    if not board.clock_hz:
        raise TinyEdgeError(f"board {board.name} has no clock_hz: the emulator needs one for its timing")
    image = load_image(Path(elf_path))
    machine = machine_for(board, image)
    if image.arch != machine.arch:
        raise TinyEdgeError(f"{image.path.name} is {image.arch} code but board {board.name} has a {board.core} core")
    binary = shutil.which(machine.binary)
    if binary is None:
        raise TinyEdgeError(f"{machine.binary} is not installed (board {board.name} runs on QEMU's {machine.name}): "
                            f"{_INSTALL}")
    marks = _Marks.of(image)
    if expected_layers is not None and len(marks.sites) != expected_layers:
        raise TinyEdgeError(f"{image.path.name}: tinyedge_model_invoke has {len(marks.sites)} call sites but the "
                            f"model has {expected_layers} layers; the generated model must call exactly one "
                            "kernel per layer")
    run = _run(binary, machine, compiled_plugin(binary), image, board, marks, b"".join(input_bytes), budget)
    _raise_if_failed(run, image, marks, budget)
    model = cycle_model_for(board, image.arch)
    # Code outside the ELF (QEMU's RISC-V reset ROM) runs before the firmware and costs nothing here.
    costs = model.block_costs(run.trace.blocks, lambda address, size: image.code_bytes(address, size) or b"")
    samples = _samples(run.trace, marks, costs)
    if len(samples) != len(input_bytes):
        raise TinyEdgeError(f"the firmware ran {len(samples)} inferences for {len(input_bytes)} input "
                            f"samples of {len(input_bytes[0])} bytes: does each sample have "
                            "TINYEDGE_INPUT_BYTES bytes?")
    if len(run.output) % len(samples):
        raise TinyEdgeError(f"the firmware wrote {len(run.output)} bytes to output.bin for {len(samples)} samples: "
                            "outputs of different sizes per sample")
    size = len(run.output) // len(samples)
    worst = max(samples, key=lambda s: s.instructions)
    top = initial_sp(image) or 0
    lowest = min(run.trace.lowest_store, top)  # _NO_STORE: no stack write, 0 bytes
    return SimResult(
        board=board.name,
        outputs=tuple(run.output[i * size:(i + 1) * size] for i in range(len(samples))),
        console=run.console,
        instructions=tuple(s.instructions for s in samples),
        total_instructions=_firmware_instructions(run.trace, board),
        cycles=tuple(s.cycles for s in samples),
        cycle_model=model.name,
        clock_hz=board.clock_hz,
        layers=worst.layers,
        layers_sample=worst.index,
        samples=samples,
        stack_bytes=top - lowest,
        counter=f"qemu {machine.name} + tinyedge plugin",
        guest_mips=run.trace.total / max(run.seconds, 1e-9) / 1e6,
        startup_seconds=run.launched - started,  # to QEMU's start (its own start-up takes some 50 ms)
        wall_seconds=time.perf_counter() - started,
    )


# ---------------------------------------------------------------------------------------------
# the plugin


# The QEMU plugin API versions qemu_plugin.c is written against (its header says what differs).
PLUGIN_APIS = range(1, 6)  # 1: QEMU 7.2 to 8.2; 5: QEMU 10.1
_PROBE_API = 999_999  # a version no QEMU implements: QEMU refuses it and names the newest it has


def compiled_plugin(binary: str) -> Path:
    """The plugin library for the QEMU `binary`, built into the tinyedge cache on first use."""
    return _compile_plugin(check_plugin_api(binary))


def _compile_plugin(api: int) -> Path:
    compiler = _host_compiler()
    if compiler is None:
        raise TinyEdgeError("the QEMU backend builds its TCG plugin with the host C compiler: install gcc (or set CC)")
    return compile_into_cache(compiler, PLUGIN_SOURCE, "qemu-plugin", (*_PLUGIN_CFLAGS, f"-DTE_QEMU_PLUGIN_API={api}"))


@functools.cache
def plugin_api(binary: str) -> int:
    """The newest plugin API version the QEMU `binary` implements: QEMU names it when a plugin asks for more."""
    command = [binary, "-M", "none", "-nographic", "-monitor", "none", "-serial", "none",
               "-plugin", str(_compile_plugin(_PROBE_API))]
    try:
        proc = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise TinyEdgeError(f"cannot ask {binary} for its plugin API version: {error}") from None
    found = re.search(r"supports only up to version (\d+)", proc.stderr)
    if found is None:
        raise TinyEdgeError(f"cannot tell which plugin API version {binary} implements (built without TCG "
                            f"plugins?): {_one_line(proc.stderr)}")
    return int(found.group(1))


def check_plugin_api(binary: str) -> int:
    """The API version to build the plugin for; refuses a QEMU whose plugin API the plugin was not written for."""
    api = plugin_api(binary)
    if api not in PLUGIN_APIS:
        raise TinyEdgeError(unsupported_api_reason(Path(binary).name, api))
    return api


def unsupported_api_reason(name: str, api: int) -> str:
    return (f"{name} implements QEMU plugin API version {api}, which tinyedge's plugin is not written for (versions "
            f"{PLUGIN_APIS[0]} to {PLUGIN_APIS[-1]}); use --backend builtin, or a QEMU with one of those")


def unsupported() -> str | None:
    """Why the installed QEMU cannot run the plugin (its plugin API version), or None; for tests to skip on."""
    for binary in sorted({shutil.which(m.binary) for m in MACHINES} - {None}):
        api = plugin_api(binary)
        if api not in PLUGIN_APIS:
            return unsupported_api_reason(Path(binary).name, api)
    return None


@dataclass(frozen=True)
class _Marks:
    """The addresses the plugin marks, numbered in this order: begin, end, call sites, fault handlers."""

    begin: int
    end: int
    sites: tuple[int, ...]
    handlers: tuple[tuple[int, str], ...]  # (address, vector name), Cortex-M

    @staticmethod
    def of(image: FirmwareImage) -> _Marks:
        begin, end = image.require_symbol(BEGIN_SYMBOL), image.require_symbol(END_SYMBOL)
        if begin == end:
            raise TinyEdgeError(f"{image.path.name}: {BEGIN_SYMBOL} and {END_SYMBOL} share address 0x{begin:08x} "
                                "(identical code folded): give them __attribute__((noinline, noipa))")
        handlers = tuple(arm_fault_handlers(image).items()) if image.arch == ARCH_ARM else ()
        return _Marks(begin, end, image.call_sites(INVOKE_SYMBOL), handlers)

    def plugin_options(self) -> list[str]:
        return [*(f"mark=0x{a:x}" for a in (self.begin, self.end, *self.sites)),
                *(f"fault=0x{a:x}" for a, _ in self.handlers), f"grace={_FAULT_GRACE}"]

    def site(self, mark: int) -> int | None:
        """The call site index of mark number `mark`, if it is one."""
        return mark - 2 if 2 <= mark < 2 + len(self.sites) else None

    def handler(self, mark: int) -> tuple[int, str] | None:
        index = mark - 2 - len(self.sites)
        return self.handlers[index] if 0 <= index < len(self.handlers) else None


_BEGIN_MARK = 0
_END_MARK = 1

# Plugin output (qemu_plugin.c): record tags, stop reasons and record layouts.
_TAG_MARK = 1
_TAG_FINAL = 2
_STATUS_RUNNING, _STATUS_BUDGET, _STATUS_TABLE_FULL, _STATUS_HALTED, _STATUS_OUTPUT, _STATUS_FAULT_SPINS = range(6)
_STATUS_ABORTED = -1  # no final record: QEMU aborted (or was killed)
_NO_STORE = 2**64 - 1  # lowest_store when nothing was stored to the watched range
_MARK_HEAD = struct.Struct("<IIQQII")  # tag, mark, total, previous block, n_blocks, n_changes
_FINAL_HEAD = struct.Struct("<IIQQQII")  # tag, status, total, stop address, lowest store, n_blocks, zero
_CHANGE_DTYPE = np.dtype([("index", "<u4"), ("zero", "<u4"), ("count", "<u8"), ("taken", "<u8")])


@dataclass(frozen=True)
class _Mark:
    """One entry into a marked block."""

    mark: int
    total: int  # instructions before the block
    previous: int  # address of the block executed just before it
    n_blocks: int  # distinct blocks so far
    changes: np.ndarray  # _CHANGE_DTYPE: histogram changes since the previous mark


@dataclass(frozen=True)
class _Trace:
    """The plugin's output file."""

    marks: tuple[_Mark, ...]
    status: int
    total: int  # instructions, the whole run
    stop_address: int  # block the plugin stopped the run at
    lowest_store: int  # lowest address stored to in the watched stack range, or _NO_STORE
    blocks: BlockTable
    counts: np.ndarray  # uint64 per block: entries over the whole run


def _parse_trace(data: bytes) -> _Trace:
    marks: list[_Mark] = []
    at = 0
    while at + 4 <= len(data):
        (tag,) = struct.unpack_from("<I", data, at)
        if tag == _TAG_MARK:
            _, mark, total, previous, n_blocks, n_changes = _MARK_HEAD.unpack_from(data, at)
            at += _MARK_HEAD.size
            changes = np.frombuffer(data, _CHANGE_DTYPE, n_changes, at)
            at += n_changes * _CHANGE_DTYPE.itemsize
            marks.append(_Mark(mark, total, previous, n_blocks, changes))
        elif tag == _TAG_FINAL:
            _, status, total, stop, lowest, n_blocks, _ = _FINAL_HEAD.unpack_from(data, at)
            table = np.frombuffer(data, BLOCK_DTYPE, n_blocks, at + _FINAL_HEAD.size)
            blocks = BlockTable(table["address"].copy(), table["size"].copy(), table["insns"].copy())
            return _Trace(tuple(marks), status, total, stop, lowest, blocks, table["count"].copy())
        else:
            break
    empty = np.zeros(0, BLOCK_DTYPE)
    return _Trace(tuple(marks), _STATUS_ABORTED, 0, 0, _NO_STORE,
                  BlockTable(empty["address"], empty["size"], empty["insns"]), empty["count"])


# ---------------------------------------------------------------------------------------------
# running QEMU


@dataclass(frozen=True)
class _Run:
    trace: _Trace
    returncode: int
    stderr: str
    console: str  # semihosting console output
    output: bytes  # output.bin
    launched: float  # time.perf_counter() when QEMU was started
    seconds: float  # QEMU's wall time


def _run(binary: str, machine: Machine, plugin: Path, image: FirmwareImage, board: SimBoard, marks: _Marks,
         input_data: bytes, budget: int) -> _Run:
    options = ["out=trace.bin", f"budget={budget}", *marks.plugin_options()]
    stack = stack_range(image, board)
    if stack is not None:
        options.append(f"stores=0x{stack[0]:x}:0x{stack[1]:x}")
    command = [binary, "-M", machine.name, *(("-cpu", machine.cpu) if machine.cpu else ()), *machine.args,
               "-nographic", "-monitor", "none", "-serial", "none",
               "-chardev", "file,id=console,path=console.txt",
               "-semihosting-config", "enable=on,target=native,chardev=console",
               "-kernel", str(image.path.resolve()),
               "-plugin", ",".join([str(plugin).replace(",", ",,"), *options])]  # ",,": a literal comma
    timeout = _TIMEOUT_BASE_SECONDS + budget / _TIMEOUT_MIPS
    with tempfile.TemporaryDirectory(prefix="tinyedge-qemu-") as scratch:
        work = Path(scratch)
        (work / "input.bin").write_bytes(input_data)
        launched = time.perf_counter()
        try:
            proc = subprocess.run(command, cwd=work, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise children.failure(f"QEMU ({machine.name})", command, f"did not finish within {timeout:.0f} s: the "
                                   "firmware stopped making progress without halting the core",
                                   children.as_text(exc.stderr), stage="qemu") from None
        seconds = time.perf_counter() - launched
        if not (work / "trace.bin").exists():
            hint = f" (tinyedge's plugin is written for plugin API versions {PLUGIN_APIS[0]} to {PLUGIN_APIS[-1]})" \
                if "API version" in proc.stderr else ""
            ended = children.exit_reason(proc.returncode)
            raise children.failure(f"QEMU ({machine.name})", command,
                                   f"did not start ({ended}): {children.first_error(proc.stderr)}{hint}",
                                   proc.stderr, stage="qemu")
        console, output = work / "console.txt", work / "output.bin"
        return _Run(_parse_trace((work / "trace.bin").read_bytes()), proc.returncode, proc.stderr,
                    console.read_text(errors="replace") if console.exists() else "",
                    output.read_bytes() if output.exists() else b"", launched, seconds)


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.splitlines() if line.strip()) or "(no message)"


# ---------------------------------------------------------------------------------------------
# measuring


def _snapshots(trace: _Trace) -> Iterator[tuple[int, Snapshot]]:
    """(mark number, the histogram just before the marked block) for every mark, in execution order."""
    counts = np.zeros(0, np.uint64)
    taken = np.zeros(0, np.uint64)
    for record in trace.marks:
        grow = record.n_blocks - len(counts)
        if grow > 0:
            counts = np.concatenate([counts, np.zeros(grow, np.uint64)])
            taken = np.concatenate([taken, np.zeros(grow, np.uint64)])
        counts[record.changes["index"]] += record.changes["count"]
        taken[record.changes["index"]] += record.changes["taken"]
        yield record.mark, Snapshot(record.total, counts.copy(), taken.copy())


def _samples(trace: _Trace, marks: _Marks, costs: BlockCosts) -> tuple[SampleStats, ...]:
    """Per sample, from entering te_inference_begin to entering te_inference_end."""
    samples: list[SampleStats] = []
    begin: Snapshot | None = None
    sites: list[tuple[int, Snapshot]] = []
    for mark, snapshot in _snapshots(trace):
        site = marks.site(mark)
        if mark == _BEGIN_MARK:
            if begin is not None:
                raise TinyEdgeError(f"{BEGIN_SYMBOL}() was entered twice without {END_SYMBOL}() "
                                    f"(sample {len(samples)})")
            begin, sites = snapshot, []
        elif site is not None and begin is not None:
            sites.append((site, snapshot))
        elif mark == _END_MARK:
            if begin is None:
                raise TinyEdgeError(f"{END_SYMBOL}() was entered without {BEGIN_SYMBOL}() "
                                    f"(after sample {len(samples)})")
            samples.append(_sample(len(samples), begin, sites, snapshot, costs, len(marks.sites)))
            begin = None
    return tuple(samples)


def _sample(index: int, begin: Snapshot, sites: list[tuple[int, Snapshot]], end: Snapshot, costs: BlockCosts,
            n_sites: int) -> SampleStats:
    """One inference split at the layer call sites as the built-in emulator splits it: layer k runs
    from the block holding call site k to the block holding the next executed call site; what runs
    before the first call site counts to the first layer, what runs after the last one to the last."""
    executed = between(begin, end)
    layers: dict[int, tuple[int, float]] = {i: (0, 0.0) for i in range(n_sites)}
    if sites:
        edges = [begin, *(snapshot for _, snapshot in sites[1:]), end]
        for (layer, _), first, second in zip(sites, edges[:-1], edges[1:], strict=True):
            part = between(first, second)
            instructions, cycles = layers[layer]
            layers[layer] = (instructions + part.total, cycles + costs.cycles(part))
    return SampleStats(index, executed.total, costs.cycles(executed),
                       tuple(LayerStats(i, n, c) for i, (n, c) in sorted(layers.items())))


def _firmware_instructions(trace: _Trace, board: SimBoard) -> int:
    """Instructions executed in the board's memories: the whole run without QEMU's reset ROM."""
    addresses = trace.blocks.addresses
    inside = np.zeros(len(addresses), bool)
    for m in board.memories:
        inside |= (addresses >= m.origin) & (addresses < m.origin + m.length)
    return int((trace.counts[inside] * trace.blocks.insns[inside].astype(np.uint64)).sum())


# ---------------------------------------------------------------------------------------------
# firmware facts

_VECTOR_SECTIONS = (".vectors", ".isr_vector", ".vector_table")
_ARM_FAULT_VECTORS = {2: "NMI", 3: "HardFault", 4: "MemManage", 5: "BusFault", 6: "UsageFault"}


def initial_sp(image: FirmwareImage) -> int | None:
    """Cortex-M: word 0 of the vector table; RV32: the __stack_top symbol its startup code loads."""
    if image.arch != ARCH_ARM:
        return image.symbol("__stack_top")
    table = _vector_table(image)
    return int.from_bytes(table[:4], "little") if len(table) >= 4 else None


def _vector_table(image: FirmwareImage) -> bytes:
    """The Cortex-M vector table: its section, else the 16 words at the lowest load address."""
    for chunk in image.chunks:
        if chunk.section in _VECTOR_SECTIONS:
            return chunk.data
    first = min(image.chunks, key=lambda c: c.address, default=None)
    return first.data[:64] if first is not None else b""


def arm_fault_handlers(image: FirmwareImage) -> dict[int, str]:
    """Fault handler address -> vector name, for the fault vectors that point (Thumb bit set) at
    the start of a function other than the reset handler."""
    table = _vector_table(image)
    words = [int.from_bytes(table[i:i + 4], "little") for i in range(0, len(table) - 3, 4)]
    starts = {f.address for f in image.functions}
    reset = words[1] if len(words) > 1 else None
    handlers: dict[int, str] = {}
    for vector, name in _ARM_FAULT_VECTORS.items():
        if vector < len(words) and words[vector] & 1 and (words[vector] & ~1) in starts and words[vector] != reset:
            handlers.setdefault(words[vector] & ~1, name)
    return handlers


def stack_range(image: FirmwareImage, board: SimBoard) -> tuple[int, int] | None:
    """[low, initial SP): the free RAM below the initial stack pointer, above the static data."""
    top = initial_sp(image)
    region = next((m for m in board.memories if m.kind != FLASH and top is not None
                   and m.origin < top <= m.origin + m.length), None)
    if top is None or region is None:
        return None
    low = region.origin
    for address, size in image.allocated:
        if region.origin <= address and address + size <= top:
            low = max(low, address + size)
    return (low, top) if low < top else None


# ---------------------------------------------------------------------------------------------
# errors

_FAULT_LINE = re.compile(r"tinyedge: fault=(\S+) pc=0x([0-9a-fA-F]+) detail=0x([0-9a-fA-F]+)")
_ERROR_LINE = re.compile(r"tinyedge: error=(.*)")
_QEMU_FATAL = re.compile(r"qemu: fatal: (.*)")
_QEMU_PC = re.compile(r"\b(?:R15|pc)=([0-9a-fA-F]{8})\b")
_CFSR_BITS = {  # Armv7-M / Armv8-M Configurable Fault Status Register
    0: "IACCVIOL (instruction fetch from a protected region)", 1: "DACCVIOL (data access to a protected region)",
    8: "IBUSERR (instruction fetch bus error)", 9: "PRECISERR (data bus error)",
    10: "IMPRECISERR (imprecise data bus error)", 16: "UNDEFINSTR (undefined instruction)",
    17: "INVSTATE (a branch to an address without the Thumb bit)", 18: "INVPC (bad exception return)",
    19: "NOCP (FPU instruction with the FPU disabled: enable it in CPACR at startup)",
    20: "STKOF (stack limit overflow)", 24: "UNALIGNED (unaligned access)", 25: "DIVBYZERO (division by zero)",
}


def _raise_if_failed(run: _Run, image: FirmwareImage, marks: _Marks, budget: int) -> None:
    trace = run.trace
    where = f"PC 0x{trace.stop_address:08x} in {image.function_at(trace.stop_address)}"
    handler = _handler_entered(trace, marks, image)
    if trace.status == _STATUS_ABORTED:
        fatal = _QEMU_FATAL.search(run.stderr)
        if fatal is None:
            raise TinyEdgeError(f"QEMU stopped without the plugin's final record (exit status {run.returncode}): "
                                f"{_one_line(run.stderr)}")
        pc = _QEMU_PC.search(run.stderr)
        at = f" at PC 0x{int(pc.group(1), 16):08x} in {image.function_at(int(pc.group(1), 16))}" if pc else ""
        after = f", after {handler}" if handler else ""
        raise TinyEdgeError(f"firmware fault: QEMU stopped the core{at}: {fatal.group(1).strip()}{after}")
    if trace.status == _STATUS_FAULT_SPINS:
        raise TinyEdgeError(f"firmware fault: {handler}; the handler ran {_FAULT_GRACE:,} instructions without "
                            f"reporting the fault, last at {where}")
    if trace.status == _STATUS_BUDGET:
        raise TinyEdgeError(f"firmware hang: more than {budget:,} instructions without exiting, last at "
                            f"{where}; raise the instruction budget if the model is that large")
    if trace.status == _STATUS_TABLE_FULL:
        raise TinyEdgeError(f"firmware executed more than {len(trace.blocks.addresses):,} distinct code blocks "
                            f"(at {where}); the block table is full")
    if trace.status == _STATUS_HALTED:
        after = f" after {handler}" if handler else ""
        raise TinyEdgeError(f"firmware stopped: the core halted{after} (a lockup from a fault inside a fault "
                            f"handler, or WFI), last at {where}")
    if trace.status == _STATUS_OUTPUT:
        raise TinyEdgeError("the QEMU plugin could not write its output file (disk full?)")
    fault = _FAULT_LINE.search(run.console)
    if fault:
        name, pc, detail = fault.group(1), int(fault.group(2), 16), int(fault.group(3), 16)
        raise TinyEdgeError(f"firmware fault: {name} at PC 0x{pc:08x} in {image.function_at(pc)} "
                            f"({_fault_detail(image, detail)})")
    error = _ERROR_LINE.search(run.console)
    if error:
        raise TinyEdgeError(f"firmware failed: {error.group(1).strip()}")
    if run.returncode != 0:
        console = repr(run.console.strip()[-200:]) if run.console.strip() else "(empty)"
        if handler:
            raise TinyEdgeError(f"firmware fault: {handler}, then the firmware exited with status "
                                f"{run.returncode}; console: {console}")
        raise TinyEdgeError(f"firmware exited with an error (QEMU exit status {run.returncode}); console: {console}; "
                            f"QEMU: {_one_line(run.stderr)}")


def _handler_entered(trace: _Trace, marks: _Marks, image: FirmwareImage) -> str | None:
    """'the <vector> handler (<function>) was reached from the block at ...' if one was."""
    for record in trace.marks:
        handler = marks.handler(record.mark)
        if handler is not None:
            address, name = handler
            return (f"the {name} handler ({image.function_at(address)}) was reached from the block at "
                    f"PC 0x{record.previous:08x} in {image.function_at(record.previous)}")
    return None


def _fault_detail(image: FirmwareImage, detail: int) -> str:
    if image.arch != ARCH_ARM:
        return f"mtval 0x{detail:08x}"
    flags = [text for bit, text in _CFSR_BITS.items() if detail >> bit & 1]
    return f"CFSR 0x{detail:08x}" + (f": {'; '.join(flags)}" if flags else "")
