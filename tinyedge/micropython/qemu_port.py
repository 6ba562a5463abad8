"""Run a native module in MicroPython's qemu port (a MicroPython source tree built by
scripts/build_micropython.sh): the firmware boots in QEMU, a script goes in through the raw REPL
on the serial port, the .mpy is served from a small in-RAM filesystem the script mounts (as
`mpremote mount` does), and the script's output comes back.

Instructions are counted with QEMU's -icount shift=0: one instruction per virtual nanosecond, so
time.ticks_us() around a loop of invokes reads thousands of instructions; the same loop without
the invoke is subtracted.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tinyedge.errors import TinyEdgeError


@dataclass(frozen=True)
class QemuBoard:
    arch: str
    system: str
    args: tuple[str, ...]
    build: str  # the port's build folder (BOARD)


BOARDS = {
    "armv7m": QemuBoard("armv7m", "qemu-system-arm", ("-machine", "mps2-an385"), "build-MPS2_AN385"),
    # The Cortex-M7 board's firmware (armv7emdp, hard float) loads every Armv6-M/Armv7-M flavour up to its own.
    "armv6m": QemuBoard("armv6m", "qemu-system-arm", ("-machine", "mps2-an500"), "build-MPS2_AN500"),
    "armv7emsp": QemuBoard("armv7emsp", "qemu-system-arm", ("-machine", "mps2-an500"), "build-MPS2_AN500"),
    "armv7emdp": QemuBoard("armv7emdp", "qemu-system-arm", ("-machine", "mps2-an500"), "build-MPS2_AN500"),
    # The port's own arguments add zcd=off,zcmp=on, which QEMU before 8.x does not know; the firmware needs neither.
    "rv32imc": QemuBoard("rv32imc", "qemu-system-riscv32", ("-machine", "virt", "-bios", "none", "-cpu", "rv32"),
                         "build-VIRT_RV32"),
}

RAMFS = """
import vfs, io, sys
class _File(io.IOBase):
    def __init__(self, data):
        self.data, self.pos = memoryview(data), 0
    def readinto(self, buf):
        n = min(len(buf), len(self.data) - self.pos)
        buf[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n
    def ioctl(self, request, arg):
        return 0
class _RamFS:
    def __init__(self, files):
        self.files = files
    def mount(self, readonly, mkfs):
        pass
    def umount(self):
        pass
    def chdir(self, path):
        pass
    def getcwd(self):
        return ''
    def ilistdir(self, path):
        return iter([(name, 0x8000, 0) for name in self.files])
    def stat(self, path):
        name = path.strip('/')
        if name == '':
            return (0x4000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        if name in self.files:
            return (0x8000, 0, 0, 0, 0, 0, len(self.files[name]), 0, 0, 0)
        raise OSError(2)
    def open(self, path, mode):
        return _File(self.files[path.strip('/')])
vfs.mount(_RamFS(_files), '/ram')
sys.path.insert(0, '/ram')
"""
CHUNK = 2048  # bytes of a file per raw-REPL command: the REPL compiles each in the small heap


def firmware(mpy_dir: Path, arch: str) -> Path:
    board = BOARDS[arch]
    elf = Path(mpy_dir) / "ports" / "qemu" / board.build / "firmware.elf"
    if not elf.is_file():
        raise TinyEdgeError(f"{elf} is missing: build it with MPY_DIR={mpy_dir} bash scripts/build_micropython.sh")
    return elf


class _Console:
    def __init__(self, command: list[str]):
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)
        self.buffer = b""

    def until(self, marker: bytes, timeout: float) -> bytes:
        end = time.monotonic() + timeout
        while marker not in self.buffer:
            left = end - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise TinyEdgeError(f"MicroPython in QEMU did not answer with {marker!r} within {timeout:.0f} s; it "
                                    f"printed: {self.buffer[-300:]!r}")
            if self.selector.select(min(left, 1.0)):
                self.buffer += self.proc.stdout.read() or b""  # type: ignore[union-attr]
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        for i in range(0, len(data), 256):
            self.proc.stdin.write(data[i:i + 256])
            self.proc.stdin.flush()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def run(mpy_dir: Path, arch: str, script: str, files: dict[str, bytes] | None = None, timeout: float = 300,
        icount: bool = True) -> str:
    """The output of `script` run by MicroPython in QEMU, with `files` importable from /ram."""
    return run_elf(BOARDS[arch], firmware(mpy_dir, arch), script, files, timeout, icount)


def run_elf(board: QemuBoard, elf: Path, script: str, files: dict[str, bytes] | None = None, timeout: float = 300,
            icount: bool = True) -> str:
    """`run` for a given firmware image (a build with a user C module, say)."""
    command = [board.system, *board.args, "-display", "none", "-monitor", "null", "-semihosting",
               "-serial", "stdio", "-kernel", str(elf)]
    if icount:
        command[1:1] = ["-icount", "shift=0"]
    console = _Console(command)
    try:
        console.until(b">>> ", 60)
        console.send(b"\r\x01")  # raw REPL
        console.until(b"raw REPL; CTRL-B to exit\r\n>", 30)
        if files:
            commands = ["_files = {}"]
            for name, data in files.items():
                commands.append(f"_b = bytearray({len(data)}); _n = 0")
                for i in range(0, len(data), CHUNK):
                    chunk = data[i:i + CHUNK]
                    commands.append(f"_b[{i}:{i + len(chunk)}] = {chunk!r}")
                commands.append(f"_files[{name!r}] = _b")
            commands.append(RAMFS)
            for command in commands:
                _execute(console, board, command, 60)
        output = _execute(console, board, script, timeout)
    finally:
        console.close()
    return output


def _execute(console: _Console, board: QemuBoard, code: str, timeout: float) -> str:
    """One raw-REPL command: its output, or a TinyEdgeError with the exception it raised."""
    console.send(code.encode() + b"\x04")
    console.until(b"OK", timeout)
    output = console.until(b"\x04", timeout).decode(errors="replace")
    error = console.until(b"\x04>", timeout).decode(errors="replace")
    if error.strip():
        raise TinyEdgeError(f"MicroPython in QEMU ({board.arch}) raised: {error.strip().splitlines()[-1]}")
    return output


COUNT_SCRIPT = """
import time, {module} as m
inp = bytes({input_bytes})
out = bytearray(m.OUTPUT_BYTES)
f = m.invoke_into
def timed(n, call):
    t = time.ticks_us()
    if call:
        for _ in range(n):
            f(inp, out)
    else:
        for _ in range(n):
            pass
    return time.ticks_diff(time.ticks_us(), t)
timed(2, True)
print('us', timed({n}, True), timed({n}, False))
"""


def instructions_per_invoke(mpy_dir: Path, arch: str, module: str, mpy: bytes, input_bytes: int,
                            n: int = 50) -> float:
    """invoke_into's instructions under MicroPython in QEMU, the Python loop's own cost taken out."""
    output = run(mpy_dir, arch, COUNT_SCRIPT.format(module=module, input_bytes=input_bytes, n=n),
                 {f"{module}.mpy": mpy})
    line = next(line for line in output.splitlines() if line.startswith("us "))
    with_invoke, empty = (int(v) for v in line.split()[1:])
    return (with_invoke - empty) * 1000 / n  # -icount shift=0: 1000 instructions per virtual microsecond
