"""Renode backend: run a firmware ELF in Renode, headless, and measure each inference.

    result = simulate("build/firmware.elf", load_board("nrf52840"), [sample0, sample1], budget=10**9)

Renode is `renode` on PATH, or the executable RENODE_BIN names. One call renders the board's
platform and script (tinyedge.simulate.renode_files: the script users get from compile, plus a
console file, a stack paint, a time limit and `quit`) into a scratch folder and runs

    renode --disable-xwt --console --plain -e "include @<scratch>/<board>.resc"

Renode's log comes back on stdout; the script's hooks log one line per event, each starting
with "tinyedge-renode:" (see parse_log). Once the firmware has finished (the samples ran out,
or it reached te_exit), the run is over and the process is stopped: Renode 1.15 has no
semihosting exit, so te_exit spins and `emulation RunFor` would run to the budget otherwise.

Figures: instruction counts are Renode's ExecutedInstructions at the hooks (entering
te_inference_begin, the kernel calls, entering te_inference_end), so they count what the
built-in emulator counts. Cycles, latency and energy are tinyedge's model of the core, not
Renode's virtual time (which assumes one cycle per instruction, PerformanceInMips): the same
firmware gets the same estimate whichever emulator executed it. The model prices each
executed block, so the figures come from the built-in emulator's per-block profile of the same
firmware and inputs, taken only after checking that it executed exactly the instructions Renode
counted, per sample and per layer, with the same outputs. Interrupt handlers (the SysTick wrap
on rp2040, about every 2^24 instructions) run only in Renode: their instructions are logged and
counted apart, and the report's backend names them. The stack depth is the lowest painted
byte the firmware overwrote below its initial stack pointer, read back when it finished.

Renode deletes every `renode-*` folder in $TMPDIR that no running process owns when it starts;
it runs here with a private TMPDIR inside the scratch folder, so it sweeps nothing of anyone's.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tinyedge import children
from tinyedge.boards import Board
from tinyedge.errors import TinyEdgeError
from tinyedge.simulate import SimResult
from tinyedge.simulate import simulate as simulate_builtin
from tinyedge.simulate.renode_files import (
    MARKER,
    FirmwareFacts,
    RunnerExtras,
    firmware_facts,
    plan_files,
    render_platform,
    render_script,
    renode_board,
)

RENODE_BIN = "RENODE_BIN"
STACK_PAINT = 0xA5
_STOP_GRACE_SECONDS = 5.0
_CONSOLE_LINE = re.compile(r"tinyedge: sample=(\d+) cycles=(\d+) checksum=([0-9a-f]{8})")
# Renode lines that end the run: a hook's Python failed, a script command failed, the CPU aborted.
_FATAL = ("Python runtime error", "There was an error executing command", "No such command or device",
          "Could not tokenize", "CPU abort")
_SAFE_PATH = re.compile(r"[A-Za-z0-9_./:+-]+")
# A hook's line in Renode's log, "HH:MM:SS.ffff [INFO] cpu: tinyedge-renode: <event> <values>"; the
# [INFO] keeps script text that merely mentions the marker (an echoed command) out.
_EVENT = re.compile(r"\[INFO\].*?" + re.escape(MARKER) + r"\s+(\S.*)$")


def renode_binary() -> str | None:
    """The Renode executable: RENODE_BIN when set, else `renode` on PATH."""
    named = os.environ.get(RENODE_BIN)
    return shutil.which(named) if named else shutil.which("renode")


def available() -> bool:
    return renode_binary() is not None


def check_board(board: Board) -> None:
    """Fail early (before a build) for a board Renode cannot run, saying why."""
    renode_board(board)


# ---------------------------------------------------------------------------- the log

@dataclass
class SampleMarks:
    index: int
    begin: int  # ExecutedInstructions entering te_inference_begin
    marks: list[tuple[int, int]] = field(default_factory=list)  # (layer, count) at each kernel call
    end: int | None = None  # entering te_inference_end
    output: bytes = b""
    # (count at entry, instructions) of each interrupt handler that ran during the inference
    interrupts: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class RenodeLog:
    samples: list[SampleMarks] = field(default_factory=list)
    outcome: str | None = None  # "end-of-input" or "exit"
    final_count: int | None = None  # ExecutedInstructions at the outcome
    reports: list[str] = field(default_factory=list)  # "fail" / "fault": te_fail or te_fault was entered
    fatal: str | None = None  # the first line Renode reported a fatal problem on
    errors: list[str] = field(default_factory=list)  # every [ERROR] line, for the message of a failed run


def _number(text: str) -> int:
    return int(text, 16) if text.lower().startswith("0x") else int(text)


def parse_log(text: str) -> RenodeLog:
    """Read the hooks' lines out of Renode's log (stdout), up to the end of the run.

    Each line is "HH:MM:SS.ffff [INFO] cpu: tinyedge-renode: <event> <values>"; only the part from
    the marker on is read:
        begin <sample> <count>       te_inference_begin, after copying the sample in
        layer <index> <count>        a kernel call in tinyedge_model_invoke
        end <count> <AA-BB-..>       te_inference_end, with te_output's bytes
        fail|fault <count>           te_fail / te_fault entered (the console says why)
        irq-begin <count>            an interrupt handler entered (exception index 5, e.g. SysTick)
        irq-end <count>              an exception return
        end-of-input <count>         te_inference_begin with no sample left: done
        exit <count>                 te_exit entered: done
    """
    log = RenodeLog()
    current: SampleMarks | None = None
    interrupted: int | None = None  # count when the outermost running interrupt handler was entered
    depth = 0
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if "[ERROR]" in line:
            log.errors.append(line.strip())
        if log.fatal is None and any(f in line for f in _FATAL):
            detail = lines[number + 1].strip() if number + 1 < len(lines) else ""
            log.fatal = line.strip() + (f" | {detail}" if detail and MARKER not in detail else "")
        found = _EVENT.search(line)
        if found is None:
            continue
        event, *values = found.group(1).split()
        try:
            if event == "begin":
                if current is not None:
                    raise TinyEdgeError(f"te_inference_begin was entered twice without te_inference_end "
                                        f"(sample {current.index})")
                current = SampleMarks(_number(values[0]), _number(values[1]))
                log.samples.append(current)
            elif event == "layer":
                if current is not None:
                    current.marks.append((_number(values[0]), _number(values[1])))
            elif event == "end":
                if current is None:
                    raise TinyEdgeError(f"te_inference_end was entered without te_inference_begin "
                                        f"(after sample {len(log.samples)})")
                current.end = _number(values[0])
                current.output = bytes.fromhex(values[1].replace("-", "")) if len(values) > 1 else b""
                current = None
            elif event == "irq-begin":
                depth += 1
                interrupted = _number(values[0]) if depth == 1 else interrupted
            elif event == "irq-end":
                if depth == 1 and interrupted is not None and current is not None:
                    current.interrupts.append((interrupted, _number(values[0]) - interrupted))
                depth = max(depth - 1, 0)
            elif event in ("fail", "fault"):
                log.reports.append(event)
            elif event in ("end-of-input", "exit"):
                log.outcome, log.final_count = event, _number(values[0])
                break  # the run is over; Renode's shutdown says nothing more about the firmware
            else:
                raise TinyEdgeError(f"unknown event in Renode's log: {line.strip()!r}")
        except (IndexError, ValueError) as exc:
            raise TinyEdgeError(f"cannot read this line of Renode's log: {line.strip()!r} ({exc})") from None
    return log


def is_final(line: str) -> bool:
    """The line after which nothing more is needed from Renode."""
    found = _EVENT.search(line)
    if found is not None and found.group(1).split()[0] in ("end-of-input", "exit"):
        return True
    return any(f in line for f in _FATAL)


# ---------------------------------------------------------------------------- the figures

@dataclass(frozen=True)
class Timing:
    started: float  # perf_counter() when simulate() was called
    first_marker: float  # when the first hook line arrived
    last_marker: float  # when the final line arrived


def console_checksums(console: str) -> dict[int, int]:
    """sample -> checksum, from the firmware's console lines."""
    return {int(m.group(1)): int(m.group(3), 16) for m in _CONSOLE_LINE.finditer(console)}


def _layers(sample: SampleMarks, layer_count: int) -> tuple[int, ...]:
    """The firmware's own instructions per layer of one inference, split at its kernel calls as the
    built-in emulator splits it: what runs before the first call counts to the first layer, what
    runs after the last one to the last layer. An interrupt handler's instructions are left out of
    the layer it interrupted (sample.interrupts has them)."""
    assert sample.end is not None
    totals = dict.fromkeys(range(layer_count), 0)
    if sample.marks:
        edges = [sample.begin, *(count for _, count in sample.marks[1:]), sample.end]
        for (layer, _), first, second in zip(sample.marks, edges[:-1], edges[1:]):
            handlers = sum(n for at, n in sample.interrupts if first <= at < second)
            totals[layer] = totals.get(layer, 0) + second - first - handlers
    return tuple(n for _, n in sorted(totals.items()))


def _failure(log: RenodeLog, console: str, budget: int) -> TinyEdgeError | None:
    """Why the run did not finish with every sample measured, or None if it did."""
    tail = repr(console.strip()[-200:]) if console.strip() else "(empty)"
    if log.fatal is not None:
        return TinyEdgeError(f"Renode reported: {log.fatal}")
    if log.reports:
        what = "fault" if "fault" in log.reports else "error"
        hint = ""
        if "input.bin" in console or "output.bin" in console:
            hint = (" (this Renode serves semihosting files differently from Renode 1.15, whose behaviour "
                    "tinyedge's script relies on)")
        return TinyEdgeError(f"firmware {what} in Renode; console: {tail}{hint}")
    if log.outcome is None:
        errors = f"; Renode errors: {log.errors[0]}" if log.errors else ""
        return TinyEdgeError(f"firmware hang in Renode: it did not finish within {budget:,} instructions "
                             f"(after {len(log.samples)} inferences; console: {tail}){errors}; raise the "
                             "instruction budget if the model is that large")
    return None


@dataclass(frozen=True)
class RenodeMeasurement:
    """What one Renode run measured: counts, outputs, stack; no cycles (see with_core_model)."""

    outputs: tuple[bytes, ...]
    console: str
    instructions: tuple[int, ...]  # per sample, te_inference_begin -> te_inference_end, handlers left out
    layers: tuple[tuple[int, ...], ...]  # per sample, instructions per layer, handlers left out
    interrupts: tuple[int, ...]  # per sample, instructions interrupt handlers ran during the inference
    total_instructions: int  # the whole run, up to the end of the input
    stack_bytes: int
    guest_mips: float
    startup_seconds: float


def build_result(board: Board, firmware: FirmwareFacts, inputs: Sequence[bytes],
                 log: RenodeLog, console: str, stack_dump: bytes | None, *, budget: int, timing: Timing,
                 expected_layers: int | None = None) -> RenodeMeasurement:
    """What a Renode run measured, checked: every sample measured, outputs the firmware's own."""
    failure = _failure(log, console, budget)
    if failure is not None:
        raise failure
    done = [s for s in log.samples if s.end is not None]
    if len(done) != len(inputs) or len(log.samples) != len(inputs):
        raise TinyEdgeError(f"the firmware ran {len(done)} complete inferences in Renode for {len(inputs)} input "
                            f"samples before it {'exited' if log.outcome == 'exit' else 'stopped'}")
    layer_count = len(firmware.call_sites)
    if expected_layers is not None and layer_count != expected_layers:
        raise TinyEdgeError(f"{firmware.path.name}: tinyedge_model_invoke has {layer_count} call sites but the "
                            f"model has {expected_layers} layers; the generated model must call exactly one "
                            "kernel per layer")
    for sample in done:
        if len(sample.output) != firmware.output_bytes:
            raise TinyEdgeError(f"Renode's hook read {len(sample.output)} bytes of te_output for sample "
                                f"{sample.index}; the firmware's te_output holds {firmware.output_bytes}")
    printed = console_checksums(console)
    if not printed:
        raise TinyEdgeError("the firmware's console stayed empty in Renode: its semihosting console "
                            f"(SYS_WRITE0 to sysbus.cpu.uartSemihosting) printed nothing; console: {console!r}")
    for sample in done:
        crc = zlib.crc32(sample.output)
        if printed.get(sample.index) != crc:
            got = f"{printed[sample.index]:08x}" if sample.index in printed else "no line"
            raise TinyEdgeError(f"sample {sample.index}: the output Renode's hook read from te_output has CRC-32 "
                                f"{crc:08x} but the firmware printed {got}")
    total = log.final_count or 0
    run_seconds = max(timing.last_marker - timing.first_marker, 1e-9)
    return RenodeMeasurement(
        outputs=tuple(s.output for s in done),
        console=console,
        instructions=tuple(s.end - s.begin - sum(n for _, n in s.interrupts) for s in done if s.end is not None),
        layers=tuple(_layers(s, layer_count) for s in done),
        interrupts=tuple(sum(n for _, n in s.interrupts) for s in done),
        total_instructions=total,
        stack_bytes=_stack_bytes(firmware, stack_dump, board),
        guest_mips=max(total - done[0].begin, 0) / run_seconds / 1e6,
        startup_seconds=timing.first_marker - timing.started,
    )


def disagreement(measured: RenodeMeasurement, reference: SimResult) -> str | None:
    """Where Renode's run and the built-in emulator's run of the same firmware differ, or None."""
    if measured.outputs != reference.outputs:
        first = next(i for i, (a, b) in enumerate(zip(measured.outputs, reference.outputs)) if a != b)
        return f"sample {first}: the outputs differ"
    for index, (count, sample) in enumerate(zip(measured.instructions, reference.samples)):
        if count != sample.instructions:
            return (f"sample {index}: Renode counted {count:,} instructions, the built-in emulator "
                    f"{sample.instructions:,}")
        layers = tuple(layer.instructions for layer in sample.layers)
        if measured.layers[index] != layers:
            layer = next(i for i, (a, b) in enumerate(zip(measured.layers[index], layers)) if a != b)
            return (f"sample {index}, layer {layer}: Renode counted {measured.layers[index][layer]:,} instructions, "
                    f"the built-in emulator {layers[layer]:,}")
    return None


def counter_description(measured: RenodeMeasurement) -> str:
    """What counted, for the report: Renode, and the interrupt handlers' instructions left out, if any."""
    handlers = sum(measured.interrupts)
    if not handlers:
        return "renode"
    return (f"renode (interrupt handlers ran {handlers:,} instructions during the inferences, counted apart: the "
            "built-in emulator raises no interrupts)")


def with_core_model(measured: RenodeMeasurement, reference: SimResult, started: float) -> SimResult:
    """Renode's counts with tinyedge's cycle model, taken from the built-in emulator's run of the same
    firmware and inputs once that run is shown to have executed the same instructions (interrupt
    handlers, which only Renode runs, apart)."""
    different = disagreement(measured, reference)
    if different is not None:
        raise TinyEdgeError(f"Renode and the built-in emulator executed different instructions for the same firmware "
                            f"and inputs ({different}); tinyedge's cycle model prices one instruction stream, so no "
                            "cycles, latency or energy are given: please report it, and use --backend builtin "
                            "meanwhile")
    return SimResult(
        board=reference.board,
        outputs=measured.outputs,
        console=measured.console,
        instructions=measured.instructions,
        total_instructions=measured.total_instructions,
        cycles=reference.cycles,
        cycle_model=reference.cycle_model,
        clock_hz=reference.clock_hz,
        layers=reference.layers,
        layers_sample=reference.layers_sample,
        samples=reference.samples,
        stack_bytes=measured.stack_bytes,
        counter=counter_description(measured),
        guest_mips=measured.guest_mips,
        startup_seconds=measured.startup_seconds,
        wall_seconds=time.perf_counter() - started,
    )


def paint_region(firmware: FirmwareFacts, board: Board) -> tuple[int, int] | None:
    """(low, size) of the RAM between the firmware's last allocated byte and its initial stack pointer."""
    sp = firmware.initial_sp
    region = next((m for m in board.memories if m.kind != "flash" and m.origin < sp <= m.end), None)
    if region is None:
        return None
    low = region.origin
    for address, size in firmware.allocated:
        if region.origin <= address and address + size <= sp:
            low = max(low, address + size)
    return (low, sp - low) if sp > low else None


def _stack_bytes(firmware: FirmwareFacts, dump: bytes | None, board: Board) -> int:
    region = paint_region(firmware, board)
    if region is None:
        return 0
    if dump is None or len(dump) != region[1]:
        raise TinyEdgeError("Renode did not save the stack region when the firmware finished; the stack depth "
                            "cannot be measured")
    deepest = next((i for i, byte in enumerate(dump) if byte != STACK_PAINT), len(dump))
    return region[1] - deepest


# ---------------------------------------------------------------------------- running Renode

def _stop(process: subprocess.Popen[str]) -> None:
    """End Renode (the `renode` launcher and what it started: its own process group)."""
    if process.poll() is None:
        try:
            if os.name == "posix":
                os.killpg(process.pid, signal.SIGTERM)
            else:
                process.terminate()
            process.wait(_STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            if os.name == "posix":
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
            process.wait()
        except ProcessLookupError:
            pass


def private_environment(temp_dir: Path) -> dict[str, str]:
    """The environment Renode runs in: ours, with TMPDIR (and TMP, TEMP) set to a folder of its own.

    Renode deletes every `renode-*` folder in $TMPDIR that no running process owns when it starts
    (its TemporaryFilesManager), which would sweep away another Renode's or a user's files."""
    env = dict(os.environ)
    for name in ("TMPDIR", "TMP", "TEMP"):
        env[name] = str(temp_dir)
    return env


def run_renode(binary: str, script: Path, wall_seconds: float, temp_dir: Path) -> tuple[str, float | None,
                                                                                      float | None]:
    """Run Renode on `script` with TMPDIR=temp_dir (an empty folder of this run's own), return its log
    and when the first and the final hook lines arrived.

    The log is read as it comes; Renode is stopped at the final line (see is_final), when it
    exits by itself (`quit` after the time limit), or after wall_seconds.
    """
    command = [binary, "--disable-xwt", "--console", "--plain", "-e", f"include @{script}"]
    try:
        process = subprocess.Popen(command, cwd=script.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, errors="replace",
                                   env=private_environment(temp_dir), start_new_session=os.name == "posix")
    except OSError as exc:
        raise children.failure("Renode", command, f"could not start: {binary}: {exc.strerror or exc}",
                               stage="renode") from None
    lines: list[str] = []
    stamps: dict[str, float] = {}
    finished = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if _EVENT.search(line):
                stamps.setdefault("first", time.perf_counter())
            if is_final(line):
                stamps["final"] = time.perf_counter()
                finished.set()
        finished.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    timed_out = not finished.wait(wall_seconds)
    _stop(process)
    reader.join(_STOP_GRACE_SECONDS)
    if process.stdin is not None:
        process.stdin.close()
    if timed_out:
        raise children.failure("Renode", command, f"did not finish within {wall_seconds:.0f} s; last output: "
                               f"{''.join(lines[-3:]).strip()!r}", "".join(lines), stage="renode")
    return "".join(lines), stamps.get("first"), stamps.get("final")


def simulate(elf_path: str | Path, board: Board, input_bytes: Sequence[bytes], *, budget: int,
             expected_layers: int | None = None) -> SimResult:
    """Run the firmware on `board` in Renode with `input_bytes` (one bytes object per sample).

    budget: instructions after which the firmware counts as hung (Renode's virtual time limit).
    expected_layers: when given, the number of call sites found in tinyedge_model_invoke must match.
    """
    started = time.perf_counter()
    binary = renode_binary()
    if binary is None:
        named = os.environ.get(RENODE_BIN)
        if named:
            raise TinyEdgeError(f"{RENODE_BIN}={named} is not an executable; point it at Renode's `renode`")
        raise TinyEdgeError("Renode is not installed: install it (https://renode.io) and put `renode` on PATH or "
                            f"set {RENODE_BIN}")
    renode = renode_board(board)
    firmware = firmware_facts(Path(elf_path))
    with tempfile.TemporaryDirectory(prefix="tinyedge-renode-") as scratch_name:
        scratch = Path(scratch_name).resolve()
        if not _SAFE_PATH.fullmatch(scratch.as_posix()):
            raise TinyEdgeError(f"Renode's scripts cannot name the scratch folder {scratch}: set TMPDIR to a path "
                                "without spaces or quotes")
        files, image = plan_files(renode, firmware, Path(elf_path).stem, input_bytes, "$ORIGIN/firmware.elf")
        shutil.copyfile(elf_path, scratch / "firmware.elf")
        (scratch / files.inputs_file).write_bytes(image)
        paint = paint_region(firmware, board)
        if paint is not None:
            (scratch / "stack-paint.bin").write_bytes(bytes([STACK_PAINT]) * paint[1])
        runner = RunnerExtras(
            console_file=(scratch / "console.txt").as_posix(), stack_dump=(scratch / "stack.bin").as_posix(),
            paint_file=(scratch / "stack-paint.bin").as_posix(), paint_low=paint[0] if paint else 0,
            paint_size=paint[1] if paint else 0, budget=budget,
            seconds=f"{budget / (renode.mips * 1e6):.9f}")
        (scratch / files.platform_file).write_text(render_platform(files))
        script = scratch / files.script_file
        script.write_text(render_script(files, runner))
        temp_dir = scratch / "tmp"
        temp_dir.mkdir()
        text, first, final = run_renode(binary, script, wall_seconds=120 + budget / 5e6, temp_dir=temp_dir)
        console_path, dump_path = scratch / "console.txt", scratch / "stack.bin"
        console = console_path.read_text(errors="replace") if console_path.is_file() else ""
        dump = dump_path.read_bytes() if dump_path.is_file() else None
    log = parse_log(text)
    if log.fatal is None and not log.samples and log.outcome is None:
        last = " | ".join(line.strip() for line in text.strip().splitlines()[-3:])
        raise children.failure("Renode", [binary, "-e", f"include @{script}"], "stopped before the firmware reached "
                               f"te_inference_begin; last output: {last!r}", text, stage="renode")
    now = time.perf_counter()
    timing = Timing(started, first if first is not None else now, final if final is not None else now)
    measured = build_result(board, firmware, input_bytes, log, console, dump, budget=budget, timing=timing,
                            expected_layers=expected_layers)
    reference = simulate_builtin(elf_path, board, input_bytes, budget=budget, expected_layers=expected_layers)
    return with_core_model(measured, reference, started)
