"""Child processes (compilers, emulators, idf.py, TensorFlow's converter): every failure speaks.

A child that fails, crashes, hangs or cannot start becomes one TinyEdgeError line naming the
program and a short reason, with the path of a log file holding its whole output. Under
`--debug` (TINYEDGE_DEBUG=1, set by the CLI) the line is followed by the command line and the
last lines of that output.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from tinyedge.errors import TinyEdgeError
from tinyedge.resources import cache_dir

DEBUG_ENV = "TINYEDGE_DEBUG"
TAIL_LINES = 20
# "x.c:3:1: error: ...", "error: ...", "CMake Error at ...", "undefined reference to ...": not "-Wno-error=..."
_ERROR_LINE = re.compile(r"(^|:\s*)(fatal )?error\b|\bCMake Error\b|\bundefined reference\b", re.IGNORECASE)
_serial = itertools.count()


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def logs_dir() -> Path:
    return cache_dir("logs")


def new_log_path(stage: str) -> Path:
    """A log file name no concurrent run shares: stage, time, process id and a counter."""
    folder = logs_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return folder / f"{stage}-{stamp}-{os.getpid()}-{next(_serial)}.log"


def save_log(stage: str, command: Sequence[str], output: str) -> Path:
    path = new_log_path(stage)
    path.write_text(f"$ {shlex.join(map(str, command))}\n{output}", errors="replace")
    return path


def exit_reason(returncode: int) -> str:
    """'exited with status 2', or the signal that ended the child ('crashed with SIGSEGV')."""
    if returncode >= 0:
        return f"exited with status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    if -returncode == signal.SIGKILL:
        return f"was killed ({name}: often the system running out of memory)"
    return f"crashed ({name})"


def first_error(output: str) -> str:
    """The line most worth showing: the first that names an error, else the last non-empty one."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if _ERROR_LINE.search(line):
            return line
    return lines[-1] if lines else "(no output)"


def failure(what: str, command: Sequence[str], reason: str, output: str = "", log: Path | None = None,
            stage: str = "child") -> TinyEdgeError:
    """The error for a failed child: `<what> <reason> (log: <path>)`, plus details under --debug.

    `what` names the program and its task ("arm-none-eabi-gcc compiling model.c"), `reason`
    says what went wrong ("failed: model.c:3: error: ...", "did not finish within 60 s"); the
    whole output is saved to a new log unless `log` already holds it.
    """
    if log is None and output.strip():
        log = save_log(stage, command, output)
    message = f"{what} {reason}" + (f" (log: {log})" if log is not None else "")
    if debugging():
        text = output if output.strip() or log is None or not log.is_file() else log.read_text(errors="replace")
        tail = "\n".join(f"    {line}" for line in text.rstrip().splitlines()[-TAIL_LINES:])
        message += f"\n  command: {shlex.join(map(str, command))}" + (f"\n  last lines:\n{tail}" if tail else "")
    return TinyEdgeError(message)


def completed_failure(what: str, proc: subprocess.CompletedProcess, stage: str = "child", detail: str = "",
                      stdout: bool = True) -> TinyEdgeError:
    """failure() for a finished subprocess.run(capture_output=True): `<what> failed<detail>: <its error line>`,
    or how it ended when it said nothing or was killed. `stdout=False` where stdout is data, not messages."""
    output = (as_text(proc.stdout) if stdout else "") + as_text(proc.stderr)
    if proc.returncode > 0 and output.strip():
        reason = f"failed{detail}: {first_error(output)}"
    else:
        reason = f"{exit_reason(proc.returncode)}{detail}"
    return failure(what, proc.args, reason, output, stage=stage)


def run(command: Sequence[str], what: str, *, stage: str = "child", timeout: float | None = None,
        **kwargs: Any) -> subprocess.CompletedProcess:
    """subprocess.run with output captured; a program that cannot start or times out is a TinyEdgeError.

    The child runs in a session of its own, and when we stop waiting for it (a timeout, Ctrl-C) it
    ends with everything it started: a compiler driver's cc1 and as would otherwise go on writing
    into a scratch folder the interrupted run has just removed.

    A non-zero exit is left to the caller (some read the output first), who raises completed_failure().
    """
    try:
        process = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=os.name == "posix", **kwargs)
    except OSError as exc:
        raise failure(what, command, f"could not start: {command[0]}: {exc.strerror or exc}", stage=stage) from None
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        stdout, stderr = process.communicate()
        output = as_text(stdout) + as_text(stderr)
        raise failure(what, command, f"did not finish within {timeout:.0f} s", output, stage=stage) from None
    except BaseException:
        _kill(process)
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def as_text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def run_logged(command: Sequence[str], log: Path, timeout: float, *, tee: bool = False,
               env: dict[str, str] | None = None) -> int | None:
    """Run a child with its stdout and stderr in `log` (and on our stderr too with `tee`).

    Returns the exit status (negative: the signal), or None when `timeout` passed: the child
    and everything it started are then ended.
    """
    with open(log, "ab") as sink:
        process = subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if tee else sink,
                                   stderr=subprocess.STDOUT, env=env, start_new_session=os.name == "posix")
        copier = None
        if tee:
            copier = threading.Thread(target=_copy, args=(process.stdout, sink), daemon=True)
            copier.start()
        try:
            returncode: int | None = process.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            returncode = None
        except BaseException:
            _kill(process)
            raise
        if copier is not None:
            copier.join(5)
    return returncode


def _copy(source: IO[bytes], sink: IO[bytes]) -> None:
    for line in iter(source.readline, b""):
        sink.write(line)
        sink.flush()
        sys.stderr.buffer.write(line)
        sys.stderr.flush()


def _kill(process: subprocess.Popen) -> None:
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except ProcessLookupError:
        pass
    process.wait()
