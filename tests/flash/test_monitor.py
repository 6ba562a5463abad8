"""The monitor against fake serial ports (pyserial's loop:// and a pty): result lines among garbage,
partial and non-UTF-8 lines, a reset mid-stream, the firmware's error and fault lines, timeouts."""

from __future__ import annotations

import argparse
import errno
import os
import pty
import threading
import time
import zlib

import pytest
import serial

from tinyedge import monitor
from tinyedge.errors import TinyEdgeError
from tinyedge.monitor import FirmwareStopped, SampleLine, collect, open_port, parse_line, serial_chunks


def result_line(sample: int, cycles: int, output: bytes) -> bytes:
    return f"tinyedge: sample={sample} cycles={cycles} checksum={zlib.crc32(output):08x}\n".encode()


def test_parse_reads_the_firmware_line_and_ignores_everything_else() -> None:
    assert parse_line("tinyedge: sample=3 cycles=123456 checksum=0a1b2c3d") == SampleLine(3, 123456, 0x0A1B2C3D)
    assert parse_line("\x00\xfftinyedge: sample=0 cycles=7 checksum=ffffffff\r") == SampleLine(0, 7, 0xFFFFFFFF)
    for other in ("", "boot: ok", "tinyedge: sample=1 cycles=x checksum=00000000",
                  "tinyedge: sample=1 cycles=5 checksum=123"):
        assert parse_line(other) is None


def test_error_and_fault_lines_stop_with_the_firmwares_reason() -> None:
    with pytest.raises(FirmwareStopped, match="stopped on the device: cannot open input.bin"):
        parse_line("tinyedge: error=cannot open input.bin")
    with pytest.raises(FirmwareStopped, match="faulted on the device: HardFault at pc=0x0800012c"):
        parse_line("tinyedge: fault=HardFault pc=0x0800012c detail=0x00000400")


def test_loop_port_result_lines_among_garbage_partial_and_binary_lines() -> None:
    port = serial.serial_for_url("loop://", timeout=0.1)
    outputs = [bytes([i, 2 * i, 3, 4]) for i in range(3)]
    port.write(b"\xff\xfe garbage at the wrong baud\n" + b"boot banner\r\n" + result_line(0, 1000, outputs[0])
               + b"user print\n" + result_line(1, 1010, outputs[1]) + result_line(2, 990, outputs[2])[:20])
    threading.Timer(0.3, lambda: port.write(result_line(2, 990, outputs[2])[20:])).start()

    readout = collect(serial_chunks(port), 3, 5.0, "loop")

    assert [s.cycles for s in readout.samples] == [1000, 1010, 990]
    assert [s.checksum for s in readout.samples] == [zlib.crc32(o) for o in outputs]
    assert readout.other_lines == 3


def test_a_reset_mid_stream_starts_a_new_run() -> None:
    port = serial.serial_for_url("loop://", timeout=0.1)
    port.write(result_line(5, 1, b"a") + result_line(6, 1, b"b") + result_line(0, 2, b"c") + result_line(1, 2, b"d"))
    readout = collect(serial_chunks(port), 2, 5.0, "loop", from_start=True)
    assert [(s.sample, s.cycles) for s in readout.samples] == [(0, 2), (1, 2)]
    port.write(result_line(7, 3, b"e") + result_line(8, 3, b"f"))
    readout = collect(serial_chunks(port), 2, 5.0, "loop")  # attached to a board that runs: any two
    assert [(s.sample, s.cycles) for s in readout.samples] == [(7, 3), (8, 3)]


def test_timeout_with_only_garbage_points_at_the_baud_rate() -> None:
    port = serial.serial_for_url("loop://", timeout=0.1)
    port.write(b"\x80\x81\x82\n\x90\x91\n")
    started = time.monotonic()
    with pytest.raises(TinyEdgeError) as error:
        collect(serial_chunks(port), 2, 0.5, "loop")
    assert time.monotonic() - started < 2.0
    assert str(error.value) == ("no tinyedge result line from loop within 0.5 s; 2 other line(s) arrived: check --baud "
                                "matches the firmware's UART, and that the firmware is a UART build")


def test_timeout_with_nothing_at_all_mentions_semihosting_builds() -> None:
    with pytest.raises(TinyEdgeError, match="nothing arrived: .*semihosting build prints only with a debugger"):
        collect(serial_chunks(serial.serial_for_url("loop://", timeout=0.1)), 1, 0.3, "loop")


def test_timeout_part_way_says_how_many_arrived() -> None:
    port = serial.serial_for_url("loop://", timeout=0.1)
    port.write(result_line(0, 1, b"x"))
    with pytest.raises(TinyEdgeError, match="^1 of 3 result lines from loop within 0.3 s; the firmware stopped"):
        collect(serial_chunks(port), 3, 0.3, "loop")


def test_monitor_command_reads_a_pty_and_prints_latency_at_the_board_clock(capsys) -> None:
    master, slave = pty.openpty()
    path = os.ttyname(slave)

    def device() -> None:
        time.sleep(0.2)
        os.write(master, b"reset\r\n" + result_line(0, 640_000, b"\x01") + result_line(1, 64_000, b"\x02"))

    threading.Thread(target=device, daemon=True).start()
    parser = argparse.ArgumentParser()
    monitor.add_arguments(parser)
    code = monitor.run(parser.parse_args(["--board", "nrf52840", "--port", path, "--count", "2", "--timeout", "5"]))
    os.close(master)
    os.close(slave)

    first, second = zlib.crc32(b"\x01"), zlib.crc32(b"\x02")
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        "reset",
        f"sample 0: 640,000 cycles  10.000 ms at 64 MHz  checksum {first:08x}",
        f"sample 1: 64,000 cycles  1.000 ms at 64 MHz  checksum {second:08x}",
        "2 inference(s): cycles median 352,000, min 64,000, max 640,000; 5.500 ms at 64 MHz",
    ]


@pytest.mark.parametrize("code, expected", [
    (errno.EACCES, "permission denied on serial port /dev/ttyACM0: add your user to the 'dialout' group"),
    (errno.EBUSY, "serial port /dev/ttyACM0 is busy: close the program holding it"),
    (errno.ENOENT, "serial port /dev/ttyACM0 does not exist: connect the board"),
])
def test_opening_a_port_fails_with_one_line_and_the_fix(code: int, expected: str, monkeypatch) -> None:
    def refuse(url, **kwargs):
        raise serial.SerialException(code, f"could not open port {url}: [Errno {code}] {os.strerror(code)}")

    monkeypatch.setattr(serial, "serial_for_url", refuse)
    with pytest.raises(TinyEdgeError) as error:
        open_port("/dev/ttyACM0")
    assert str(error.value).startswith(expected) and "\n" not in str(error.value)


def test_no_port_given_and_several_connected_asks_for_port(monkeypatch) -> None:
    monkeypatch.setattr(monitor, "usb_serial_ports", lambda: ["/dev/ttyACM0", "/dev/ttyUSB0"])
    with pytest.raises(TinyEdgeError) as error:
        monitor.choose_port(None)
    assert str(error.value) == ("several USB serial ports are connected (/dev/ttyACM0, /dev/ttyUSB0); choose one with "
                                "--port ID")
    monkeypatch.setattr(monitor, "usb_serial_ports", lambda: [])
    with pytest.raises(TinyEdgeError, match="^no USB serial port found; connect the board's USB port"):
        monitor.choose_port(None)
