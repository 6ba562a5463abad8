"""Build stage: a firmware project for a board (render_project) and its binaries (build_firmware).

render_project lays out a folder that builds on its own with `make` or CMake: the generated
model (model/, written by codegen), the kernels and headers it uses, the runtime, and main,
start-up code, linker script, Makefile and CMakeLists.txt rendered from templates/firmware/.
build_firmware compiles that folder with the board's cross-compiler (or the system compiler
for the host board) using the same flags the Makefile holds, checks that it fits the board,
and estimates the worst-case stack from GCC's call graph.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import jinja2

from tinyedge import __version__, children
from tinyedge.board_setup import setup_context, setup_defines
from tinyedge.boards import Board, load_board
from tinyedge.boot2 import write_boot2_source
from tinyedge.console import SEMIHOSTING, UART, check_console, runtime_sources
from tinyedge.console import template_context as console_context
from tinyedge.errors import TinyEdgeError
from tinyedge.resources import cache_dir, firmware_dir, templates_dir

C_FLAGS = ("-std=c99", "-O2", "-g", "-ffunction-sections", "-fdata-sections",
           "-Wall", "-Wextra", "-Werror", "-fstack-usage")
FREESTANDING_FLAGS = ("-ffreestanding", "-fno-common")
ANALYSIS_FLAGS = ("-fcallgraph-info=su",)  # build_firmware only: the call graph for the stack estimate
INCLUDE_DIRS = ("model", "include", "runtime")
COMMON_RUNTIME = ("te_runtime.h", "te_inference.c", "te_cycles.c", "te_crc32.c", "te_report.c")
BARE_METAL_RUNTIME = ("te_semihost.c", "te_crt.c", "te_libc.c", "libc/string.h", "te_board.c", "te_cache.c")
SEMIHOSTING_ONLY = ("te_semihost.c",)  # the UART variant replaces it with its console (tinyedge/console.py)
TOP_LEVEL_SOURCES = ("boot2.c", "main.c", "startup.c", "board_init.c", "samples.c")
BUILD_DIR = "build"
LINKER_SCRIPT = "linker.ld"
# Boards whose layout asks for the model's constants in RAM get a second linker script with them in
# flash; build_firmware links with it (and copies it over linker.ld) when they do not fit in RAM
# with MODEL_RAM_MARGIN bytes to spare beyond the stack estimate.
MODEL_FLASH_LINKER_SCRIPT = "linker_model_in_flash.ld"
MODEL_RAM_MARGIN = 8192
# When they do not all fit, the arrays whose flash reads stall most per byte go to RAM as far as it
# has room (linker.ld names their sections in .data), the rest stay in flash: "partial".
MODEL_ARRAY_ALIGN = 16  # TE_ALIGNED in templates/model/tinyedge_model.c.j2: each array may add padding
PROJECT_FILE = "tinyedge_project.json"  # which board a project was rendered for
EXCEPTION_FRAME_BYTES = 32  # registers an Armv6-M/Armv7-M core stacks on interrupt entry (no FPU context)
OBJECT_CACHE = cache_dir("objects")


@dataclass(frozen=True)
class _Family:
    """What a firmware family needs beyond the shared runtime."""

    startup: str | None  # template rendered to startup.c
    entry: str | None  # ELF entry symbol
    stack_root: str  # the function the worst-case stack path starts from
    runtime: tuple[str, ...]
    processor: str  # CMAKE_SYSTEM_PROCESSOR


FAMILIES = {
    "arm": _Family("startup_arm.c.j2", "Reset_Handler", "te_reset", BARE_METAL_RUNTIME, "arm"),
    "riscv": _Family("startup_riscv.c.j2", "_start", "te_reset", BARE_METAL_RUNTIME, "riscv32"),
    "host": _Family(None, None, "main", ("te_host_io.c",), ""),
}


@dataclass(frozen=True)
class Toolchain:
    """Commands and flags for one board; the Makefile, CMakeLists.txt and build_firmware share them."""

    cross: str  # tool prefix with its dash ("arm-none-eabi-"), "" for the host
    cc: str
    arch_flags: tuple[str, ...]
    cflags: tuple[str, ...]
    defines: tuple[str, ...]
    include_dirs: tuple[str, ...]
    libs: tuple[str, ...]
    family: _Family

    @property
    def is_host(self) -> bool:
        return not self.cross

    def tool(self, name: str) -> str:
        return self.cross + name

    @property
    def outputs(self) -> tuple[str, ...]:
        """Files a build leaves in build/: the ELF first, then the flashable images."""
        return ("firmware",) if self.is_host else ("firmware.elf", "firmware.hex", "firmware.bin")

    def link_flags(self, linker_script: str, map_file: str) -> list[str]:
        flags = ["-Wl,--gc-sections"]
        if not self.is_host:
            flags = ["-nostdlib", f"-T{linker_script}", *flags, f"-Wl,-Map={map_file}"]
        return flags


@dataclass(frozen=True)
class Section:
    name: str
    address: int  # where it runs (VMA)
    load_address: int  # where its bytes are stored (LMA)
    size: int
    kind: str  # "text" (code and constants), "data" (initialised, copied to RAM) or "bss"


@dataclass(frozen=True)
class StackEstimate:
    """Worst-case stack from the static call graph (-fcallgraph-info), entry function included."""

    bytes: int
    path: tuple[str, ...]  # the deepest call chain
    complete: bool
    notes: tuple[str, ...]  # why the figure may be low: calls without stack data, recursion, dynamic frames


@dataclass(frozen=True)
class Firmware:
    board: str
    project_dir: Path
    elf: Path  # the host board's executable is its ELF
    hex: Path | None
    bin: Path | None
    sections: tuple[Section, ...]
    stack: StackEstimate
    flash_used: int | None  # bytes of the code region up to the end of the .data load image
    flash_available: int | None
    ram_used: int | None  # .data + .bss + the stack estimate
    ram_available: int | None
    compiler: str
    model_constants: str = "flash"  # where the model's weights and layer parameters are read from: "flash", "ram"
    # or "partial" (the arrays named in model_constants_in_ram, of model_constants_ram_bytes, in RAM)
    model_constants_ram_bytes: int = 0  # the model's constant arrays copied to RAM at start-up
    model_constants_in_ram: tuple[str, ...] = ()  # "partial": the arrays in RAM, most stalls saved per byte first

    def _total(self, kind: str) -> int:
        return sum(s.size for s in self.sections if s.kind == kind)

    @property
    def text(self) -> int:
        return self._total("text")

    @property
    def data(self) -> int:
        return self._total("data")

    @property
    def bss(self) -> int:
        return self._total("bss")


def toolchain(board: Board) -> Toolchain:
    family = FAMILIES.get(board.family)
    if family is None:
        raise TinyEdgeError(f"board '{board.name}' ({board.core}) has no bare-metal build in tinyedge: its "
                            "firmware is built with the vendor SDK, and reports give an analytical estimate "
                            f"for it; to build it, {board.compiler.install}")
    cross = f"{board.compiler.toolchain}-" if board.compiler.toolchain else ""
    cc = f"{cross}gcc" if cross else os.environ.get("CC", "gcc")
    includes = INCLUDE_DIRS if family.entry is None else (*INCLUDE_DIRS, "runtime/libc")
    cflags = C_FLAGS if family.entry is None else (*C_FLAGS, *FREESTANDING_FLAGS)
    return Toolchain(cross=cross, cc=cc, arch_flags=board.compiler.cflags, cflags=cflags,
                     defines=(f"TE_CYCLES_{board.cycle_counter.upper()}", *setup_defines(board)),
                     include_dirs=includes,
                     libs=() if family.entry is None else ("gcc",), family=family)


def render_project(out_dir: Path, board: Board | str, model_dir: Path | None = None,
                   kernel_sources: Iterable[str] | None = None, console: str = SEMIHOSTING,
                   samples: Sequence[bytes] = ()) -> Path:
    """Lay out a firmware project for `board` in out_dir and return out_dir.

    The model sources are out_dir/model/ (codegen writes them there), or are copied from
    model_dir. kernel_sources names the firmware/kernels/*.c files the model calls; None
    copies every kernel (the linker drops what is not called). console "uart" makes the
    standalone variant (tinyedge/console.py), which compiles `samples` in.
    """
    board = load_board(board) if isinstance(board, str) else board
    tools = toolchain(board)
    check_console(console, board)
    uart = console == UART
    out_dir = Path(out_dir)
    model = out_dir / "model"
    if model_dir is not None and Path(model_dir).resolve() != model.resolve():
        _copy_files(Path(model_dir), model, ("*.c", "*.h", "*.json"))
    for name in ("tinyedge_model.h", "tinyedge_model.c"):
        if not (model / name).is_file():
            raise TinyEdgeError(f"{model / name} is missing: generate the model sources first")
    firmware = firmware_dir()
    kernels = sorted(kernel_sources) if kernel_sources is not None else \
        sorted(p.name for p in (firmware / "kernels").glob("*.c"))
    for name in kernels:
        if not (firmware / "kernels" / name).is_file():
            raise TinyEdgeError(f"kernel source {name} is not in {firmware / 'kernels'}")
    for owned in ("kernels", "runtime"):  # copies from a previous render: start clean
        shutil.rmtree(out_dir / owned, ignore_errors=True)
    for owned in ("startup.c", LINKER_SCRIPT, MODEL_FLASH_LINKER_SCRIPT, *TOP_LEVEL_SOURCES):
        (out_dir / owned).unlink(missing_ok=True)
    for name in kernels:
        _copy(firmware / "kernels" / name, out_dir / "kernels" / name)
    shutil.copytree(firmware / "include", out_dir / "include", dirs_exist_ok=True)
    runtime = [name for name in tools.family.runtime if not (uart and name in SEMIHOSTING_ONLY)]
    for name in (*COMMON_RUNTIME, *runtime, *(runtime_sources(board) if uart else ())):
        _copy(firmware / "runtime" / name, out_dir / "runtime" / name)

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "firmware")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    context = _template_context(board, tools, _model_sha256(model))
    outputs = {"main.c": "main.c.j2"}
    if tools.family.startup is not None:
        outputs |= {"startup.c": tools.family.startup, LINKER_SCRIPT: "linker.ld.j2"}
    if uart:
        context |= console_context(board, list(samples))
        outputs |= {"main.c": "main_uart.c.j2", "board_init.c": "board_init.c.j2", "samples.c": "samples.c.j2",
                    "runtime/te_uart_config.h": "te_uart_config.h.j2"}
    for name, template in outputs.items():
        (out_dir / name).write_text(env.get_template(template).render(context))
    if context.get("model_constants_in_ram"):
        (out_dir / MODEL_FLASH_LINKER_SCRIPT).write_text(
            env.get_template("linker.ld.j2").render(context | {"model_constants_in_ram": False}))
    if board.layout is not None and board.layout.boot_stage == "rp2040-boot2":
        write_boot2_source(out_dir)
    context["sources"] = project_sources(out_dir)
    for name in ("Makefile", "CMakeLists.txt"):
        (out_dir / name).write_text(env.get_template(f"{name}.j2").render(context))
    project = {"tinyedge_version": __version__, "board": board.name, "console": console,
               "sources": context["sources"]}
    (out_dir / PROJECT_FILE).write_text(json.dumps(project, indent=2) + "\n")
    return out_dir


def project_sources(project_dir: Path) -> list[str]:
    """The C files of a rendered project, relative to it, in build order."""
    project_dir = Path(project_dir)
    top = [name for name in TOP_LEVEL_SOURCES if (project_dir / name).is_file()]
    nested = [p.relative_to(project_dir).as_posix() for folder in ("runtime", "model", "kernels")
              for p in sorted((project_dir / folder).glob("*.c"))]
    return top + nested


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _copy_files(source_dir: Path, target_dir: Path, patterns: tuple[str, ...]) -> None:
    if not source_dir.is_dir():
        raise TinyEdgeError(f"model folder {source_dir} does not exist")
    for pattern in patterns:
        for path in source_dir.glob(pattern):
            _copy(path, target_dir / path.name)


def _model_sha256(model: Path) -> str:
    meta = model / "tinyedge_model.json"
    if not meta.is_file():
        return ""
    return str(json.loads(meta.read_text()).get("model_sha256", ""))


def _template_context(board: Board, tools: Toolchain, model_sha: str) -> dict:
    banner = f"Generated by tinyedge {__version__} for board {board.name}"
    banner += f" from model sha256 {model_sha[:16]}. Do not edit." if model_sha else ". Do not edit."
    context: dict = {
        "banner": banner, "board_name": board.name, "board_description": board.description, "cross": tools.cross,
        "cc": "$(CROSS)gcc" if tools.cross else tools.cc, "arch_flags": list(tools.arch_flags),
        "cflags": list(tools.cflags), "defines": list(tools.defines), "include_dirs": list(tools.include_dirs),
        "cppflags": [f"-D{d}" for d in tools.defines] + [f"-I{i}" for i in tools.include_dirs],
        "ldlibs": [f"-l{lib}" for lib in tools.libs], "libs": list(tools.libs),
        "processor": tools.family.processor, "image_outputs": not tools.is_host,
        "elf_name": tools.outputs[0], "outputs": list(tools.outputs),
        "linker_script": "" if tools.is_host else LINKER_SCRIPT,
        "ldflags": tools.link_flags(LINKER_SCRIPT, f"{BUILD_DIR}/firmware.map"),
        "cmake_ldflags": tools.link_flags("${CMAKE_CURRENT_SOURCE_DIR}/" + LINKER_SCRIPT,
                                          "${CMAKE_CURRENT_BINARY_DIR}/firmware.map"),
        "boot_bytes": 0,
    }
    if board.layout is not None:
        code, data = board.code_region, board.data_region
        context |= {
            "code": {"name": code.name, "origin": f"0x{code.origin:08X}", "length": f"0x{code.length:X}"},
            "data": {"name": data.name, "origin": f"0x{data.origin:08X}", "length": f"0x{data.length:X}"},
            "code_start": f"0x{board.code_start:08X}", "stack_top": f"0x{board.stack_top:08X}",
            "boot_bytes": board.layout.boot_bytes, "entry": tools.family.entry,
            "global_pointer": board.family == "riscv", "arm": board.family == "arm",
            "model_constants_in_ram": board.layout.model_constants == "ram-when-fits",
            "model_ram_sections": [],  # partial placement: build_firmware renders linker.ld again with them
            "model_flash_script": MODEL_FLASH_LINKER_SCRIPT,
        }
        context |= setup_context(board)
    return context


def build_firmware(project_dir: Path, board: Board | str) -> Firmware:
    """Compile and link a rendered project; raise TinyEdgeError if it does not fit the board."""
    board = load_board(board) if isinstance(board, str) else board
    tools = toolchain(board)
    project_dir = Path(project_dir).resolve()
    sources = _checked_sources(project_dir, board)
    _require_tools(board, tools)
    build = project_dir / BUILD_DIR
    objects = _compile_all(tools, project_dir, sources, build)
    stack = _stack(board, tools, [o.with_suffix(".ci") for o in objects])
    elf, placement = _link_placing_model(board, tools, project_dir, objects, stack)
    hex_path = bin_path = None
    if not tools.is_host:
        hex_path, bin_path = build / tools.outputs[1], build / tools.outputs[2]
        for path, fmt in ((hex_path, "ihex"), (bin_path, "binary")):
            _run([tools.tool("objcopy"), "-O", fmt, str(elf), str(path)], f"objcopy -O {fmt}")
    sections = _sections(tools, elf)
    firmware = Firmware(board.name, project_dir, elf, hex_path, bin_path, sections, stack,
                        *_usage(board, sections, stack), compiler=_compiler_version(tools.cc),
                        model_constants=placement.where, model_constants_ram_bytes=placement.ram_bytes,
                        model_constants_in_ram=placement.arrays)
    _check_fits(board, firmware)
    (build / "firmware.json").write_text(json.dumps(_metadata(firmware), indent=2) + "\n")
    return firmware


def _checked_sources(project_dir: Path, board: Board) -> list[str]:
    meta = project_dir / PROJECT_FILE
    if not meta.is_file():
        raise TinyEdgeError(f"{project_dir} is not a tinyedge firmware project: create it with render_project")
    rendered_for = json.loads(meta.read_text())["board"]
    if rendered_for != board.name:
        raise TinyEdgeError(f"{project_dir} was rendered for board {rendered_for}, not {board.name}: "
                            "render it again for this board")
    return project_sources(project_dir)


def _require_tools(board: Board, tools: Toolchain) -> None:
    for tool in (tools.cc, *(() if tools.is_host else (tools.tool("objcopy"),)), tools.tool("objdump")):
        if shutil.which(tool) is None:
            raise TinyEdgeError(f"board {board.name} needs {tool}, which is not on PATH; install it with "
                                f"`{board.compiler.install}`")


def _link(board: Board, tools: Toolchain, project_dir: Path, objects: list[Path], stack: StackEstimate) -> Path:
    elf = Path(BUILD_DIR) / tools.outputs[0]
    command = [tools.cc, *tools.arch_flags, *tools.link_flags(LINKER_SCRIPT, f"{BUILD_DIR}/firmware.map"),
               *(str(o.relative_to(project_dir)) for o in objects), *(f"-l{lib}" for lib in tools.libs),
               "-o", str(elf)]
    proc = subprocess.run(command, cwd=project_dir, capture_output=True, text=True)
    if proc.returncode != 0:
        _raise_if_overflow(board, proc.stderr, stack)
        raise children.completed_failure(f"{tools.cc} linking the firmware for {board.name}", proc, stage="build")
    return project_dir / elf


@dataclass(frozen=True)
class _Placement:
    where: str  # "flash", "ram" or "partial"
    ram_bytes: int = 0  # of the model's constant arrays
    arrays: tuple[str, ...] = ()  # "partial": the arrays in RAM


@dataclass(frozen=True)
class ModelArray:
    """One of the generated model's constant arrays, and what reading it from flash is estimated to cost."""

    name: str
    section: str  # .rodata.<name>: -fdata-sections gives every array its own
    bytes: int
    stall_per_byte: float  # estimated flash-read stall cycles per byte per inference (see read_cost)


def _link_placing_model(board: Board, tools: Toolchain, project_dir: Path, objects: list[Path],
                        stack: StackEstimate) -> tuple[Path, _Placement]:
    """Link, with the model's constants in RAM where the project's linker script puts them and they fit
    (RAM to spare beyond the stack estimate); else with those arrays whose flash reads stall most per byte in
    RAM as far as they fit ("partial"); else with all of them in flash. linker.ld ends up as the one linked."""
    fallback = project_dir / MODEL_FLASH_LINKER_SCRIPT
    if not fallback.is_file():
        return _link(board, tools, project_dir, objects, stack), _Placement("flash")
    arrays = model_arrays(board, project_dir / "model" / "tinyedge_model.json")
    try:
        elf = _link(board, tools, project_dir, objects, stack)
        _, _, ram_used, ram_available = _usage(board, _sections(tools, elf), stack)
        if ram_used is not None and ram_available is not None and ram_used + MODEL_RAM_MARGIN <= ram_available:
            return elf, _Placement("ram", sum(a.bytes for a in arrays), tuple(a.name for a in arrays))
    except TinyEdgeError:
        pass  # RAM overflowed: the layouts below link, or fail with their own numbers
    flash_script = fallback.read_text()
    fallback.replace(project_dir / LINKER_SCRIPT)  # the project's make and CMake builds link the same way
    elf = _link(board, tools, project_dir, objects, stack)
    _, _, ram_used, ram_available = _usage(board, _sections(tools, elf), stack)
    if ram_used is None or ram_available is None:
        return elf, _Placement("flash")
    chosen = choose_model_arrays(arrays, ram_available - ram_used - MODEL_RAM_MARGIN)
    if not chosen:
        return elf, _Placement("flash")
    (project_dir / LINKER_SCRIPT).write_text(_render_linker_script(board, tools, project_dir,
                                                                   [a.section for a in chosen]))
    try:
        elf = _link(board, tools, project_dir, objects, stack)
        _, _, ram_used, ram_available = _usage(board, _sections(tools, elf), stack)
        if ram_used is not None and ram_available is not None and ram_used + MODEL_RAM_MARGIN <= ram_available:
            return elf, _Placement("partial", sum(a.bytes for a in chosen), tuple(a.name for a in chosen))
    except TinyEdgeError:
        pass
    (project_dir / LINKER_SCRIPT).write_text(flash_script)  # cannot happen with the padding budgeted; be safe
    return _link(board, tools, project_dir, objects, stack), _Placement("flash")


def _render_linker_script(board: Board, tools: Toolchain, project_dir: Path, ram_sections: list[str]) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "firmware")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    context = _template_context(board, tools, _model_sha256(project_dir / "model"))
    return env.get_template("linker.ld.j2").render(context | {"model_constants_in_ram": False,
                                                              "model_ram_sections": ram_sections})


def model_arrays(board: Board, meta: Path) -> list[ModelArray]:
    """The model's constant arrays (codegen's tinyedge_model.json) with their estimated flash-read stalls;
    [] for model sources without that list."""
    data = json.loads(meta.read_text()) if meta.is_file() else {}
    layers = {layer["index"]: layer for layer in data.get("layers", ())}
    constants = data.get("constants", ())
    by_layer: dict[int, list[int]] = {}
    for const in constants:
        for index in const["layers"]:
            by_layer.setdefault(index, []).append(int(const["bytes"]))
    cost = read_cost(board)
    arrays = []
    for const in constants:
        stall = 0.0
        for index in const["layers"]:
            sizes = by_layer[index]
            stall += cost(int(layers.get(index, {}).get("macs", 0)), max(sizes), sum(sizes))
        arrays.append(ModelArray(const["name"], const["section"], int(const["bytes"]), stall))
    return arrays


def read_cost(board: Board) -> Callable[[int, int, int], float]:
    """Estimated stall cycles per byte of a layer's constants read from the board's code memory, per inference,
    as a function of the layer's MACs, its largest constant (the weights) and all its constants' bytes.

    A static estimate, from shapes only: each weight byte takes part in macs / weight_bytes MACs (the
    output pixels of a convolution, 1 for a fully connected layer at batch 1), and a kernel reads it
    at most that many times (fewer where it keeps weights in registers across pixels). When all the
    layer's constants fit in half the cache in front of the flash (the other half for code and for
    the two ways' conflicts), they miss once per inference (the layers between evict them), else on
    every pass: a miss per line, miss_cycles / line_bytes per byte. Without such a cache every read
    pays the flash's wait states, so the cost is the number of passes. Only the ranking matters here.
    """
    code = board.layout.code if board.layout is not None else ""
    caches = [c for c in board.caches if c.memory == code and c.serves in ("data", "both") and board.cache_enabled(c)]

    def cost(macs: int, weight_bytes: int, layer_bytes: int) -> float:
        passes = max(1.0, macs / weight_bytes) if weight_bytes else 1.0
        if not caches:
            return passes
        cache = caches[0]
        per_byte = cache.miss_cycles / cache.line_bytes
        return per_byte * (1.0 if layer_bytes <= cache.size_bytes // 2 else passes)

    return cost


def choose_model_arrays(arrays: list[ModelArray], budget: int) -> list[ModelArray]:
    """The arrays for RAM: greedily by estimated stall per byte (larger first among equals), each taken when
    it fits what is left of `budget` bytes (with its alignment padding), the rest skipped."""
    chosen = []
    for array in sorted(arrays, key=lambda a: (-a.stall_per_byte, -a.bytes, a.name)):
        padded = -(-array.bytes // MODEL_ARRAY_ALIGN) * MODEL_ARRAY_ALIGN
        if array.stall_per_byte > 0 and padded <= budget:
            chosen.append(array)
            budget -= padded
    return chosen


def _compile_all(tools: Toolchain, project_dir: Path, sources: list[str], build: Path) -> list[Path]:
    flags = [*tools.arch_flags, *tools.cflags, *ANALYSIS_FLAGS, *(f"-D{d}" for d in tools.defines),
             *(f"-I{i}" for i in tools.include_dirs)]

    def compile_one(source: str) -> Path:
        obj = build / Path(source).with_suffix(".o")
        obj.parent.mkdir(parents=True, exist_ok=True)
        _compile_cached(tools.cc, flags, source, obj, project_dir)
        return obj

    with ThreadPoolExecutor(max_workers=max(1, min(len(sources), os.cpu_count() or 1))) as pool:
        return list(pool.map(compile_one, sources))


def _compile_cached(cc: str, flags: list[str], source: str, obj: Path, project_dir: Path) -> None:
    """Compile one file, reusing the object (and its .su/.ci) when the preprocessed source is unchanged.

    Kernels and runtime are the same in every project, so builds after the first compile
    little more than the model itself.
    """
    preprocessed = subprocess.run([cc, *flags, "-E", source], cwd=project_dir, capture_output=True)
    if preprocessed.returncode != 0:
        raise children.completed_failure(f"{cc} compiling {source}", preprocessed, stage="build", stdout=False)
    key = hashlib.sha256("\0".join([_compiler_version(cc), *flags, "-ffile-prefix-map", source]).encode()
                         + preprocessed.stdout)
    cached = OBJECT_CACHE / key.hexdigest()[:32]
    outputs = [obj, obj.with_suffix(".su"), obj.with_suffix(".ci")]
    if all((cached / p.name).is_file() for p in outputs):
        for path in outputs:
            shutil.copyfile(cached / path.name, path)
        return
    # The project's own path stays out of the object (debug info names "."), so the same sources give the
    # same bytes in any folder; the cache key names the option but not the path, for the same reason.
    prefix_map = f"-ffile-prefix-map={project_dir}=."
    proc = subprocess.run([cc, *flags, prefix_map, "-c", source, "-o", str(obj)], cwd=project_dir,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise children.completed_failure(f"{cc} compiling {source}", proc, stage="build")
    partial = cached.with_name(f"{cached.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    partial.mkdir(parents=True, exist_ok=True)
    for path in outputs:
        if path.is_file():
            shutil.copyfile(path, partial / path.name)
    try:
        partial.rename(cached)
    except OSError:  # another build stored the same object first
        shutil.rmtree(partial, ignore_errors=True)


def _stack(board: Board, tools: Toolchain, callgraphs: list[Path]) -> StackEstimate:
    """The main program's deepest stack, plus the SysTick interrupt where the firmware enables it."""
    stack = estimate_stack(callgraphs, tools.family.stack_root)
    if board.cycle_counter != "systick":
        return stack
    handler = estimate_stack(callgraphs, "SysTick_Handler")
    return StackEstimate(stack.bytes + EXCEPTION_FRAME_BYTES + handler.bytes, stack.path,
                         stack.complete and handler.complete, stack.notes + handler.notes)


def _run(command: list[str], what: str) -> str:
    proc = children.run(command, what, stage="build", text=True)
    if proc.returncode != 0:
        raise children.completed_failure(what, proc, stage="build")
    return proc.stdout


@functools.cache
def _compiler_version(cc: str) -> str:
    return _run([cc, "--version"], f"{cc} --version").splitlines()[0].strip()


_SECTION_LINE = re.compile(r"^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+2\*\*\d+\s*$")


def _sections(tools: Toolchain, elf: Path) -> tuple[Section, ...]:
    """Allocated sections from `objdump -h`, classified the way `size` counts them."""
    lines = _run([tools.tool("objdump"), "-h", str(elf)], "objdump -h").splitlines()
    sections = []
    for line, flags_line in zip(lines, lines[1:]):
        match = _SECTION_LINE.match(line)
        flags = {flag.strip() for flag in flags_line.split(",")}
        if not match or "ALLOC" not in flags or int(match[2], 16) == 0:
            continue
        address, load_address = int(match[3], 16), int(match[4], 16)
        copied = address != load_address  # .data: read-only when it holds only the model's constants
        kind = "bss" if "LOAD" not in flags else "text" if flags & {"READONLY", "CODE"} and not copied else "data"
        sections.append(Section(match[1], address, load_address, int(match[2], 16), kind))
    return tuple(sections)


def _usage(board: Board, sections: tuple[Section, ...], stack: StackEstimate) -> tuple[int | None, ...]:
    if board.layout is None:
        return None, None, None, None
    code, data = board.code_region, board.data_region
    stored = [s.load_address + s.size for s in sections if s.kind != "bss" and code.contains(s.load_address)]
    in_ram = [s.address + s.size for s in sections if data.contains(s.address)]
    flash_used = max(stored, default=code.origin) - code.origin
    ram_used = max(in_ram, default=data.origin) - data.origin + stack.bytes
    return flash_used, code.length, ram_used, data.length


def _check_fits(board: Board, firmware: Firmware) -> None:
    if firmware.flash_used is None or firmware.ram_used is None:
        return
    assert firmware.flash_available is not None and firmware.ram_available is not None
    problems = []
    if firmware.flash_used > firmware.flash_available:
        problems.append(f"flash {firmware.flash_used:,} B used > {firmware.flash_available:,} B available "
                        f"in '{board.code_region.name}'")
    if firmware.ram_used > firmware.ram_available:
        static = firmware.ram_used - firmware.stack.bytes
        problems.append(f"RAM {firmware.ram_used:,} B used (data+bss {static:,} B + stack {firmware.stack.bytes:,} B)"
                        f" > {firmware.ram_available:,} B available in '{board.data_region.name}'")
    if problems:
        raise TinyEdgeError(f"the firmware does not fit board {board.name}: {'; '.join(problems)}; "
                            "choose a board with more memory or a smaller model")


_OVERFLOW = re.compile(r"region `(CODE|DATA)' overflowed by (\d+) bytes")


def _raise_if_overflow(board: Board, stderr: str, stack: StackEstimate) -> None:
    """Turn the linker's region overflow into the same 'does not fit' error, with the numbers."""
    problems = []
    for region_name, extra in dict(_OVERFLOW.findall(stderr)).items():
        region = board.code_region if region_name == "CODE" else board.data_region
        used = region.length + int(extra)
        if region_name == "CODE":
            problems.append(f"flash {used:,} B used > {region.length:,} B available in '{region.name}'")
        else:
            problems.append(f"RAM data+bss {used:,} B (before {stack.bytes:,} B of stack) > "
                            f"{region.length:,} B available in '{region.name}'")
    if problems:
        raise TinyEdgeError(f"the firmware does not fit board {board.name}: {'; '.join(problems)}; "
                            "choose a board with more memory or a smaller model")


_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
_FRAME = re.compile(r"\\n(\d+) bytes \(([a-z,]+)\)")


def estimate_stack(callgraph_files: Iterable[Path], root: str) -> StackEstimate:
    """Deepest stack use from `root` over GCC's .ci call graphs (one per object file)."""
    frames: dict[str, int] = {}
    dynamic: set[str] = set()
    calls: dict[str, set[str]] = {}
    for path in callgraph_files:
        if not path.is_file():
            continue
        text = path.read_text()
        for name, label in _NODE.findall(text):
            frame = _FRAME.search(label)
            if frame:
                frames[name] = max(frames.get(name, 0), int(frame[1]))
                if frame[2] != "static":
                    dynamic.add(name)
        for caller, callee in _EDGE.findall(text):
            calls.setdefault(caller, set()).add(callee)

    unknown: set[str] = set()
    recursive: set[str] = set()
    memo: dict[str, tuple[int, tuple[str, ...]]] = {}

    def deepest(name: str, active: frozenset[str]) -> tuple[int, tuple[str, ...]]:
        if name in active:
            recursive.add(name)
            return 0, ()
        if name in memo:
            return memo[name]
        if name not in frames:
            unknown.add(name)
        below = [deepest(callee, active | {name}) for callee in sorted(calls.get(name, ()))]
        depth, path = max(below, default=(0, ()), key=lambda item: item[0])
        memo[name] = (frames.get(name, 0) + depth, (name, *path))
        return memo[name]

    total, path = deepest(root, frozenset())
    notes = []
    if unknown:
        notes.append(f"no stack data for {', '.join(sorted(unknown))}")
    if recursive:
        notes.append(f"recursion through {', '.join(sorted(recursive))}")
    reached_dynamic = sorted(dynamic & set(memo))
    if reached_dynamic:
        notes.append(f"dynamic stack frames in {', '.join(reached_dynamic)}")
    return StackEstimate(total, path, not notes, tuple(notes))


def _metadata(firmware: Firmware) -> dict:
    meta = asdict(firmware)
    # Paths relative to the project: the folder is built in a scratch place and moved, and two builds of
    # the same inputs must write the same bytes wherever they are.
    meta["project_dir"] = "."
    for key in ("elf", "hex", "bin"):
        path = getattr(firmware, key)
        meta[key] = None if path is None else str(path.relative_to(firmware.project_dir))
    meta |= {"tinyedge_version": __version__, "text": firmware.text, "data": firmware.data, "bss": firmware.bss}
    return meta
