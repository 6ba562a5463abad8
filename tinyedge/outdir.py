"""Output folders: written whole or not at all, and only ever replacing what tinyedge made.

Every command that writes a folder (compile, generate, espidf, arduino) writes it in a
scratch sibling and moves it into place at the end. A folder is replaced only if it is
empty or carries tinyedge's marker file; `--force` lifts that check, but never for a
folder whose loss would take the user's work or shell with it: the current folder or one
of its ancestors, the home folder, the filesystem root, or a folder holding an input.

A run killed with SIGKILL can leave its scratch (or the previous output it was about to
delete) behind as a hidden sibling named after its process; the next run for the same
folder deletes those whose process is gone. They never carry the output's name, so no
command takes them for output.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from tinyedge.errors import TinyEdgeError

MARKER = "tinyedge_output.json"
MARKER_FORMAT = "tinyedge-output"
# Written into build folders by releases before the marker existed: still tinyedge's own.
LEGACY_MARKERS = ("tinyedge_project.json", "tinyedge_espidf.json")
_SCRATCH, _OLD = "scratch", "old"


def add_force_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="replace the output folder even if tinyedge did not make it (never the current folder, "
                             "home, / or a folder holding an input)")


def output_folder_is_ours(folder: Path) -> bool:
    """Whether tinyedge wrote `folder` (its marker names our format)."""
    marker = folder / MARKER
    if marker.is_file():
        try:
            return json.loads(marker.read_text()).get("format") == MARKER_FORMAT
        except (OSError, ValueError, AttributeError):
            return False
    return any((folder / name).is_file() for name in LEGACY_MARKERS)


def check_output_folder(out_dir: Path, inputs: Iterable[Path | None] = (), force: bool = False) -> Path:
    """The resolved folder to write, or a TinyEdgeError saying why tinyedge will not replace it."""
    given = Path(out_dir)
    target = given.expanduser().resolve()
    cwd, home = Path.cwd().resolve(), Path.home().resolve()
    if target == Path(target.anchor):
        raise TinyEdgeError(f"output folder {given} is the root folder; give a new folder with -o, e.g. -o build/out")
    if target == home or target in home.parents:
        where = "your home folder" if target == home else "an ancestor of your home folder"
        raise TinyEdgeError(f"output folder {given} is {where}; give a new folder with -o, e.g. -o build/out")
    if target == cwd or target in cwd.parents:
        where = "the current folder" if target == cwd else "an ancestor of the current folder"
        raise TinyEdgeError(f"output folder {given} is {where}; tinyedge replaces its output folder whole, so give "
                            "a new folder with -o, e.g. -o build/out")
    for source in inputs:
        if source is None:
            continue
        source = Path(source).expanduser().resolve()
        if source == target or target in source.parents:
            raise TinyEdgeError(f"output folder {given} holds the input {source.name}; tinyedge replaces its output "
                                "folder whole, so give another folder with -o")
    if target.exists() and not target.is_dir():
        raise TinyEdgeError(f"output folder {given} is a file; give a folder with -o")
    if target.is_dir() and not force and any(target.iterdir()) and not output_folder_is_ours(target):
        raise TinyEdgeError(f"output folder {given} is not empty and tinyedge did not make it (no {MARKER}); "
                            "give another folder with -o, or pass --force to replace it")
    return target


@contextlib.contextmanager
def output_folder(out_dir: Path, inputs: Iterable[Path | None] = (), force: bool = False,
                  command: str = "compile") -> Iterator[Path]:
    """A scratch folder that replaces `out_dir` only if the block succeeds (see the module's rules)."""
    target = check_output_folder(out_dir, inputs, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target)
    scratch = _sibling(target, _SCRATCH)
    scratch.mkdir()  # mode 0o777 less the umask, like any folder the user makes
    try:
        (scratch / MARKER).write_text(json.dumps({"format": MARKER_FORMAT, "version": 1, "command": command},
                                                 indent=2) + "\n")
        yield scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = _sibling(target, _OLD)
        target.rename(old)
    scratch.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def remove_leftovers(target: Path) -> list[Path]:
    """Delete the scratch and old siblings of `target` that runs killed outright left behind."""
    removed = []
    prefix = f".{target.name}.tinyedge-"
    for entry in target.parent.glob(f"{prefix}*"):
        parts = entry.name[len(prefix):].split("-")
        if len(parts) != 3 or parts[0] not in (_SCRATCH, _OLD) or not parts[1].isdigit():
            continue
        if _alive(int(parts[1])):
            continue  # a run still at work on the same folder
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _sibling(target: Path, kind: str) -> Path:
    return target.with_name(f".{target.name}.tinyedge-{kind}-{os.getpid()}-{secrets.token_hex(4)}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_output_file(path: Path, inputs: Iterable[Path | None] = ()) -> Path:
    """The resolved file to write, refused when it is a folder or one of the inputs."""
    given = Path(path)
    target = given.expanduser().resolve()
    if target.is_dir():
        raise TinyEdgeError(f"output {given} is a folder; give a file name")
    for source in inputs:
        if source is not None and Path(source).expanduser().resolve() == target:
            raise TinyEdgeError(f"output {given} is also an input; give another output file")
    return target


def write_file_atomically(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all: a killed run leaves the old file, never half of a new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.tinyedge-partial-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
