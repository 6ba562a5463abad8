"""Command line: one small function per subcommand over the stage modules.

Every error a user can cause is a TinyEdgeError, printed here as one line; --debug
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from tinyedge import __version__, arduino, ci_init, compare, espidf, monitor
from tinyedge.console import CONSOLES, SEMIHOSTING
from tinyedge.errors import TinyEdgeError
from tinyedge.flash import cli as flash_cli
from tinyedge.micropython import module as micropython
from tinyedge.outdir import add_force_option, check_output_file, write_file_atomically


def _log(message: str) -> None:
    print(message, file=sys.stderr)


def cmd_quantize(args: argparse.Namespace) -> int:
    from tinyedge.quantize import quantize

    output = check_output_file(args.output, (args.model, args.calib, args.source))
    with tempfile.TemporaryDirectory(prefix="tinyedge-quantize-") as tmp:  # the output appears whole or not at all
        result = quantize(args.model, Path(tmp) / output.name, calib=args.calib, source=args.source, log=_log,
                          activations=args.activations)
        write_file_atomically(output, result.tflite.read_bytes())
    if result.passthrough:
        print(f"{args.model} is already quantized: copied unchanged to {args.output}")
    else:
        print(f"wrote {args.output}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from tinyedge.pipeline import generate

    generated = generate(args.model, args.output, board=args.board, calib=args.calib, source=args.source, log=_log,
                         force=args.force, activations=args.activations, optimize=args.optimize)
    model = generated.model
    print(f"wrote {generated.out_dir}: {len(model.layers)} layers, {model.macs:,} MACs, "
          f"weights {model.weight_bytes:,} B, arena {model.plan.arena_bytes:,} B (planned for {model.plan.optimize})")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from tinyedge.pipeline import run_model

    result = run_model(args.model, args.board, args.input, args.output, calib=args.calib, backend=args.backend,
                       log=_log, activations=args.activations, optimize=args.optimize)
    print(f"wrote {args.output}: {result.dtype} {list(result.shape)}")
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    from tinyedge.api import compile_model
    from tinyedge.report import summary_table

    result = compile_model(args.model, args.board, args.output, calib=args.calib, source=args.source,
                           samples=args.samples, rate_hz=args.rate, battery_mah=args.battery, budget=args.budget,
                           backend=args.backend, log=_log, console=args.console, force=args.force,
                           command=args.command_line, activations=args.activations, eval_data=args.eval,
                           optimize=args.optimize)
    print(summary_table(result.report))
    print(f"wrote {result.out_dir}: {result.contents}, report.json, report.html")
    if not result.report.verification.bit_exact:
        print("tinyedge: error: the firmware's outputs differ from TFLite-Micro's (see report.json)", file=sys.stderr)
        return 3
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from tinyedge.sweep import run_sweep

    result = run_sweep(args.spec, args.output, address=args.address, workers=args.workers, log=_log,
                       command=args.command_line)
    ok = len(result.records) - result.failed
    print(f"{len(result.records)} jobs: {ok} compiled, {result.failed} failed ({result.skipped} done before); "
          f"wrote {result.out_dir}: results.csv, results.json, sweep.html")
    return 3 if result.failed else 0


def cmd_boards(args: argparse.Namespace) -> int:
    from tinyedge.boards import list_boards, load_board

    boards = [load_board(name) for name in list_boards()]
    width = max(len(b.name) for b in boards)
    for board in boards:
        print(f"{board.name:<{width}}  {board.core:<14} {board.description}")
    return 0


def cmd_example(args: argparse.Namespace) -> int:
    from tinyedge.examples import MLPERF_TINY, build

    if args.name not in MLPERF_TINY:
        raise TinyEdgeError(f"unknown example '{args.name}'; valid examples: {', '.join(MLPERF_TINY)}")
    if args.output.suffix not in (".h5", ".keras"):
        raise TinyEdgeError(f"{args.output}: name the file .keras or .h5")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    build(args.name).save(args.output)
    print(f"wrote {args.output}: MLPerf-Tiny-shaped '{args.name}' model with seeded random weights (untrained)")
    return 0


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="Keras .h5/.keras, SavedModel folder, or .tflite")
    parser.add_argument("--calib", type=Path, help="calibration samples: .npy, .npz or a folder of .npy")
    parser.add_argument("--source", type=Path, help="the model a float .tflite was converted from")


def _activations_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--activations", choices=("int8", "int16"),
                        help="quantize activations to int8 (default for Keras models) or int16 (16x8 mode: int8 "
                             "weights, twice the activation RAM, closer to float); a quantized .tflite keeps its own")


def _optimize_option(parser: argparse.ArgumentParser) -> None:
    from tinyedge.plan import OPTIMIZE_GOALS, SPEED

    parser.add_argument("--optimize", choices=OPTIMIZE_GOALS, default=SPEED,
                        help="speed (default: the fast kernels and their scratch) or ram (the smallest arena the "
                             "planner finds, with slower kernels where their scratch sits at the peak)")


def _backend_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="auto", metavar="{auto,builtin,renode,qemu}",
                        help="emulator (default auto: Renode when installed, else the built-in one)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinyedge", description="Trained Keras/TensorFlow models to measured, bit-exact int8 firmware.")
    parser.add_argument("--version", action="version", version=f"tinyedge {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
        sub.set_defaults(handler=handler)
        return sub

    sub = command("quantize", cmd_quantize, "quantize a float model to a full-int8 .tflite")
    _model_options(sub)
    sub.add_argument("-o", "--output", type=Path, required=True, help="the quantized .tflite to write")
    _activations_option(sub)

    sub = command("generate", cmd_generate, "write the model's C sources for a board")
    _model_options(sub)
    sub.add_argument("--board", default="host", help="target board (default: host)")
    sub.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    add_force_option(sub)
    _activations_option(sub)
    _optimize_option(sub)

    sub = command("compile", cmd_compile, "quantize, generate, cross-compile, emulate (or estimate, for Xtensa "
                  "boards), verify and report")
    _model_options(sub)
    sub.add_argument("--board", required=True, help="target board (see `tinyedge boards`)")
    sub.add_argument("-o", "--output", type=Path, help="output folder (default: build/<board>)")
    add_force_option(sub)
    sub.add_argument("--samples", type=int, default=4, help="inputs checked against TFLite-Micro (default 4)")
    sub.add_argument("--eval", type=Path, metavar="DATA", help="labelled samples (.npz of x and y, or a folder of "
                     "class subfolders of .npy): int8 and float accuracy in the report")
    sub.add_argument("--rate", type=float, default=1.0, help="inferences per second for the battery estimate")
    sub.add_argument("--battery", type=float, default=220.0, help="battery capacity in mAh (default 220, CR2032)")
    sub.add_argument("--budget", type=int, help="fail when one inference takes more instructions than this")
    _activations_option(sub)
    _optimize_option(sub)
    sub.add_argument("--console", choices=CONSOLES, default=SEMIHOSTING,
                     help="semihosting (default: reads input.bin through a debugger or emulator) or uart (standalone: "
                          "the samples compiled in, result lines on the board's UART, for `flash --measure`)")
    _backend_option(sub)

    sub = command("run", cmd_run, "compile the model for a board, run it on inputs, write the int8 outputs")
    _model_options(sub)
    sub.add_argument("--board", default="host", help="target board (default: host)")
    sub.add_argument("--input", type=Path, required=True, help="int8 .npy: one input or a batch of them")
    sub.add_argument("--output", type=Path, required=True, help="the .npy to write outputs to")
    _backend_option(sub)
    _activations_option(sub)
    _optimize_option(sub)

    sub = command("compare", compare.run, "per-layer and total deltas between two report.json files; exit 4 past "
                  "--threshold")
    compare.add_arguments(sub)
    sub = command("ci", ci_init.run, "continuous integration: `tinyedge ci init` writes a GitHub Actions workflow")
    ci_init.add_arguments(sub)

    sub = command("flash", flash_cli.run, "flash a build to a board; --measure reads on-device cycles")
    flash_cli.add_arguments(sub)
    sub = command("monitor", monitor.run, "read the firmware's result lines from a serial port")
    monitor.add_arguments(sub)

    sub = command("espidf", espidf.run, "render an ESP-IDF project for an ESP32-family board; build it where "
                  "ESP-IDF is installed")
    espidf.add_arguments(sub)
    sub = command("arduino", arduino.run, "write an Arduino library for the model")
    arduino.add_arguments(sub)
    sub = command("micropython", micropython.run, "the model as a MicroPython module: a native .mpy for the board's "
                  "architecture (tinyedge's own linker) and a user C module")
    micropython.add_arguments(sub)

    sub = command("sweep", cmd_sweep, "compile every model x board x option of a TOML spec as Ray jobs: a results "
                  "table and a Pareto page; run again to resume")
    sub.add_argument("spec", type=Path, help="the sweep spec, a .toml file (docs/sweep.md)")
    sub.add_argument("--address", help="join this Ray cluster (its head's host:port) instead of starting a local Ray")
    sub.add_argument("--workers", type=int, help="CPUs of the local Ray (default: this machine's)")
    sub.add_argument("-o", "--output", type=Path, help="the sweep's folder (default build/sweep/<spec name>)")

    command("boards", cmd_boards, "list the boards tinyedge knows (boards/*.toml)")

    sub = command("example", cmd_example, "write an MLPerf-Tiny-shaped example model (kws, vww, ic, ad)")
    sub.add_argument("name", help="kws, vww, ic or ad")
    sub.add_argument("-o", "--output", type=Path, required=True, help="the .keras or .h5 file to write")
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if args.debug:  # child processes (tinyedge.children) then show their command lines and output
        os.environ["TINYEDGE_DEBUG"] = "1"
    args.command_line = shlex.join(["tinyedge", *argv])  # the report's provenance
    try:
        return args.handler(args)
    except TinyEdgeError as exc:
        if args.debug:
            raise
        # One line, whatever the message holds (a library's text can run to pages); --debug shows it all.
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        print(f"tinyedge: error: {first}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tinyedge: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
