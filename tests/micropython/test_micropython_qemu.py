"""Arm and RISC-V modules in MicroPython's own qemu port, with a MicroPython source tree (MPY_DIR, built by
scripts/build_micropython.sh): the .mpy tinyedge linked, and the user C module built into the firmware, both
byte for byte against tflite_micro, with instructions per invoke counted."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tinyedge.micropython import natmod, qemu_port
from tinyedge.micropython.module import write_usermod
from tinyedge.pipeline import compile_tflite
from tinyedge.verify import random_samples, reference_outputs

MPY_DIR = os.environ.get("MPY_DIR")
SKIP = "MPY_DIR is not set: these tests need a MicroPython source tree built by scripts/build_micropython.sh"

RUN_SAMPLES = """
import {module} as m
for sample in {samples!r}:
    print('out', m.invoke(sample).hex())
"""


def _mpy_dir(arch: str) -> Path:
    if not MPY_DIR:
        pytest.skip(SKIP)
    try:
        qemu_port.firmware(Path(MPY_DIR), arch)
    except Exception as exc:  # the tree is there but this board was not built (e.g. no RISC-V libc)
        pytest.skip(f"MicroPython qemu port for {arch} not built in MPY_DIR: {exc}")
    return Path(MPY_DIR)


def _outputs(text: str) -> list[bytes]:
    return [bytes.fromhex(line.split()[1]) for line in text.splitlines() if line.startswith("out ")]


@pytest.mark.slow
@pytest.mark.parametrize("arch", ("armv7m", "armv6m", "armv7emsp", "armv7emdp", "rv32imc"))
def test_native_module_runs_bit_exact_in_micropython_under_qemu(tiny_kws_tflite, tmp_path, arch):
    mpy_dir = _mpy_dir(arch)
    model = compile_tflite(tiny_kws_tflite, name="kws")
    built = natmod.build_native_module(model, "kws", arch, tmp_path / "kws.mpy", tmp_path / "build")
    samples = random_samples(model, 4, seed=5)
    output = qemu_port.run(mpy_dir, arch, RUN_SAMPLES.format(module="kws", samples=samples),
                           {"kws.mpy": built.path.read_bytes()}, icount=False)
    assert _outputs(output) == reference_outputs(tiny_kws_tflite.read_bytes(), model, samples)
    count = qemu_port.instructions_per_invoke(mpy_dir, arch, "kws", built.path.read_bytes(), model.input_bytes)
    assert count > 1000


@pytest.mark.slow
def test_user_c_module_built_into_the_qemu_firmware_is_bit_exact(tiny_kws_tflite, tmp_path):
    mpy_dir = _mpy_dir("armv7m")
    model = compile_tflite(tiny_kws_tflite, name="kws")
    write_usermod(model, "kws", tmp_path / "usermod" / "kws")
    build = tmp_path / "fw"
    proc = subprocess.run(["make", "-C", str(mpy_dir / "ports" / "qemu"), "BOARD=MPS2_AN385", f"BUILD={build}",
                           f"USER_C_MODULES={tmp_path / 'usermod'}", "-j2"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    samples = random_samples(model, 4, seed=6)
    board = qemu_port.BOARDS["armv7m"]
    output = qemu_port.run_elf(board, build / "firmware.elf", RUN_SAMPLES.format(module="kws", samples=samples))
    assert _outputs(output) == reference_outputs(tiny_kws_tflite.read_bytes(), model, samples)
