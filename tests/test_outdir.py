"""Output folders: tinyedge never replaces a folder it did not make, and a run killed at any stage leaves
the old output or none, never half of a new one."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tinyedge.cli import main
from tinyedge.errors import TinyEdgeError
from tinyedge.outdir import MARKER, check_output_folder, output_folder, output_folder_is_ours, remove_leftovers


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes: what "unchanged" means in these tests."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _user_folder(root: Path, model: Path) -> Path:
    """A folder as a user keeps it: their notes, a source file and the model."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "mynotes.txt").write_text("ideas for the next model\n")
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "x.c").write_text("int x;\n")
    (root / model.name).write_bytes(model.read_bytes())
    return root


def _generate(model: Path, out: Path | str, *extra: str) -> int:
    return main(["generate", str(model), "--board", "host", "-o", str(out), *extra])


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("tinyedge: error:")]
    assert len(errors) == 1, err
    return errors[0]


def test_a_folder_tinyedge_did_not_make_is_refused_and_left_byte_for_byte(tiny_kws_tflite, tmp_path, capsys):
    user = _user_folder(tmp_path / "existing", tiny_kws_tflite)
    model = tmp_path / "m.tflite"
    model.write_bytes(tiny_kws_tflite.read_bytes())
    before = _snapshot(user)
    assert _generate(model, user) == 1
    line = _one_error_line(capsys)
    assert "not empty" in line and "--force" in line and str(user) in line
    assert _snapshot(user) == before


def test_force_replaces_a_folder_tinyedge_did_not_make(tiny_kws_tflite, tmp_path):
    user = _user_folder(tmp_path / "existing", tiny_kws_tflite)
    model = tmp_path / "m.tflite"
    model.write_bytes(tiny_kws_tflite.read_bytes())
    assert _generate(model, user, "--force") == 0
    assert not (user / "mynotes.txt").exists()
    assert output_folder_is_ours(user)


def test_a_folder_tinyedge_made_is_replaced_without_force(tiny_kws_tflite, tmp_path):
    out = tmp_path / "out"
    assert _generate(tiny_kws_tflite, out) == 0
    (out / "stale.txt").write_text("from an older run")
    assert _generate(tiny_kws_tflite, out) == 0
    assert not (out / "stale.txt").exists()
    assert (out / MARKER).is_file() and (out / "model.tflite").is_file()


def test_an_empty_folder_is_used(tiny_kws_tflite, tmp_path):
    (tmp_path / "empty").mkdir()
    assert _generate(tiny_kws_tflite, tmp_path / "empty") == 0
    assert (tmp_path / "empty" / "model.tflite").is_file()


@pytest.mark.parametrize("where", [".", "..", "ancestor"])
def test_the_current_folder_and_its_ancestors_are_refused_even_with_force(tiny_kws_tflite, tmp_path, monkeypatch,
                                                                           capsys, where):
    work = _user_folder(tmp_path / "proj" / "work", tiny_kws_tflite)
    monkeypatch.chdir(work)
    before = _snapshot(tmp_path)
    out = {".": ".", "..": "..", "ancestor": str(tmp_path)}[where]
    assert _generate(Path(tiny_kws_tflite.name), out, "--force") == 1
    assert "current folder" in _one_error_line(capsys)
    assert _snapshot(tmp_path) == before


def test_home_and_root_are_refused_even_with_force(tmp_path, monkeypatch):
    home = tmp_path / "home" / "user"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(TinyEdgeError, match="home folder"):
        check_output_folder(home, force=True)
    with pytest.raises(TinyEdgeError, match="home folder"):
        check_output_folder(Path("~"), force=True)
    with pytest.raises(TinyEdgeError, match="ancestor of your home"):
        check_output_folder(tmp_path / "home", force=True)
    with pytest.raises(TinyEdgeError, match="root"):
        check_output_folder(Path("/"), force=True)


def test_home_is_refused_through_the_command_line(tiny_kws_tflite, tmp_path, monkeypatch, capsys):
    home = _user_folder(tmp_path / "home", tiny_kws_tflite)
    monkeypatch.setenv("HOME", str(home))
    model = tmp_path / "m.tflite"
    model.write_bytes(tiny_kws_tflite.read_bytes())
    before = _snapshot(home)
    assert _generate(model, "~", "--force") == 1
    assert "home folder" in _one_error_line(capsys)
    assert _snapshot(home) == before


@pytest.mark.parametrize("held", ["model", "calib", "input"])
def test_a_folder_holding_an_input_is_refused_even_with_force(tiny_kws_tflite, tmp_path, capsys, held):
    import numpy as np

    folder = tmp_path / "data"
    folder.mkdir()
    model = (folder if held == "model" else tmp_path) / "m.tflite"
    model.write_bytes(tiny_kws_tflite.read_bytes())
    array = folder / "x.npy"
    np.save(array, np.zeros((1, 12, 8, 1), np.int8 if held == "input" else np.float32))
    (folder / MARKER).write_text('{"format": "tinyedge-output"}')  # even a folder that looks like ours
    before = _snapshot(tmp_path)
    if held == "input":
        code = main(["run", str(model), "--board", "host", "--input", str(array), "--output", str(array)])
        assert "also an input" in _one_error_line(capsys)
    else:
        extra = ["--calib", str(array)] if held == "calib" else []
        code = main(["compile", str(model), "--board", "nrf52840", "-o", str(folder), "--force", *extra])
        assert "holds the input" in _one_error_line(capsys)
    assert code == 1
    assert _snapshot(tmp_path) == before


def test_a_file_in_the_way_is_refused(tiny_kws_tflite, tmp_path, capsys):
    (tmp_path / "out").write_text("mine")
    assert _generate(tiny_kws_tflite, tmp_path / "out", "--force") == 1
    assert "is a file" in _one_error_line(capsys)
    assert (tmp_path / "out").read_text() == "mine"


def test_output_folders_follow_the_umask(tiny_kws_tflite, tmp_path):
    old = os.umask(0o022)
    try:
        assert _generate(tiny_kws_tflite, tmp_path / "out") == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755


def test_a_failing_block_leaves_the_old_output(tmp_path):
    out = tmp_path / "out"
    with output_folder(out) as scratch:
        (scratch / "a.txt").write_text("first")
    with pytest.raises(RuntimeError), output_folder(out) as scratch:
        (scratch / "a.txt").write_text("second, half done")
        raise RuntimeError("a stage failed")
    assert (out / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_leftovers_of_killed_runs_are_removed_and_live_ones_kept(tmp_path):
    out = tmp_path / "out"
    dead, live = _dead_pid(), os.getpid()
    stale = [tmp_path / f".out.tinyedge-scratch-{dead}-0a1b2c3d", tmp_path / f".out.tinyedge-old-{dead}-0a1b2c3e"]
    running = tmp_path / f".out.tinyedge-scratch-{live}-0a1b2c3f"
    unrelated = tmp_path / ".out.tinyedge-notes"
    for folder in (*stale, running, unrelated):
        folder.mkdir()
    assert sorted(remove_leftovers(out)) == sorted(stale)
    assert running.is_dir() and unrelated.is_dir()


# ---------------------------------------------------------------- runs killed at each stage

STAGES = ["quantize", "generate", "cross-compile", "run", "verify", "report"]


def _compile_until(model: Path, out: Path, stage: str, sig: int, cwd: Path) -> int:
    """Start `tinyedge compile`, send `sig` as soon as it announces `stage`; its exit code."""
    proc = subprocess.Popen([sys.executable, "-m", "tinyedge.cli", "compile", str(model), "--board", "nrf52840",
                             "-o", str(out), "--samples", "1", "--backend", "builtin"],
                            cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("[") and f"] {stage}" in line:
            proc.send_signal(sig)
            break
    try:
        proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_a_compile_killed_at_any_stage_leaves_the_old_output_or_none(tiny_kws_tflite, tmp_path, sig):
    out = tmp_path / "out"
    assert main(["compile", str(tiny_kws_tflite), "--board", "nrf52840", "-o", str(out), "--samples", "1",
                 "--backend", "builtin"]) == 0
    old = _snapshot(out)
    interrupted = 0
    for stage in STAGES:
        code = _compile_until(tiny_kws_tflite, out, stage, sig, tmp_path)
        now = _snapshot(out)
        if code == 0:  # the signal came after the run had moved its complete output into place
            assert now.keys() == old.keys(), stage
            old = now
            continue
        interrupted += 1
        assert code == (130 if sig == signal.SIGINT else -signal.SIGKILL), (stage, code)
        assert now == old, f"the output changed after {sig.name} at stage {stage}"
        visible = [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")]
        assert visible == ["out"], visible
        if sig == signal.SIGINT:  # an interrupted run cleans up after itself
            assert not list(tmp_path.glob(".out.tinyedge-*")), stage
    assert interrupted >= len(STAGES) - 1  # only the last stage may finish before the signal lands
    # The next run deletes what SIGKILL left, and still replaces the old output.
    assert main(["compile", str(tiny_kws_tflite), "--board", "nrf52840", "-o", str(out), "--samples", "1",
                 "--backend", "builtin"]) == 0
    assert not list(tmp_path.glob(".out.tinyedge-*"))
    assert _snapshot(out).keys() == old.keys()
