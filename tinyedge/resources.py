"""Locate templates/, boards/ and firmware/ both in a source checkout and in an installed wheel.

The wheel maps the top-level folders into the package (see pyproject.toml); a source
checkout keeps them beside the package.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"tinyedge resource folder '{name}' is missing from {_PACKAGE}; reinstall tinyedge")


def templates_dir() -> Path:
    return resource_dir("templates")


def boards_dir() -> Path:
    return resource_dir("boards")


def firmware_dir() -> Path:
    return resource_dir("firmware")


def cache_dir(kind: str) -> Path:
    """tinyedge's own cache folder for one kind of thing (objects, logs, ...): TINYEDGE_CACHE or ~/.cache/tinyedge.

    Outside every output folder, so a log or a cached object outlives a failed run."""
    return Path(os.environ.get("TINYEDGE_CACHE", Path.home() / ".cache" / "tinyedge")) / kind
