"""A compiled model as a native MicroPython module (.mpy): compile with the arch's compiler, link here.

The same generated model C and kernels as the firmware, plus a glue file (templates/micropython/),
compiled position-independent with MicroPython's flags for the architecture (py/dynruntime.mk's
ABI: armv7emsp/emdp hard float, the others soft or none), then linked by tinyedge.micropython.mpy_link.
No MicroPython source tree is involved.
"""

from __future__ import annotations

import os
import platform
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from tinyedge import __version__, children
from tinyedge.boards import MICROPYTHON_ARCHS
from tinyedge.codegen import CompiledModel, IOTensor, render_model
from tinyedge.errors import TinyEdgeError
from tinyedge.micropython import mpy_format as fmt
from tinyedge.micropython.arch import ARCHS
from tinyedge.micropython.mpy_link import LinkedModule, link
from tinyedge.resources import firmware_dir, templates_dir

C_FLAGS = ("-std=c99", "-O2", "-ffreestanding", "-fpic", "-fno-common", "-fno-stack-protector", "-U_FORTIFY_SOURCE",
           "-ffunction-sections", "-fdata-sections", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables",
           "-Wall", "-Wextra", "-Werror")
ARM_INSTALL = "sudo apt-get install gcc-arm-none-eabi"


@dataclass(frozen=True)
class ArchTools:
    """How to compile for one MicroPython native architecture."""

    cc: str
    flags: tuple[str, ...]
    install: str


TOOLS: dict[str, ArchTools] = {
    "x64": ArchTools(os.environ.get("CC", "gcc"), ("-m64",), "sudo apt-get install gcc"),
    "armv6m": ArchTools("arm-none-eabi-gcc", ("-mthumb", "-mcpu=cortex-m0", "-mfloat-abi=soft"), ARM_INSTALL),
    "armv7m": ArchTools("arm-none-eabi-gcc", ("-mthumb", "-mcpu=cortex-m3", "-mfloat-abi=soft"), ARM_INSTALL),
    "armv7emsp": ArchTools("arm-none-eabi-gcc", ("-mthumb", "-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16",
                                                 "-mfloat-abi=hard"), ARM_INSTALL),
    "armv7emdp": ArchTools("arm-none-eabi-gcc", ("-mthumb", "-mcpu=cortex-m7", "-mfpu=fpv5-d16",
                                                 "-mfloat-abi=hard"), ARM_INSTALL),
    "rv32imc": ArchTools("riscv64-unknown-elf-gcc", ("-march=rv32imc", "-mabi=ilp32", "-mno-relax"),
                         "sudo apt-get install gcc-riscv64-unknown-elf"),
}
XTENSA_CC = "xtensa-esp32-elf-gcc"
# The generated model keeps its arena static; a native module reaches writable data through the GOT only.
STATIC_BUFFERS = ("static int8_t te_arena[", "static int8_t te_input[")


@dataclass(frozen=True)
class NativeModule:
    path: Path
    arch: str
    linked: LinkedModule
    mpy_bytes: int
    compiler: str

    @property
    def import_ram_bytes(self) -> int:
        """What import takes from the heap: the code with its weights (copied there) and the BSS."""
        return len(self.linked.text) + self.linked.bss_bytes


def xtensa_message() -> str:
    if shutil.which(XTENSA_CC) is None:
        return (f"no native .mpy for xtensawin: {XTENSA_CC} is not installed (it comes with ESP-IDF: "
                "https://docs.espressif.com/projects/esp-idf/en/stable/esp32/get-started/); the user C module "
                "builds the model into an ESP32 MicroPython firmware instead")
    return ("no native .mpy for xtensawin: tinyedge's .mpy linker resolves x86-64, Arm Thumb and RV32 relocations, "
            "not Xtensa ones; the user C module builds the model into an ESP32 MicroPython firmware instead")


def tools_for(arch: str) -> ArchTools:
    if arch == "xtensawin":
        raise TinyEdgeError(xtensa_message())
    if arch not in TOOLS:
        raise TinyEdgeError(f"unknown MicroPython architecture '{arch}'; valid choices: {', '.join(MICROPYTHON_ARCHS)}")
    tools = TOOLS[arch]
    if arch == "x64" and platform.machine().lower() not in ("x86_64", "amd64"):
        raise TinyEdgeError(f"x64 modules are built with the system gcc for x86-64; this machine is "
                            f"{platform.machine()}: pick the board's architecture with --arch")
    if shutil.which(tools.cc) is None:
        raise TinyEdgeError(f"{tools.cc} is not installed; it compiles {arch} modules: {tools.install}")
    return tools


def module_name(stem: str) -> str:
    """A Python identifier from a model file's name (the module is imported by it)."""
    name = "".join(c if c.isalnum() else "_" for c in stem.lower()).strip("_") or "model"
    return f"m_{name}" if name[0].isdigit() else name


def _dtype(t: IOTensor) -> str:
    return t.dtype


def _expected(tensors: tuple[IOTensor, ...], total: int) -> str:
    parts = ", ".join(f"{t.dtype}{list(t.shape)}".replace(" ", "") for t in tensors)
    return f"the model takes {total} ({parts})"


def constants(model: CompiledModel) -> list[tuple[str, fmt.Constant]]:
    """The module's constants, the same in the .mpy and the user C module."""
    def described(t: IOTensor) -> tuple:
        return (t.name, tuple(t.shape), _dtype(t), float(np.float32(t.scale)), int(t.zero_point), t.offset, t.nbytes)

    first_in, first_out = model.inputs[0], model.outputs[0]
    return [
        ("INPUT_BYTES", model.input_bytes), ("OUTPUT_BYTES", model.output_bytes),
        ("ARENA_BYTES", model.plan.arena_bytes),
        ("INPUT_SHAPE", tuple(first_in.shape)), ("INPUT_DTYPE", _dtype(first_in)),
        ("INPUT_SCALE", float(np.float32(first_in.scale))), ("INPUT_ZERO_POINT", int(first_in.zero_point)),
        ("OUTPUT_SHAPE", tuple(first_out.shape)), ("OUTPUT_DTYPE", _dtype(first_out)),
        ("OUTPUT_SCALE", float(np.float32(first_out.scale))), ("OUTPUT_ZERO_POINT", int(first_out.zero_point)),
        ("INPUTS", tuple(described(t) for t in model.inputs)), ("OUTPUTS", tuple(described(t) for t in model.outputs)),
    ]


def banner(model: CompiledModel) -> str:
    return f"Generated by tinyedge {__version__} from model sha256 {model.model_sha256[:16]}. Do not edit."


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "micropython")),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def _make_buffers_global(source: Path) -> None:
    """The arena (and input buffer) as non-static globals: BSS the code reaches through the GOT."""
    text = source.read_text()
    found = [s for s in STATIC_BUFFERS if s in text]
    if "static int8_t te_arena[" not in found or any(text.count(s) != 1 for s in found):
        raise TinyEdgeError(f"{source}: the model's arena declaration is not the one tinyedge.micropython expects "
                            "('static int8_t te_arena[...]'); update STATIC_BUFFERS with the model template")
    for declaration in found:
        text = text.replace(declaration, declaration.removeprefix("static "))
    source.write_text(text)


def render_sources(model: CompiledModel, module: str, build_dir: Path) -> list[Path]:
    """The C files of the native module in build_dir; returns the .c files to compile."""
    render_model(model, build_dir)
    _make_buffers_global(build_dir / "model" / "tinyedge_model.c")
    firmware = firmware_dir()
    for name in model.kernel_sources:
        shutil.copyfile(firmware / "kernels" / name, build_dir / name)
    shutil.copytree(firmware / "include", build_dir / "include", dirs_exist_ok=True)
    shutil.copyfile(firmware / "runtime" / "te_libc.c", build_dir / "te_libc.c")
    shutil.copytree(firmware / "runtime" / "libc", build_dir / "libc", dirs_exist_ok=True)
    shutil.copyfile(templates_dir() / "micropython" / "te_mp_abi.h", build_dir / "te_mp_abi.h")
    names = [name for name, _ in constants(model)]
    qstr = {"invoke": 1, "invoke_into": 2, "ValueError": 3, "constants": 4}
    glue = _environment().get_template("natmod_glue.c.j2").render(
        banner=banner(model), module=module, qstr=qstr, constants=len(names),
        input_expected=_expected(model.inputs, model.input_bytes),
        output_expected=_expected(model.outputs, model.output_bytes))
    (build_dir / f"{module}_natmod.c").write_text(glue)
    return [build_dir / f"{module}_natmod.c", build_dir / "model" / "tinyedge_model.c", build_dir / "te_libc.c",
            *(build_dir / name for name in model.kernel_sources)]


def qstrs(module: str, model: CompiledModel) -> list[str]:
    """The .mpy's qstr table: the source name, then the names the glue's TE_MP_QSTR_* indices give."""
    return [f"{module}.mpy", "invoke", "invoke_into", "ValueError", *(name for name, _ in constants(model))]


def compile_objects(sources: list[Path], tools: ArchTools, build_dir: Path) -> list[Path]:
    includes = [f"-I{build_dir / d}" for d in ("model", "include", "libc")] + [f"-I{build_dir}"]

    def one(source: Path) -> Path:
        obj = source.with_suffix(".o")
        command = [tools.cc, *tools.flags, *C_FLAGS, *includes, "-c", str(source), "-o", str(obj)]
        proc = children.run(command, f"compiling {source.name} for the native module", stage="micropython",
                            text=True)
        if proc.returncode != 0:
            raise children.completed_failure(f"compiling {source.name} for the native module", proc,
                                             stage="micropython")
        return obj

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, sources))


def libgcc(tools: ArchTools) -> Path | None:
    proc = children.run([tools.cc, *tools.flags, "-print-libgcc-file-name"], "finding libgcc", stage="micropython",
                        text=True)
    path = Path(proc.stdout.strip())
    return path if proc.returncode == 0 and path.is_file() else None


def build_native_module(model: CompiledModel, module: str, arch: str, out_path: Path, build_dir: Path) -> NativeModule:
    """Compile, link and write `out_path` (<module>.mpy) for `arch`; build_dir holds the intermediate files."""
    tools = tools_for(arch)
    build_dir.mkdir(parents=True, exist_ok=True)
    objects = compile_objects(render_sources(model, module, build_dir), tools, build_dir)
    archive = libgcc(tools)
    linked = link(objects, ARCHS[arch], archives=[archive] if archive else [])
    blob = linked.mpy(qstrs(module, model), [value for _, value in constants(model)])
    out_path.write_bytes(blob)
    return NativeModule(out_path, arch, linked, len(blob), tools.cc)
