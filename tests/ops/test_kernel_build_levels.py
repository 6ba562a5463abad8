"""Every kernel compiles at every optimization level users build with, on every core family.

The boards' own firmware builds at -O2, but the C is shipped (Arduino libraries, ESP-IDF and user
projects) to builds at -Os (Arduino cores) or -O0 (debug builds), where GCC hands inline assembly
fewer registers: the hand-scheduled blocks must step aside there (te_nn_dsp.h: TE_NN_ASM_BLOCKS,
TE_NN_THUMB1), never fail the build.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tinyedge.boards import load_board
from tinyedge.build import toolchain
from tinyedge.resources import firmware_dir

BOARDS = ("rp2040", "nrf52840", "esp32c3")  # Cortex-M0+, Cortex-M4F (DSP), RV32IMC


@pytest.mark.parametrize("level", ["-O0", "-Os"])
@pytest.mark.parametrize("board", BOARDS)
def test_every_kernel_compiles(board: str, level: str, tmp_path: Path) -> None:
    tools = toolchain(load_board(board))
    if shutil.which(tools.cc) is None:
        pytest.skip(f"{tools.cc} is not installed")
    flags = [flag if not flag.startswith("-O") else level for flag in tools.cflags if flag != "-fstack-usage"]
    includes = [f"-I{firmware_dir() / folder}" for folder in ("include", "runtime", "runtime/libc")]
    kernels = sorted((firmware_dir() / "kernels").glob("*.c"))
    proc = subprocess.run([tools.cc, *tools.arch_flags, *flags, *includes, "-c", *map(str, kernels)],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(list(tmp_path.glob("*.o"))) == len(kernels)
