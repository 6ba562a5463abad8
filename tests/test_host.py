"""The host build as a child: a crash or a hang of the generated program is one line, never a silent exit."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tinyedge.errors import TinyEdgeError
from tinyedge.host import run_host


def _program(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_a_crashing_host_build_names_its_signal(tmp_path):
    program = _program(tmp_path / "model", "kill -SEGV $$")
    with pytest.raises(TinyEdgeError) as error:
        run_host(program, [b"\x00"], 1)
    assert "crashed (SIGSEGV)" in str(error.value) and "\n" not in str(error.value)


def test_a_hanging_host_build_is_stopped_at_its_time_limit(tmp_path):
    program = _program(tmp_path / "model", "sleep 30")
    with pytest.raises(TinyEdgeError, match="did not finish within 1 s"):
        run_host(program, [b"\x00"], 1, timeout=1)


def test_a_host_build_writing_too_few_bytes_is_refused(tmp_path):
    program = _program(tmp_path / "model", "printf 'a' > output.bin")
    with pytest.raises(TinyEdgeError, match="wrote 1 output bytes for 2 samples"):
        run_host(program, [b"\x00", b"\x01"], 1)
