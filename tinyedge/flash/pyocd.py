"""pyOCD (PyPI `pyocd`): CMSIS-DAP, J-Link and ST-Link probes on nRF52, STM32 and RP2040 targets.

Steps: list the probes (`pyocd json --probes`: none, several without --probe, one of another
chip, or one the user may not open are errors before anything is written), `pyocd load` the
ELF (pyOCD erases the sectors it writes, programs and resets), then read every load segment
back through the probe and compare it with the ELF.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Callable

from tinyedge.boards import Board
from tinyedge.errors import TinyEdgeError
from tinyedge.flash.steps import PYOCD_INSTALL, Failure, Job, Method, Step, choose_one

UDEV_FIX = ("install pyOCD's udev rules (github.com/pyocd/pyOCD, folder udev/) or add your user to the group "
            "that owns the probe, then re-plug it")
NO_PROBE_FIX = "connect the board's debug USB port (or a CMSIS-DAP, J-Link or ST-Link probe) and check the cable"


class PyocdMethod(Method):
    name = "pyocd"
    tool = "pyOCD"
    install = PYOCD_INSTALL
    verifies = "reads every load segment back through the probe and compares it with the ELF"
    failures = (
        Failure(r"Access denied|insufficient permissions|LIBUSB_ERROR_ACCESS|udev rule",
                f"permission denied on the USB debug probe: {UDEV_FIX}"),
        Failure(r"No connected debug probes|No available debug probes|No target device available",
                f"no debug probe found; {NO_PROBE_FIX}"),
        Failure(r"No connected debug probe matches unique ID",
                "no debug probe matches --probe {probe}; `pyocd list` shows the connected ones"),
        Failure(r"Target type \S+ not recognized",
                "pyOCD has no support for target {target} installed: {pack_fix}"),
        Failure(r"No ACK|SWD/JTAG communication failure|DP IDR|Unable to open|Failed to connect|TransferFaultError",
                "the probe cannot talk to a {target}: check that the target is powered and wired, that --board "
                "names the connected chip, and that the board is not held in reset"),
        Failure(r"Flash ?(?:Erase|Program)?Failure|flash algo|Flash algorithm|flash init failed",
                "pyOCD's {target} flash algorithm failed: is the connected chip a {target} (check --board), and "
                "is its flash unlocked (nRF52: APPROTECT; STM32: read-out protection)?", writes_nothing=False),
    )

    def unsupported(self, board: Board) -> str | None:
        if board.flashing is None or board.flashing.pyocd_target is None:
            return f"board {board.name} has no pyOCD target (flashing.pyocd_target in its board file)"
        return None

    def available(self) -> bool:
        return importlib.util.find_spec("pyocd") is not None

    def target(self, board: Board) -> str:
        assert board.flashing is not None and board.flashing.pyocd_target is not None
        return board.flashing.pyocd_target

    def failure_message(self, failure: Failure, job: Job) -> str:
        pack = job.board.flashing.pyocd_pack if job.board.flashing else None
        pack_fix = f"pyocd pack install {pack}" if pack else "see `pyocd list --targets` and `pyocd pack find`"
        return failure.message.format(probe=job.probe or "", target=self.target(job.board), tool=self.tool,
                                      pack_fix=pack_fix)

    @staticmethod
    def command() -> tuple[str, ...]:
        return (sys.executable, "-m", "pyocd")

    def connection(self, job: Job) -> tuple[str, ...]:
        probe = ("--probe", job.probe) if job.probe else ()
        return ("--no-wait", "--target", self.target(job.board), *probe)

    def steps(self, job: Job) -> list[Step]:
        steps = [
            Step("list probes", (*self.command(), "json", "--probes"), check=lambda out: self.check_probes(out, job)),
            Step("program", (*self.command(), "load", *self.connection(job), str(job.firmware)), writes=True),
        ]
        if job.verify:
            segments = len(job.elf.segments)
            steps.append(Step("verify", action=lambda: verify_with_pyocd(self, job),
                              detail=f"read back {job.elf.size:,} bytes in {segments} segment(s) through the "
                                     "probe and compare them with the ELF"))
        return steps

    def check_probes(self, output: str, job: Job) -> None:
        """The probe listing: exactly one usable probe, of the board's chip when the probe says which."""
        if re.search(self.failures[0].pattern, output, re.IGNORECASE):
            raise TinyEdgeError(self.failures[0].message)
        try:
            listing = json.loads(output[output.index("{"):output.rindex("}") + 1])
        except ValueError:
            raise TinyEdgeError(f"pyOCD's probe list is not JSON: {output.strip()[:200]}") from None
        if listing.get("status", 0) != 0:
            raise TinyEdgeError(f"pyOCD could not list probes: {listing.get('error', 'unknown error')}")
        probes = {p["unique_id"]: p for p in listing.get("boards", [])}
        chosen = choose_one(list(probes), job.probe, "debug probe", f"{NO_PROBE_FIX}; `pyocd list` shows them")
        reported = probes[chosen].get("target") or "cortex_m"
        if reported != "cortex_m" and not same_chip(reported, self.target(job.board)):
            raise TinyEdgeError(f"probe {chosen} is on a {probes[chosen].get('info', reported)} ({reported}), not "
                                f"a {self.target(job.board)}: flash the board it sits on with its own --board, or "
                                "pick the right probe with --probe")


def chip_key(name: str) -> str:
    """The part of a target name that names the chip line: "stm32f746nghx" -> "stm32f746", "nrf52840" -> "nrf52840"."""
    match = re.match(r"[a-z]+\d+(?:[a-z]+\d+)?", name.lower())
    return match.group(0) if match else name.lower()


def same_chip(a: str, b: str) -> bool:
    return chip_key(a) == chip_key(b)


def verify_with_pyocd(method: PyocdMethod, job: Job) -> str:
    """Read each load segment back through the probe (attached, the firmware keeps running)."""
    from pyocd.core.helpers import ConnectHelper

    session = ConnectHelper.session_with_chosen_probe(
        blocking=False, unique_id=job.probe, target_override=method.target(job.board), connect_mode="attach")
    if session is None:
        raise TinyEdgeError(f"the debug probe went away before verification; {NO_PROBE_FIX}")
    with session:
        target = session.board.target
        return compare_segments(job, lambda address, size: bytes(target.read_memory_block8(address, size)))


def compare_segments(job: Job, read: Callable[[int, int], bytes]) -> str:
    """Compare each load segment with what `read(address, size)` returns; one line, or an error."""
    for segment in job.elf.segments:
        got = read(segment.address, len(segment.data))
        if len(got) != len(segment.data):
            raise TinyEdgeError(f"verification failed: read {len(got)} bytes at 0x{segment.address:08x} instead of "
                                f"{len(segment.data)}; flash again")
        if got != segment.data:
            offset = next(i for i, (a, b) in enumerate(zip(got, segment.data)) if a != b)
            address = segment.address + offset
            raise TinyEdgeError(f"verification failed: flash at 0x{address:08x} holds 0x{got[offset]:02x}, the "
                                f"image has 0x{segment.data[offset]:02x}; the board holds a bad image: flash again, "
                                "and check that --board names the connected chip")
    return f"verified {job.elf.size:,} bytes in {len(job.elf.segments)} segment(s)"
