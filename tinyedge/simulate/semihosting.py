"""ARM semihosting (also used by RISC-V firmware) served from Python.

The firmware asks the host for I/O by trapping (Thumb `BKPT 0xAB`; RISC-V
`slli x0,x0,0x1f; ebreak; srai x0,x0,7`) with the operation number in r0/a0 and a parameter
(usually the address of a block of 32-bit words) in r1/a1; the result goes back in r0/a0.
Files the firmware may open:

    "input.bin"   read-only: the input samples, concatenated
    "output.bin"  write-only: output bytes, split per sample by the caller
    ":tt"         the console (read gives end of file)
    ":semihosting-features"   the feature bits of semihosting v2 (exit-extended, stdout/stderr)

Operation numbers and parameter layouts follow ARM's "Semihosting for AArch32 and AArch64"
specification (version 2).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from tinyedge.errors import TinyEdgeError

INPUT_FILE = "input.bin"
OUTPUT_FILE = "output.bin"
CONSOLE_FILE = ":tt"
FEATURES_FILE = ":semihosting-features"

ADP_STOPPED_APPLICATION_EXIT = 0x20026
ADP_STOPPED_RUNTIME_ERROR_UNKNOWN = 0x20023
_FEATURE_BYTES = b"SHFB" + bytes([0b11])  # SH_EXT_EXIT_EXTENDED | SH_EXT_STDOUT_STDERR

_EBADF = 9
_ENOENT = 2
_EINVAL = 22
_WORD = 0xFFFFFFFF


class Op(enum.IntEnum):
    SYS_OPEN = 0x01
    SYS_CLOSE = 0x02
    SYS_WRITEC = 0x03
    SYS_WRITE0 = 0x04
    SYS_WRITE = 0x05
    SYS_READ = 0x06
    SYS_READC = 0x07
    SYS_ISERROR = 0x08
    SYS_ISTTY = 0x09
    SYS_SEEK = 0x0A
    SYS_FLEN = 0x0C
    SYS_CLOCK = 0x10
    SYS_TIME = 0x11
    SYS_ERRNO = 0x13
    SYS_GET_CMDLINE = 0x15
    SYS_HEAPINFO = 0x16
    SYS_EXIT = 0x18
    SYS_EXIT_EXTENDED = 0x20


class GuestMemory(Protocol):
    def read(self, address: int, size: int) -> bytes: ...
    def write(self, address: int, data: bytes) -> None: ...


class SemihostingError(TinyEdgeError):
    """The firmware made a semihosting call the host cannot serve."""


@dataclass(frozen=True)
class Exit:
    """The firmware asked to stop: code 0 is success (ADP_Stopped_ApplicationExit, status 0)."""

    reason: int
    status: int

    @property
    def success(self) -> bool:
        return self.reason == ADP_STOPPED_APPLICATION_EXIT and self.status == 0


@dataclass
class _OpenFile:
    name: str
    data: bytearray
    position: int = 0
    writable: bool = False
    is_tty: bool = False


@dataclass
class Semihost:
    """The host side of the firmware's semihosting calls for one run.

    `clock_centiseconds` answers SYS_CLOCK (the emulator derives it from the instruction count,
    so a rerun sees the same values). `on_output` is told each chunk written to output.bin.
    """

    input_data: bytes
    clock_centiseconds: Callable[[], int]
    on_output: Callable[[bytes], None]
    console: list[str] = field(default_factory=list)
    exit: Exit | None = None
    _files: dict[int, _OpenFile] = field(default_factory=dict)
    _next_handle: int = 1
    _errno: int = 0

    def console_text(self) -> str:
        return "".join(self.console)

    def call(self, op: int, param: int, memory: GuestMemory) -> int | None:
        """Serve one call; returns the value for r0/a0 (None leaves it unchanged)."""
        try:
            operation = Op(op)
        except ValueError:
            raise SemihostingError(f"the firmware made semihosting call 0x{op:x}, which the built-in "
                                   "emulator does not serve") from None
        handler = getattr(self, "_" + operation.name.lower())
        return handler(param, memory)

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _words(memory: GuestMemory, address: int, count: int) -> list[int]:
        raw = memory.read(address, 4 * count)
        return [int.from_bytes(raw[4 * i: 4 * i + 4], "little") for i in range(count)]

    @staticmethod
    def _c_string(memory: GuestMemory, address: int, limit: int = 4096) -> bytes:
        out = bytearray()
        while len(out) < limit:
            chunk = memory.read(address + len(out), 64)
            end = chunk.find(0)
            if end >= 0:
                return bytes(out + chunk[:end])
            out += chunk
        raise SemihostingError(f"semihosting string at 0x{address:08x} has no terminating NUL "
                               f"within {limit} bytes")

    def _fail(self, errno: int) -> int:
        self._errno = errno
        return _WORD  # -1

    def _file(self, handle: int) -> _OpenFile | None:
        return self._files.get(handle)

    # -- operations --------------------------------------------------------------------------

    def _sys_open(self, param: int, memory: GuestMemory) -> int:
        name_ptr, mode, length = self._words(memory, param, 3)
        name = memory.read(name_ptr, length).decode("latin-1")
        reading = mode in (0, 1)  # "r", "rb"
        writing = 4 <= mode <= 11  # "w", "wb", "w+", "w+b", "a", "ab", "a+", "a+b"
        if name == CONSOLE_FILE:
            opened = _OpenFile(name, bytearray(), writable=not reading, is_tty=True)
        elif name == INPUT_FILE and reading:
            opened = _OpenFile(name, bytearray(self.input_data))
        elif name == OUTPUT_FILE and writing:
            opened = _OpenFile(name, bytearray(), writable=True)
        elif name == FEATURES_FILE and reading:
            opened = _OpenFile(name, bytearray(_FEATURE_BYTES))
        else:
            return self._fail(_ENOENT)
        handle = self._next_handle
        self._next_handle += 1
        self._files[handle] = opened
        return handle

    def _sys_close(self, param: int, memory: GuestMemory) -> int:
        (handle,) = self._words(memory, param, 1)
        if self._files.pop(handle, None) is None:
            return self._fail(_EBADF)
        return 0

    def _sys_writec(self, param: int, memory: GuestMemory) -> None:
        self.console.append(memory.read(param, 1).decode("latin-1"))
        return None

    def _sys_write0(self, param: int, memory: GuestMemory) -> None:
        self.console.append(self._c_string(memory, param).decode("latin-1"))
        return None

    def _sys_write(self, param: int, memory: GuestMemory) -> int:
        handle, buffer, length = self._words(memory, param, 3)
        f = self._file(handle)
        if f is None or not f.writable:
            self._errno = _EBADF
            return length  # nothing written
        data = memory.read(buffer, length) if length else b""
        if f.is_tty:
            self.console.append(data.decode("latin-1"))
        else:
            f.data[f.position: f.position + length] = data
            f.position += length
            if f.name == OUTPUT_FILE:
                self.on_output(data)
        return 0

    def _sys_read(self, param: int, memory: GuestMemory) -> int:
        handle, buffer, length = self._words(memory, param, 3)
        f = self._file(handle)
        if f is None or f.writable:
            self._errno = _EBADF
            return length  # nothing read
        data = bytes(f.data[f.position: f.position + length])
        f.position += len(data)
        if data:
            memory.write(buffer, data)
        return length - len(data)

    def _sys_readc(self, param: int, memory: GuestMemory) -> int:
        return _WORD  # the console has no input: end of file

    def _sys_iserror(self, param: int, memory: GuestMemory) -> int:
        (status,) = self._words(memory, param, 1)
        return 1 if status & 0x80000000 else 0

    def _sys_istty(self, param: int, memory: GuestMemory) -> int:
        (handle,) = self._words(memory, param, 1)
        f = self._file(handle)
        if f is None:
            return self._fail(_EBADF)
        return 1 if f.is_tty else 0

    def _sys_seek(self, param: int, memory: GuestMemory) -> int:
        handle, position = self._words(memory, param, 2)
        f = self._file(handle)
        if f is None or f.is_tty:
            return self._fail(_EBADF)
        if position > len(f.data):
            return self._fail(_EINVAL)
        f.position = position
        return 0

    def _sys_flen(self, param: int, memory: GuestMemory) -> int:
        (handle,) = self._words(memory, param, 1)
        f = self._file(handle)
        if f is None or f.is_tty:
            return self._fail(_EBADF)
        return len(f.data)

    def _sys_clock(self, param: int, memory: GuestMemory) -> int:
        return self.clock_centiseconds() & 0x7FFFFFFF

    def _sys_time(self, param: int, memory: GuestMemory) -> int:
        return 0  # the emulated board has no calendar; a fixed value keeps runs reproducible

    def _sys_errno(self, param: int, memory: GuestMemory) -> int:
        return self._errno

    def _sys_get_cmdline(self, param: int, memory: GuestMemory) -> int:
        buffer, size = self._words(memory, param, 2)
        if size < 1:
            return self._fail(_EINVAL)
        memory.write(buffer, b"\0")
        memory.write(param + 4, (0).to_bytes(4, "little"))
        return 0

    def _sys_heapinfo(self, param: int, memory: GuestMemory) -> int:
        (block,) = self._words(memory, param, 1)
        memory.write(block, bytes(16))  # zeros: "use the linker script's heap and stack"
        return 0

    def _sys_exit(self, param: int, memory: GuestMemory) -> None:
        # On 32-bit targets the parameter is the reason code itself, not a block.
        self.exit = Exit(param, 0 if param == ADP_STOPPED_APPLICATION_EXIT else 1)
        return None

    def _sys_exit_extended(self, param: int, memory: GuestMemory) -> None:
        reason, status = self._words(memory, param, 2)
        self.exit = Exit(reason, status)
        return None
