"""The sweep spec: models x boards x options, and budgets, read from a TOML file and expanded into jobs.

Every job is keyed by the hash of what decides its result (the model's, calibration set's,
labelled data's and board file's bytes, the options, the tinyedge version), so a sweep run
again finds the jobs it has already done. docs/sweep.md describes the format.

TOML only: no YAML parser is among tinyedge's dependencies (PyYAML is only in the test extra).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyedge import __version__
from tinyedge.boards import Board, load_board
from tinyedge.errors import TinyEdgeError

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5", ".tflite")
ACTIVATIONS = ("int8", "int16")
BACKENDS = ("auto", "builtin", "renode", "qemu")
TOP_KEYS = ("models", "boards", "options", "budgets")
OPTION_KEYS = ("calib", "activations", "optimize", "samples", "eval", "backend")
OPTIMIZE = ("speed", "ram")  # tinyedge.plan.OPTIMIZE_GOALS (not imported: plan pulls in the code generator)
MODEL_KEYS = ("path", "calib", "eval")
BUDGET_KEYS = ("latency_ms", "ram_kb", "flash_kb", "energy_uj", "min_accuracy")


@dataclass(frozen=True)
class Budgets:
    """Limits a job's figures are checked against; None: no limit. KB are 1024 bytes."""

    latency_ms: float | None = None
    ram_kb: float | None = None
    flash_kb: float | None = None
    energy_uj: float | None = None
    min_accuracy: float | None = None  # int8 top-1 on the labelled data, 0..1


@dataclass(frozen=True)
class ModelEntry:
    path: Path
    label: str  # as the results name it: the path relative to the spec's folder
    calib: tuple[Path | None, ...]  # the calibration sets to try (None: the seeded synthetic set)
    eval: Path | None


@dataclass(frozen=True)
class Spec:
    path: Path
    models: tuple[ModelEntry, ...]
    boards: tuple[str, ...]  # names, or board .toml paths
    activations: tuple[str, ...]
    optimize: tuple[str, ...]
    samples: tuple[int, ...]
    backend: str
    budgets: Budgets


@dataclass(frozen=True)
class Job:
    """One compile: a model quantized with one calibration set and activations, for one board, with options."""

    key: str  # hash of every input that decides the result
    quantize_key: str  # hash of what decides the quantized model: shared by the boards
    model: ModelEntry
    board: Board
    calib: Path | None
    calib_label: str  # as the results name it ("synthetic" for the seeded set)
    activations: str
    optimize: str
    samples: int
    backend: str

    @property
    def name(self) -> str:
        """The job's folder name: readable, and unique through the key."""
        stem = self.model.label.replace("/", "_").rsplit(".", 1)[0]
        return f"{stem}-{self.board.name}-{self.activations}-{self.optimize}-{self.key[:10]}"


def load_spec(path: str | Path) -> Spec:
    """Read and check a spec; every mistake is a TinyEdgeError naming the field and the fix."""
    path = Path(path).resolve()
    if path.suffix in (".yaml", ".yml"):
        raise TinyEdgeError(f"{path}: YAML specs are not supported (no YAML parser is a tinyedge dependency); write "
                            "the same keys in TOML (docs/sweep.md)")
    if not path.is_file():
        raise TinyEdgeError(f"sweep spec {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TinyEdgeError(f"{path}: not valid TOML: {exc}") from None
    _known(data, TOP_KEYS, path, "")
    options = _table(data, "options", path)
    budgets = _table(data, "budgets", path)
    _known(options, OPTION_KEYS, path, "options.")
    _known(budgets, BUDGET_KEYS, path, "budgets.")
    root = path.parent
    calib = tuple(_paths(options.get("calib"), root, path, "options.calib")) or (None,)
    default_eval = _path(options["eval"], root, path, "options.eval") if "eval" in options else None
    models = tuple(entry for item in _list(data, "models", path) for entry in _models(item, root, path, calib,
                                                                                         default_eval))
    boards = tuple(str(b) for b in _list(data, "boards", path))
    activations = tuple(_list(options, "activations", path, ["int8"]))
    for value in activations:
        if value not in ACTIVATIONS:
            raise TinyEdgeError(f"{path}: options.activations has '{value}'; valid: {', '.join(ACTIVATIONS)}")
    optimize = tuple(_list(options, "optimize", path, ["speed"]))
    for value in optimize:
        if value not in OPTIMIZE:
            raise TinyEdgeError(f"{path}: options.optimize has '{value}'; valid: {', '.join(OPTIMIZE)}")
    samples = tuple(_list(options, "samples", path, [2]))
    if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in samples):
        raise TinyEdgeError(f"{path}: options.samples must be positive whole numbers, e.g. samples = [2]")
    backend = options.get("backend", "auto")
    if backend not in BACKENDS:
        raise TinyEdgeError(f"{path}: options.backend '{backend}' is not one of {', '.join(BACKENDS)}")
    for key, value in budgets.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 or \
                (key == "min_accuracy" and value > 1):
            limit = "a fraction in (0, 1], e.g. 0.9" if key == "min_accuracy" else "a positive number"
            raise TinyEdgeError(f"{path}: budgets.{key} = {value!r}; give {limit}")
    return Spec(path, models, boards, activations, optimize, samples, backend, Budgets(**budgets))


def plan_jobs(spec: Spec) -> list[Job]:
    """Every combination, in a stable order; boards are loaded once here (an unknown one lists the valid ones)."""
    boards = [load_board(name) for name in spec.boards]
    digests: dict[Path, str] = {}

    def digest(p: Path | None) -> str | None:
        if p is None:
            return None
        if p not in digests:
            digests[p] = content_sha256(p)
        return digests[p]

    jobs = []
    for model in spec.models:
        for calib, activations in itertools.product(model.calib, spec.activations):
            quantize_key = _hash({"tinyedge": __version__, "model": digest(model.path), "calib": digest(calib),
                                  "activations": activations})
            for board, optimize, samples in itertools.product(boards, spec.optimize, spec.samples):
                key = _hash({"quantized": quantize_key, "eval": digest(model.eval),
                             "board": hashlib.sha256(board.path.read_bytes()).hexdigest(),
                             "optimize": optimize, "samples": samples, "backend": spec.backend})
                calib_label = "synthetic" if calib is None else _label(calib, spec.path.parent)
                jobs.append(Job(key, quantize_key, model, board, calib, calib_label, activations, optimize,
                                samples, spec.backend))
    return jobs


def content_sha256(path: Path) -> str:
    """Of a file, its bytes; of a folder (a SavedModel, a folder of .npy), its files' relative names and bytes."""
    digest = hashlib.sha256()
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(file.relative_to(path)).encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    else:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def _models(item: Any, root: Path, spec: Path, calib: tuple[Path | None, ...],
            default_eval: Path | None) -> list[ModelEntry]:
    """A `models` entry: a file, a folder of model files, or a table {path, calib, eval} with data of its own."""
    if isinstance(item, dict):
        _known(item, MODEL_KEYS, spec, "models[].")
        if "path" not in item:
            raise TinyEdgeError(f"{spec}: a models table needs a path, e.g. {{path = \"kws.keras\"}}")
        calib = tuple(_paths(item.get("calib"), root, spec, "models[].calib")) or calib
        default_eval = _path(item["eval"], root, spec, "models[].eval") if "eval" in item else default_eval
        item = item["path"]
    path = _path(item, root, spec, "models")
    if path.is_dir() and not (path / "saved_model.pb").is_file():
        found = sorted(p for p in path.iterdir() if p.suffix in MODEL_SUFFIXES or (p / "saved_model.pb").is_file())
        if not found:
            raise TinyEdgeError(f"{spec}: models folder {item} holds no model ({', '.join(MODEL_SUFFIXES)} files or "
                                "SavedModel folders)")
        return [ModelEntry(p, _label(p, root), calib, default_eval) for p in found]
    return [ModelEntry(path, _label(path, root), calib, default_eval)]


def _label(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _path(value: Any, root: Path, spec: Path, field: str) -> Path:
    if not isinstance(value, str):
        raise TinyEdgeError(f"{spec}: {field} must be a path string, not {value!r}")
    path = (root / value).resolve()
    if not path.exists():
        raise TinyEdgeError(f"{spec}: {field} names {value}, which does not exist (paths are relative to the spec)")
    return path


def _paths(value: Any, root: Path, spec: Path, field: str) -> list[Path]:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [_path(v, root, spec, field) for v in values]


def _list(data: dict, key: str, spec: Path, default: list | None = None) -> list:
    if key not in data:
        if default is not None:
            return default
        raise TinyEdgeError(f"{spec}: no '{key}' list; e.g. {key} = [...] (docs/sweep.md)")
    value = data[key]
    value = value if isinstance(value, list) else [value]
    if not value:
        raise TinyEdgeError(f"{spec}: '{key}' is empty; name at least one")
    return value


def _table(data: dict, key: str, spec: Path) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise TinyEdgeError(f"{spec}: '{key}' must be a table ([{key}])")
    return value


def _known(data: dict, keys: tuple[str, ...], spec: Path, prefix: str) -> None:
    for key in data:
        if key not in keys:
            raise TinyEdgeError(f"{spec}: unknown key '{prefix}{key}'; valid keys: {', '.join(keys)}")
