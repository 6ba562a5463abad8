"""TensorFlow Lite Micro as firmware for tinyedge's emulator, on any Arm board file.

TFLM's library is compiled with the commands TFLM's own Makefile gives (`make -n microlite`) for
the board's core and the make variables the caller names (TFLM's release flags, or a reference
submission's), keeping of TFLM's kernel files those the models call; objects already built are
reused (delete the tree's gen/ after changing its third-party downloads). The firmware is that
library, one .tflite (assembled in with .incbin, a sized data object the memory model sees as
weights), a main that runs the interpreter between tinyedge's inference markers, and tinyedge's
own start-up code, runtime and linker script for the board (rendered by tinyedge.build, so the
board's [setup] clocks, wait states and caches are those of tinyedge's firmware). The emulator
then counts TFLM exactly as it counts tinyedge.

    lib = build_library(tree, make_args)          # runs TFLM's make; returns the library and its flags
    elf = build_firmware(lib, board, model, work)  # links one model

Needs arm-none-eabi-gcc/g++ with newlib (TFLM's kernels call libm), and a TFLM tree whose
third-party downloads are in place (TFLM's Makefile fetches them when online).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tinyedge.boards import Board
from tinyedge.build import render_project, toolchain

ARENA_BYTES = 192 * 1024
STUB_MODEL_H = """\
#ifndef TINYEDGE_MODEL_H
#define TINYEDGE_MODEL_H
#include <stdint.h>
#define TINYEDGE_INPUT_BYTES 1
#define TINYEDGE_OUTPUT_BYTES 1
#endif
"""
# The interpreter between the markers: every sample of input.bin, one Invoke each, its output
# appended to output.bin. Op registrations cover the four MLPerf Tiny models.
MAIN_CC = """\
#include <stddef.h>
#include <stdint.h>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#if TE_TFLM_ERROR_REPORTER
#include "tensorflow/lite/micro/micro_error_reporter.h"
#endif

extern "C" {
#include "te_runtime.h"
extern const unsigned char te_tflm_model[];
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);
}

alignas(16) static uint8_t te_arena[TE_ARENA_BYTES];

int main(void)
{
    for (void (**ctor)(void) = __init_array_start; ctor < __init_array_end; ++ctor) {
        (*ctor)();
    }
    tflite::MicroMutableOpResolver<12> resolver;  // locals: no destructor registered at exit
    resolver.AddConv2D();
    resolver.AddDepthwiseConv2D();
    resolver.AddFullyConnected();
    resolver.AddAveragePool2D();
    resolver.AddMaxPool2D();
    resolver.AddReshape();
    resolver.AddSoftmax();
    resolver.AddAdd();
    resolver.AddMul();
    resolver.AddQuantize();
    resolver.AddDequantize();
    const tflite::Model *model = tflite::GetModel(te_tflm_model);
#if TE_TFLM_ERROR_REPORTER
    tflite::MicroErrorReporter reporter;
    tflite::MicroInterpreter interpreter(model, resolver, te_arena, sizeof te_arena, &reporter);
#else
    tflite::MicroInterpreter interpreter(model, resolver, te_arena, sizeof te_arena);
#endif
    if (interpreter.AllocateTensors() != kTfLiteOk) {
        te_fail("AllocateTensors failed");
    }
    TfLiteTensor *in = interpreter.input(0);
    TfLiteTensor *out = interpreter.output(0);
    const te_file input = te_file_open("input.bin", TE_FILE_READ);
    const te_file output = te_file_open("output.bin", TE_FILE_WRITE);
    if (input < 0 || output < 0) {
        te_fail("cannot open input.bin or output.bin");
    }
    for (;;) {
        const size_t got = te_file_read(input, in->data.raw, in->bytes);
        if (got == 0u) {
            break;
        }
        if (got != in->bytes) {
            te_fail("truncated sample in input.bin");
        }
        te_inference_begin();
        const TfLiteStatus status = interpreter.Invoke();
        te_inference_end();
        if (status != kTfLiteOk) {
            te_fail("Invoke failed");
        }
        if (te_file_write(output, out->data.raw, out->bytes) != out->bytes) {
            te_fail("cannot write output.bin");
        }
    }
    te_file_close(input);
    te_file_close(output);
    return 0;
}
"""
MODEL_S = """\
    .section .rodata.te_tflm_model, "a"
    .balign 16
    .global te_tflm_model
    .type te_tflm_model, %object
te_tflm_model:
    .incbin "{path}"
    .size te_tflm_model, . - te_tflm_model
"""
INIT_ARRAY = """\
    .init_array :
    {
        __init_array_start = .;
        KEEP(*(SORT(.init_array.*)))
        KEEP(*(.init_array))
        __init_array_end = .;
    } > CODE

"""


@dataclass(frozen=True)
class Library:
    tree: Path
    path: Path  # libtensorflow-microlite-te.a: the objects compiled here
    cxxflags: tuple[str, ...]  # what TFLM compiled its C++ with (optimization level included)
    includes: tuple[str, ...]  # -I flags, relative to the tree
    error_reporter: bool  # a MicroInterpreter that takes an ErrorReporter (TFLM before 2022)


# The kernels the four MLPerf Tiny models call (TFLM's kernels/ and kernels/cmsis_nn/ files by stem);
# TFLM's framework and CMSIS-NN are built whole. TFLM's library has about 200 kernel and framework
# files: building the ones the models need takes a third of the time on a loaded machine.
MLPERF_KERNELS = frozenset({
    "conv", "conv_common", "depthwise_conv", "depthwise_conv_common", "fully_connected", "fully_connected_common",
    "pooling", "pooling_common", "reshape", "reshape_common", "softmax", "softmax_common", "add", "add_common",
    "mul", "mul_common", "quantize", "quantize_common", "dequantize", "dequantize_common", "kernel_util",
    "micro_tensor_utils", "activation_utils"})
KERNEL_DIRS = ("tensorflow/lite/micro/kernels/", "signal/")  # TFLM's kernels and its signal library


def build_library(tree: Path, make_args: list[str], jobs: int = 2, kernels: frozenset[str] | None = MLPERF_KERNELS,
                  extra_flags: tuple[str, ...] = ()) -> Library:
    """TFLM's library, compiled with the commands TFLM's own Makefile gives (`make -n microlite` with
    `make_args`), keeping of its kernel files only `kernels` (None: all), plus `extra_flags` for C++; objects
    already built are reused. Archived apart from TFLM's own library (libtensorflow-microlite-te.a)."""
    tree = Path(tree).resolve()
    makefile = tree / "tensorflow/lite/micro/tools/make/Makefile"
    if not makefile.is_file():
        raise SystemExit(f"{tree} is not a TFLite-Micro tree (no {makefile.relative_to(tree)})")
    proc = subprocess.run(["make", "-n", "-B", "-f", str(makefile), *make_args, "microlite"], cwd=tree,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"TFLM's make -n microlite failed in {tree}:\n{proc.stderr[-2000:]}")
    compiles, archive = [], None
    for line in proc.stdout.splitlines():
        try:
            words = shlex.split(line)
        except ValueError:  # make's own echo lines; no compile command has unbalanced quotes
            continue
        if "-c" in words and "-o" in words:
            source, obj = words[words.index("-c") + 1], words[words.index("-o") + 1]
            stem = Path(source).stem
            if kernels is None or not source.startswith(KERNEL_DIRS) or stem in kernels:
                compiles.append((line, words, tree / obj))
        elif words and words[0].endswith("ar") and any(w.endswith(".a") for w in words):
            archive = tree / next(w for w in words if w.endswith(".a"))
    if archive is None:
        built = [w for w in proc.stdout.split() if w.endswith("libtensorflow-microlite.a")]
        if not built:
            raise SystemExit(f"TFLM's make -n microlite in {tree} names no library")
        archive = tree / built[0]
    cxx = next((words for _, words, _ in compiles if words[0].endswith("g++")), None)
    if cxx is None:
        raise SystemExit(f"TFLM's make -n microlite in {tree} compiles no C++")

    def compile_one(item: tuple[str, list[str], Path]) -> Path:
        line, words, obj = item
        if not obj.is_file():
            obj.parent.mkdir(parents=True, exist_ok=True)
            extra = extra_flags if words[0].endswith("g++") else ()
            command = line.replace(words[0], " ".join((words[0], *extra)), 1)
            done = subprocess.run(command, shell=True, cwd=tree, capture_output=True, text=True)
            if done.returncode != 0:
                obj.unlink(missing_ok=True)
                raise SystemExit(f"TFLM compile failed:\n{command}\n{done.stderr[-3000:]}")
        return obj

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        objects = list(pool.map(compile_one, compiles))
    library = archive.with_name("libtensorflow-microlite-te.a")
    library.unlink(missing_ok=True)
    library.parent.mkdir(parents=True, exist_ok=True)
    ar = str(Path(cxx[0]).with_name(Path(cxx[0]).name.replace("g++", "ar")))
    subprocess.run([ar, "rcs", str(library), *(str(o) for o in objects)], check=True)
    skip = {"-c", "-o"}
    flags, drop = [], False
    for word in cxx[1:]:
        if drop:
            drop = False
            continue
        if word in skip:
            drop = True
            continue
        if word.startswith(("-W", "-MD")) or word.endswith((".cc", ".cpp")):
            continue
        flags.append(word)
    includes = tuple(f for f in flags if f.startswith("-I"))
    interpreter_h = (tree / "tensorflow/lite/micro/micro_interpreter.h").read_text()
    return Library(tree, library, (*extra_flags, *(f for f in flags if not f.startswith("-I"))), includes,
                   error_reporter=bool(re.search(r"MicroInterpreter\([^)]*ErrorReporter\*", interpreter_h)))


def _run(command: list[str], cwd: Path, what: str) -> None:
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed:\n{' '.join(command)}\n{proc.stderr[-3000:]}")


def build_firmware(library: Library, board: Board, model: Path, work: Path) -> Path:
    """The ELF: TFLM running `model` on `board`, between tinyedge's inference markers."""
    work = Path(work).resolve()
    stub = work / "stub"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "tinyedge_model.h").write_text(STUB_MODEL_H)
    (stub / "tinyedge_model.c").write_text('#include "tinyedge_model.h"\n')
    project = render_project(work / "project", board, stub, kernel_sources=())
    script = project / "linker.ld"
    text = script.read_text()
    marker = "    .data : ALIGN(4)"
    script.write_text(text.replace(marker, INIT_ARRAY + marker, 1))
    tools = toolchain(board)
    cc, cxx = tools.tool("gcc"), tools.tool("g++")
    c_flags = [*tools.arch_flags, *tools.cflags, *(f"-D{d}" for d in tools.defines),
               *(f"-I{i}" for i in tools.include_dirs)]
    objects = []
    sources = ["startup.c", *sorted(p.relative_to(project).as_posix() for p in (project / "runtime").glob("*.c"))]
    for source in sources:
        obj = project / "build" / Path(source).with_suffix(".o")
        obj.parent.mkdir(parents=True, exist_ok=True)
        _run([cc, *c_flags, "-c", source, "-o", str(obj)], project, f"compiling {source}")
        objects.append(obj)
    (project / "tflm_main.cc").write_text(MAIN_CC)
    includes = [f"-I{(library.tree / i[2:]).resolve()}" for i in library.includes]
    main_obj = project / "build" / "tflm_main.o"
    _run([cxx, *library.cxxflags, *includes, "-Iruntime", f"-DTE_ARENA_BYTES={ARENA_BYTES}",
          f"-DTE_TFLM_ERROR_REPORTER={int(library.error_reporter)}", "-c", "tflm_main.cc", "-o", str(main_obj)],
         project, "compiling tflm_main.cc")
    objects.append(main_obj)
    (project / "model.S").write_text(MODEL_S.format(path=Path(model).resolve()))
    model_obj = project / "build" / "model.o"
    _run([cc, *tools.arch_flags, "-c", "model.S", "-o", str(model_obj)], project, "assembling the model")
    objects.append(model_obj)
    elf = project / "build" / "firmware.elf"
    _run([cxx, *tools.arch_flags, "--specs=nano.specs", "-nostartfiles", "-Tlinker.ld", "-Wl,--gc-sections",
          *(str(o) for o in objects), str(library.path), "-Wl,--start-group", "-lstdc++", "-lm", "-lc", "-lgcc",
          "-lnosys", "-Wl,--end-group", "-Wl,--defsym=end=__bss_end", "-o", str(elf)], project, "linking")
    return elf


def text_bytes(elf: Path, board: Board) -> int:
    """Bytes of the ELF's flash image (code, constants, the model, the .data load image)."""
    proc = subprocess.run([toolchain(board).tool("size"), "-A", str(elf)], capture_output=True, text=True, check=True)
    sizes = {parts[0]: int(parts[1]) for parts in (line.split() for line in proc.stdout.splitlines())
             if len(parts) >= 3 and parts[1].isdigit()}
    return sum(size for name, size in sizes.items() if name in (".vectors", ".text", ".rodata", ".init_array",
                                                                 ".ARM.exidx", ".data"))


def compiler_version(board: Board) -> str:
    cxx = toolchain(board).tool("g++")
    return subprocess.run([cxx, "-dumpversion"], capture_output=True, text=True).stdout.strip() if shutil.which(
        cxx) else "(not found)"
