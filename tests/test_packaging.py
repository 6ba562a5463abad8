"""A non-editable install finds templates/, boards/ and firmware/ inside the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_install_ships_templates_boards_and_firmware(tmp_path):
    # Build from a copy: setuptools writes a build/ folder into the source tree it builds.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__"))
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target",
         str(target), str(source)], capture_output=True, text=True, cwd=tmp_path)
    assert install.returncode == 0, install.stderr
    probe = ("import tinyedge.cli, tinyedge.simulate, tinyedge.simulate.cycle_model, tinyedge.flash; "
             "import tinyedge.resources as r; "
             "print(r.templates_dir()); print(r.firmware_dir()); print(r.boards_dir())")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    for line in proc.stdout.split():
        folder = Path(line)
        assert folder.is_relative_to(target), folder
        assert any(folder.iterdir())
    assert (target / "tinyedge" / "templates" / "model" / "tinyedge_model.c.j2").is_file()
    assert (target / "tinyedge" / "firmware" / "include" / "te_nn_math.h").is_file()
    assert (target / "tinyedge" / "boards" / "nrf52840.toml").is_file()
    assert (target / "tinyedge" / "simulate" / "timing.toml").is_file()
    assert (target / "tinyedge" / "simulate" / "counter.c").is_file()
    assert (target / "tinyedge" / "simulate" / "qemu_plugin.c").is_file()
