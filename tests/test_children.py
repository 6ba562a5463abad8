"""Every child process's failure is one line naming the program and a reason, with its output in a log."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from tinyedge import children
from tinyedge.errors import TinyEdgeError

CC = shutil.which("gcc") or shutil.which("cc")
needs_cc = pytest.mark.skipif(CC is None, reason="no host C compiler")


@pytest.fixture(autouse=True)
def _logs_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYEDGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(children.DEBUG_ENV, raising=False)


def _log(message: str) -> Path:
    log = Path(re.search(r"\(log: (\S+)\)", message).group(1))
    assert log.is_file()
    return log


def _bad_source(tmp_path: Path) -> Path:
    source = tmp_path / "bad.c"
    source.write_text("int f(void) { return undeclared_name; }\n")
    return source


def _compile_error(tmp_path: Path) -> TinyEdgeError:
    source = _bad_source(tmp_path)
    command = [CC, "-c", str(source), "-o", str(tmp_path / "bad.o")]
    proc = children.run(command, f"{Path(CC).name} compiling bad.c", text=True)
    assert proc.returncode != 0
    return children.completed_failure(f"{Path(CC).name} compiling bad.c", proc, stage="test")


@needs_cc
def test_compiler_error_is_one_line_with_the_first_error_and_the_log(tmp_path):
    message = str(_compile_error(tmp_path))
    assert "\n" not in message
    assert message.startswith(f"{Path(CC).name} compiling bad.c failed: ") and "undeclared_name" in message
    assert "error" in message.split("failed: ")[1].split(" (log:")[0]
    log = _log(message)
    assert log.parent == tmp_path / "cache" / "logs" and log.read_text().startswith(f"$ {CC} -c")


@needs_cc
def test_debug_adds_the_command_line_and_the_last_lines(tmp_path, monkeypatch):
    monkeypatch.setenv(children.DEBUG_ENV, "1")
    first, *details = str(_compile_error(tmp_path)).splitlines()
    assert "failed: " in first
    assert details[0].startswith(f"  command: {CC} -c ")
    assert "last lines:" in details[1] and any("undeclared_name" in line for line in details[2:])


def test_a_signal_is_named(tmp_path):
    proc = children.run(["sh", "-c", "kill -SEGV $$"], "sh", text=True)
    message = str(children.completed_failure("sh crashing on purpose", proc))
    assert message == "sh crashing on purpose crashed (SIGSEGV)"


def test_a_missing_program_cannot_start(tmp_path):
    with pytest.raises(TinyEdgeError, match=r"^nothing could not start: .*/no-such-tool: No such file"):
        children.run([str(tmp_path / "no-such-tool")], "nothing")


def test_a_hang_hits_the_time_limit():
    with pytest.raises(TinyEdgeError, match=r"^sleep did not finish within 1 s$"):
        children.run(["sleep", "30"], "sleep", timeout=1)


def test_run_logged_keeps_output_and_tees_it(tmp_path, capfd):
    log = tmp_path / "child.log"
    command = [sys.executable, "-c", "import sys; print('to out'); print('to err', file=sys.stderr)"]
    assert children.run_logged(command, log, timeout=60, tee=True) == 0
    assert "to out" in log.read_text() and "to err" in log.read_text()
    assert "to err" in capfd.readouterr().err
    assert children.run_logged([sys.executable, "-c", "import time; time.sleep(30)"], log, timeout=1) is None


@needs_cc
def test_build_compile_failure_names_compiler_and_error(tmp_path, monkeypatch):
    from tinyedge import build

    monkeypatch.setattr(build, "OBJECT_CACHE", tmp_path / "objects")
    _bad_source(tmp_path)
    with pytest.raises(TinyEdgeError) as caught:
        build._compile_cached(CC, [], "bad.c", tmp_path / "bad.o", tmp_path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{CC} compiling bad.c failed: ") and "undeclared_name" in message
    _log(message)


@needs_cc
def test_block_counter_compile_failure_is_one_line(tmp_path, monkeypatch):
    from tinyedge.simulate import block_counter

    monkeypatch.setattr(block_counter, "cache_dir", lambda: tmp_path / "simulate")
    with pytest.raises(TinyEdgeError) as caught:
        block_counter.compile_into_cache(CC, _bad_source(tmp_path), "bad", ["-shared", "-fPIC"])
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{CC} compiling bad.c failed: ")
    assert not list((tmp_path / "simulate").glob("*.so"))
