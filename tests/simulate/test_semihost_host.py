"""The semihosting host on its own: parameter blocks in a fake guest memory, one call at a time."""

from __future__ import annotations

import pytest

from tinyedge.simulate.semihosting import (
    ADP_STOPPED_APPLICATION_EXIT,
    Op,
    Semihost,
    SemihostingError,
)

MINUS_ONE = 0xFFFFFFFF


class FakeMemory:
    """A flat 64 KB guest memory at address 0."""

    def __init__(self) -> None:
        self.data = bytearray(0x10000)
        self.next_free = 0x100

    def read(self, address: int, size: int) -> bytes:
        return bytes(self.data[address: address + size])

    def write(self, address: int, data: bytes) -> None:
        self.data[address: address + len(data)] = data

    def put(self, data: bytes) -> int:
        """Place bytes in free memory; returns their address."""
        address = self.next_free
        self.write(address, data)
        self.next_free += (len(data) + 7) & ~3
        return address

    def block(self, *words: int) -> int:
        return self.put(b"".join(w.to_bytes(4, "little") for w in words))


@pytest.fixture
def memory() -> FakeMemory:
    return FakeMemory()


@pytest.fixture
def host() -> Semihost:
    written: list[bytes] = []
    h = Semihost(b"0123456789", clock_centiseconds=lambda: 4200, on_output=written.append)
    h.written = written  # type: ignore[attr-defined]
    return h


def _open(host: Semihost, memory: FakeMemory, name: bytes, mode: int) -> int:
    handle = host.call(Op.SYS_OPEN, memory.block(memory.put(name + b"\0"), mode, len(name)), memory)
    assert handle is not None
    return handle


def test_input_file_reads_seeks_and_reports_length(host, memory):
    handle = _open(host, memory, b"input.bin", 1)
    buffer = memory.put(bytes(16))
    assert host.call(Op.SYS_READ, memory.block(handle, buffer, 4), memory) == 0  # all 4 read
    assert memory.read(buffer, 4) == b"0123"
    assert host.call(Op.SYS_FLEN, memory.block(handle), memory) == 10
    assert host.call(Op.SYS_SEEK, memory.block(handle, 8), memory) == 0
    assert host.call(Op.SYS_READ, memory.block(handle, buffer, 4), memory) == 2  # 2 of 4 not read: EOF
    assert memory.read(buffer, 2) == b"89"
    assert host.call(Op.SYS_READ, memory.block(handle, buffer, 4), memory) == 4  # nothing left
    assert host.call(Op.SYS_ISTTY, memory.block(handle), memory) == 0
    assert host.call(Op.SYS_CLOSE, memory.block(handle), memory) == 0
    assert host.call(Op.SYS_CLOSE, memory.block(handle), memory) == MINUS_ONE


def test_output_file_collects_writes(host, memory):
    handle = _open(host, memory, b"output.bin", 5)  # "wb"
    assert host.call(Op.SYS_WRITE, memory.block(handle, memory.put(b"abc"), 3), memory) == 0
    assert host.call(Op.SYS_WRITE, memory.block(handle, memory.put(b"de"), 2), memory) == 0
    assert host.written == [b"abc", b"de"]


def test_console_writes_go_to_console_text(host, memory):
    tty = _open(host, memory, b":tt", 4)
    assert host.call(Op.SYS_ISTTY, memory.block(tty), memory) == 1
    host.call(Op.SYS_WRITE, memory.block(tty, memory.put(b"one "), 4), memory)
    host.call(Op.SYS_WRITEC, memory.put(b"2"), memory)
    host.call(Op.SYS_WRITE0, memory.put(b" three\n\0"), memory)
    assert host.console_text() == "one 2 three\n"


def test_unknown_files_and_wrong_modes_fail_with_errno(host, memory):
    assert host.call(Op.SYS_OPEN, memory.block(memory.put(b"secret.txt\0"), 0, 10), memory) == MINUS_ONE
    assert host.call(Op.SYS_ERRNO, 0, memory) == 2  # ENOENT
    assert host.call(Op.SYS_OPEN, memory.block(memory.put(b"input.bin\0"), 4, 9), memory) == MINUS_ONE
    handle = _open(host, memory, b"input.bin", 0)
    assert host.call(Op.SYS_WRITE, memory.block(handle, memory.put(b"x"), 1), memory) == 1  # not written


def test_semihosting_features_file_announces_exit_extended(host, memory):
    handle = _open(host, memory, b":semihosting-features", 0)
    buffer = memory.put(bytes(8))
    assert host.call(Op.SYS_READ, memory.block(handle, buffer, 5), memory) == 0
    assert memory.read(buffer, 5) == b"SHFB\x03"


def test_clock_comes_from_the_emulator(host, memory):
    assert host.call(Op.SYS_CLOCK, 0, memory) == 4200


def test_exit_success_and_failure(memory):
    ok = Semihost(b"", lambda: 0, lambda _data: None)
    ok.call(Op.SYS_EXIT, ADP_STOPPED_APPLICATION_EXIT, memory)
    assert ok.exit is not None and ok.exit.success

    failed = Semihost(b"", lambda: 0, lambda _data: None)
    failed.call(Op.SYS_EXIT_EXTENDED, memory.block(ADP_STOPPED_APPLICATION_EXIT, 3), memory)
    assert failed.exit is not None and not failed.exit.success and failed.exit.status == 3

    crashed = Semihost(b"", lambda: 0, lambda _data: None)
    crashed.call(Op.SYS_EXIT, 0x20023, memory)  # ADP_Stopped_RunTimeErrorUnknown
    assert crashed.exit is not None and not crashed.exit.success


def test_unserved_operation_is_a_clear_error(host, memory):
    with pytest.raises(SemihostingError, match="semihosting call 0x30"):
        host.call(0x30, 0, memory)


def test_newlib_startup_calls_are_served(host, memory):
    heap_block = memory.put(bytes([0xEE]) * 16)
    assert host.call(Op.SYS_HEAPINFO, memory.block(heap_block), memory) == 0
    assert memory.read(heap_block, 16) == bytes(16)  # "use the linker script's defaults"
    cmdline = memory.put(bytes([0xEE]) * 8)
    param = memory.block(cmdline, 8)
    assert host.call(Op.SYS_GET_CMDLINE, param, memory) == 0
    assert memory.read(cmdline, 1) == b"\0" and memory.read(param + 4, 4) == bytes(4)
