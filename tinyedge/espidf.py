"""ESP-IDF projects for the ESP32 family: the model as a component and an app that runs it.

render_espidf_project(out_dir, board, model, sample_input) lays out, from templates/espidf/:

    CMakeLists.txt              the project, built down to main and what it requires
    sdkconfig.defaults          target, the board file's CPU clock, flash size, -O2, main stack
    partitions.csv              only when the app outgrows ESP-IDF's built-in single-app tables
    main/                       main.c (runs the embedded samples, prints the result line),
                                tinyedge_samples.h
    components/tinyedge_model/  CMakeLists.txt; model/ (codegen), kernels/ and include/ (the
                                kernels the model calls), runtime/ (CRC-32, the result line,
                                and te_espidf_io.c: console and stop on ESP-IDF)
    tinyedge_espidf.json        what it was rendered from, for build_espidf and flashing

render_checked_project(...) does the same for a model's first verification samples, with
TFLite-Micro's checksums for them. build_espidf(out_dir) builds it with `idf.py build` where
ESP-IDF is installed (available()); otherwise it raises EspIdfMissing, whose one line says what
to install. app_sizes(build, board) reads the flash and static RAM of what idf.py built.
Everything but runtime/te_espidf_io.c and main/ is plain C99 with no ESP-IDF or Xtensa code:
the same files build for the host and for RV32 (tests/test_espidf.py does).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

from tinyedge import __version__, children
from tinyedge.boards import Board, load_board
from tinyedge.codegen import CompiledModel, render_model
from tinyedge.errors import TinyEdgeError
from tinyedge.outdir import add_force_option, output_folder
from tinyedge.resources import firmware_dir, templates_dir

PROJECT_NAME = "tinyedge_app"  # build/tinyedge_app.bin
COMPONENT = "tinyedge_model"
PROJECT_FILE = "tinyedge_espidf.json"
PORT_SOURCE = "runtime/te_espidf_io.c"
RUNTIME_SOURCES = ("te_crc32.c", "te_report.c")  # te_report.c prints the result line through te_console_write
RUNTIME_HEADER = "te_runtime.h"
PERIOD_MS = 1000  # one inference a second: readable on a serial monitor, and the idle task runs between them
MAIN_STACK_BYTES = 8192  # ESP-IDF's default main task stack is 3584 B; the kernels' frames are small, Xtensa's
#                          windowed calls are not
VALUES_PER_LINE = 16
MIN_IDF = "v5.0"
INSTALL = (f"install ESP-IDF {MIN_IDF} or newer (https://docs.espressif.com/projects/esp-idf/en/stable/esp32/"
           "get-started/) and run `. $IDF_PATH/export.sh` so that idf.py is on PATH")

# Flash layout. ESP-IDF's tables put the app at 0x10000 after nvs and phy_init; the two built-in
# single-app tables give it 1 MB and 1.5 MB. APP_BASE_BYTES is what an app around the model
# needs besides its weights (ESP-IDF's runtime, FreeRTOS, newlib, console, the kernels; about
# 200 KB on ESP32 with v5), with a margin.
APP_OFFSET = 0x10000
APP_BASE_BYTES = 320 * 1024
PARTITION_ALIGN = 0x10000
BUILTIN_TABLES = (
    (0x100000, "ESP-IDF's built-in table 'Single factory app, no OTA' (1 MB app)",
     "CONFIG_PARTITION_TABLE_SINGLE_APP=y"),
    (0x180000, "ESP-IDF's built-in table 'Single factory app (large), no OTA' (1.5 MB app)",
     "CONFIG_PARTITION_TABLE_SINGLE_APP_LARGE=y"),
)
FLASH_SIZES_MB = (1, 2, 4, 8, 16, 32, 64, 128)  # the sizes CONFIG_ESPTOOLPY_FLASHSIZE_* offers


class EspIdfMissing(TinyEdgeError):
    """ESP-IDF is not installed: the project is generated, not built."""


@dataclass(frozen=True)
class Partitioning:
    comment: str
    config: tuple[str, ...]  # sdkconfig.defaults lines
    rows: tuple[dict[str, str], ...]  # partitions.csv rows; empty for a built-in table
    app_bytes: int  # the app partition's size


@dataclass(frozen=True)
class EspIdfProject:
    out_dir: Path
    board: str
    target: str  # IDF_TARGET
    partitioning: Partitioning


@dataclass(frozen=True)
class EspIdfBuild:
    out_dir: Path
    target: str
    build_dir: Path
    app_bin: Path  # build/tinyedge_app.bin
    flasher_args: Path  # build/flasher_args.json: offsets and files for esptool

    @property
    def app_elf(self) -> Path:
        return self.build_dir / f"{PROJECT_NAME}.elf"


@dataclass(frozen=True)
class CheckedProject:
    project: EspIdfProject
    samples: list[bytes]  # the inputs embedded in the app
    expected: list[bytes]  # TFLite-Micro's outputs for them (the app checks their checksums)


@dataclass(frozen=True)
class AppSizes:
    """What an ESP-IDF build takes: flash from the app image, RAM from the ELF's static sections."""

    flash_bytes: int  # build/tinyedge_app.bin, what is written to the app partition
    ram_bytes: int  # allocated sections in the board's RAM regions: IRAM code, DRAM data and bss
    text_bytes: int  # code and read-only data
    data_bytes: int  # initialized writable data
    bss_bytes: int  # zero-initialized data in RAM


def idf_target(board: Board) -> str:
    """ESP-IDF's name for the board's chip (its esptool chip name: esp32, esp32s3, esp32c3, esp32c6...)."""
    if board.flashing is None or board.flashing.esptool_chip is None:
        raise TinyEdgeError(f"board {board.name} is not an Espressif chip (no flashing.esptool_chip in "
                            f"{board.path.name}); ESP-IDF projects are for ESP32-family boards")
    return board.flashing.esptool_chip


def flash_size_mb(board: Board) -> int:
    """The flash size sdkconfig.defaults declares: the board's largest flash window, rounded down to a size
    esptool knows."""
    largest = max((m.length for m in board.memories if m.kind == "flash"), default=0)
    sizes = [mb for mb in FLASH_SIZES_MB if mb * 1024 * 1024 <= largest]
    if not sizes:
        raise TinyEdgeError(f"board {board.name} declares no flash region of 1 MB or more")
    return sizes[-1]


def partitioning(board: Board, model: CompiledModel) -> Partitioning:
    """The smallest partition table whose app partition holds the model's app, or an error with the figures."""
    app_bytes = model.weight_bytes + APP_BASE_BYTES
    for size, comment, line in BUILTIN_TABLES:
        if app_bytes <= size:
            return Partitioning(comment, (line,), (), size)
    flash = flash_size_mb(board) * 1024 * 1024
    size = (flash - APP_OFFSET) // PARTITION_ALIGN * PARTITION_ALIGN
    if app_bytes > size:
        raise TinyEdgeError(f"the model does not fit board {board.name}: the app needs about {app_bytes:,} B "
                            f"(weights {model.weight_bytes:,} B + {APP_BASE_BYTES:,} B of ESP-IDF and kernels), the "
                            f"largest app partition in {flash_size_mb(board)} MB of flash is {size:,} B; choose a "
                            "board with more flash or a smaller model")
    rows = ({"name": "nvs", "type": "data", "subtype": "nvs", "offset": "0x9000", "size": "0x6000"},
            {"name": "phy_init", "type": "data", "subtype": "phy", "offset": "0xf000", "size": "0x1000"},
            {"name": "factory", "type": "app", "subtype": "factory", "offset": f"0x{APP_OFFSET:x}",
             "size": f"0x{size:x}"})
    return Partitioning(f"partitions.csv: one factory app of {size // 1024} KB, the rest of the flash "
                        f"(the model's {model.weight_bytes:,} B of weights outgrow the built-in tables)",
                        ("CONFIG_PARTITION_TABLE_CUSTOM=y", 'CONFIG_PARTITION_TABLE_CUSTOM_FILENAME="partitions.csv"'),
                        rows, size)


def check_ram(board: Board, model: CompiledModel) -> None:
    """The app's static buffers (arena, input, output) against the board's data RAM, with the figures."""
    static = model.plan.arena_bytes + model.input_bytes + model.output_bytes
    ram = board.data_region
    if static > ram.length:
        raise TinyEdgeError(f"the model does not fit board {board.name}: its arena and I/O buffers take {static:,} B "
                            f"of RAM, '{ram.name}' has {ram.length:,} B; choose a board with more RAM or a smaller "
                            "model")


def c_array_body(data: bytes, indent: str = "    ") -> str:
    """int8 values of `data` as the body of a C array initializer, VALUES_PER_LINE to a line."""
    values = [str(b - 256 if b > 127 else b) for b in data]
    lines = [", ".join(values[i:i + VALUES_PER_LINE]) for i in range(0, len(values), VALUES_PER_LINE)]
    return ",\n".join(indent + line for line in lines)


def split_samples(model: CompiledModel, sample_input: bytes) -> list[bytes]:
    """One or more samples of model.input_bytes each, concatenated in `sample_input`."""
    size = model.input_bytes
    if not sample_input or len(sample_input) % size:
        raise TinyEdgeError(f"the sample input has {len(sample_input)} B; the model takes samples of {size} B "
                            "(give one, or several concatenated)")
    return [sample_input[i:i + size] for i in range(0, len(sample_input), size)]


def copy_runtime(model: CompiledModel, kernels_dir: Path, include_dir: Path, runtime_dir: Path,
                 runtime_sources: tuple[str, ...] = RUNTIME_SOURCES) -> None:
    """The kernels the model calls, every kernel header, te_runtime.h and `runtime_sources`."""
    firmware = firmware_dir()
    for folder in (kernels_dir, include_dir, runtime_dir):
        folder.mkdir(parents=True, exist_ok=True)
    for name in model.kernel_sources:
        source = firmware / "kernels" / name
        if not source.is_file():
            raise TinyEdgeError(f"kernel source {name} is not in {firmware / 'kernels'}")
        shutil.copyfile(source, kernels_dir / name)
    for header in sorted((firmware / "include").glob("*.h")):
        shutil.copyfile(header, include_dir / header.name)
    shutil.copyfile(firmware / "runtime" / RUNTIME_HEADER, include_dir / RUNTIME_HEADER)
    for name in runtime_sources:
        shutil.copyfile(firmware / "runtime" / name, runtime_dir / name)


def render_espidf_project(out_dir: Path, board: Board | str, model: CompiledModel, sample_input: bytes,
                          expected_outputs: Sequence[bytes] | None = None) -> EspIdfProject:
    """Write a complete ESP-IDF project for `board` that runs `model` on `sample_input` (one or more
    concatenated samples). `expected_outputs` (TFLite-Micro's output per sample, e.g. from
    tinyedge.verify.reference_outputs) makes the app check every inference's checksum."""
    board = load_board(board) if isinstance(board, str) else board
    target = idf_target(board)
    if not board.clock_hz or board.clock_hz % 1_000_000:
        raise TinyEdgeError(f"board {board.name}: clock_hz {board.clock_hz} is not a whole number of MHz, "
                            "which ESP-IDF's CPU frequency setting needs")
    samples = split_samples(model, sample_input)
    if expected_outputs is not None and (len(expected_outputs) != len(samples)
                                         or any(len(o) != model.output_bytes for o in expected_outputs)):
        raise TinyEdgeError(f"expected outputs: give {len(samples)} of {model.output_bytes} B, one per sample")
    parts = partitioning(board, model)
    check_ram(board, model)
    out_dir = Path(out_dir)
    component = out_dir / "components" / COMPONENT
    for owned in ("main", "components"):  # files of an earlier render: start clean
        shutil.rmtree(out_dir / owned, ignore_errors=True)
    (out_dir / "partitions.csv").unlink(missing_ok=True)

    render_model(model, component)
    copy_runtime(model, component / "kernels", component / "include", component / "runtime")
    portable = ["model/tinyedge_model.c", *(f"kernels/{name}" for name in model.kernel_sources),
                *(f"runtime/{name}" for name in RUNTIME_SOURCES)]
    checksums = None if expected_outputs is None else [zlib.crc32(o) for o in expected_outputs]
    context = {
        "banner": f"Generated by tinyedge {__version__} for board {board.name} from model sha256 "
                  f"{model.model_sha256[:16]}. Do not edit.",
        "board_name": board.name, "board_description": board.description, "target": target,
        "project_name": PROJECT_NAME, "model_name": model.graph.name, "component": COMPONENT,
        "cpu_mhz": board.clock_hz // 1_000_000, "flash_mb": flash_size_mb(board), "partition": parts,
        "main_stack_bytes": MAIN_STACK_BYTES, "period_ms": PERIOD_MS, "port_source": PORT_SOURCE,
        "sources": [*portable, PORT_SOURCE], "include_dirs": ["include", "model"],
        "input_bytes": model.input_bytes, "sample_count": len(samples),
        "samples": [c_array_body(s, "        ") for s in samples],
        "expected": None if checksums is None else [f"0x{c:08x}u" for c in checksums],
        "macs": f"{model.macs:,}", "weight_bytes": f"{model.weight_bytes:,}",
        "arena_bytes": f"{model.plan.arena_bytes:,}",
    }
    outputs = ["CMakeLists.txt", "sdkconfig.defaults", "README.md", "main/CMakeLists.txt", "main/main.c",
               "main/tinyedge_samples.h", f"components/{COMPONENT}/CMakeLists.txt",
               f"components/{COMPONENT}/{PORT_SOURCE}", *(["partitions.csv"] if parts.rows else [])]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "espidf")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    for name in outputs:  # each file's template is templates/espidf/<name>.j2
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template(f"{name}.j2").render(context))
    meta = {"tinyedge_version": __version__, "board": board.name, "target": target, "project": PROJECT_NAME,
            "model": model.graph.name, "model_sha256": model.model_sha256, "samples": len(samples),
            "expected_checksums": checksums, "app_partition_bytes": parts.app_bytes,
            "flash_mb": flash_size_mb(board), "portable_sources": portable, "port_source": PORT_SOURCE}
    (out_dir / PROJECT_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return EspIdfProject(out_dir, board.name, target, parts)


def render_checked_project(out_dir: Path, board: Board, model: CompiledModel, tflite: Path, calib: Path | None,
                           count: int) -> CheckedProject:
    """The project for `board` with the model's first `count` verification samples (calibration samples, else
    seeded random ones) and TFLite-Micro's outputs for them, which the app checks on the device."""
    from tinyedge.pipeline import verification_samples
    from tinyedge.verify import reference_outputs

    if count < 1:
        raise TinyEdgeError(f"--samples is {count}; the app needs at least one")
    samples = verification_samples(model, calib, count)
    expected = reference_outputs(Path(tflite).read_bytes(), model, samples)
    project = render_espidf_project(out_dir, board, model, b"".join(samples), expected)
    return CheckedProject(project, samples, expected)


# ---------------------------------------------------------------- build

def idf_command() -> list[str] | None:
    """How to run idf.py here: from PATH (after export.sh), else from $IDF_PATH/tools; None without ESP-IDF."""
    on_path = shutil.which("idf.py")
    if on_path:
        return [on_path]
    idf_path = os.environ.get("IDF_PATH")
    if idf_path and (Path(idf_path) / "tools" / "idf.py").is_file():
        python_env = os.environ.get("IDF_PYTHON_ENV_PATH")
        python = str(Path(python_env) / "bin" / "python") if python_env else shutil.which("python3") or "python3"
        return [python, str(Path(idf_path) / "tools" / "idf.py")]
    return None


def available() -> bool:
    """ESP-IDF is installed: idf.py on PATH, or IDF_PATH set to an ESP-IDF checkout."""
    return idf_command() is not None


def missing_message(out_dir: Path) -> str:
    return f"ESP-IDF is not installed (no idf.py on PATH, IDF_PATH not set): {out_dir} is generated but not built; " \
           f"to build it, {INSTALL}, then run `idf.py build` there"


def build_espidf(out_dir: Path) -> EspIdfBuild:
    """`idf.py build` in a rendered project, for the target it was rendered for."""
    out_dir = Path(out_dir).resolve()
    meta_path = out_dir / PROJECT_FILE
    if not meta_path.is_file():
        raise TinyEdgeError(f"{out_dir} is not a tinyedge ESP-IDF project: create it with render_espidf_project")
    target = json.loads(meta_path.read_text())["target"]
    command = idf_command()
    if command is None:
        raise EspIdfMissing(missing_message(out_dir))
    build_dir = out_dir / "build"
    env = {**os.environ, "IDF_TARGET": target}
    proc = children.run([*command, "-C", str(out_dir), "-B", str(build_dir), "build"], "`idf.py build`",
                        stage="idf", env=env, text=True)
    if proc.returncode != 0:
        raise children.completed_failure("`idf.py build`", proc, stage="idf",
                                         detail=f" for {out_dir} (target {target})")
    return EspIdfBuild(out_dir, target, build_dir, build_dir / f"{PROJECT_NAME}.bin",
                       build_dir / "flasher_args.json")


def app_sizes(build: EspIdfBuild, board: Board) -> AppSizes:
    """Flash and static RAM of the app idf.py built (the heap and task stacks come on top of ram_bytes)."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    if not build.app_bin.is_file() or not build.app_elf.is_file():
        raise TinyEdgeError(f"idf.py build left no {build.app_bin.name} and {build.app_elf.name} in "
                            f"{build.build_dir}; run `idf.py fullclean build` in {build.out_dir}")
    ram = [(m.origin, m.origin + m.length) for m in board.memories if m.kind == "ram"]
    text = data = bss = in_ram = 0
    try:
        with build.app_elf.open("rb") as file:
            for section in ELFFile(file).iter_sections():
                flags, address, size = section["sh_flags"], section["sh_addr"], section["sh_size"]
                if not flags & SH_FLAGS.SHF_ALLOC or size == 0:
                    continue
                if section["sh_type"] == "SHT_NOBITS":
                    bss += size
                elif flags & SH_FLAGS.SHF_WRITE:
                    data += size
                else:
                    text += size
                if any(low <= address < high for low, high in ram):
                    in_ram += size
    except ELFError as exc:
        raise TinyEdgeError(f"{build.app_elf} is not a readable ELF ({exc}); rebuild with `idf.py build`") from None
    return AppSizes(build.app_bin.stat().st_size, in_ram, text, data, bss)


# ---------------------------------------------------------------- command line (`tinyedge espidf`)

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="Keras .h5/.keras, SavedModel folder, or .tflite")
    parser.add_argument("--board", required=True, help="an ESP32-family board: esp32, esp32s3, esp32c3, esp32c6")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the project folder to write")
    add_force_option(parser)
    parser.add_argument("--calib", type=Path, help="calibration samples (.npy, .npz or a folder); the app runs "
                                                    "the first --samples of them")
    parser.add_argument("--source", type=Path, help="the model a float .tflite was converted from")
    parser.add_argument("--samples", type=int, default=1, help="input samples embedded in the app (default 1)")
    parser.add_argument("--no-build", action="store_true", help="render only, even where ESP-IDF is installed")


def _print_estimate(model: CompiledModel, board: Board) -> None:
    """No emulator runs this core here: the analytical estimate, labelled as one."""
    from tinyedge.estimate import estimate

    est = estimate(model, board)
    print(f"{est.label}:\n  {est.cycles:,} cycles, {est.latency_ms:.1f} ms at {board.clock_hz / 1e6:g} MHz "
          f"(optimistic bound {est.latency_ms_optimistic:.1f} ms), {est.energy_uj:.0f} uJ per inference")


def run(args: argparse.Namespace) -> int:
    """Render the project (with TFLite-Micro's checksums for its samples), then build it where ESP-IDF is."""
    from tinyedge.pipeline import compile_tflite, ensure_int8

    board = load_board(args.board)
    idf_target(board)  # a board outside the ESP32 family fails before any work
    if args.samples < 1:
        raise TinyEdgeError(f"--samples is {args.samples}; the app needs at least one")
    with output_folder(args.output, (args.model, args.calib, args.source), args.force, command="espidf") as scratch:
        tflite = ensure_int8(args.model, scratch, args.calib, args.source,
                             log=lambda message: print(message, file=sys.stderr))
        model = compile_tflite(tflite, name=Path(args.model).stem)
        checked = render_checked_project(scratch, board, model, tflite, args.calib, args.samples)
    print(f"wrote {args.output}: ESP-IDF project for {board.name}, {len(checked.samples)} sample(s) checked against "
          "TFLite-Micro's checksums on the device")
    if not board.emulated:
        _print_estimate(model, board)
    if args.no_build:
        return 0
    if not available():
        print(f"tinyedge: {missing_message(args.output)}", file=sys.stderr)
        return 0
    build = build_espidf(args.output)
    print(f"built {build.app_bin} (flash it with `tinyedge flash` or `idf.py -p PORT flash`)")
    return 0
