"""The Renode backend and the Renode files every compile writes (platform, script, Robot suite).

Renode is not installable here. The tests against Renode itself skip without it; the others run
the generated script in RenodeStandIn below: an interpreter of the monitor commands tinyedge's
scripts use, with the CPU on Unicorn and the Renode 1.15 behaviour the script relies on, as
Renode's sources have it:
  - Cortex-M semihosting (BKPT 0xAB) serves SYS_WRITE0, SYS_WRITEC and SYS_READC through the
    SemihostingUart registered at the CPU; every other operation returns 0 and moves no data;
  - a hook (cpu AddHook) runs its Python before the instruction at its address, with `self`
    and `cpu` (the CPU), `machine` and `pc` in a scope of its own;
  - ExecutedInstructions counts every instruction an IT block issues, skipped ones included.
A mistake in a template, an address, an offset or the layer accounting shows up here; how
faithfully Renode itself behaves is what the Renode-only tests check.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
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
RENODE_BOARDS = [name for name in list_boards()
                 if (emulator := load_board(name).emulator) is not None and emulator.renode_platform]
# The cpuType Renode's own platforms give these chips.
UPSTREAM_CPU_TYPES = {"nrf52840": "cortex-m4", "stm32f4-discovery": "cortex-m4", "stm32f746g-disco": "cortex-m7",
                      "stm32l552": "cortex-m33"}

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


def reference_output(sample: bytes) -> bytes:
    """MODEL_C in Python (C's division truncates toward zero)."""
    half = [int(v / 2) + 3 for v in np.frombuffer(sample, dtype=np.int8)]
    out = []
    for o in range(4):
        acc = sum(v * (i - 7 + o) for i, v in enumerate(half))
        out.append(max(-20, min(20, int(np.int8(np.int32(acc) >> 4)))))
    return np.array(out, dtype=np.int8).tobytes()


@pytest.fixture(scope="module")
def build_for(tmp_path_factory) -> Callable[[str], Path]:
    """MODEL_C in tinyedge's firmware (main loop, startup, runtime) for a board: <out>/build/firmware.elf."""
    built: dict[str, Path] = {}

    def build(board: str) -> Path:
        if board not in built:
            tools = toolchain(load_board(board))
            if shutil.which(tools.cc) is None:
                pytest.skip(f"{tools.cc} is not installed")
            base = tmp_path_factory.mktemp(f"renode-{board}")
            (base / "model").mkdir()
            (base / "model" / "tinyedge_model.h").write_text(MODEL_H)
            (base / "model" / "tinyedge_model.c").write_text(MODEL_C)
            out = render_project(base / "out", board, base / "model", kernel_sources=())
            built[board] = build_firmware(out, board).elf
        return built[board]

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
        self.final = False
        self.platform = ""
        self.uc: unicorn.Uc | None = None
        self._shadow: set[int] = set()
        self._limit = 0
        self._until: Callable[[], bool] = lambda: False
        self.cpu = types.SimpleNamespace(InfoLog=self._info)

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
            case ["sysbus.cpu", "VectorTableOffset", address]:
                self.vtor = int(address, 0)
            case ["sysbus.cpu", "PerformanceInMips", mips]:
                self.mips = int(mips)
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
        self.machine = types.SimpleNamespace(SystemBus=_Bus(self.uc))

    # -- the CPU
    def run(self, limit: int, until: Callable[[], bool] = lambda: False) -> None:
        self._limit, self._until = limit, until
        sp, pc = (int.from_bytes(self.uc.mem_read(self.vtor + 4 * i, 4), "little") for i in range(2))
        self.uc.reg_write(UC_ARM_REG_SP, sp)
        self.uc.emu_start(pc | 1, 0xFFFF_FFF0)

    def _info(self, message: str) -> None:
        line = f"{time.strftime('%H:%M:%S')}.0000 [INFO] cpu: {message}"
        self.log.append(line)
        self.final = self.final or renode_backend.is_final(line)

    def _on_code(self, uc: unicorn.Uc, address: int, size: int, _data: object) -> None:
        for code, scope in self.hooks.get(address, ()):
            scope.update(self=self.cpu, cpu=self.cpu, machine=self.machine, pc=address)
            self.cpu.ExecutedInstructions = self.count
            exec(code, scope)
        if self.final or self._until() or self.count >= self._limit:
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

    def run(binary: str, script: Path, wall_seconds: float) -> tuple[str, float, float]:
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
    assert [s.layers for s in result.samples] == [
        tuple(layer.__class__(layer.index, layer.instructions, float(layer.instructions)) for layer in s.layers)
        for s in builtin.samples]
    assert result.cycles == tuple(float(n) for n in builtin.instructions)  # 64 MHz: one instruction, one cycle
    assert "PerformanceInMips 64" in result.cycle_model and result.cycle_model.startswith("renode")
    assert result.console == builtin.console
    assert result.layers_sample == builtin.layers_sample
    assert result.layers == result.samples[result.layers_sample].layers
    assert result.total_instructions > sum(result.instructions)
    assert 0 < result.stack_bytes <= builtin.stack_bytes
    assert stand_in().mips == 64 and "cortex-m4" in stand_in().platform


@pytest.mark.parametrize("name", sorted(UPSTREAM_CPU_TYPES))
def test_backend_agrees_with_the_builtin_emulator_on_every_renode_board(stand_in, build_for, samples, name):
    elf, board = build_for(name), load_board(name)
    reference = simulate(elf, board, samples, expected_layers=LAYERS)
    result = renode_backend.simulate(elf, board, samples, budget=10_000_000, expected_layers=LAYERS)
    assert result.outputs == reference.outputs == tuple(reference_output(s) for s in samples)
    assert [[layer.instructions for layer in s.layers] for s in result.samples] == \
        [[layer.instructions for layer in s.layers] for s in reference.samples]
    assert f'cpuType: "{UPSTREAM_CPU_TYPES[name]}"' in stand_in().platform
    assert result.cycles == pytest.approx([n * board.clock_hz / (round(board.clock_hz / 1e6) * 1e6)
                                           for n in reference.instructions])


def test_backend_reports_a_firmware_that_runs_past_the_budget_as_a_hang(stand_in, firmware, samples):
    with pytest.raises(TinyEdgeError, match=r"firmware hang in Renode: it did not finish within 3,000 instructions"):
        renode_backend.simulate(firmware, load_board(BOARD), samples, budget=3_000)


def test_backend_refuses_a_model_with_another_layer_count(stand_in, firmware, samples):
    with pytest.raises(TinyEdgeError, match="3 call sites but the model has 4 layers"):
        renode_backend.simulate(firmware, load_board(BOARD), samples, budget=10_000_000, expected_layers=4)


def test_backend_refuses_samples_of_the_wrong_size(stand_in, firmware):
    with pytest.raises(TinyEdgeError, match="input sample 0 has 15 bytes; the firmware's te_input holds 16"):
        renode_backend.simulate(firmware, load_board(BOARD), [bytes(15)], budget=10_000_000)


@pytest.mark.parametrize("name", ["rp2040", "esp32c3", "esp32"])
def test_boards_without_a_renode_platform_are_refused_with_the_reason(name):
    with pytest.raises(TinyEdgeError, match=rf"board {name} names no Renode platform .*use --backend builtin"):
        renode_board(load_board(name))


def test_exactly_the_boards_naming_a_renode_platform_run_in_renode():
    assert set(UPSTREAM_CPU_TYPES) <= set(RENODE_BOARDS)
    assert [name for name in list_boards() if runs_in_renode(load_board(name))] == RENODE_BOARDS


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
    text, first, final = renode_backend.run_renode(str(fake), script, wall_seconds=30)
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
        renode_backend.run_renode(str(fake), tmp_path / "board.resc", wall_seconds=1)


# ---------------------------------------------------------------------------- Renode's log

RECORDED_LOG = f"""\
12:00:00.1000 [INFO] Loaded monitor commands from: /opt/renode/scripts/monitor.py
Renode, version 1.15.3.10445 (d5a5f6ac-202409171005)

(monitor) include @/tmp/tinyedge-renode-x/nrf52840.resc
12:00:01.2000 [INFO] Including script: /tmp/tinyedge-renode-x/nrf52840.resc
    self.InfoLog('{MARKER} end-of-input {{0}}'.format(count))
12:00:01.3000 [INFO] System bus created.
12:00:02.0000 [INFO] sysbus: Loading segment of 11052 bytes length at 0x0.
12:00:02.1000 [INFO] cpu: Setting initial values: PC = 0x10D, SP = 0x20040000.
12:00:02.1000 [INFO] tinyedge-nrf52840: Machine started.
12:00:02.1100 [WARNING] sysbus: [cpu: 0x21C] WriteDoubleWord to non existing peripheral at 0xE0001FB0, value 0xC5ACCE55.
12:00:02.1200 [INFO] cpu: {MARKER} begin 0 1500
12:00:02.1200 [INFO] cpu: {MARKER} layer 0 1504
12:00:02.1200 [INFO] cpu: {MARKER} layer 1 1690
12:00:02.1201 [INFO] cpu: {MARKER} end 2200 0A-F6-00-7F
12:00:02.1300 [INFO] cpu: {MARKER} begin 1 4000
12:00:02.1300 [INFO] cpu: {MARKER} layer 0 4004
12:00:02.1300 [INFO] cpu: {MARKER} layer 1 4180
12:00:02.1301 [INFO] cpu: {MARKER} end 4710 01-02-03-04
12:00:02.1400 [INFO] cpu: {MARKER} end-of-input 6100
12:00:02.2000 [INFO] tinyedge-nrf52840: Machine paused.
"""


def test_log_parsing_reads_the_hook_events_out_of_renodes_log():
    log = renode_backend.parse_log(RECORDED_LOG)
    assert [(s.index, s.begin, s.marks, s.end, s.output) for s in log.samples] == [
        (0, 1500, [(0, 1504), (1, 1690)], 2200, bytes([0x0A, 0xF6, 0x00, 0x7F])),
        (1, 4000, [(0, 4004), (1, 4180)], 4710, bytes([1, 2, 3, 4]))]
    assert (log.outcome, log.final_count, log.reports, log.fatal) == ("end-of-input", 6100, [], None)
    assert [line for line in RECORDED_LOG.splitlines() if renode_backend.is_final(line)] == [
        f"12:00:02.1400 [INFO] cpu: {MARKER} end-of-input 6100"]


def _result_from(log_text: str, console: str, firmware: Path, samples: list[bytes]) -> SimResult:
    board = load_board(BOARD)
    facts = firmware_facts(firmware)
    timing = renode_backend.Timing(0.0, 1.0, 2.0)
    dump = bytes([renode_backend.STACK_PAINT]) * renode_backend.paint_region(facts, board)[1]
    return renode_backend.build_result(board, renode_board(board), facts, samples, renode_backend.parse_log(log_text),
                                       console, dump, budget=10**6, timing=timing)


def _log(*events: str) -> str:
    return "".join(f"12:00:00.0000 [INFO] cpu: {MARKER} {event}\n" for event in events)


def test_layers_split_each_inference_at_the_kernel_calls_and_add_up(firmware):
    outputs = [bytes([1, 2, 3, 4]), bytes([5, 6, 7, 8])]
    console = "".join(f"tinyedge: sample={i} cycles=0 checksum={zlib.crc32(o):08x}\n" for i, o in enumerate(outputs))
    text = _log("begin 0 100", "layer 0 104", "layer 1 150", "layer 2 190", "end 200 01-02-03-04",
                "begin 1 300", "layer 0 304", "layer 1 380", "layer 2 420", "end 430 05-06-07-08", "end-of-input 500")
    result = _result_from(text, console, firmware, [bytes(16)] * 2)
    assert result.instructions == (100, 130)
    assert [[layer.instructions for layer in s.layers] for s in result.samples] == [[50, 40, 10], [80, 40, 10]]
    assert result.layers_sample == 1 and result.outputs == tuple(outputs) and result.total_instructions == 500


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


@pytest.mark.parametrize("name", sorted(UPSTREAM_CPU_TYPES))
def test_each_renode_board_gets_its_cpu_type_and_every_memory(name, firmware, samples):
    board = load_board(name)
    files, _ = plan_files(renode_board(board), firmware_facts(firmware), "m", samples, "$ORIGIN/fw.elf")
    text = render_platform(files)
    assert f'    cpuType: "{UPSTREAM_CPU_TYPES[name]}"' in text.splitlines()
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
    assert len(programs) == 2 + 2 + LAYERS + 3  # begin, end (set blocks and references), layers, te_fail/fault/exit
    for program in programs:
        if not program.startswith("$"):
            compile(program, "hook", "exec")
            assert "#" not in program and '"' not in program and "$" not in program  # nothing the monitor reads


def test_suite_waits_for_each_reference_checksum_and_checks_the_budget(written, builtin):
    text = written["tiny_kws.robot"].read_text()
    assert "Resource            ${RENODEKEYWORDS}" in text
    assert "${RESC}             ${CURDIR}/nrf52840.resc" in text and "Execute Script            ${RESC}" in text
    assert "${ELF}              ${CURDIR}/../build/firmware.elf" in text
    assert f"${{UART}}             sysbus.cpu.{CONSOLE}" in text and "Create Terminal Tester    ${UART}" in text
    assert f"${{BUDGET}}           {3 * max(builtin.instructions) // 2}" in text
    assert "sysbus ReadDoubleWord ${WORST_ADDRESS}" in text and "sysbus.cpu ExecutedInstructions" in text
    assert f"${{WORST_ADDRESS}}    0x{0x7000_0000 + WORST:08X}" in text
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
    renode = RenodeStandIn()
    renode.include(written["nrf52840.resc"])
    renode.run(10_000_000, until=lambda: renode.console.count(b"\n") >= len(patterns))
    lines = renode.console.decode().splitlines()
    assert all(re.search(p, line) for p, line in zip(patterns, lines)) and len(lines) == len(patterns)
    worst = renode.machine.SystemBus.ReadDoubleWord(worst_address)
    assert worst == max(builtin.instructions) and 0 < worst <= budget


def test_write_renode_files_refuses_mismatched_arguments(firmware, samples, builtin):
    out, board = firmware.parent.parent, load_board(BOARD)
    with pytest.raises(TinyEdgeError, match="2 expected checksums for 3 input samples"):
        write_renode_files(out, board, "m", "build/firmware.elf", [1, 2], 1000, samples)
    with pytest.raises(TinyEdgeError, match="relative to the output folder"):
        write_renode_files(out, board, "m", firmware, [1, 2, 3], 1000, samples)
    with pytest.raises(TinyEdgeError, match="board rp2040 names no Renode platform"):
        write_renode_files(out, load_board("rp2040"), "m", "build/firmware.elf", [1, 2, 3], 1000, samples)


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
def test_renode_counts_the_same_instructions_as_the_builtin_emulator(firmware, samples, builtin):
    result = renode_backend.simulate(firmware, load_board(BOARD), samples, budget=100_000_000,
                                     expected_layers=LAYERS)
    assert result.outputs == builtin.outputs
    assert result.instructions == builtin.instructions
    assert [[layer.instructions for layer in s.layers] for s in result.samples] == \
        [[layer.instructions for layer in s.layers] for s in builtin.samples]


@pytest.mark.skipif(shutil.which("renode-test") is None, reason="renode-test is not installed")
def test_renode_test_passes_the_suite_compile_wrote(written, tmp_path):
    proc = subprocess.run(["renode-test", str(written["tiny_kws.robot"]), "-r", str(tmp_path)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
