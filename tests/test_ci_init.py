"""`tinyedge ci init`: the workflow is valid YAML whose steps install, test, compile and upload; no overwrites."""

from __future__ import annotations

import argparse
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from tinyedge import ci_init, compare
from tinyedge.cli import build_parser
from tinyedge.errors import TinyEdgeError

WORKFLOW = Path(".github/workflows/tinyedge.yml")
PINNED = "git+https://example.org/team/tinyedge.git@0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A user's repository, the current folder: a model, calibration data and a tests folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(ci_init, "default_install", lambda: PINNED)  # the checkout running the tests has no remote
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "kws.keras").write_bytes(b"model")
    (tmp_path / "calib.npy").write_bytes(b"calib")
    (tmp_path / "tests").mkdir()
    return tmp_path


def ci(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    ci_init.add_arguments(parser)
    return ci_init.run(parser.parse_args(["init", *argv]))


def load(path: Path = WORKFLOW) -> dict:
    return yaml.safe_load(path.read_text())


def steps_by_name(workflow: dict) -> dict[str, dict]:
    steps = workflow["jobs"]["firmware"]["steps"]
    return {step.get("name") or step["uses"]: step for step in steps}


def step_running(workflow: dict, command: str) -> dict:
    matches = [s for s in workflow["jobs"]["firmware"]["steps"] if command in s.get("run", "")]
    assert len(matches) == 1, f"{len(matches)} steps run {command!r}"
    return matches[0]


def test_workflow_is_valid_yaml_with_install_test_compile_and_upload_steps(repo, capsys):
    assert ci("--board", "nrf52840", "--board", "esp32c3", "--model", "models/kws.keras", "--calib",
              "calib.npy") == 0
    assert "wrote .github/workflows/tinyedge.yml: 2 board(s)" in capsys.readouterr().out
    workflow = load()
    assert set(workflow["on"]) == {"push", "pull_request", "workflow_dispatch"}
    job = workflow["jobs"]["firmware"]
    assert job["strategy"]["matrix"]["board"] == ["nrf52840", "esp32c3"]
    assert job["env"]["BOARD"] == "${{ matrix.board }}"

    steps = job["steps"]
    uses = [step.get("uses", "").split("@")[0] for step in steps]
    assert uses[:2] == ["actions/checkout", "actions/setup-python"]
    assert steps[1]["with"]["python-version"] == "3.11"

    apt = step_running(workflow, "apt-get install")
    for package in ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "gcc-riscv64-unknown-elf", "qemu-system-arm",
                    "qemu-system-misc"):
        assert package in apt["run"].split(), package
    assert pip_install_words() == [f"tinyedge-mcu @ {PINNED}", "pytest"]  # our name, at a pinned commit

    pytest_step = step_running(workflow, "python -m pytest")
    assert shlex.split(pytest_step["run"]) == ["python", "-m", "pytest", "tests", "--tinyedge-board", "$BOARD",
                                               "--tinyedge-backend", "auto", "--tinyedge-output",
                                               "tinyedge-reports/pytest"]
    compile_step = step_running(workflow, "tinyedge compile")
    words = shlex.split(compile_step["run"])
    # The command is one tinyedge's own parser accepts.
    args = build_parser().parse_args(words[1:])
    assert (args.model, args.board, args.calib, args.backend) == (Path("models/kws.keras"), "$BOARD",
                                                                   Path("calib.npy"), "auto")
    assert args.output == Path("tinyedge-reports/kws/$BOARD")

    upload = next(step for step in steps if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"
    assert upload["with"]["path"].split() == ["tinyedge-reports/**/report.html", "tinyedge-reports/**/report.json"]
    assert "matrix.board" in upload["with"]["name"]  # one artifact per board
    assert steps[-1] is upload  # after the compile, and even when it failed


def test_renode_step_is_optional_and_off_by_default(repo):
    ci("--model", "models/kws.keras")
    workflow = load()
    assert workflow["env"]["TINYEDGE_RENODE"] == "${{ github.event.inputs.renode || 'false' }}"
    renode_input = workflow["on"]["workflow_dispatch"]["inputs"]["renode"]
    assert (renode_input["type"], renode_input["default"]) == ("boolean", False)
    renode_steps = [s for s in workflow["jobs"]["firmware"]["steps"] if "renode" in s.get("name", "").lower()]
    assert len(renode_steps) == 2  # install, then the robot suite the compile wrote
    assert all(step["if"] == "env.TINYEDGE_RENODE == 'true'" for step in renode_steps)
    install = renode_steps[0]["run"]
    assert "renode-1.15.3.linux-portable.tar.gz" in install and "tests/requirements.txt" in install
    assert "GITHUB_PATH" in install
    assert shlex.split(renode_steps[1]["run"])[:2] == ["renode-test", "tinyedge-reports/kws/$BOARD/renode/kws.robot"]
    # Renode sweeps $TMPDIR/renode-* when it starts: the suite runs with a TMPDIR the install step made
    assert renode_steps[1]["env"]["TMPDIR"] == "${{ runner.temp }}/tinyedge-renode-test"
    assert '"$RUNNER_TEMP/tinyedge-renode-test"' in install

    WORKFLOW.unlink()
    ci("--model", "models/kws.keras", "--renode")
    workflow = load()
    assert workflow["env"]["TINYEDGE_RENODE"] == "${{ github.event.inputs.renode || 'true' }}"
    assert workflow["on"]["workflow_dispatch"]["inputs"]["renode"]["default"] is True


def test_every_run_step_is_valid_shell(repo):
    ci("--board", "rp2040", "--model", "models/kws.keras", "--baseline", "baseline", "--renode")
    for step in load()["jobs"]["firmware"]["steps"]:
        if "run" in step:
            check = subprocess.run(["bash", "-n", "-c", step["run"]], capture_output=True, text=True)
            assert check.returncode == 0, f"{step['name']}: {check.stderr}"


def test_baseline_adds_a_compare_step_with_the_threshold(repo):
    ci("--model", "models/kws.keras", "--baseline", "baseline", "--threshold", "5")
    words = shlex.split(step_running(load(), "tinyedge compare")["run"])
    parser = argparse.ArgumentParser()
    compare.add_arguments(parser)
    args = parser.parse_args(words[2:])
    assert (args.old, args.new, args.threshold) == (Path("baseline/$BOARD/report.json"),
                                                    Path("tinyedge-reports/kws/$BOARD/report.json"), 5.0)


def test_no_model_gives_tests_only_and_no_tests_omits_pytest(repo):
    ci()
    steps = load()["jobs"]["firmware"]["steps"]
    assert any("python -m pytest" in s.get("run", "") for s in steps)
    assert not any("tinyedge compile" in s.get("run", "") for s in steps)
    assert load()["jobs"]["firmware"]["strategy"]["matrix"]["board"] == ["nrf52840"]  # the default board

    ci("--model", "models/kws.keras", "--no-tests", "--force")
    steps = load()["jobs"]["firmware"]["steps"]
    assert not any("pytest" in s.get("run", "") for s in steps)
    assert "--no-tests" in WORKFLOW.read_text().splitlines()[0]  # the banner repeats the command


def test_existing_workflow_is_not_overwritten_without_force(repo):
    WORKFLOW.parent.mkdir(parents=True)
    WORKFLOW.write_text("name: mine\n")
    with pytest.raises(TinyEdgeError, match=r"^\.github/workflows/tinyedge\.yml already exists; pass --force to "
                                            r"overwrite it \(or -o another file\)$"):
        ci("--model", "models/kws.keras")
    assert WORKFLOW.read_text() == "name: mine\n"
    assert ci("--model", "models/kws.keras", "--force") == 0
    assert load()["name"] == "tinyedge"


def test_output_path_option(repo):
    ci("-o", "ci/firmware.yml")
    assert load(Path("ci/firmware.yml"))["name"] == "tinyedge"
    assert not WORKFLOW.exists()


def test_boards_must_be_ones_compile_can_emulate(repo):
    with pytest.raises(TinyEdgeError, match=r"unknown board 'nrf9999'.*nrf52840"):
        ci("--board", "nrf9999")
    with pytest.raises(TinyEdgeError, match=r"board 'esp32' cannot be emulated; .* in CI: esp32c3, esp32c6, nrf52840"):
        ci("--board", "esp32")
    assert not WORKFLOW.exists()


def test_paths_outside_the_repository_and_pointless_workflows_are_refused(repo, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "kws.keras"
    outside.write_bytes(b"model")
    with pytest.raises(TinyEdgeError, match="is outside"):
        ci("--model", str(outside))
    with pytest.raises(TinyEdgeError, match="would check nothing"):
        ci("--no-tests")
    with pytest.raises(TinyEdgeError, match="give --model too"):
        ci("--baseline", "baseline")
    with pytest.raises(TinyEdgeError, match="valid backends"):
        ci("--backend", "gem5")
    assert not WORKFLOW.exists()


def test_absolute_model_path_inside_the_repository_is_made_relative(repo, capsys):
    ci("--model", str(repo / "models" / "kws.keras"), "--calib", "missing.npy")
    assert "calibration data missing.npy does not exist yet" in capsys.readouterr().err
    assert shlex.split(step_running(load(), "tinyedge compile")["run"])[2] == "models/kws.keras"


def pip_install_words(path: Path = WORKFLOW) -> list[str]:
    """The words after `python -m pip install` in the line that installs tinyedge (after upgrading pip)."""
    lines = step_running(load(path), "python -m pip install --upgrade pip")["run"].splitlines()
    assert lines[0] == "python -m pip install --upgrade pip"
    return shlex.split(lines[1])[4:]


def test_install_takes_a_folder_or_a_wheel_in_the_repository(repo):
    (repo / "vendor" / "tinyedge").mkdir(parents=True)
    (repo / "vendor" / "tinyedge" / "pyproject.toml").write_text("[project]\nname = 'tinyedge-mcu'\n")
    ci("--install", "vendor/tinyedge")
    assert pip_install_words() == ["./vendor/tinyedge", "pytest"]  # ./: pip reads a bare word as a registry name
    (repo / "dist").mkdir()
    (repo / "dist" / "tinyedge_mcu-0.1.0-py3-none-any.whl").write_bytes(b"wheel")
    ci("--install", str(repo / "dist" / "tinyedge_mcu-0.1.0-py3-none-any.whl"), "--force")
    assert pip_install_words() == ["./dist/tinyedge_mcu-0.1.0-py3-none-any.whl", "pytest"]
    assert "--install dist/tinyedge_mcu-0.1.0-py3-none-any.whl" in WORKFLOW.read_text().splitlines()[0]


@pytest.mark.parametrize("spec", ["tinyedge==0.1.0", "tinyedge", "tinyedge-mcu", "missing-folder"])
def test_install_refuses_registry_names(repo, spec):
    with pytest.raises(TinyEdgeError, match=r"is not a git URL pinned at a revision .* not installed by registry name"):
        ci("--install", spec)
    assert not WORKFLOW.exists()


def test_install_refuses_a_git_url_without_a_revision(repo):
    with pytest.raises(TinyEdgeError, match=r"names no revision; pin one"):
        ci("--install", "git+ssh://git@example.org/team/tinyedge.git")


def git(folder: Path, *argv: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *argv], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A git checkout of tinyedge with one commit."""
    folder = tmp_path / "tinyedge-src"
    folder.mkdir()
    git(folder, "init", "-q")
    (folder / "pyproject.toml").write_text("[project]\nname = 'tinyedge-mcu'\n")
    git(folder, "add", "pyproject.toml")
    git(folder, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    return folder


def test_default_install_is_the_remote_of_the_running_checkout_pinned_at_its_commit(checkout):
    git(checkout, "remote", "add", "origin", "git@github.com:team/tinyedge.git")
    commit = git(checkout, "rev-parse", "HEAD")
    assert ci_init.default_install(checkout) == f"git+ssh://git@github.com/team/tinyedge.git@{commit}"
    git(checkout, "remote", "set-url", "origin", "https://example.org/team/tinyedge.git")
    assert ci_init.default_install(checkout) == f"git+https://example.org/team/tinyedge.git@{commit}"


@pytest.mark.parametrize("remote", [None, "/srv/git/tinyedge"])  # none, or one CI cannot reach
def test_default_install_refuses_without_a_fetchable_remote(checkout, remote):
    if remote:
        git(checkout, "remote", "add", "origin", remote)
    with pytest.raises(TinyEdgeError, match=r"cannot tell where this project gets tinyedge .* give --install "
                                            r"git\+URL@REV, a folder or a \.whl$"):
        ci_init.default_install(checkout)
    (checkout / "sub").mkdir()
    with pytest.raises(TinyEdgeError, match="cannot tell where"):
        ci_init.default_install(checkout / "sub")  # inside a checkout, not the top of one: a vendored copy
