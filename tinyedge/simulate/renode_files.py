"""Renode files for one firmware: the platform, the script that runs and measures it, a Robot suite.

`tinyedge compile` writes them to <out>/renode/ with write_renode_files(); the Renode backend
(tinyedge.simulate.renode) renders the same script with a few lines of its own into a scratch
folder. Templates: templates/renode/.

    <board>.repl           the board's core (Cortex-M, NVIC, DWT when the firmware reads it),
                           its memory map from boards/<board>.toml, the semihosting console and
                           a staging memory for the input samples; written for every Cortex-M
                           board, also those upstream Renode has no platform for (rp2040)
    <board>.resc           loads the platform, the ELF and the samples, and hooks the firmware
    <model>-inputs.bin     the staging memory's contents: a 32-byte header and the samples
    <model>.robot          `renode-test renode/<model>.robot`: outputs equal the reference
                           (checksums), and no inference exceeds the instruction budget

Why a platform of its own: Renode's platforms/cpus/<board>.repl files (13 of them, nrf52840 and
stm32f4 among them) fetch an SVD file over the network in their init section, which fails
offline, they live in the user's Renode installation, where a script cannot edit them, and
some chips have none (the RP2040). The firmware needs only the core, its memories and
semihosting, which the board file describes; the generated platform holds just those, so it
loads offline, in any Renode installation, with `renode-test` and nothing else. A board whose
firmware Renode 1.15 cannot run says why in emulator.renode_unsupported (the RISC-V boards:
Renode 1.15 serves semihosting on Arm only).

How the samples reach the firmware: Renode 1.15 serves only the console operations of Arm
semihosting (SYS_WRITE0, SYS_WRITEC, SYS_READC, through a SemihostingUart registered at the
CPU); SYS_OPEN, SYS_READ and SYS_WRITE return 0 and move no data, SYS_EXIT returns. So the
firmware's main loop runs unchanged (its reads "succeed" without data) and hooks on its
markers do the I/O: te_inference_begin copies the next sample from the staging memory into
te_input, te_inference_end logs te_output and the instruction count; after the last sample
the next te_inference_begin logs the end of the input and halts the CPU, as te_exit does, so
the run ends in the same state every time (Renode's semihosting read returns 0 at the end of
the input, so the firmware itself would go on inferring). te_inference_end counts only after
its own te_inference_begin. The console lines (with the CRC-32 of each output) go through
SYS_WRITE0, which the Robot suite's terminal tester and the backend's file backend both read;
the suite reads the worst inference only once the log says the input has ended.

Renode deletes every `renode-*` folder in $TMPDIR that no running process owns when it starts:
tinyedge runs it with a private TMPDIR, and the files tell users to do the same.
"""

from __future__ import annotations

import math
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import capstone
import jinja2
from elftools.elf.elffile import ELFFile

from tinyedge import __version__
from tinyedge.boards import Board
from tinyedge.errors import TinyEdgeError
from tinyedge.resources import templates_dir
from tinyedge.simulate.firmware_image import (
    ARCH_ARM,
    BEGIN_SYMBOL,
    END_SYMBOL,
    INVOKE_SYMBOL,
    FirmwareImage,
    disassembler,
    load_image,
)

# Renode's cpuType for each board core, as Renode's own platforms name them.
CPU_TYPES: dict[str, str] = {
    "cortex-m0plus": "cortex-m0+",  # Renode 1.15's tlib runs it with the Cortex-M3 model (ARMv7-M)
    "cortex-m4f": "cortex-m4",
    "cortex-m7": "cortex-m7",
    "cortex-m33": "cortex-m33",
}
CONSOLE = "uartSemihosting"  # the console's name: sysbus.cpu.uartSemihosting
STAGING = "tinyedgeStaging"
MARKER = "tinyedge-renode:"  # every line the hooks log starts with it

# Staging memory: 32-bit words, then the samples back to back. PENDING is 1 between a
# te_inference_begin and its te_inference_end; FINISHED is 1 once the input has ended.
NEXT_SAMPLE, BEGIN_LOW, BEGIN_HIGH, WORST, PENDING, FINISHED = 0, 4, 8, 12, 16, 20
STAGING_HEADER = 32
_STAGING_CANDIDATES = (0x7000_0000, 0x6000_0000, 0x9000_0000, 0xA000_0000, 0xC000_0000)
_PPB = 0xE000_0000  # the Cortex-M private peripheral bus and above: never staging
_TRANSLATION_PAGE = 0x400  # the built-in emulator's translation page on Arm (QEMU's TARGET_PAGE_SIZE)

_ELF_SYMBOLS = ("te_input", "te_output")
_REPORTED = ("te_fail", "te_fault")  # hooked when present: they log before te_exit
_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TAG_TEXT = re.compile(r"[^A-Za-z0-9_ .,:;()+/=-]+")  # what a tag's name in the monitor's quotes may hold


@dataclass(frozen=True)
class FirmwareFacts:
    """What the Renode script needs from the firmware ELF (addresses with the Thumb bit clear)."""

    path: Path
    begin: int  # te_inference_begin
    end: int  # te_inference_end
    exit: int  # te_exit
    reports: tuple[tuple[str, int], ...]  # (name, address) of te_fail / te_fault
    call_sites: tuple[int, ...]  # the kernel calls in tinyedge_model_invoke, one per layer
    layer_starts: tuple[int, ...]  # per call, where its layer begins (see layer_starts())
    input_address: int
    input_bytes: int
    output_address: int
    output_bytes: int
    vector_table: int
    initial_sp: int
    allocated: tuple[tuple[int, int], ...]  # (address, size) of every allocated section


@dataclass(frozen=True)
class RenodeBoard:
    """A board as Renode runs it."""

    name: str
    description: str
    upstream: str | None  # Renode's own platform for the chip (emulator.renode_platform), if it has one
    cpu_type: str
    clock_hz: int
    # PerformanceInMips: the clock in MHz. It sets Renode's virtual time (one instruction, one
    # cycle), which bounds the run; tinyedge's cycle figures come from its own core model.
    mips: int
    dwt: bool
    memories: tuple[tuple[str, int, int, tuple[int, ...]], ...]  # (name, size, first address, aliases)
    tags: tuple[RegisterTag, ...] = ()  # the registers the firmware's start-up set-up touches


@dataclass(frozen=True)
class RegisterTag:
    """A register of the board's [setup] that the platform does not model: `sysbus Tag` makes every
    read give `value` (the awaited bits of the steps that wait on it, else 0) and drops writes, so
    the set-up's waits end at once, as in the built-in emulator, instead of after 2^20 logged reads."""

    address: int
    value: int
    name: str


def register_tags(board: Board) -> tuple[RegisterTag, ...]:
    """One tag per register the board's [setup] steps touch, in address order."""
    steps = board.setup.init if board.setup is not None else ()
    values: dict[int, int] = {}
    names: dict[int, str] = {}
    for step in steps:
        values.setdefault(step.reg, 0)
        names.setdefault(step.reg, _TAG_TEXT.sub(" ", step.note).strip() or f"register 0x{step.reg:08X}")
        if step.wait is not None:
            values[step.reg] = values[step.reg] & ~step.wait | step.wait_value
    return tuple(RegisterTag(address, values[address], names[address]) for address in sorted(values))


def runs_in_renode(board: Board) -> bool:
    """Whether Renode can run the board's firmware (renode_board() says why not)."""
    try:
        renode_board(board)
    except TinyEdgeError:
        return False
    return True


def renode_board(board: Board) -> RenodeBoard:
    """The board's Renode view; an error naming the reason when Renode cannot run it."""
    emulator = board.emulator
    if emulator is None or not board.emulated:
        raise TinyEdgeError(f"board {board.name} is not emulated here (no built-in emulator runs its "
                            f"{board.core} core), so Renode has no firmware ELF to run; drop --backend for it")
    if emulator.renode_unsupported:
        raise TinyEdgeError(f"Renode 1.15 cannot run board {board.name}'s firmware: {emulator.renode_unsupported} "
                            f"(emulator.renode_unsupported in {board.path.name}); use --backend builtin")
    if board.family != "arm" or board.core not in CPU_TYPES:
        raise TinyEdgeError(f"the Renode backend runs Cortex-M boards; board {board.name} has a {board.core} core; "
                            "use --backend builtin")
    if not board.clock_hz:
        raise TinyEdgeError(f"board {board.name} has no clock_hz: Renode's timing needs one")
    memories = []
    for region in board.memories:
        if region.alias_of is not None:
            continue
        if not _IDENTIFIER.fullmatch(region.name) or region.name in ("cpu", "nvic", "dwt", CONSOLE, STAGING):
            raise TinyEdgeError(f"{board.path.name}: memory name '{region.name}' cannot name a Renode peripheral; "
                                "use letters, digits and underscores")
        aliases = tuple(alias.origin for alias in board.memories if alias.alias_of == region.name)
        memories.append((region.name, region.length, region.origin, aliases))
    return RenodeBoard(
        name=board.name, description=board.description, upstream=emulator.renode_platform,
        cpu_type=CPU_TYPES[board.core], clock_hz=board.clock_hz, mips=max(1, round(board.clock_hz / 1e6)),
        dwt=board.cycle_counter == "dwt", memories=tuple(memories), tags=register_tags(board))


def firmware_facts(elf: Path) -> FirmwareFacts:
    """Symbols, call sites and layout of a tinyedge firmware ELF for the Renode script."""
    image = load_image(Path(elf))
    if image.arch != ARCH_ARM:
        raise TinyEdgeError(f"{image.path.name} is {image.arch} code; the Renode backend runs Cortex-M firmware")
    sizes = _object_sizes(image.path, _ELF_SYMBOLS)
    for name in _ELF_SYMBOLS:
        if name not in sizes:
            raise TinyEdgeError(f"{image.path.name} has no object '{name}': Renode's hooks move the samples through "
                                "it; build the firmware from tinyedge's templates")
    vectors = next((c for c in image.chunks if c.section in (".vectors", ".isr_vector", ".vector_table")), None)
    if vectors is None or len(vectors.data) < 8:
        raise TinyEdgeError(f"{image.path.name} has no Cortex-M vector table section (.vectors)")
    sites = image.call_sites(INVOKE_SYMBOL)
    return FirmwareFacts(
        path=image.path,
        begin=image.require_symbol(BEGIN_SYMBOL), end=image.require_symbol(END_SYMBOL),
        exit=image.require_symbol("te_exit"),
        reports=tuple((name.removeprefix("te_"), image.symbols[name]) for name in _REPORTED if name in image.symbols),
        call_sites=sites, layer_starts=layer_starts(image, sites),
        input_address=sizes["te_input"][0], input_bytes=sizes["te_input"][1],
        output_address=sizes["te_output"][0], output_bytes=sizes["te_output"][1],
        vector_table=vectors.address, initial_sp=struct.unpack_from("<I", vectors.data)[0],
        allocated=image.allocated,
    )


def layer_starts(image: FirmwareImage, call_sites: Sequence[int]) -> tuple[int, ...]:
    """Where each layer's part of tinyedge_model_invoke begins: the first instruction of the
    built-in emulator's translated block that holds its kernel call.

    The built-in emulator splits an inference at the start of the block holding each call, so a
    layer owns the argument set-up before its call. Its blocks (QEMU's, in Unicorn) end after a
    branch or call and at the end of a 1 KB translation page; a 32-bit instruction that would
    cross the page starts a block of its own. Renode's count at a hook is exact to the
    instruction, so hooks at these addresses split the inference the same way.
    """
    function = image.function(INVOKE_SYMBOL)
    if function is None or not call_sites:
        return ()
    wanted = set(call_sites)
    starts: list[int] = []
    block = function.address
    # A long function holds literal pools; the code resumes after each, in a block of its own (the
    # instruction before a pool is a branch), so each stretch of code is read on its own.
    for span_start, span_end in image.instruction_spans(function.address, call_sites[-1] + 4):
        if span_start != function.address:
            block = span_start
        code = image.code_bytes(span_start, span_end - span_start) or b""
        for insn in disassembler(ARCH_ARM).disasm(code, span_start):
            if insn.address in wanted:
                starts.append(block)
            following = insn.address + insn.size
            page_end = (block & ~(_TRANSLATION_PAGE - 1)) + _TRANSLATION_PAGE
            if (insn.group(capstone.CS_GRP_JUMP) or insn.group(capstone.CS_GRP_CALL)
                    or insn.group(capstone.CS_GRP_RET) or following >= page_end
                    or (following == page_end - 2 and _is_wide(image, following))):
                block = following
    if len(starts) != len(call_sites):
        raise TinyEdgeError(f"{image.path.name}: cannot follow tinyedge_model_invoke's code to its kernel calls "
                            f"(found {len(starts)} of {len(call_sites)})")
    return tuple(starts)


def _is_wide(image: FirmwareImage, address: int) -> bool:
    """A 32-bit Thumb instruction starts at `address`."""
    halfword = image.code_bytes(address, 2)
    return halfword is not None and int.from_bytes(halfword, "little") >> 11 in (0b11101, 0b11110, 0b11111)


def _object_sizes(elf: Path, names: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(address, size) of the named data objects in the symbol table."""
    found: dict[str, tuple[int, int]] = {}
    with open(elf, "rb") as stream:
        symtab = ELFFile(stream).get_section_by_name(".symtab")
        for symbol in symtab.iter_symbols() if symtab is not None else ():
            if symbol.name in names and symbol["st_info"]["type"] == "STT_OBJECT":
                found[symbol.name] = (symbol["st_value"], symbol["st_size"])
    return found


def staging_image(inputs: Sequence[bytes], input_bytes: int) -> bytes:
    """The staging memory's initial contents: a zeroed header, then the samples."""
    if not inputs:
        raise TinyEdgeError("Renode needs at least one input sample")
    for index, sample in enumerate(inputs):
        if len(sample) != input_bytes:
            raise TinyEdgeError(f"input sample {index} has {len(sample)} bytes; the firmware's te_input holds "
                                f"{input_bytes} (TINYEDGE_INPUT_BYTES)")
    return bytes(STAGING_HEADER) + b"".join(inputs)


def staging_address(board: RenodeBoard, size: int) -> int:
    """Where the staging memory goes: the first candidate clear of every memory of the board."""
    taken = [(first, first + length) for _, length, first, _ in board.memories]
    taken += [(alias, alias + length) for _, length, _, aliases in board.memories for alias in aliases]
    for address in _STAGING_CANDIDATES:
        if address + size <= _PPB and all(address + size <= low or high <= address for low, high in taken):
            return address
    raise TinyEdgeError(f"board {board.name}: no free address range for Renode's {size}-byte staging memory")


def output_checksums(outputs: Sequence[bytes]) -> tuple[int, ...]:
    """The checksum the firmware prints per sample: CRC-32 (zlib's) of its output bytes."""
    return tuple(zlib.crc32(output) for output in outputs)


def default_budget(instructions: Sequence[int]) -> int:
    """Instruction budget of one inference when compile has no --budget: twice the worst measured."""
    return 2 * max(instructions)


def suite_timeout(budget: int) -> int:
    """Seconds the Robot suite waits for each console line: the budget at 5 MIPS, 10 s at least.

    Renode's testers count virtual time (one instruction per cycle here, so the board clock
    speed); at least 5 MIPS covers the host time as well on a slow CI machine."""
    return max(10, math.ceil((budget + 10_000_000) / 5_000_000))


@dataclass(frozen=True)
class RunnerExtras:
    """The Renode backend's additions to the script: stack paint, console file, time limit."""

    console_file: str  # absolute paths
    stack_dump: str
    paint_file: str
    paint_low: int
    paint_size: int  # 0: no stack paint
    budget: int  # instructions
    seconds: str  # virtual time for the budget, for emulation RunFor


@dataclass(frozen=True)
class RenodeFiles:
    """Everything one rendering needs; the file names are relative to the folder of the script."""

    board: RenodeBoard
    firmware: FirmwareFacts
    model_name: str
    samples: int
    elf: str  # the $bin default, e.g. "$ORIGIN/../build/firmware.elf"
    staging: int
    staging_size: int
    platform_file: str
    script_file: str
    inputs_file: str
    suite_file: str


def plan_files(board: RenodeBoard, firmware: FirmwareFacts, model_name: str, inputs: Sequence[bytes],
               elf: str) -> tuple[RenodeFiles, bytes]:
    """File names, staging address and the staging image for one firmware and its samples."""
    image = staging_image(inputs, firmware.input_bytes)
    size = -(-len(image) // 0x1000) * 0x1000
    safe = _NAME.sub("_", model_name) or "model"
    files = RenodeFiles(
        board=board, firmware=firmware, model_name=model_name, samples=len(inputs), elf=elf,
        staging=staging_address(board, size), staging_size=size,
        platform_file=f"{board.name}.repl", script_file=f"{board.name}.resc",
        inputs_file=f"{safe}-inputs.bin", suite_file=f"{safe}.robot")
    return files, image


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "renode")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.globals["hex"] = lambda value: f"0x{value:08X}"
    return env


def _banner(files: RenodeFiles) -> str:
    return (f"Generated by tinyedge {__version__} for {files.firmware.path.name} on board {files.board.name}. "
            "Do not edit.")


def render_platform(files: RenodeFiles) -> str:
    board = files.board
    memories = []
    for name, size, first, aliases in board.memories:
        points = [f"sysbus 0x{address:08X}" for address in (first, *aliases)]
        registration = points[0] if len(points) == 1 else "{ " + "; ".join(points) + " }"
        comment = f"{name}: {size // 1024} KB" + (f", also at {', '.join(hex(a) for a in aliases)}" if aliases else "")
        memories.append({"name": name, "registration": registration, "size": f"0x{size:X}", "comment": comment})
    return _environment().get_template("platform.repl.j2").render(
        banner=_banner(files), board_name=board.name, board_description=board.description, upstream=board.upstream,
        clock_hz=board.clock_hz, cpu_type=board.cpu_type, memories=memories, dwt=board.dwt,
        console_name=CONSOLE, staging_name=STAGING, staging_address=f"0x{files.staging:08X}",
        staging_size=f"0x{files.staging_size:X}", script_file=files.script_file)


def render_script(files: RenodeFiles, runner: RunnerExtras | None = None) -> str:
    firmware, base = files.firmware, files.staging
    return _environment().get_template("board.resc.j2").render(
        banner=_banner(files), board_name=files.board.name, model_name=files.model_name,
        elf_name=firmware.path.name, samples=files.samples, script_file=files.script_file,
        suite_file=files.suite_file, inputs_file=files.inputs_file, platform_file=files.platform_file,
        staging_name=STAGING, console_name=CONSOLE, machine_name=f"tinyedge-{files.board.name}", elf=files.elf,
        staging=base, next_sample=base + NEXT_SAMPLE, begin_low=base + BEGIN_LOW, begin_high=base + BEGIN_HIGH,
        worst=base + WORST, pending=base + PENDING, finished=base + FINISHED, first_sample=base + STAGING_HEADER,
        clock_hz=files.board.clock_hz,
        mips=files.board.mips, tags=files.board.tags, vector_table=firmware.vector_table, begin=firmware.begin,
        end=firmware.end,
        exit=firmware.exit, reports=firmware.reports, layer_starts=firmware.layer_starts,
        input_address=firmware.input_address, input_bytes=firmware.input_bytes,
        output_address=firmware.output_address, output_bytes=firmware.output_bytes, marker=MARKER, runner=runner)


def render_suite(files: RenodeFiles, elf_from_suite: str, checksums: Sequence[int], budget: int) -> str:
    if len(checksums) != files.samples:
        raise TinyEdgeError(f"{len(checksums)} expected checksums for {files.samples} input samples")
    if budget <= 0:
        raise TinyEdgeError(f"the instruction budget must be positive, got {budget}")
    return _environment().get_template("model.robot.j2").render(
        banner=_banner(files), board_name=files.board.name, model_name=files.model_name,
        suite_file=files.suite_file, script_file=files.script_file, samples=files.samples,
        elf_from_suite=elf_from_suite, console_name=CONSOLE, budget=budget, timeout=suite_timeout(budget),
        end=files.firmware.end, worst=files.staging + WORST, finished=files.staging + FINISHED, marker=MARKER,
        checksums=list(checksums))


def write_renode_files(out_dir: Path, board: Board, model_name: str, elf_relative_path: str | Path,
                       expected_checksums: Sequence[int], budget: int, inputs: Sequence[bytes]) -> list[Path]:
    """Write out_dir/renode/: <board>.repl, <board>.resc, <model>-inputs.bin and <model>.robot.

    elf_relative_path: the firmware ELF, relative to out_dir (it must exist: addresses come from it).
    expected_checksums: per sample, zlib.crc32 of the reference output bytes (output_checksums()).
    budget: the most instructions one inference may execute (compile's --budget, else
    default_budget() of the measured counts).
    inputs: the samples, TINYEDGE_INPUT_BYTES each, that the checksums belong to.
    """
    out_dir = Path(out_dir)
    elf_relative = Path(elf_relative_path)
    if elf_relative.is_absolute():
        raise TinyEdgeError(f"the ELF path must be relative to the output folder, got {elf_relative}")
    firmware = firmware_facts(out_dir / elf_relative)
    folder = out_dir / "renode"
    elf_from_folder = Path("..", elf_relative).as_posix()
    files, image = plan_files(renode_board(board), firmware, model_name, inputs, f"$ORIGIN/{elf_from_folder}")
    folder.mkdir(parents=True, exist_ok=True)
    written = {
        files.platform_file: render_platform(files),
        files.script_file: render_script(files),
        files.suite_file: render_suite(files, elf_from_folder, expected_checksums, budget),
    }
    paths = []
    for name, text in written.items():
        (folder / name).write_text(text)
        paths.append(folder / name)
    (folder / files.inputs_file).write_bytes(image)
    paths.append(folder / files.inputs_file)
    return paths
