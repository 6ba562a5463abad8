"""The Renode backend and the Renode files every compile writes (platform, script, Robot suite).

Renode is in no package registry tinyedge's set-up reaches. The tests against Renode itself
skip without it (they pass against a Renode 1.15.3 built from source; RECORDED_LOG is its
output). The others check what tinyedge writes and how it reads Renode's output: command
lines, files, the log, and the generated script run in RenodeStandIn below, an interpreter of
the monitor commands tinyedge's scripts use, with the CPU on Unicorn (so it cannot check
Renode's counting) and the Renode 1.15 behaviour the script relies on, as Renode's sources
have it:
  - Cortex-M semihosting (BKPT 0xAB) serves SYS_WRITE0, SYS_WRITEC and SYS_READC through the
    SemihostingUart registered at the CPU; every other operation returns 0 and moves no data;
  - a hook (cpu AddHook) runs its Python before the instruction at its address, with `self`
    and `cpu` (the CPU), `machine` and `pc` in a scope of its own; a hook that sets
    `self.IsHalted = True` stops the CPU before that instruction;
  - ExecutedInstructions counts every instruction an IT block issues, skipped ones included;
  - an access outside every peripheral and memory is logged and ignored (a read gives 0), and
    `sysbus Tag <address size> "name" value` makes reads there give `value`.
A mistake in a template, an address, an offset or the layer accounting shows up here; how
faithfully Renode itself behaves is what the Renode-only tests check (they run with Renode on
PATH or RENODE_BIN, and skip without it).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import types
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import unicorn
from unicorn.arm_const import UC_ARM_REG_PC, UC_ARM_REG_R0, UC_ARM_REG_R1, UC_ARM_REG_SP

from tinyedge.boards import list_boards, load_board
from tinyedge.build import build_firmware, render_project, toolchain
from tinyedge.errors import TinyEdgeError
from tinyedge.simulate import SimResult, simulate
from tinyedge.simulate import renode as renode_backend
from tinyedge.simulate.cycle_model import CycleModel, core_timing
from tinyedge.simulate.firmware_image import load_image
from tinyedge.simulate.renode_files import (
    CONSOLE,
    FINISHED,
    MARKER,
    STAGING_HEADER,
    WORST,
    firmware_facts,
    layer_starts,
    output_checksums,
    plan_files,
    render_platform,
    render_script,
    renode_board,
    runs_in_renode,
    write_renode_files,
)
from tinyedge.simulate.unicorn_backend import Emulation

BOARD = "nrf52840"
# The cpuType Renode's own platforms give these chips; rp2040 has no upstream platform, and
# Renode's other Cortex-M0+ platforms name "cortex-m0+".
CPU_TYPES = {"nrf52840": "cortex-m4", "nucleo-l4r5zi": "cortex-m4", "rp2040": "cortex-m0+",
             "stm32f4-discovery": "cortex-m4", "stm32f746g-disco": "cortex-m7", "stm32l552": "cortex-m33"}
# Emulated boards whose firmware Renode 1.15 cannot run, and why (emulator.renode_unsupported).
NOT_IN_RENODE = ("esp32c3", "esp32c6")

# A hand-written model on the firmware contract: three layers, one kernel call each; the last
# one clamps with conditional stores, so IT blocks run inside the inference.
MODEL_H = """\
#ifndef TINYEDGE_MODEL_H
#define TINYEDGE_MODEL_H
#include <stdint.h>
#define TINYEDGE_INPUT_BYTES 16
#define TINYEDGE_OUTPUT_BYTES 4
#define TINYEDGE_ARENA_BYTES 16
#define TINYEDGE_NUM_LAYERS 3
int8_t *tinyedge_model_input(void);
int tinyedge_model_invoke(const int8_t *input, int8_t *output);
#endif
"""
MODEL_C = """\
#include <stdint.h>
#include "tinyedge_model.h"

static int8_t arena[TINYEDGE_ARENA_BYTES];

__attribute__((noinline)) static void layer_offset(const int8_t *in, int8_t *out)
{
    for (int i = 0; i < TINYEDGE_ARENA_BYTES; ++i) {
        out[i] = (int8_t)(in[i] / 2 + 3);
    }
}

__attribute__((noinline)) static void layer_dense(const int8_t *in, int8_t *out)
{
    for (int o = 0; o < TINYEDGE_OUTPUT_BYTES; ++o) {
        int32_t acc = 0;
        for (int i = 0; i < TINYEDGE_ARENA_BYTES; ++i) {
            acc += in[i] * (i - 7 + o);
        }
        out[o] = (int8_t)(acc >> 4);
    }
}

__attribute__((noinline)) static void layer_clamp(int8_t *io)
{
    for (int o = 0; o < TINYEDGE_OUTPUT_BYTES; ++o) {
        if (io[o] < -20) {
            io[o] = -20;
        } else if (io[o] > 20) {
            io[o] = 20;
        }
    }
}

static int8_t te_input[TINYEDGE_INPUT_BYTES] __attribute__((aligned(16)));

int8_t *tinyedge_model_input(void)
{
    return te_input;
}

int tinyedge_model_invoke(const int8_t *input, int8_t *output)
{
    layer_offset(input, arena);
    layer_dense(arena, output);
    layer_clamp(output);
    return 0;
}
"""
LAYERS = 3
# MODEL_C with a first layer that spins for about 20 M instructions: long enough for the 24-bit
# SysTick that rp2040's firmware counts cycles with to wrap and interrupt inside the inference.
MODEL_C_LONG = MODEL_C.replace("""static void layer_offset(const int8_t *in, int8_t *out)
{
""", """static void layer_offset(const int8_t *in, int8_t *out)
{
    for (volatile uint32_t spin = 0; spin < 3000000u; ++spin) {
    }
""")


def reference_output(sample: bytes) -> bytes:
    """MODEL_C in Python (C's division truncates toward zero)."""
    half = [int(v / 2) + 3 for v in np.frombuffer(sample, dtype=np.int8)]
    out = []
    for o in range(4):
        acc = sum(v * (i - 7 + o) for i, v in enumerate(half))
        out.append(max(-20, min(20, int(np.int8(np.int32(acc) >> 4)))))
    return np.array(out, dtype=np.int8).tobytes()


@pytest.fixture(scope="module")
def build_for(tmp_path_factory) -> Callable[..., Path]:
    """MODEL_C (or another model C) in tinyedge's firmware (main loop, startup, runtime) for a board:
    <out>/build/firmware.elf."""
    built: dict[tuple[str, str], Path] = {}

    def build(board: str, model_c: str = MODEL_C) -> Path:
        if (board, model_c) not in built:
            tools = toolchain(load_board(board))
            if shutil.which(tools.cc) is None:
                pytest.skip(f"{tools.cc} is not installed")
            base = tmp_path_factory.mktemp(f"firmware-{board}")  # never renode-*: Renode sweeps those
            (base / "model").mkdir()
            (base / "model" / "tinyedge_model.h").write_text(MODEL_H)
            (base / "model" / "tinyedge_model.c").write_text(model_c)
            out = render_project(base / "out", board, base / "model", kernel_sources=())
            built[board, model_c] = build_firmware(out, board).elf
        return built[board, model_c]

    return build


@pytest.fixture(scope="module")
def firmware(build_for) -> Path:
    return build_for(BOARD)


@pytest.fixture(scope="module")
def samples() -> list[bytes]:
    rng = np.random.default_rng(7)
    return [rng.integers(-128, 128, 16, dtype=np.int8).tobytes() for _ in range(3)]


@pytest.fixture(scope="module")
def builtin(firmware: Path, samples: list[bytes]) -> SimResult:
    result = simulate(firmware, load_board(BOARD), samples, expected_layers=LAYERS)
    assert result.outputs == tuple(reference_output(s) for s in samples)  # the fixture firmware is right
    return result


@pytest.fixture
def written(firmware: Path, samples: list[bytes], builtin: SimResult) -> dict[str, Path]:
    """write_renode_files for the fixture firmware, as compile calls it (budget: 3/2 of the worst)."""
    out = firmware.parent.parent
    paths = write_renode_files(out, load_board(BOARD), "tiny kws", "build/firmware.elf",
                               output_checksums(builtin.outputs), 3 * max(builtin.instructions) // 2, samples)
    return {path.name: path for path in paths}


# ---------------------------------------------------------------------------- the stand-in

_UC_CPUS = {"cortex-m0+": "CORTEX_M0", "cortex-m4": "CORTEX_M4", "cortex-m7": "CORTEX_M7", "cortex-m33": "CORTEX_M33"}
_ENTRY = re.compile(r"^(\w+): ([\w.]+) @ (.+)$")


def _system_module() -> types.ModuleType:
    """The parts of .NET's System namespace the hooks use."""
    system = types.ModuleType("System")
    system.BitConverter = types.SimpleNamespace(ToString=lambda data: "-".join(f"{b:02X}" for b in data))
    system.IO = types.SimpleNamespace(File=types.SimpleNamespace(
        WriteAllBytes=lambda path, data: Path(path).write_bytes(bytes(data))))
    return system


class _Bus:
    """machine.SystemBus: IronPython converts a Python int to uint only when it fits."""

    def __init__(self, uc: unicorn.Uc):
        self.uc = uc

    def ReadDoubleWord(self, address: int) -> int:  # noqa: N802 (Renode's API names)
        return int.from_bytes(self.uc.mem_read(address, 4), "little")

    def WriteDoubleWord(self, address: int, value: int) -> None:  # noqa: N802
        if not 0 <= value < 1 << 32:
            raise OverflowError(f"{value} does not fit the uint of WriteDoubleWord")
        self.uc.mem_write(address, value.to_bytes(4, "little"))

    def ReadBytes(self, address: int, count: int, only_memory: bool) -> bytes:  # noqa: N802
        assert only_memory is False  # the hooks name the (address, count, onlyMemory) overload
        return bytes(self.uc.mem_read(address, count))

    def WriteBytes(self, data: bytes, address: int) -> None:  # noqa: N802
        self.uc.mem_write(address, bytes(data))


class RenodeStandIn:
    """Runs a tinyedge Renode script: the monitor commands it uses, the CPU on Unicorn."""

    def __init__(self) -> None:
        self.variables: dict[str, str] = {}
        self.hooks: dict[int, list[tuple[types.CodeType, dict]]] = {}
        self.log: list[str] = []
        self.console = bytearray()
        self.console_file: Path | None = None
        self.count = 0  # ExecutedInstructions
        self.mips = 100
        self.vtor = 0
        self.quit = False
        self.platform = ""
        self.uc: unicorn.Uc | None = None
        self._shadow: set[int] = set()
        self.tags: dict[int, int] = {}  # address -> what a read there gives (sysbus Tag)
        self.interrupt_hooks: dict[str, types.CodeType] = {}
        self.unhandled: list[int] = []  # pages accessed outside every memory, in order
        self._limit = 0
        self._until: Callable[[], bool] = lambda: False
        self.cpu = types.SimpleNamespace(InfoLog=self._info, IsHalted=False)

    # -- the monitor
    def include(self, script: Path) -> None:
        lines = script.read_text().splitlines()
        i = 0
        while i < len(lines) and not self.quit:
            line = lines[i].strip()
            i += 1
            if not line or line.startswith("#"):
                continue
            if line.startswith("set "):  # set <name>, then the value in a """ block
                assert lines[i] == '"""', f"`{line}` must be followed by a \"\"\" block"
                end = lines.index('"""', i + 1)
                self.variables[line.split()[1]] = "\n".join(lines[i + 1:end]) + "\n"
                i = end + 1
                continue
            self.command(line, script.parent)

    def path(self, token: str, origin: Path) -> Path:
        if token.startswith("$ORIGIN/"):
            return (origin / token.removeprefix("$ORIGIN/")).resolve()
        if token.startswith("@"):
            return Path(token[1:])
        if token.startswith("$"):
            return self.path(self.variables[token[1:]], origin)
        raise AssertionError(f"not a path: {token}")

    def command(self, line: str, origin: Path) -> None:
        words = shlex.split(line)
        if words[0].startswith("$"):  # $name=value, or $name?=value (only if unset)
            name, _, value = words[0][1:].partition("=")
            if not (name.endswith("?") and name[:-1] in self.variables):
                self.variables[name.rstrip("?")] = "@" + str(self.path(value, origin))
            return
        match words:
            case ["mach", "create", _]:
                pass
            case ["machine", "LoadPlatformDescription", path]:
                self.load_platform(self.path(path, origin))
            case ["sysbus", "LoadELF", path]:
                for chunk in load_image(self.path(path, origin)).chunks:
                    self.uc.mem_write(chunk.address, chunk.data)
            case ["sysbus", "LoadBinary", path, address]:
                self.uc.mem_write(int(address, 0), self.path(path, origin).read_bytes())
            case ["sysbus", "Tag", start, size, _name, value] if start.startswith("<") and size.endswith(">"):
                for offset in range(0, int(size[:-1], 0), 4):
                    self.tags[int(start[1:], 0) + offset] = int(value, 0)
            case ["sysbus.cpu", "VectorTableOffset", address]:
                self.vtor = int(address, 0)
            case ["sysbus.cpu", "PerformanceInMips", mips]:
                self.mips = int(mips)
            case ["sysbus.cpu", "AddHookAtInterruptBegin" | "AddHookAtInterruptEnd" as when, code]:
                self.interrupt_hooks[when] = compile(code, "hook", "exec")  # Unicorn raises no interrupts here
            case ["sysbus.cpu", "AddHook", address, code]:
                source = self.variables[code[1:]] if code.startswith("$") else code
                self.hooks.setdefault(int(address, 0), []).append((compile(source, "hook", "exec"), {}))
            case ["sysbus.cpu.uartSemihosting", "CreateFileBackend", path, "true"]:
                self.console_file = self.path(path, origin)
                self.console_file.write_bytes(b"")
            case ["emulation", "RunFor", seconds]:
                self.run(int(float(seconds) * self.mips * 1_000_000))
            case ["quit"]:
                self.quit = True
            case _:
                raise AssertionError(f"the stand-in does not know this monitor command: {line}")

    def load_platform(self, path: Path) -> None:
        text = self.platform = path.read_text()
        statements = "\n".join(line for line in text.splitlines() if not line.startswith("//"))
        assert "ApplySVD" not in statements and "http" not in statements
        entries: list[tuple[str, str, str, dict[str, str]]] = []
        for line in text.splitlines():
            if line.startswith("//") or not line.strip():
                continue
            match = _ENTRY.match(line)
            if match:
                entries.append((*match.groups(), {}))
            elif line.startswith("    ") and ":" in line:
                key, value = line.strip().split(":", 1)
                entries[-1][3][key] = value.strip().strip('"')
        cpu = next(e for e in entries if e[1] == "CPU.CortexM")
        self.uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
        self.uc.ctl_set_cpu_model(getattr(unicorn.arm_const, f"UC_CPU_ARM_{_UC_CPUS[cpu[3]['cpuType']]}"))
        self.uc.mem_map(0xE000_0000, 0x10_0000)  # NVIC/SCB and DWT: plain memory is enough here
        for name, kind, where, attributes in entries:
            if kind == "Memory.MappedMemory":
                for address in re.findall(r"sysbus (0x[0-9A-Fa-f]+)", where):
                    self.uc.mem_map(int(address, 16), -(-int(attributes["size"], 16) // 0x1000) * 0x1000)
            elif kind == "UART.SemihostingUart":
                assert (name, where) == (CONSOLE, "cpu")
        self.uc.hook_add(unicorn.UC_HOOK_CODE, self._on_code)
        self.uc.hook_add(unicorn.UC_HOOK_INTR, self._on_interrupt)
        self.uc.hook_add(unicorn.UC_HOOK_MEM_READ_UNMAPPED | unicorn.UC_HOOK_MEM_WRITE_UNMAPPED, self._on_unhandled)
        self.machine = types.SimpleNamespace(SystemBus=_Bus(self.uc))

    # -- the CPU
    def run(self, limit: int, until: Callable[[], bool] = lambda: False) -> None:
        self._limit, self._until = limit, until
        sp, pc = (int.from_bytes(self.uc.mem_read(self.vtor + 4 * i, 4), "little") for i in range(2))
        self.uc.reg_write(UC_ARM_REG_SP, sp)
        self.uc.emu_start(pc | 1, 0xFFFF_FFF0)

    def _info(self, message: str) -> None:
        self.log.append(f"{time.strftime('%H:%M:%S')}.0000 [INFO] cpu: {message}")

    def _on_code(self, uc: unicorn.Uc, address: int, size: int, _data: object) -> None:
        for code, scope in self.hooks.get(address, ()):
            scope.update(self=self.cpu, cpu=self.cpu, machine=self.machine, pc=address)
            self.cpu.ExecutedInstructions = self.count
            exec(code, scope)
        if self.cpu.IsHalted or self._until() or self.count >= self._limit:
            uc.emu_stop()
            return
        if address in self._shadow:  # counted with its IT instruction
            return
        self._shadow = set()
        self.count += 1
        halfword = int.from_bytes(uc.mem_read(address, 2), "little")
        if halfword & 0xFF00 == 0xBF00 and halfword & 0xF:  # IT: the block issues 4 - ctz(mask) instructions
            mask = halfword & 0xF
            following = 4 - (mask & -mask).bit_length() + 1
            at = address + 2
            for _ in range(following):
                self._shadow.add(at)
                at += 4 if int.from_bytes(uc.mem_read(at, 2), "little") >> 11 in (0b11101, 0b11110, 0b11111) else 2
            self.count += following

    def _on_unhandled(self, uc: unicorn.Uc, _access: int, address: int, _size: int, _value: int,
                      _data: object) -> bool:
        """Renode's bus ignores the access; here the page is mapped once, and every read in it is
        given its tag's value (or 0) first, so nothing written there is ever read back."""
        page = address & ~0xFFF
        self.unhandled.append(page)
        uc.mem_map(page, 0x1000)
        uc.hook_add(unicorn.UC_HOOK_MEM_READ, self._on_unhandled_read, begin=page, end=page + 0xFFF)
        return True

    def _on_unhandled_read(self, uc: unicorn.Uc, _access: int, address: int, size: int, _value: int,
                           _data: object) -> None:
        word = address & ~3
        uc.mem_write(word, self.tags.get(word, 0).to_bytes(4, "little"))

    def _on_interrupt(self, uc: unicorn.Uc, intno: int, _data: object) -> None:
        pc = uc.reg_read(UC_ARM_REG_PC)
        assert intno == 7 and int.from_bytes(uc.mem_read(pc, 2), "little") == 0xBEAB, f"exception {intno} at {pc:#x}"
        operation, argument = uc.reg_read(UC_ARM_REG_R0), uc.reg_read(UC_ARM_REG_R1)
        text = b""
        if operation == 0x04:  # SYS_WRITE0
            while (byte := bytes(uc.mem_read(argument + len(text), 1))) != b"\0":
                text += byte
        elif operation == 0x03:  # SYS_WRITEC
            text = bytes(uc.mem_read(argument, 1))
        self.console += text
        if self.console_file is not None:
            with open(self.console_file, "ab") as stream:
                stream.write(text)
        uc.reg_write(UC_ARM_REG_R0, 0)  # Renode 1.15: 0 for every operation, SYS_READ and SYS_OPEN included
        uc.reg_write(UC_ARM_REG_PC, (pc + 2) | 1)


@pytest.fixture
def stand_in(monkeypatch) -> Callable[[], RenodeStandIn]:
    """Put the stand-in where the backend starts Renode; returns the last stand-in used."""
    monkeypatch.setitem(sys.modules, "System", _system_module())
    made: list[RenodeStandIn] = []

    def run(binary: str, script: Path, wall_seconds: float, temp_dir: Path) -> tuple[str, float, float]:
        assert temp_dir.is_dir() and not any(temp_dir.iterdir()) and temp_dir.parent == script.parent
        started = time.perf_counter()
        made.append(RenodeStandIn())
        made[-1].include(script)
        return "\n".join(made[-1].log) + "\n", started, time.perf_counter()

    monkeypatch.setattr(renode_backend, "run_renode", run)
    monkeypatch.setattr(renode_backend, "renode_binary", lambda: "renode")
    return lambda: made[-1]


# ---------------------------------------------------------------------------- the backend

def test_backend_measures_each_inference_and_layer_as_the_builtin_emulator_does(stand_in, firmware, samples,
                                                                               builtin):
    result = renode_backend.simulate(firmware, load_board(BOARD), samples, budget=10_000_000, expected_layers=LAYERS)
    assert result.outputs == builtin.outputs
    assert result.instructions == builtin.instructions
    assert result.counter == "renode"
    # tinyedge's core model, not Renode's one-cycle-per-instruction virtual time
    assert result.samples == builtin.samples and result.cycles == builtin.cycles
    assert result.cycle_model == builtin.cycle_model and "renode" not in result.cycle_model.lower()
    assert result.cycles != tuple(float(n) for n in builtin.instructions)
    assert result.console == builtin.console
    assert result.layers_sample == builtin.layers_sample
    assert result.layers == result.samples[result.layers_sample].layers
    assert result.total_instructions > sum(result.instructions)
    assert 0 < result.stack_bytes <= builtin.stack_bytes
    assert stand_in().mips == 64 and "cortex-m4" in stand_in().platform


@pytest.mark.parametrize("name", sorted(CPU_TYPES))
def test_backend_agrees_with_the_builtin_emulator_on_every_renode_board(stand_in, build_for, samples, name):
    elf, board = build_for(name), load_board(name)
    reference = simulate(elf, board, samples, expected_layers=LAYERS)
    result = renode_backend.simulate(elf, board, samples, budget=10_000_000, expected_layers=LAYERS)
    assert result.outputs == reference.outputs == tuple(reference_output(s) for s in samples)
    assert [[layer.instructions for layer in s.layers] for s in result.samples] == \
        [[layer.instructions for layer in s.layers] for s in reference.samples]
    assert f'cpuType: "{CPU_TYPES[name]}"' in stand_in().platform
    assert (result.cycles, result.cycle_model) == (reference.cycles, reference.cycle_model)
    # outside the board's memories the firmware touched only registers its [setup] names (tagged)
    assert set(stand_in().unhandled) <= {tag.address & ~0xFFF for tag in renode_board(board).tags}


def test_backend_gives_no_cycles_when_renode_and_the_builtin_emulator_count_differently(stand_in, firmware,
                                                                                        samples, builtin,
                                                                                        monkeypatch):
    """The cycle model prices the built-in emulator's profile only if it ran the instructions Renode counted."""
    first = builtin.samples[0]
    layer = dataclasses.replace(first.layers[1], instructions=first.layers[1].instructions + 1)
    skewed = dataclasses.replace(first, layers=(first.layers[0], layer, *first.layers[2:]))
    off_by_one = dataclasses.replace(builtin, samples=(skewed, *builtin.samples[1:]))
    monkeypatch.setattr(renode_backend, "simulate_builtin", lambda *args, **kwargs: off_by_one)
    with pytest.raises(TinyEdgeError, match=rf"Renode and the built-in emulator executed different instructions .*"
                                            rf"sample 0, layer 1: Renode counted {first.layers[1].instructions:,} "
                                            rf"instructions, the built-in emulator "
                                            rf"{first.layers[1].instructions + 1:,}.*no cycles"):
        renode_backend.simulate(firmware, load_board(BOARD), samples, budget=10_000_000, expected_layers=LAYERS)


def test_backend_reports_a_firmware_that_runs_past_the_budget_as_a_hang(stand_in, firmware, samples):
    with pytest.raises(TinyEdgeError, match=r"firmware hang in Renode: it did not finish within 3,000 instructions"):
        renode_backend.simulate(firmware, load_board(BOARD), samples, budget=3_000)


def test_backend_refuses_a_model_with_another_layer_count(stand_in, firmware, samples):
    with pytest.raises(TinyEdgeError, match="3 call sites but the model has 4 layers"):
        renode_backend.simulate(firmware, load_board(BOARD), samples, budget=10_000_000, expected_layers=4)


def test_backend_refuses_samples_of_the_wrong_size(stand_in, firmware):
    with pytest.raises(TinyEdgeError, match="input sample 0 has 15 bytes; the firmware's te_input holds 16"):
        renode_backend.simulate(firmware, load_board(BOARD), [bytes(15)], budget=10_000_000)


@pytest.mark.parametrize("name", NOT_IN_RENODE)
def test_boards_renode_cannot_run_are_refused_with_the_reason_their_board_file_gives(name):
    board = load_board(name)
    reason = board.emulator.renode_unsupported
    assert reason and "semihosting" in reason
    with pytest.raises(TinyEdgeError, match=rf"Renode 1.15 cannot run board {name}'s firmware: {re.escape(reason)} "
                                            rf"\(emulator.renode_unsupported in {name}.toml\); use --backend builtin"):
        renode_board(board)
    assert not runs_in_renode(board)


def test_a_board_no_emulator_runs_is_refused_by_renode_too():
    with pytest.raises(TinyEdgeError, match="board esp32 is not emulated here .*drop --backend"):
        renode_board(load_board("esp32"))


def test_every_emulated_cortex_m_board_runs_in_renode_with_or_without_an_upstream_platform():
    running = [name for name in list_boards() if runs_in_renode(load_board(name))]
    assert running == sorted(CPU_TYPES)
    assert load_board("rp2040").emulator.renode_platform is None  # upstream Renode has none
    emulated = [name for name in list_boards() if load_board(name).emulated]
    assert sorted(emulated) == sorted([*CPU_TYPES, *NOT_IN_RENODE])


def test_renode_is_found_on_path_or_through_renode_bin(monkeypatch, tmp_path):
    fake = tmp_path / "my-renode"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(renode_backend.RENODE_BIN, raising=False)
    assert not renode_backend.available()
    (tmp_path / "renode").symlink_to(fake)
    assert renode_backend.renode_binary() == str(tmp_path / "renode")
    monkeypatch.setenv(renode_backend.RENODE_BIN, str(fake))
    assert renode_backend.renode_binary() == str(fake) and renode_backend.available()
    monkeypatch.setenv(renode_backend.RENODE_BIN, str(tmp_path / "missing"))
    assert not renode_backend.available()
    with pytest.raises(TinyEdgeError, match="RENODE_BIN=.*missing is not an executable"):
        renode_backend.simulate(tmp_path / "fw.elf", load_board(BOARD), [bytes(16)], budget=1000)


# ---------------------------------------------------------------------------- starting and stopping Renode

def _fake_renode(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "fake-renode"
    script.write_text(f"#!/bin/sh\necho $$ > {tmp_path}/pid\nprintf '%s\\n' \"$@\" > {tmp_path}/argv\n{body}\n")
    script.chmod(0o755)
    return script


@pytest.mark.skipif(os.name != "posix", reason="the stand-in Renode is a shell script")
def test_renode_runs_headless_and_is_stopped_at_the_final_line(tmp_path):
    fake = _fake_renode(tmp_path, f'echo "12:00:00.0001 [INFO] cpu: {MARKER} begin 0 10"\n'
                                  f'echo "12:00:00.0002 [INFO] cpu: {MARKER} exit 99"\nexec sleep 60')
    script = tmp_path / "board.resc"
    started = time.monotonic()
    text, first, final = renode_backend.run_renode(str(fake), script, wall_seconds=30, temp_dir=tmp_path)
    assert time.monotonic() - started < 15
    assert f"{MARKER} exit 99" in text and first is not None and final is not None and first <= final
    assert (tmp_path / "argv").read_text().split("\n")[:5] == [
        "--disable-xwt", "--console", "--plain", "-e", f"include @{script}"]
    with pytest.raises(ProcessLookupError):
        os.kill(int((tmp_path / "pid").read_text()), 0)


@pytest.mark.skipif(os.name != "posix", reason="the stand-in Renode is a shell script")
def test_renode_that_never_finishes_is_stopped_after_the_wall_time(tmp_path):
    fake = _fake_renode(tmp_path, "exec sleep 60")
    with pytest.raises(TinyEdgeError, match="Renode did not finish within 1 s"):
        renode_backend.run_renode(str(fake), tmp_path / "board.resc", wall_seconds=1, temp_dir=tmp_path)


@pytest.mark.skipif(os.name != "posix", reason="the stand-in Renode is a shell script")
def test_renode_runs_with_a_private_tmpdir_so_its_start_up_sweep_deletes_nobodys_folders(stand_in, firmware,
                                                                                        samples, tmp_path,
                                                                                        monkeypatch):
    """Renode 1.15 deletes every $TMPDIR/renode-* folder no running process owns when it starts
    (TemporaryFilesManager.Cleanup); the fake below does that sweep, then stands in as before."""
    shared = tmp_path / "shared-tmp"
    other = shared / "renode-4242"  # another Renode's (or a user's) folder in the shared temp folder
    other.mkdir(parents=True)
    (other / "keep.txt").write_text("not Renode's to delete")
    monkeypatch.setenv("TMPDIR", str(shared))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    swept_in: list[str] = []
    run_stand_in = renode_backend.run_renode

    def sweeping(binary: str, script: Path, wall_seconds: float, temp_dir: Path) -> tuple[str, float, float]:
        env = renode_backend.private_environment(temp_dir)
        sweep = subprocess.run(["sh", "-c", 'rm -rf "$TMPDIR"/renode-*; echo "$TMPDIR"'], env=env,
                               capture_output=True, text=True, check=True)
        swept_in.append(sweep.stdout.strip())
        assert env["TMP"] == env["TEMP"] == env["TMPDIR"]
        return run_stand_in(binary, script, wall_seconds, temp_dir)

    monkeypatch.setattr(renode_backend, "run_renode", sweeping)
    renode_backend.simulate(firmware, load_board(BOARD), samples, budget=10_000_000, expected_layers=LAYERS)
    assert (other / "keep.txt").read_text() == "not Renode's to delete"
    assert len(swept_in) == 1 and Path(swept_in[0]).parent.parent == shared.resolve()
    assert Path(swept_in[0]).parent.name.startswith("tinyedge-renode-")  # tinyedge's folder is never renode-*
    assert not Path(swept_in[0]).exists()  # removed with the scratch folder
    assert sorted(p.name for p in shared.iterdir()) == ["renode-4242"]


# ---------------------------------------------------------------------------- Renode's log

# Renode's log, recorded from a real Renode 1.15.3 (renode/renode at tag v1.15.3, built from
# source; it reports "version 1.15.3.247 (03756cb5-...)") on 2026-12-05, as tinyedge's backend
# runs it: `renode --disable-xwt --console --plain -e "include @<scratch>/nrf52840.resc"`, with a
# private TMPDIR, on this file's MODEL_C firmware for nrf52840 and the `samples` fixture (three
# inferences of 593 instructions: layers 123, 421, 49, as the built-in emulator counts them).
# Only the marker is written as {MARKER}, and one long line is continued with a backslash; the
# rest is Renode's output as it came.
RECORDED_LOG = f"""\
00:16:04.1753 [INFO] Loaded monitor commands from: /work/renode-build/src/scripts/monitor.py
Renode, version 1.15.3.247 (03756cb5-202612050008)


(monitor) include @/work/renode-build/pytest-tmp/tinyedge-renode-dktu0q44/nrf52840.resc

00:16:04.3537 [INFO] Including script: /work/renode-build/pytest-tmp/tinyedge-renode-dktu0q44/nrf52840.resc
00:16:04.4211 [INFO] System bus created.
00:16:07.0302 [INFO] sysbus: Loading segment of 2512 bytes length at 0x0.
00:16:07.0557 [INFO] sysbus: Loading segment of 48 bytes length at 0x9D0.
00:16:09.0383 [INFO] cpu: Setting initial values: PC = 0x10D, SP = 0x20040000.
00:16:09.0508 [INFO] tinyedge-nrf52840: Machine started.
00:16:09.2890 [WARNING] sysbus: [cpu: 0x1FA] (tag: 'CACHEEN: instruction cache on (profiling off)') \
WriteDoubleWord to non existing peripheral at 0x4001E540, value 0x1.
00:16:09.2948 [WARNING] nvic: Unhandled read from offset 0xDFC.
00:16:09.2954 [WARNING] nvic: Unhandled write to offset 0xDFC, value 0x1000000.
00:16:09.3012 [WARNING] dwt: Unhandled write to offset 0xFB0, value 0xC5ACCE55.
00:16:09.6208 [INFO] cpu: {MARKER} begin 0 273
00:16:09.6328 [INFO] cpu: {MARKER} layer 0 277
00:16:09.6452 [INFO] cpu: {MARKER} layer 1 396
00:16:09.6500 [INFO] cpu: {MARKER} layer 2 817
00:16:09.7028 [INFO] cpu: {MARKER} end 866 14-14-14-14
00:16:09.7161 [INFO] cpu: {MARKER} begin 1 1902
00:16:09.7358 [INFO] cpu: {MARKER} layer 0 1906
00:16:09.7358 [INFO] cpu: {MARKER} layer 1 2025
00:16:09.7359 [INFO] cpu: {MARKER} layer 2 2446
00:16:09.7361 [INFO] cpu: {MARKER} end 2495 F5-F3-F1-F0
00:16:09.7364 [INFO] cpu: {MARKER} begin 2 3554
00:16:09.7368 [INFO] cpu: {MARKER} layer 0 3558
00:16:09.7369 [INFO] cpu: {MARKER} layer 1 3677
00:16:09.7436 [INFO] cpu: {MARKER} layer 2 4098
00:16:09.7437 [INFO] cpu: {MARKER} end 4147 14-14-14-14
00:16:09.7452 [INFO] cpu: {MARKER} end-of-input 5206
"""


def test_log_parsing_reads_the_hook_events_out_of_renodes_log():
    log = renode_backend.parse_log(RECORDED_LOG)
    assert [(s.index, s.begin, s.marks, s.end, s.output) for s in log.samples] == [
        (0, 273, [(0, 277), (1, 396), (2, 817)], 866, bytes([0x14] * 4)),
        (1, 1902, [(0, 1906), (1, 2025), (2, 2446)], 2495, bytes([0xF5, 0xF3, 0xF1, 0xF0])),
        (2, 3554, [(0, 3558), (1, 3677), (2, 4098)], 4147, bytes([0x14] * 4))]
    assert (log.outcome, log.final_count, log.reports, log.fatal) == ("end-of-input", 5206, [], None)
    assert [line for line in RECORDED_LOG.splitlines() if renode_backend.is_final(line)] == [
        f"00:16:09.7452 [INFO] cpu: {MARKER} end-of-input 5206"]
    assert len(log.errors) == 0  # Renode's warnings (the tagged set-up register, NVIC, DWT) are no errors


def test_the_recorded_run_splits_into_the_layers_the_builtin_emulator_counts(firmware, samples):
    """The recorded counts, split as build_result splits them: 123 + 421 + 49 per inference."""
    log = renode_backend.parse_log(RECORDED_LOG)
    outputs = [s.output for s in log.samples]
    console = "".join(f"tinyedge: sample={i} cycles=0 checksum={zlib.crc32(o):08x}\n" for i, o in enumerate(outputs))
    measured = _result_from(RECORDED_LOG, console, firmware, samples)
    assert measured.instructions == (593, 593, 593)
    assert measured.layers == ((123, 421, 49),) * 3
    assert measured.outputs == tuple(reference_output(s) for s in samples)


def _result_from(log_text: str, console: str, firmware: Path,
                 samples: list[bytes]) -> renode_backend.RenodeMeasurement:
    board = load_board(BOARD)
    facts = firmware_facts(firmware)
    timing = renode_backend.Timing(0.0, 1.0, 2.0)
    dump = bytes([renode_backend.STACK_PAINT]) * renode_backend.paint_region(facts, board)[1]
    return renode_backend.build_result(board, facts, samples, renode_backend.parse_log(log_text), console, dump,
                                       budget=10**6, timing=timing)


def _log(*events: str) -> str:
    return "".join(f"12:00:00.0000 [INFO] cpu: {MARKER} {event}\n" for event in events)


def test_layers_split_each_inference_at_the_kernel_calls_and_add_up(firmware):
    outputs = [bytes([1, 2, 3, 4]), bytes([5, 6, 7, 8])]
    console = "".join(f"tinyedge: sample={i} cycles=0 checksum={zlib.crc32(o):08x}\n" for i, o in enumerate(outputs))
    text = _log("begin 0 100", "layer 0 104", "layer 1 150", "layer 2 190", "end 200 01-02-03-04",
                "begin 1 300", "layer 0 304", "layer 1 380", "layer 2 420", "end 430 05-06-07-08", "end-of-input 500")
    result = _result_from(text, console, firmware, [bytes(16)] * 2)
    assert result.instructions == (100, 130)
    assert result.layers == ((50, 40, 10), (80, 40, 10))
    assert result.outputs == tuple(outputs) and result.total_instructions == 500


def test_interrupt_handlers_are_counted_apart_from_the_layer_they_interrupted(firmware):
    """Renode runs the SysTick wrap handler (rp2040: 5 instructions about every 2^24); the built-in
    emulator raises no interrupts, so the firmware's own counts leave the handler out."""
    outputs = [bytes([1, 2, 3, 4])]
    console = f"tinyedge: sample=0 cycles=0 checksum={zlib.crc32(outputs[0]):08x}\n"
    text = _log("irq-begin 40", "irq-end 45", "begin 0 100", "layer 0 104", "layer 1 150", "irq-begin 170",
                "irq-begin 172", "irq-end 180", "irq-end 185", "layer 2 190", "end 200 01-02-03-04", "end-of-input 300")
    log = renode_backend.parse_log(text)
    assert log.samples[0].interrupts == [(170, 15)]  # the nested one inside, the one before the inference out
    measured = _result_from(text, console, firmware, [bytes(16)])
    assert measured.instructions == (85,) and measured.layers == ((50, 25, 10),) and measured.interrupts == (15,)
    assert renode_backend.counter_description(measured) == (
        "renode (interrupt handlers ran 15 instructions during the inferences, counted apart: the built-in emulator "
        "raises no interrupts)")
    quiet = _result_from(_log("begin 0 100", "end 200 01-02-03-04", "end-of-input 300"), console, firmware,
                         [bytes(16)])
    assert renode_backend.counter_description(quiet) == "renode"


def test_a_firmware_error_in_renode_is_reported_with_its_console(firmware):
    console = "tinyedge: error=cannot open input.bin\n"
    with pytest.raises(TinyEdgeError, match=r"firmware error in Renode; console: 'tinyedge: error=cannot open "
                                            r"input.bin'.*differently from Renode 1.15"):
        _result_from(_log("fail 90", "exit 180"), console, firmware, [bytes(16)])


def test_a_python_error_in_a_hook_is_reported_as_renode_printed_it(firmware):
    text = _log("begin 0 100") + "12:00:00.0001 [ERROR] cpu: Python runtime error: name 'bus' is not defined\n"
    with pytest.raises(TinyEdgeError, match="Renode reported: .*Python runtime error: name 'bus' is not defined"):
        _result_from(text, "", firmware, [bytes(16)])


def test_output_the_hook_read_must_match_the_checksum_the_firmware_printed(firmware):
    console = "tinyedge: sample=0 cycles=0 checksum=00000000\n"
    with pytest.raises(TinyEdgeError, match="sample 0: the output Renode's hook read from te_output has CRC-32 "
                                            f"{zlib.crc32(bytes([1, 2, 3, 4])):08x} but the firmware printed 00000000"):
        _result_from(_log("begin 0 100", "end 200 01-02-03-04", "end-of-input 300"), console, firmware, [bytes(16)])


def test_an_inference_that_never_ends_is_a_hang(firmware):
    with pytest.raises(TinyEdgeError, match=r"firmware hang in Renode: .* \(after 1 inferences"):
        _result_from(_log("begin 0 100", "layer 0 104"), "", firmware, [bytes(16)])


# ---------------------------------------------------------------------------- the files compile writes

def test_compile_writes_platform_script_samples_and_suite_under_renode(written, samples):
    assert sorted(written) == ["nrf52840.repl", "nrf52840.resc", "tiny_kws-inputs.bin", "tiny_kws.robot"]
    assert all(path.parent.name == "renode" for path in written.values())
    assert written["tiny_kws-inputs.bin"].read_bytes() == bytes(STAGING_HEADER) + b"".join(samples)


def test_platform_is_the_boards_core_and_memory_map_and_needs_no_network(written):
    text = written["nrf52840.repl"].read_text()
    statements = [line for line in text.splitlines() if not line.startswith("//")]
    assert not any("ApplySVD" in line or "http" in line for line in statements)  # loads offline
    assert "platforms/cpus/nrf52840.repl" in text  # names the upstream platform it stands for
    for line in ('cpu: CPU.CortexM @ sysbus', 'cpuType: "cortex-m4"', "nvic: IRQControllers.NVIC @ sysbus 0xE000E000",
                 "flash: Memory.MappedMemory @ sysbus 0x00000000", "size: 0x100000",
                 "ram: Memory.MappedMemory @ sysbus 0x20000000", "size: 0x40000",
                 "dwt: Miscellaneous.DWT @ sysbus 0xE0001000", "frequency: 64000000",
                 f"{CONSOLE}: UART.SemihostingUart @ cpu", "tinyedgeStaging: Memory.MappedMemory @ sysbus 0x70000000"):
        assert line in text.splitlines() or f"    {line}" in text.splitlines(), line


@pytest.mark.parametrize("name", sorted(CPU_TYPES))
def test_each_renode_board_gets_its_cpu_type_and_every_memory(name, firmware, samples):
    board = load_board(name)
    files, _ = plan_files(renode_board(board), firmware_facts(firmware), "m", samples, "$ORIGIN/fw.elf")
    text = render_platform(files)
    assert f'    cpuType: "{CPU_TYPES[name]}"' in text.splitlines()
    upstream = board.emulator.renode_platform
    assert (f"Renode's {upstream}" in text) if upstream else ("Upstream Renode has no platform for this chip" in text)
    for region in board.memories:
        if region.alias_of is None:
            assert re.search(rf"^{region.name}: Memory.MappedMemory @ .*sysbus 0x{region.origin:08X}", text, re.M)
            assert f"    size: 0x{region.length:X}" in text
        else:
            aliased = board.region(region.alias_of)
            assert (f"{aliased.name}: Memory.MappedMemory @ {{ sysbus 0x{aliased.origin:08X}; "
                    f"sysbus 0x{region.origin:08X} }}") in text, region
    staging = files.staging
    assert all(staging + files.staging_size <= m.origin or m.end <= staging for m in board.memories)


def test_script_loads_the_offline_platform_the_elf_and_the_samples_and_hooks_the_markers(written, firmware):
    text = written["nrf52840.resc"].read_text()
    lines = text.splitlines()
    image, facts = load_image(firmware), firmware_facts(firmware)
    for line in ("$bin?=$ORIGIN/../build/firmware.elf", "machine LoadPlatformDescription $ORIGIN/nrf52840.repl",
                 "sysbus LoadELF $bin", "sysbus LoadBinary $ORIGIN/tiny_kws-inputs.bin 0x70000000",
                 "sysbus.cpu VectorTableOffset 0x00000000", "sysbus.cpu PerformanceInMips 64",
                 f"sysbus.cpu AddHook 0x{image.symbols['te_inference_begin']:08X} $tinyedge_begin",
                 f"sysbus.cpu AddHook 0x{image.symbols['te_inference_end']:08X} $tinyedge_end"):
        assert line in lines, line
    for name in ("te_exit", "te_fail", "te_fault"):
        assert any(line.startswith(f"sysbus.cpu AddHook 0x{image.symbols[name]:08X} ") for line in lines), name
    starts = [int(m, 16) for m in re.findall(r"AddHook (0x\w+) .*layer \d", text)]
    assert starts == list(facts.layer_starts) and len(starts) == len(facts.call_sites) == LAYERS
    invoke = image.function("tinyedge_model_invoke")
    assert starts[0] == invoke.address  # then each layer starts right after the previous kernel call
    assert all(previous < start <= site for previous, start, site in zip(facts.call_sites, starts[1:],
                                                                         facts.call_sites[1:]))
    assert f"0x{facts.input_address:08X})" in text and f"ReadBytes(0x{facts.output_address:08X}, 4, False)" in text
    assert not any(line.split()[:1] in (["start"], ["quit"], ["emulation"]) for line in lines)  # the caller runs it


# tinyedge_model_invoke laid across a 1 KB translation page: a 32-bit instruction that would
# cross the page gets a block of its own in the built-in emulator.
PAGE_CROSSING_CALLER = """
    bl tinyedge_model_invoke
"""
PAGE_CROSSING_INVOKE = """
    .balign 1024
    .space 0x3F0
    .thumb_func
    .type tinyedge_model_invoke, %function
tinyedge_model_invoke:
    push {r4, lr}
    bl layer_a
    movs r1, #2
    movs r2, #3
    movs r3, #4
    movs r4, #5
    movw r5, #6
    movs r0, #7
    bl layer_b
    movs r0, #8
    bl layer_c
    pop {r4, pc}
    .size tinyedge_model_invoke, . - tinyedge_model_invoke
    .thumb_func
layer_a:
    bx lr
    .thumb_func
layer_b:
    bx lr
    .thumb_func
layer_c:
    bx lr
"""


def test_layer_starts_are_the_builtin_emulators_block_starts_across_a_page_boundary(thumb_program, m4_board):
    elf = thumb_program(PAGE_CROSSING_CALLER, PAGE_CROSSING_INVOKE)
    image = load_image(elf)
    sites = image.call_sites("tinyedge_model_invoke")
    invoke = image.function("tinyedge_model_invoke").address
    assert invoke % 0x400 == 0x3F0 and len(sites) == 3
    emulation = Emulation(image, m4_board, b"", CycleModel(core_timing("cortex-m4"), "arm", 0, ()))
    emulation.run()
    blocks = emulation.counter.blocks()
    holding = [next(int(a) for a, s in zip(blocks.addresses, blocks.sizes) if int(a) <= site < int(a) + int(s))
               for site in sites]
    assert layer_starts(image, sites) == tuple(holding) == (invoke, invoke + 0x12, invoke + 0x18)


def test_hook_programs_are_python_of_the_language_renode_runs(written):
    text = written["nrf52840.resc"].read_text()
    programs = re.findall(r'^set \w+\n"""\n(.*?)^"""$', text, re.M | re.S)
    programs += [shlex.split(line)[-1] for line in text.splitlines() if line.startswith("sysbus.cpu AddHook 0x")]
    programs += [shlex.split(line)[-1] for line in text.splitlines() if line.startswith("sysbus.cpu AddHookAt")]
    # begin, end and te_exit (set blocks and references), layers, te_fail and te_fault, interrupt entry and return
    assert len(programs) == 3 + 3 + LAYERS + 2 + 2
    for program in programs:
        if not program.startswith("$"):
            compile(program, "hook", "exec")
            assert "#" not in program and '"' not in program and "$" not in program  # nothing the monitor reads


class _StagingBus:
    """A bus holding only the staging memory and te_input / te_output, for running the hooks alone."""

    def __init__(self, base: int, image: bytes, facts) -> None:
        self.base, self.memory = base, bytearray(image) + bytearray(4096)
        self.ram = {facts.input_address: bytearray(facts.input_bytes), facts.output_address: bytearray(b"\1\2\3\4")}

    def _at(self, address: int) -> tuple[bytearray, int]:
        if self.base <= address < self.base + len(self.memory):
            return self.memory, address - self.base
        start = next(a for a in self.ram if a <= address < a + len(self.ram[a]))
        return self.ram[start], address - start

    def ReadDoubleWord(self, address: int) -> int:  # noqa: N802 (Renode's API names)
        memory, offset = self._at(address)
        return int.from_bytes(memory[offset:offset + 4], "little")

    def WriteDoubleWord(self, address: int, value: int) -> None:  # noqa: N802
        memory, offset = self._at(address)
        memory[offset:offset + 4] = value.to_bytes(4, "little")

    def ReadBytes(self, address: int, count: int, only_memory: bool) -> bytes:  # noqa: N802
        memory, offset = self._at(address)
        return bytes(memory[offset:offset + count])

    def WriteBytes(self, data: bytes, address: int) -> None:  # noqa: N802
        memory, offset = self._at(address)
        memory[offset:offset + len(data)] = data


def test_hooks_count_an_end_only_after_its_begin_and_halt_the_cpu_at_the_end_of_the_input(written, firmware,
                                                                                          samples, monkeypatch):
    """The race Renode 1.15 showed: at the end of the input its semihosting read returns 0 and the
    firmware went on inferring; each extra te_inference_end measured from the last begin and
    raised the worst inference. Now the end of the input halts the CPU, and an end without its
    begin leaves the worst inference alone."""
    monkeypatch.setitem(sys.modules, "System", _system_module())
    text = written["nrf52840.resc"].read_text()
    programs = dict(re.findall(r'^set (\w+)\n"""\n(.*?)^"""$', text, re.M | re.S))
    facts = firmware_facts(firmware)
    base = 0x7000_0000
    bus = _StagingBus(base, written["tiny_kws-inputs.bin"].read_bytes(), facts)
    log: list[str] = []
    cpu = types.SimpleNamespace(InfoLog=log.append, IsHalted=False, ExecutedInstructions=0)

    def hook(name: str, count: int) -> None:
        cpu.ExecutedInstructions = count
        exec(compile(programs[name], name, "exec"), {"self": cpu, "cpu": cpu, "machine": types.SimpleNamespace(
            SystemBus=bus), "pc": 0})

    count = 1000
    for index in range(len(samples)):
        hook("tinyedge_begin", count)
        assert bus.ram[facts.input_address] == samples[index]
        hook("tinyedge_end", count + 100 + index)
        count += 1000
    assert bus.ReadDoubleWord(base + WORST) == 100 + len(samples) - 1
    hook("tinyedge_end", count + 50_000)  # an end with no begin before it: not an inference
    assert bus.ReadDoubleWord(base + WORST) == 100 + len(samples) - 1
    assert not cpu.IsHalted and bus.ReadDoubleWord(base + FINISHED) == 0
    hook("tinyedge_begin", count + 60_000)  # no sample left
    assert cpu.IsHalted and bus.ReadDoubleWord(base + FINISHED) == 1
    assert log[-1] == f"{MARKER} end-of-input {count + 60_000}"
    cpu.IsHalted = False
    hook("tinyedge_exit", count + 70_000)
    assert cpu.IsHalted and log[-1] == f"{MARKER} exit {count + 70_000}"


def test_suite_waits_for_each_reference_checksum_and_checks_the_budget(written, builtin):
    text = written["tiny_kws.robot"].read_text()
    assert "Resource            ${RENODEKEYWORDS}" in text
    assert "${RESC}             ${CURDIR}/nrf52840.resc" in text and "Execute Script            ${RESC}" in text
    assert "${ELF}              ${CURDIR}/../build/firmware.elf" in text
    assert f"${{UART}}             sysbus.cpu.{CONSOLE}" in text and "Create Terminal Tester    ${UART}" in text
    assert f"${{BUDGET}}           {3 * max(builtin.instructions) // 2}" in text
    assert "sysbus ReadDoubleWord ${WORST_ADDRESS}" in text and "sysbus.cpu ExecutedInstructions" in text
    assert f"${{WORST_ADDRESS}}    0x{0x7000_0000 + WORST:08X}" in text
    assert f"${{FINISHED_ADDRESS}}    0x{0x7000_0000 + FINISHED:08X}" in text
    assert "TMPDIR=$(mktemp -d) renode-test tiny_kws.robot" in text  # Renode sweeps renode-* in $TMPDIR
    # The worst inference is read only once the log says the input has ended (the CPU is halted then).
    budget_test = text[text.index("Every Inference Stays Within The Instruction Budget"):]
    assert "Create Log Tester         ${TIMEOUT}" in text
    assert budget_test.index("Wait For Log Entry        ${END_OF_INPUT}    treatAsRegex=true") < \
        budget_test.index("sysbus ReadDoubleWord ${FINISHED_ADDRESS}") < budget_test.index("${WORST_ADDRESS}")
    end_of_input = re.search(r"^\$\{END_OF_INPUT\}\s+(.*)$", text, re.M).group(1).replace("\\\\", "\\")
    assert re.search(end_of_input, f"{MARKER} end-of-input 123456")
    script = written["nrf52840.resc"].read_text()
    assert not any(re.search(end_of_input, line) for line in script.splitlines())  # not the script's own text
    patterns = re.findall(r"^    Wait For Line On Uart     (\S.*?)    treatAsRegex=true$", text, re.M)
    printed = builtin.console.splitlines()
    assert len(patterns) == len(printed) == 3
    for pattern, line, output in zip(patterns, printed, builtin.outputs):
        assert "=" not in pattern  # Robot would read `name=value` as a named argument
        regex = pattern.replace("\\\\", "\\")
        assert re.search(regex, line) and f"{zlib.crc32(output):08x}" in pattern
        assert not re.search(regex, line[:-8] + f"{zlib.crc32(output) ^ 1:08x}")


def test_suite_flow_passes_in_the_stand_in(written, builtin, monkeypatch):
    """What the suite does: run the script, wait for every console line, read the worst inference."""
    monkeypatch.setitem(sys.modules, "System", _system_module())
    suite = written["tiny_kws.robot"].read_text()
    waits = re.findall(r"Wait For Line On Uart     (\S.*?)    treatAsRegex", suite)
    patterns = [p.replace("\\\\", "\\") for p in waits]
    budget = int(re.search(r"^\$\{BUDGET\}\s+(\d+)$", suite, re.M).group(1))
    worst_address = int(re.search(r"^\$\{WORST_ADDRESS\}\s+(0x\w+)$", suite, re.M).group(1), 16)
    finished_address = int(re.search(r"^\$\{FINISHED_ADDRESS\}\s+(0x\w+)$", suite, re.M).group(1), 16)
    renode = RenodeStandIn()
    renode.include(written["nrf52840.resc"])
    renode.run(10_000_000)  # Start Emulation: it runs until the script halts the CPU
    assert renode.cpu.IsHalted and renode.count < 10_000_000
    lines = renode.console.decode().splitlines()
    assert all(re.search(p, line) for p, line in zip(patterns, lines)) and len(lines) == len(patterns)
    events = [line.split(MARKER)[1].split()[0] for line in renode.log]
    assert events.count("begin") == events.count("end") == len(patterns) and events[-1] == "end-of-input"
    assert renode.machine.SystemBus.ReadDoubleWord(finished_address) == 1
    worst = renode.machine.SystemBus.ReadDoubleWord(worst_address)
    assert worst == max(builtin.instructions) and 0 < worst <= budget


def test_write_renode_files_refuses_mismatched_arguments(firmware, samples, builtin):
    out, board = firmware.parent.parent, load_board(BOARD)
    with pytest.raises(TinyEdgeError, match="2 expected checksums for 3 input samples"):
        write_renode_files(out, board, "m", "build/firmware.elf", [1, 2], 1000, samples)
    with pytest.raises(TinyEdgeError, match="relative to the output folder"):
        write_renode_files(out, board, "m", firmware, [1, 2, 3], 1000, samples)
    with pytest.raises(TinyEdgeError, match="Renode 1.15 cannot run board esp32c3's firmware"):
        write_renode_files(out, load_board("esp32c3"), "m", "build/firmware.elf", [1, 2, 3], 1000, samples)


def test_rp2040_gets_a_platform_of_its_own_and_a_suite(build_for, samples):
    """Upstream Renode has no RP2040 platform: the one tinyedge writes from the board file runs its
    firmware from the XIP flash window, vector table after the 256 boot2 bytes."""
    elf = build_for("rp2040")
    board = load_board("rp2040")
    reference = simulate(elf, board, samples, expected_layers=LAYERS)
    paths = {p.name: p for p in write_renode_files(elf.parent.parent, board, "tiny", "build/firmware.elf",
                                                    output_checksums(reference.outputs), 1000, samples)}
    assert sorted(paths) == ["rp2040.repl", "rp2040.resc", "tiny-inputs.bin", "tiny.robot"]
    platform = paths["rp2040.repl"].read_text().splitlines()
    for line in ('    cpuType: "cortex-m0+"', "flash: Memory.MappedMemory @ sysbus 0x10000000", "    size: 0x200000",
                 "sram: Memory.MappedMemory @ sysbus 0x20000000", "    size: 0x42000"):
        assert line in platform, line
    script = paths["rp2040.resc"].read_text().splitlines()
    assert "sysbus.cpu VectorTableOffset 0x10000100" in script
    # the clock set-up's waits read back what they wait for at once (XOSC_STATUS.STABLE,
    # CLK_REF_SELECTED), registers it only writes read 0
    assert 'sysbus Tag <0x40024004 4> "STABLE" 0x80000000' in script
    assert 'sysbus Tag <0x40008038 4> "the glitchless mux has switched to the crystal" 0x00000004' in script
    assert any(line.startswith("sysbus Tag <0x4002400C 4> ") and line.endswith(" 0x00000000") for line in script)
    assert script.index('sysbus Tag <0x40024004 4> "STABLE" 0x80000000') < script.index("sysbus LoadELF $bin")


def test_runner_script_adds_console_file_stack_paint_time_limit_and_quit(firmware, samples, tmp_path):
    board = load_board(BOARD)
    files, _ = plan_files(renode_board(board), firmware_facts(firmware), "m", samples, "$ORIGIN/firmware.elf")
    runner = renode_backend.RunnerExtras(console_file=f"{tmp_path}/console.txt", stack_dump=f"{tmp_path}/stack.bin",
                                         paint_file=f"{tmp_path}/paint.bin", paint_low=0x20000200, paint_size=0x3FE00,
                                         budget=64_000_000, seconds="1.000000")
    lines = render_script(files, runner).splitlines()
    assert lines[-3:] == [f"sysbus.cpu.{CONSOLE} CreateFileBackend @{tmp_path}/console.txt true",
                          'emulation RunFor "1.000000"', "quit"]
    assert f"sysbus LoadBinary @{tmp_path}/paint.bin 0x20000200" in lines
    assert sum(f"WriteAllBytes('{tmp_path}/stack.bin', " in line for line in lines) == 2  # end of input, te_exit


# ---------------------------------------------------------------------------- Renode itself

needs_renode = pytest.mark.skipif(not renode_backend.available(),
                                  reason="Renode is not installed (`renode` on PATH or RENODE_BIN)")


@needs_renode
@pytest.mark.parametrize("name", sorted(CPU_TYPES))
def test_renode_counts_the_same_instructions_as_the_builtin_emulator(build_for, samples, name):
    elf, board = build_for(name), load_board(name)
    reference = simulate(elf, board, samples, expected_layers=LAYERS)
    result = renode_backend.simulate(elf, board, samples, budget=100_000_000, expected_layers=LAYERS)
    assert result.outputs == reference.outputs == tuple(reference_output(s) for s in samples)
    assert result.instructions == reference.instructions
    assert [[layer.instructions for layer in s.layers] for s in result.samples] == \
        [[layer.instructions for layer in s.layers] for s in reference.samples]
    assert (result.cycles, result.cycle_model) == (reference.cycles, reference.cycle_model)
    assert 0 < result.stack_bytes <= reference.stack_bytes


@needs_renode
def test_renode_counts_a_systick_interrupt_apart_and_the_firmwares_own_instructions_as_the_builtin_does(
        build_for, samples):
    """rp2040 counts cycles with SysTick, whose wrap interrupt Renode raises (every 2^24 cycles of
    virtual time) and the built-in emulator does not: the handler's instructions are counted apart."""
    assert MODEL_C_LONG != MODEL_C
    elf, board = build_for("rp2040", MODEL_C_LONG), load_board("rp2040")
    reference = simulate(elf, board, samples[:1], expected_layers=LAYERS)
    assert reference.instructions[0] > 1 << 24
    result = renode_backend.simulate(elf, board, samples[:1], budget=200_000_000, expected_layers=LAYERS)
    assert result.instructions == reference.instructions and result.cycles == reference.cycles
    assert re.fullmatch(r"renode \(interrupt handlers ran [1-9][\d,]* instructions during the inferences, counted "
                        r"apart: the built-in emulator raises no interrupts\)", result.counter), result.counter


needs_renode_test = pytest.mark.skipif(shutil.which("renode-test") is None, reason="renode-test is not installed")


def _renode_test(suite: Path, results: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """renode-test on one suite, with a TMPDIR of its own (Renode sweeps $TMPDIR/renode-* when it starts)."""
    temp = results / "tmp"
    temp.mkdir(parents=True)
    return subprocess.run(["renode-test", *options, str(suite), "-r", str(results)], capture_output=True, text=True,
                          timeout=1800, env=renode_backend.private_environment(temp))


def _robot_statistics(results: Path) -> list[tuple[int, int]]:
    """(passed, failed) of every robot_output.xml renode-test wrote under `results`."""
    counts = []
    for path in sorted(results.rglob("robot_output.xml")):
        total = re.search(r'<total>\s*<stat pass="(\d+)" fail="(\d+)"', path.read_text())
        assert total is not None, path
        counts.append((int(total.group(1)), int(total.group(2))))
    return counts


@needs_renode_test
def test_renode_test_passes_the_suite_compile_wrote_ten_times_in_a_row(written, tmp_path):
    """The suite used to race (the worst inference read while extra inferences ran after the
    input ended); on the tiny model it must now pass every one of 10 runs."""
    proc = _renode_test(written["tiny_kws.robot"], tmp_path, "-n", "10")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert _robot_statistics(tmp_path) == [(2, 0)] * 10, proc.stdout[-3000:]
