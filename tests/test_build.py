"""Build stage: projects render, build with tinyedge and with make/CMake, run on the host, fit checks."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from tinyedge.boards import list_boards, load_board
from tinyedge.build import build_firmware, estimate_stack, render_project, toolchain
from tinyedge.errors import TinyEdgeError

# A hand-written model that follows the firmware contract: two "layers", a copy into the arena
# (memcpy) and a dense layer with 64-bit products, a division and a float scale, so every
# board links what real kernels need from libgcc (soft float and 64-bit helpers on the M0+
# and on RV32IMC).
MODEL_H = """\
#ifndef TINYEDGE_MODEL_H
#define TINYEDGE_MODEL_H
#include <stdint.h>
#define TINYEDGE_INPUT_BYTES 16
#define TINYEDGE_OUTPUT_BYTES 4
#define TINYEDGE_ARENA_BYTES 16
#define TINYEDGE_NUM_LAYERS 2
int8_t *tinyedge_model_input(void);
int tinyedge_model_invoke(const int8_t *input, int8_t *output);
#endif
"""
WEIGHTS = np.array([[1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12, 13, -14, 15, -16],
                    [2] * 16,
                    [-3, 1] * 8,
                    [0, 0, 0, 0, 127, 127, 127, 127, -128, -128, -128, -128, 5, 6, 7, 8]], dtype=np.int64)
SCALE = "0.0123f"
MODEL_C = """\
#include <stdint.h>
#include <string.h>
#include "tinyedge_model.h"

static int8_t arena[TINYEDGE_ARENA_BYTES];
static const int8_t weights[4][16] = {%(weights)s};
static volatile float scale = %(scale)s;
%(extra)s
__attribute__((noinline)) static void layer_copy(const int8_t *in, int8_t *out)
{
    memcpy(out, in, TINYEDGE_ARENA_BYTES);
}

__attribute__((noinline)) static void layer_dense(const int8_t *in, int8_t *out)
{
    for (int o = 0; o < 4; ++o) {
        int64_t acc = 0;
        for (int i = 0; i < 16; ++i) {
            acc += (int64_t)in[i] * weights[o][i] * 1000003;
        }
        const float v = (float)(int32_t)(acc / 1000003) * scale;
        const int32_t r = (int32_t)(v + (v >= 0.0f ? 0.5f : -0.5f));
        out[o] = (int8_t)(r > 127 ? 127 : r < -128 ? -128 : r);
    }
}

static int8_t te_input[TINYEDGE_INPUT_BYTES] __attribute__((aligned(16)));

int8_t *tinyedge_model_input(void)
{
    return te_input;
}

int tinyedge_model_invoke(const int8_t *input, int8_t *output)
{
    layer_copy(input, arena);
    layer_dense(arena, output);%(use)s
    return 0;
}
"""
CROSS_BOARDS = [name for name in list_boards() if load_board(name).family in ("arm", "riscv")]


def write_model(directory: Path, extra: str = "", use: str = "") -> Path:
    weights = ", ".join("{" + ", ".join(map(str, row)) + "}" for row in WEIGHTS)
    model = directory / "model"
    model.mkdir(parents=True)
    (model / "tinyedge_model.h").write_text(MODEL_H)
    (model / "tinyedge_model.c").write_text(MODEL_C % {"weights": weights, "scale": SCALE, "extra": extra,
                                                       "use": use})
    return model


def reference_output(sample: bytes) -> bytes:
    """The hand-written model in Python, with C's float32 arithmetic."""
    inputs = np.frombuffer(sample, dtype=np.int8).astype(np.int64)
    out = []
    for row in WEIGHTS:
        v = np.float32(np.int32((inputs * row).sum())) * np.float32(float(SCALE[:-1]))
        r = int(np.float32(v + np.float32(0.5 if v >= 0 else -0.5)))  # C's cast truncates toward zero
        out.append(max(-128, min(127, r)))
    return np.array(out, dtype=np.int8).tobytes()


def needs_compiler(board: str):
    tools = toolchain(load_board(board))
    return pytest.mark.skipif(shutil.which(tools.cc) is None, reason=f"{tools.cc} is not installed")


def tool_output(command: list[str]) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def samples() -> list[bytes]:
    rng = np.random.default_rng(3)
    return [rng.integers(-128, 128, 16, dtype=np.int8).tobytes() for _ in range(3)]


@needs_compiler("host")
def test_host_build_runs_the_main_loop_and_matches_the_python_model(tmp_path: Path, samples: list[bytes]) -> None:
    project = render_project(tmp_path / "project", "host", write_model(tmp_path), kernel_sources=())
    firmware = build_firmware(project, "host")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "input.bin").write_bytes(b"".join(samples))
    proc = subprocess.run([str(firmware.elf)], cwd=run_dir, capture_output=True, text=True, check=True)
    expected = [reference_output(sample) for sample in samples]
    assert (run_dir / "output.bin").read_bytes() == b"".join(expected)
    lines = proc.stdout.splitlines()
    assert lines == [f"tinyedge: sample={n} cycles=0 checksum={zlib.crc32(out):08x}" for n, out in enumerate(expected)]


@needs_compiler("host")
def test_host_build_reports_a_truncated_sample_and_a_missing_input(tmp_path: Path) -> None:
    project = render_project(tmp_path / "project", "host", write_model(tmp_path), kernel_sources=())
    firmware = build_firmware(project, "host")
    proc = subprocess.run([str(firmware.elf)], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stdout == "tinyedge: error=cannot open input.bin\n"
    (tmp_path / "input.bin").write_bytes(bytes(16 + 5))
    proc = subprocess.run([str(firmware.elf)], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-1] == "tinyedge: error=truncated sample in input.bin"


@pytest.mark.parametrize("name", CROSS_BOARDS)
def test_each_board_builds_an_image_laid_out_for_its_memory(name: str, tmp_path: Path) -> None:
    board = load_board(name)
    tools = toolchain(board)
    if shutil.which(tools.cc) is None:
        pytest.skip(f"{tools.cc} is not installed")
    project = render_project(tmp_path / "project", board, write_model(tmp_path), kernel_sources=())
    firmware = build_firmware(project, board)

    assert firmware.elf.is_file() and firmware.hex is not None and firmware.bin is not None
    assert firmware.text > 0 and firmware.bss >= 16 + 4 + 16  # arena, input and output buffers
    for section in firmware.sections:
        region = board.data_region if section.kind == "bss" else board.code_region
        assert region.contains(section.load_address if section.kind != "bss" else section.address, section.size)
    image_start = min(s.load_address for s in firmware.sections if s.kind != "bss")  # boot2 on the RP2040
    assert image_start in (board.code_region.origin, board.code_start)
    assert firmware.flash_used == firmware.bin.stat().st_size + (image_start - board.code_region.origin)
    assert firmware.ram_used is not None and firmware.ram_used > firmware.data + firmware.bss
    assert firmware.stack.path[:2] == ("te_reset", "main") and firmware.stack.bytes > 0

    symbols = {m[2]: int(m[0], 16) for m in re.findall(r"^([0-9a-f]+) (\w) (\S+)$",
                                                         tool_output([tools.tool("nm"), str(firmware.elf)]), re.M)}
    assert symbols["te_inference_begin"] != symbols["te_inference_end"]
    entry = int(re.search(r"start address 0x([0-9a-f]+)", tool_output([tools.tool("objdump"), "-f",
                                                                           str(firmware.elf)]))[1], 16)
    image = firmware.bin.read_bytes()[board.code_start - image_start:]  # from the vector table on
    if board.family == "arm":
        stack_pointer, reset = np.frombuffer(image[:8], dtype="<u4")
        assert stack_pointer == board.stack_top
        assert reset == entry == symbols["Reset_Handler"] | 1
        assert ("__ARM_FP" in tool_output([tools.cc, *tools.arch_flags, "-dM", "-E", "-x", "c", "/dev/null"])) \
            == board.has_fpu
    else:
        assert entry == symbols["_start"] == board.code_start
        assert symbols["__stack_top"] == board.stack_top


@pytest.mark.parametrize("name", ["rp2040", "esp32c3", "host"])
def test_make_builds_the_same_firmware_without_tinyedge(name: str, tmp_path: Path) -> None:
    tools = toolchain(load_board(name))
    if shutil.which("make") is None or shutil.which(tools.cc) is None:
        pytest.skip("make or the compiler is not installed")
    project = render_project(tmp_path / "project", name, write_model(tmp_path), kernel_sources=())
    firmware = build_firmware(project, name)
    expected = {s.name: s.size for s in firmware.sections}
    shutil.rmtree(project / "build")
    subprocess.run(["make", "-s"], cwd=project, check=True, capture_output=True)
    elf = project / "build" / firmware.elf.name
    built = dict(re.findall(r"^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s", tool_output([tools.tool("objdump"), "-h", str(elf)]),
                            re.M))
    assert {name: int(built[name], 16) for name in expected} == expected
    if not tools.is_host:
        assert (project / "build" / "firmware.bin").read_bytes() == firmware.bin.read_bytes()


def test_cmake_builds_the_project(tmp_path: Path) -> None:
    tools = toolchain(load_board("stm32l552"))
    if shutil.which("cmake") is None or shutil.which(tools.cc) is None:
        pytest.skip("cmake or the compiler is not installed")
    project = render_project(tmp_path / "project", "stm32l552", write_model(tmp_path), kernel_sources=())
    firmware = build_firmware(project, "stm32l552")
    subprocess.run(["cmake", "-S", str(project), "-B", str(tmp_path / "cmake")], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(tmp_path / "cmake")], check=True, capture_output=True)
    assert (tmp_path / "cmake" / "firmware.bin").read_bytes() == firmware.bin.read_bytes()


@needs_compiler("nrf52840")
def test_missing_cross_compiler_names_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = render_project(tmp_path / "project", "nrf52840", write_model(tmp_path), kernel_sources=())
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(TinyEdgeError) as error:
        build_firmware(project, "nrf52840")
    assert "arm-none-eabi-gcc, which is not on PATH" in str(error.value)
    assert "sudo apt-get install gcc-arm-none-eabi" in str(error.value)


@needs_compiler("nrf52840")
def test_weights_larger_than_flash_fail_with_the_numbers(tmp_path: Path) -> None:
    big = "static const int8_t big[1200000] = {1};\n"
    use = "\n    output[0] = (int8_t)(output[0] + big[(uint8_t)input[0] * 4000]);"
    model = write_model(tmp_path, extra=big, use=use)
    project = render_project(tmp_path / "project", "nrf52840", model, kernel_sources=())
    with pytest.raises(TinyEdgeError) as error:
        build_firmware(project, "nrf52840")
    message = str(error.value)
    assert "does not fit board nrf52840" in message and "> 1,048,576 B available in 'flash'" in message
    used = int(re.search(r"flash ([\d,]+) B used", message)[1].replace(",", ""))
    assert 1_200_000 < used < 1_220_000


@needs_compiler("nrf52840")
@pytest.mark.parametrize("arena_bytes", [300_000, 256 * 1024 - 128])
def test_activations_larger_than_ram_fail_with_the_numbers(tmp_path: Path, arena_bytes: int) -> None:
    big = f"static int8_t big_arena[{arena_bytes}];\n"
    model = write_model(tmp_path, extra=big, use="\n    big_arena[input[1] & 0xFF] = output[0];\n"
                                                  "    output[1] = big_arena[input[2] & 0xFF];")
    project = render_project(tmp_path / "project", "nrf52840", model, kernel_sources=())
    with pytest.raises(TinyEdgeError) as error:
        build_firmware(project, "nrf52840")
    message = str(error.value)
    assert "does not fit board nrf52840" in message and "262,144 B available in 'ram'" in message
    assert "stack" in message


def test_a_board_without_a_bare_metal_build_says_what_to_use(tmp_path: Path) -> None:
    with pytest.raises(TinyEdgeError, match="esp32.*xtensa-lx6.*no bare-metal build.*analytical estimate.*ESP-IDF"):
        render_project(tmp_path / "project", "esp32", write_model(tmp_path))


def test_render_needs_the_model_sources(tmp_path: Path) -> None:
    with pytest.raises(TinyEdgeError, match="tinyedge_model.h is missing"):
        render_project(tmp_path / "project", "nrf52840")


def test_stack_estimate_takes_the_deepest_chain_and_flags_what_it_cannot_see(tmp_path: Path) -> None:
    (tmp_path / "a.ci").write_text(
        'graph: { title: "a.c"\n'
        'node: { title: "main" label: "main\\na.c:1:5\\n24 bytes (static)" }\n'
        'node: { title: "small" label: "small\\na.c:2:5\\n8 bytes (static)" }\n'
        'node: { title: "big" label: "big\\na.c:3:5\\n100 bytes (static)" }\n'
        'node: { title: "leaf" label: "leaf\\nb.c:1:5" shape : ellipse }\n'
        'edge: { sourcename: "main" targetname: "small" label: "a.c:1:10" }\n'
        'edge: { sourcename: "main" targetname: "big" label: "a.c:1:20" }\n'
        'edge: { sourcename: "small" targetname: "leaf" label: "a.c:2:10" }\n}\n')
    (tmp_path / "b.ci").write_text(
        'graph: { title: "b.c"\n'
        'node: { title: "leaf" label: "leaf\\nb.c:1:5\\n200 bytes (static)" }\n'
        'edge: { sourcename: "leaf" targetname: "__aeabi_ldivmod" label: "b.c:1:9" }\n}\n')
    estimate = estimate_stack([tmp_path / "a.ci", tmp_path / "b.ci"], "main")
    assert estimate.bytes == 24 + 8 + 200 and estimate.path == ("main", "small", "leaf", "__aeabi_ldivmod")
    assert not estimate.complete and estimate.notes == ("no stack data for __aeabi_ldivmod",)


@needs_compiler("host")
def test_a_project_builds_only_for_the_board_it_was_rendered_for(tmp_path: Path) -> None:
    project = render_project(tmp_path / "project", "nrf52840", write_model(tmp_path), kernel_sources=())
    with pytest.raises(TinyEdgeError, match="rendered for board nrf52840, not host"):
        build_firmware(project, "host")
    render_project(project, "host", kernel_sources=())  # a second render replaces the first
    assert not (project / "startup.c").exists() and not (project / "linker.ld").exists()
    assert build_firmware(project, "host").elf.is_file()


def test_render_rejects_a_kernel_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(TinyEdgeError, match="kernel source te_nonexistent_s8.c is not in"):
        render_project(tmp_path / "project", "nrf52840", write_model(tmp_path), kernel_sources=["te_nonexistent_s8.c"])


@pytest.mark.parametrize("name", ["rp2040", "esp32c3"])
def test_every_kernel_compiles_freestanding_for_the_board(name: str, tmp_path: Path) -> None:
    """All firmware/kernels/*.c with -Werror, no C library, on Armv6-M soft-float and RV32IMC."""
    tools = toolchain(load_board(name))
    if shutil.which(tools.cc) is None:
        pytest.skip(f"{tools.cc} is not installed")
    project = render_project(tmp_path / "project", name, write_model(tmp_path))  # every kernel
    kernels = sorted(p.name for p in (project / "kernels").glob("*.c"))
    if not kernels:
        pytest.skip("no kernels in firmware/kernels yet")
    firmware = build_firmware(project, name)
    assert all((project / "build" / "kernels" / k).with_suffix(".o").is_file() for k in kernels)
    assert firmware.elf.is_file()
