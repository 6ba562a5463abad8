"""The Python API: one call from a model file to its report, the same call the CLI and `tinyedge sweep` make.

    import tinyedge
    report = tinyedge.compile("kws.keras", board="nrf52840", calib="calib.npy", out_dir="build/kws")

`import tinyedge` stays light (no NumPy, TensorFlow or compiler here): the stages are imported
when a compile runs, and TensorFlow only in the quantize stage's child process. docs/api.md
is the user guide.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tinyedge.boards import Board
    from tinyedge.pipeline import CompileResult
    from tinyedge.report import Report

PathLike = str | Path


def compile(model: PathLike, board: str | Path | Board = "nrf52840", calib: PathLike | None = None,
            out_dir: PathLike | None = None, *, eval: PathLike | None = None, source: PathLike | None = None,
            samples: int = 4, rate_hz: float = 1.0, battery_mah: float | None = None, budget: int | None = None,
            backend: str = "auto", console: str | None = None, force: bool = False,
            log: Callable[[str], None] | None = None, activations: str | None = None, optimize: str = "speed"
            ) -> Report:
    """Compile `model` for `board` end to end and return its report (report.json and report.html are in out_dir).

    Quantize (with `calib`, else a seeded synthetic set and a warning), generate C, cross-compile,
    run in the emulator (or, for Xtensa boards, estimate), verify against TFLite-Micro. `out_dir`
    defaults to build/<board>. A user error raises tinyedge.errors.TinyEdgeError with one line
    naming the cause and the fix; `log` receives the progress lines and warnings. `activations`
    "int16" quantizes in 16x8 mode (int16 activations, int8 weights) instead of full int8. `eval`
    (a .npz of x and y, or a folder of class subfolders of .npy samples) adds report.accuracy: the
    int8 model's top-1 and confusion matrix (or mean absolute error) from the firmware's own C, beside
    the float model's. `optimize` "ram" plans the smallest arena tinyedge finds, taking slower kernels
    where their scratch would raise the peak; "speed" (the default) keeps the fast kernels
    (docs/performance.md); report.memory.optimize records it.
    """
    return compile_model(model, board, out_dir, calib=calib, eval_data=eval, source=source, samples=samples,
                         rate_hz=rate_hz, battery_mah=battery_mah, budget=budget, backend=backend, console=console,
                         force=force, log=log, activations=activations, optimize=optimize).report


def compile_model(model: PathLike, board: str | Path | Board, out_dir: PathLike | None = None,
                  calib: PathLike | None = None, *, eval_data: PathLike | None = None,
                  source: PathLike | None = None, samples: int = 4,
                  rate_hz: float = 1.0, battery_mah: float | None = None, budget: int | None = None,
                  backend: str = "auto", console: str | None = None, force: bool = False,
                  log: Callable[[str], None] | None = None, command: str | None = None,
                  activations: str | None = None, optimize: str = "speed") -> CompileResult:
    """compile() with everything the command line prints: the report, the compiled model, the output files.

    The board is loaded here, once, and the Board object goes to every stage: emulated boards to
    tinyedge.pipeline, the others (Xtensa) to tinyedge.xtensa.
    """
    from tinyedge.boards import Board, load_board
    from tinyedge.console import SEMIHOSTING
    from tinyedge.plan import check_optimize
    from tinyedge.report import DEFAULT_BATTERY_MAH

    board = board if isinstance(board, Board) else load_board(board)
    check_optimize(optimize)
    if board.emulated:
        from tinyedge.pipeline import compile_model as compile_board
    else:
        from tinyedge.xtensa import compile_estimated as compile_board
    out = Path("build") / board.name if out_dir is None else Path(out_dir)
    return compile_board(Path(model), board, out, calib=_path(calib), source=_path(source), samples=samples,
                         rate_hz=rate_hz, battery_mah=DEFAULT_BATTERY_MAH if battery_mah is None else battery_mah,
                         budget=budget, backend=backend, log=log, console=console or SEMIHOSTING, force=force,
                         command=command, activations=activations, eval_data=_path(eval_data), optimize=optimize)


def _path(value: PathLike | None) -> Path | None:
    return None if value is None else Path(value)
