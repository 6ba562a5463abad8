"""pytest plugin: build a model's firmware in a test, run it in the emulator, assert it is right and fits.

    def test_kws_fits(tinyedge_firmware):
        fw = tinyedge_firmware("models/kws.h5", board="nrf52840", calib="calib.npy")
        fw.assert_bit_exact()
        fw.assert_budget(cycles=60_000_000, ram=64 * 1024, flash=256 * 1024)

`tinyedge_firmware` runs tinyedge.pipeline.compile_model (quantize, generate, cross-compile,
emulate, verify against TFLite-Micro, report) once per model, board and options in a test
session, and returns a CompiledFirmware. Relative paths are taken from the folder pytest was
started in.

Options (command line, or the same name with underscores in the pytest ini file):
  --tinyedge-board NAME     board when a test names none
  --tinyedge-backend NAME   emulator: auto (default), builtin, renode, qemu
  --tinyedge-samples N      inputs checked against TFLite-Micro per firmware (default 4)
  --tinyedge-output DIR     keep each firmware folder (report.html, report.json, ELF) in
                            DIR/<model>-<board>/ instead of pytest's temporary folder

Loaded through the `pytest11` entry point when tinyedge is installed, or with
`-p tinyedge.pytest_plugin`. docs/pytest-plugin.md has the user guide.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tinyedge.errors import TinyEdgeError

if TYPE_CHECKING:
    from tinyedge.report import Report

DEFAULT_SAMPLES = 4
_log = logging.getLogger("tinyedge")


def _log_line(message: str) -> None:
    """compile_model's progress lines, to pytest's log capture; its warnings as warnings."""
    (_log.warning if message.startswith("WARNING") else _log.info)(message)


class FirmwareError(TinyEdgeError):
    """A firmware the fixture could not build or run; the message names the model and board."""


# ---------------------------------------------------------------- the object a test gets

@dataclass(frozen=True)
class Figure:
    """A reported figure that assert_budget can bound."""
    read: Callable[[Report], float]
    unit: str
    decimals: int


FIGURES: dict[str, Figure] = {
    "instructions": Figure(lambda r: r.simulation.instructions, "", 0),
    "cycles": Figure(lambda r: r.simulation.cycles, "", 0),
    "latency_ms": Figure(lambda r: r.simulation.latency_ms, " ms", 3),
    "energy_uj": Figure(lambda r: r.simulation.energy_uj, " uJ", 2),
    "ram": Figure(lambda r: r.memory.ram_bytes, " B", 0),
    "flash": Figure(lambda r: r.memory.flash_bytes, " B", 0),
    "arena": Figure(lambda r: r.memory.arena_bytes, " B", 0),
    "stack": Figure(lambda r: r.memory.stack_bytes, " B", 0),
}


def _format(value: float, figure: Figure) -> str:
    return f"{value:,.{figure.decimals}f}{figure.unit}"


@dataclass(frozen=True, repr=False)
class CompiledFirmware:
    """A model compiled for a board, run in the emulator and verified: the Report and its files."""
    report: Report
    out_dir: Path
    elf: Path

    @property
    def model(self) -> str:
        return self.report.model.name

    @property
    def board(self) -> str:
        return self.report.board.name

    @property
    def report_json(self) -> Path:
        return self.out_dir / "report.json"

    @property
    def report_html(self) -> Path:
        return self.out_dir / "report.html"

    def figure(self, name: str) -> float:
        """A figure by the name assert_budget uses (instructions, cycles, ram, flash, ...)."""
        if name not in FIGURES:
            raise KeyError(f"unknown figure '{name}'; valid figures: {', '.join(FIGURES)}")
        return FIGURES[name].read(self.report)

    def __repr__(self) -> str:
        return f"<CompiledFirmware {self.model} on {self.board} in {self.out_dir}>"

    def assert_bit_exact(self) -> None:
        """Every output byte of the firmware equals TFLite-Micro's, on every sample checked."""
        __tracebackhide__ = True
        v = self.report.verification
        if not v.bit_exact:
            raise AssertionError(
                f"the firmware's outputs differ from {v.reference}'s in {v.mismatched_samples} of {v.samples} "
                f"samples ({self.board}, {self.model})\nreport: {self.report_html}")

    def assert_budget(self, *, instructions: int | None = None, cycles: int | None = None,
                      latency_ms: float | None = None, energy_uj: float | None = None, ram: int | None = None,
                      flash: int | None = None, arena: int | None = None, stack: int | None = None) -> None:
        """Each figure given is at most its budget (per inference; memory in bytes).

        instructions: exact, from the emulator. cycles, latency_ms, energy_uj: estimates by the
        report's cycle model and the board's power figures. ram: data + bss + measured stack;
        flash: text + data; arena, stack: parts of ram.
        """
        __tracebackhide__ = True
        budgets = {"instructions": instructions, "cycles": cycles, "latency_ms": latency_ms,
                   "energy_uj": energy_uj, "ram": ram, "flash": flash, "arena": arena, "stack": stack}
        budgets = {name: limit for name, limit in budgets.items() if limit is not None}
        if not budgets:
            raise TypeError(f"assert_budget() needs at least one budget: {', '.join(f'{n}=' for n in FIGURES)}")
        over = []
        for name, limit in budgets.items():
            measured = self.figure(name)
            if measured > limit:
                figure = FIGURES[name]
                over.append(f"{name} {_format(measured, figure)} > budget {_format(limit, figure)} "
                            f"({self.board}, {self.model})")
        if over:
            raise AssertionError("\n".join([*over, f"report: {self.report_html}"]))


# ---------------------------------------------------------------- the factory behind the fixture

@dataclass(frozen=True)
class Settings:
    board: str | None
    backend: str
    samples: int
    output: Path | None  # None: pytest's temporary folder
    root: Path  # relative paths are taken from here
    full_trace: bool

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        def setting(name: str) -> str | None:
            value = config.getoption(f"tinyedge_{name}")
            return value if value is not None else (config.getini(f"tinyedge_{name}") or None)

        root = Path(config.invocation_params.dir)
        samples = setting("samples")
        output = setting("output")
        try:
            sample_count = int(samples) if samples is not None else DEFAULT_SAMPLES
        except ValueError:
            raise pytest.UsageError(f"tinyedge_samples must be a whole number, not '{samples}'") from None
        return cls(board=setting("board"), backend=setting("backend") or "auto", samples=sample_count,
                   output=root / output if output else None, root=root,
                   full_trace=bool(config.getoption("fulltrace", False)))


@dataclass(frozen=True)
class _Key:
    model: Path
    model_stamp: tuple
    board: str
    options: tuple  # (name, value) pairs, sorted


def _stamp(path: Path | None) -> tuple:
    """What changes when a file or folder is rewritten: a model saved again is compiled again."""
    if path is None or not path.exists():
        return ()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)


@dataclass(repr=False)
class FirmwareFactory:
    """tinyedge_firmware(model, board=None, *, calib=None, ...) -> CompiledFirmware, cached per session."""
    settings: Settings
    tmp_path_factory: pytest.TempPathFactory
    built: dict[_Key, CompiledFirmware | str] = field(default_factory=dict)  # str: the error, raised again

    def __call__(self, model: str | Path, board: str | None = None, *, calib: str | Path | None = None,
                 source: str | Path | None = None, samples: int | None = None, backend: str | None = None,
                 rate_hz: float | None = None, battery_mah: float | None = None) -> CompiledFirmware:
        """Compile `model` for `board` (default --tinyedge-board), emulate it and verify it.

        calib: calibration data (.npy/.npz/folder); samples: inputs checked against TFLite-Micro
        (default --tinyedge-samples); backend: emulator (default --tinyedge-backend); source, rate_hz,
        battery_mah: as `tinyedge compile`. The same arguments in one session give the same object.
        """
        __tracebackhide__ = True
        board = board or self.settings.board
        if not board:
            raise FirmwareError(f"no board for {model}: pass board=... to tinyedge_firmware, or run pytest with "
                                "--tinyedge-board NAME (or set tinyedge_board in the pytest ini file)")
        if str(board).endswith(".toml"):  # a board file of the project's own, not a shipped board name
            board = str(self._path(board))
        model_path = self._path(model)
        options = {"calib": self._path(calib), "source": self._path(source),
                   "samples": samples if samples is not None else self.settings.samples,
                   "backend": backend or self.settings.backend, "rate_hz": rate_hz, "battery_mah": battery_mah}
        options = {name: value for name, value in options.items() if value is not None}
        key = _Key(model_path, _stamp(model_path) + _stamp(options.get("calib")), board, tuple(sorted(options.items())))
        if key not in self.built:
            self.built[key] = self._compile(key, options)
        result = self.built[key]
        if isinstance(result, str):
            raise FirmwareError(result)
        return result

    def __repr__(self) -> str:  # pytest prints fixture values beside a failing test's source
        return (f"<tinyedge_firmware: board {self.settings.board or '(none)'}, backend {self.settings.backend}, "
                f"{len(self.built)} firmware build(s)>")

    def _path(self, path: str | Path | None) -> Path | None:
        return None if path is None else (self.settings.root / Path(path)).resolve()

    def _out_dir(self, key: _Key) -> Path:
        name = f"{key.model.stem}-{Path(key.board).stem}"
        if self.settings.output is None:
            return self.tmp_path_factory.mktemp(f"{name}-", numbered=True)  # kws-nrf52840-0
        taken = {p.name for p in self._firmware_dirs()}
        unique, n = name, 1
        while unique in taken:
            n += 1
            unique = f"{name}-{n}"
        return self.settings.output / unique

    def _firmware_dirs(self) -> list[Path]:
        return [r.out_dir for r in self.built.values() if isinstance(r, CompiledFirmware)]

    def _compile(self, key: _Key, options: dict) -> CompiledFirmware | str:
        from tinyedge.boards import load_board
        from tinyedge.pipeline import compile_model  # TensorFlow and friends load only when a test needs them

        try:
            if not load_board(key.board).emulated:  # the fixture's figures are emulator measurements
                raise TinyEdgeError(f"board '{key.board}' cannot be emulated here: tinyedge_firmware measures "
                                    "firmware in the emulator; `tinyedge compile` gives this board an ESP-IDF "
                                    "project and an analytical estimate")
            result = compile_model(key.model, key.board, self._out_dir(key), log=_log_line, **options)
        except TinyEdgeError as exc:
            if self.settings.full_trace:
                raise
            return f"{key.model.name} on {key.board}: {exc}"
        return CompiledFirmware(result.report, result.out_dir, result.elf)


# ---------------------------------------------------------------- pytest hooks and fixtures

_SETTINGS = pytest.StashKey[Settings]()
_FACTORY = pytest.StashKey[FirmwareFactory]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tinyedge", "tinyedge firmware fixtures")
    group.addoption("--tinyedge-board", dest="tinyedge_board", metavar="NAME",
                    help="board for tinyedge_firmware when a test names none (see `tinyedge boards`)")
    group.addoption("--tinyedge-backend", dest="tinyedge_backend", metavar="NAME",
                    help="emulator for tinyedge_firmware (default auto: Renode when installed, else builtin)")
    group.addoption("--tinyedge-samples", dest="tinyedge_samples", type=int, metavar="N",
                    help=f"inputs each firmware is checked on against TFLite-Micro (default {DEFAULT_SAMPLES})")
    group.addoption("--tinyedge-output", dest="tinyedge_output", metavar="DIR",
                    help="keep each firmware folder in DIR/<model>-<board>/ (default: pytest's temporary folder)")
    parser.addini("tinyedge_board", "board for tinyedge_firmware when a test names none")
    parser.addini("tinyedge_backend", "emulator for tinyedge_firmware (auto, builtin, renode, qemu)")
    parser.addini("tinyedge_samples", "inputs each firmware is checked on against TFLite-Micro")
    parser.addini("tinyedge_output", "keep each firmware folder in this folder")


def pytest_configure(config: pytest.Config) -> None:
    settings = Settings.from_config(config)
    if settings.backend != "auto":  # the emulator table loads the emulator: only when one is named
        from tinyedge.simulate.backends import CHOICES

        if settings.backend not in CHOICES:
            raise pytest.UsageError(f"tinyedge backend '{settings.backend}' (--tinyedge-backend or tinyedge_backend): "
                                    f"valid backends: {', '.join(CHOICES)}")
    config.stash[_SETTINGS] = settings


@pytest.fixture(scope="session")
def tinyedge_firmware(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> FirmwareFactory:
    """A factory: tinyedge_firmware(model, board=None, *, calib=None, samples=None, ...) -> CompiledFirmware.

    Compiles, emulates and verifies once per model, board and options in the session.
    """
    factory = FirmwareFactory(request.config.stash[_SETTINGS], tmp_path_factory)
    request.config.stash[_FACTORY] = factory
    return factory


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int,
                            config: pytest.Config) -> None:
    """One line per firmware the session built: the figures a CI log reader looks for first."""
    factory = config.stash.get(_FACTORY, None)
    if factory is None or not factory.built:
        return
    terminalreporter.write_sep("-", f"tinyedge: {len(factory.built)} firmware build(s)")
    for result in factory.built.values():
        if isinstance(result, str):
            terminalreporter.write_line(f"FAILED {result.splitlines()[0]}")
            continue
        r = result.report
        verdict = "bit-exact" if r.verification.bit_exact else f"{r.verification.mismatched_samples} MISMATCHED"
        terminalreporter.write_line(
            f"{result.model} on {result.board}: {r.simulation.instructions:,} instructions, "
            f"{r.simulation.cycles:,} cycles ({r.simulation.latency_ms:.3f} ms), RAM {r.memory.ram_bytes:,} B, "
            f"flash {r.memory.flash_bytes:,} B, {verdict}; {result.report_html}")
