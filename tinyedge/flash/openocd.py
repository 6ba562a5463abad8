"""OpenOCD, when installed (Debian `openocd`): one `program ELF verify reset exit` call.

OpenOCD cannot list probes: with several probes of one kind connected it takes the first it
finds, so pass --probe SERIAL (`adapter serial`) when more than one is plugged in.
"""

from __future__ import annotations

import shutil

from tinyedge.boards import Board
from tinyedge.flash.steps import Failure, Job, Method, Step

# Configuration scripts per board (OpenOCD 0.12 script names): the debugger the board carries
# and its chip, plus commands that must come before `init`.
CONFIGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "nrf52840": (("board/nordic_nrf52_dk.cfg",), ()),
    "rp2040": (("interface/cmsis-dap.cfg", "target/rp2040.cfg"), ("adapter speed 5000",)),
    "stm32f4-discovery": (("board/stm32f4discovery.cfg",), ()),
    "stm32f746g-disco": (("board/stm32f7discovery.cfg",), ()),
    "stm32l552": (("board/st_nucleo_l5.cfg",), ()),
}
UDEV_FIX = "install OpenOCD's udev rules (60-openocd.rules from its contrib/ folder) and re-plug the probe"


class OpenocdMethod(Method):
    name = "openocd"
    tool = "OpenOCD"
    install = "sudo apt-get install openocd"
    verifies = "OpenOCD's `program ... verify` compares the flash with the ELF"
    failures = (
        Failure(r"LIBUSB_ERROR_ACCESS|Permission denied|insufficient permissions",
                f"permission denied on the USB debug probe: {UDEV_FIX}"),
        Failure(r"unable to find a matching CMSIS-DAP device|No J-Link device found|Error: open failed|"
                r"unable to open ftdi device|no device found|Can't find a picoprobe",
                "no debug probe found: connect the board's debug USB port (or its probe) and check the cable; "
                "with several probes of one kind, pick one with --probe SERIAL"),
        Failure(r"UNEXPECTED idcode|Cannot identify target|JTAG scan chain interrogation failed|"
                r"Could not find MEM-AP|Error connecting DP|init mode failed|Target not examined",
                "the probe cannot talk to a {target}: check that --board names the connected chip and that the "
                "target is powered, wired and not held in reset"),
        Failure(r"couldn't open .*\.cfg|Can't find .*\.cfg",
                "this OpenOCD has no configuration for {target}; install OpenOCD 0.12 or newer"),
        Failure(r"\*\* Verify Failed \*\*|verify failed|checksum mismatch",
                "verification failed: the flash does not hold the image", writes_nothing=False),
        Failure(r"\*\* Programming Failed \*\*|flash write failed|failed erasing sectors|error writing to flash",
                "OpenOCD could not write the {target} flash (is it read-out protected?)", writes_nothing=False),
    )

    def unsupported(self, board: Board) -> str | None:
        if board.name not in CONFIGS:
            return f"tinyedge has no OpenOCD configuration for board {board.name} (boards with one: " \
                   f"{', '.join(sorted(CONFIGS))})"
        return None

    def available(self) -> bool:
        return shutil.which("openocd") is not None

    def steps(self, job: Job) -> list[Step]:
        scripts, setup = CONFIGS[job.board.name]
        argv = ["openocd"]
        for script in scripts:
            argv += ["-f", script]
        for command in setup:
            argv += ["-c", command]
        if job.probe:
            argv += ["-c", f"adapter serial {job.probe}"]
        argv += ["-c", f"program {{{job.firmware}}} {'verify ' if job.verify else ''}reset exit"]
        return [Step("program", tuple(argv), writes=True)]
