"""The wheel builds without a warning, is named as ours, and ships templates/, boards/ and firmware/."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tinyedge import ci_init

ROOT = Path(__file__).resolve().parents[1]
DATA_FOLDERS = {"templates": "tinyedge/templates", "boards": "tinyedge/boards", "firmware": "tinyedge/firmware"}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str]:
    """The wheel pip builds from a copy of the source (as setup.sh's install does), and pip's output."""
    tmp = tmp_path_factory.mktemp("wheel")
    # A copy: setuptools writes build/ and *.egg-info folders into the tree it builds.
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__",
                                                                ".pytest_cache", ".ruff_cache"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp / "dist"), str(source)],
                          capture_output=True, text=True, cwd=tmp)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = (tmp / "dist").glob("*.whl")
    return wheel, proc.stdout + proc.stderr


def test_wheel_builds_without_a_warning(built):
    _, output = built
    # Python warnings from the build backend (BuildBackendWarning, SetuptoolsDeprecationWarning...);
    # pip's own "WARNING:" lines are about this machine's index configuration, not the package.
    warnings = [line.strip() for line in output.splitlines() if re.search(r"[a-z]Warning\b", line)]
    assert warnings == [], "\n".join(warnings)


def test_distribution_is_named_tinyedge_mcu_and_keeps_the_tinyedge_command():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "tinyedge-mcu"  # PyPI's `tinyedge` is an unrelated project
    assert ci_init.DISTRIBUTION == project["name"]  # what `ci init` workflows install
    assert project["scripts"] == {"tinyedge": "tinyedge.cli:main"}


def test_wheel_holds_every_data_file_of_the_source_tree(built):
    wheel, _ = built
    assert wheel.name.startswith("tinyedge_mcu-")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, inside in DATA_FOLDERS.items():
        files = [p for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        assert files, folder
        missing = [str(p.relative_to(ROOT)) for p in files if f"{inside}/{p.relative_to(ROOT / folder).as_posix()}"
                   not in names]
        assert missing == [], f"not in the wheel: {missing}"


def test_wheel_install_finds_templates_boards_and_firmware_inside_the_package(built, tmp_path):
    wheel, _ = built
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                              str(wheel)], capture_output=True, text=True, cwd=tmp_path)
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


def test_setup_installs_every_tool_the_tests_look_for_except_those_outside_the_registries():
    from test_ci_skips import allowed_skip

    setup = (ROOT / "scripts" / "setup.sh").read_text()
    sources = "".join(path.read_text() for path in (ROOT / "tests").rglob("*.py"))
    looked_for = set(re.findall(r"shutil\.which\(\"([\w.+-]+)\"\)", sources)) | {"make", "cmake", "ninja", "g++"}
    same_as = {"cc": "gcc"}  # Debian's gcc package provides cc
    installable = {same_as.get(tool, tool) for tool in looked_for if allowed_skip(f"{tool} is not installed") is None}
    assert installable >= {"make", "cmake", "ninja", "g++", "arm-none-eabi-gcc"}
    missing = {tool for tool in installable if f"command -v {tool} >/dev/null || need+=(" not in setup}
    assert missing == set(), f"scripts/setup.sh does not install {sorted(missing)}"
    for package in ("make", "cmake", "ninja-build", "g++"):
        assert re.search(rf"need\+=\([^)]*(?<![\w-]){re.escape(package)}(?![\w-])", setup), package
