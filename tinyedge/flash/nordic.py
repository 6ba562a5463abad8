"""Nordic's own tools for nRF boards with a J-Link (the nRF52840 DK's on-board debugger).

nrfjprog (nRF Command Line Tools, being retired by Nordic) and its successor nrfutil (with its
`device` command). Neither is on PyPI; they are used when installed. Both list the J-Link
serial numbers first, then program the Intel HEX with a read-back verify and reset the chip.
"""

from __future__ import annotations

import json
import re
import shutil

from tinyedge.boards import Board
from tinyedge.errors import TinyEdgeError
from tinyedge.flash.steps import Failure, Job, Method, Step, choose_one

JLINK_UDEV_FIX = ("install SEGGER's J-Link udev rules (99-jlink.rules, shipped with the J-Link software) and "
                  "re-plug the board")
NO_JLINK_FIX = "connect the board's debug USB port (the DK's J-Link) and check the cable and the power switch"
_NORDIC_FAILURES = (
    Failure(r"Permission denied|LIBUSB_ERROR_ACCESS|insufficient permissions",
            f"permission denied on the J-Link: {JLINK_UDEV_FIX}"),
    Failure(r"No debuggers were discovered|no debugger connected|Unable to connect to a debugger|"
            r"No devices? (?:were )?found|Could not find any (?:connected )?devices?",
            f"no J-Link debugger found; {NO_JLINK_FIX}"),
    Failure(r"does not match the device connected|invalid family argument|Wrong family|"
            r"family .* does not match|device family .* not supported",
            "the connected chip is not a {target}: flash it with its own --board"),
    Failure(r"readback protection|Access protection is enabled|APPROTECT",
            "the {target} is read-back protected (APPROTECT): recover it (erases it) with "
            "`nrfjprog --recover` or `nrfutil device recover`, then flash again"),
    Failure(r"Cannot connect to target|Unable to connect to the device|Could not connect to target|"
            r"Failed to (?:read|connect)",
            "the J-Link cannot reach the {target}: check that it is powered and wired and not held in reset"),
    Failure(r"Verify failed|verification failed|Data does not match|mismatch",
            "verification failed: the flash does not hold the image", writes_nothing=False),
)


def nrf_family(board: Board) -> str | None:
    """NRF51, NRF52, NRF53 or NRF91 from the board's chip (its pyOCD target or name), else None."""
    chip = (board.flashing.pyocd_target if board.flashing and board.flashing.pyocd_target else board.name).lower()
    match = re.match(r"nrf(5[123]|91)", chip)
    return f"NRF{match.group(1)}" if match else None


class _NordicMethod(Method):
    failures = _NORDIC_FAILURES

    def unsupported(self, board: Board) -> str | None:
        if nrf_family(board) is None:
            return f"board {board.name} is not a Nordic nRF chip"
        return None

    def available(self) -> bool:
        return shutil.which(self.name) is not None

    def target(self, board: Board) -> str:
        return board.flashing.pyocd_target if board.flashing and board.flashing.pyocd_target else board.name


class NrfjprogMethod(_NordicMethod):
    name = "nrfjprog"
    tool = "nrfjprog"
    install = "install Nordic's nRF Command Line Tools (nrfjprog) and SEGGER J-Link, or use --method nrfutil"
    verifies = "nrfjprog --verify reads the flash back"

    def steps(self, job: Job) -> list[Step]:
        family = nrf_family(job.board)
        assert family is not None
        snr = ("--snr", job.probe) if job.probe else ()
        program = ["nrfjprog", "--program", str(job.hex), "-f", family, "--sectorerase"]
        if job.verify:
            program.append("--verify")
        return [
            Step("list probes", ("nrfjprog", "--ids"), check=lambda out: self.check_ids(out, job)),
            Step("program", (*program, *snr), writes=True),
            Step("reset", ("nrfjprog", "--reset", "-f", family, *snr)),
        ]

    def check_ids(self, output: str, job: Job) -> None:
        failure = self.diagnose(output, job)
        if failure is not None:
            raise TinyEdgeError(self.failure_message(failure, job))
        serials = [line.strip() for line in output.splitlines() if line.strip().isdigit()]
        choose_one(serials, job.probe, "J-Link debugger", NO_JLINK_FIX)


class NrfutilMethod(_NordicMethod):
    name = "nrfutil"
    tool = "nrfutil"
    install = "install Nordic's nrfutil, then `nrfutil install device` (and SEGGER J-Link)"
    verifies = "nrfutil's verify=VERIFY_READ reads the flash back"

    def steps(self, job: Job) -> list[Step]:
        serial = ("--serial-number", job.probe) if job.probe else ()
        options = ["chip_erase_mode=ERASE_RANGES_TOUCHED_BY_FIRMWARE", "reset=RESET_SYSTEM"]
        if job.verify:
            options.insert(1, "verify=VERIFY_READ")
        return [
            Step("list probes", ("nrfutil", "--json", "device", "list"), check=lambda out: self.check_list(out, job)),
            Step("program", ("nrfutil", "device", "program", "--firmware", str(job.hex), "--options",
                             ",".join(options), *serial), writes=True),
        ]

    def check_list(self, output: str, job: Job) -> None:
        """nrfutil's --json output is one JSON object a line; the devices are in the task_end record."""
        serials: list[str] = []
        for line in output.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            devices = record.get("data", {}).get("data", {}).get("devices", []) if isinstance(record, dict) else []
            serials += [str(d["serialNumber"]) for d in devices
                        if "serialNumber" in d and d.get("traits", {}).get("jlink", True)]
        choose_one(serials, job.probe, "J-Link debugger", NO_JLINK_FIX)
