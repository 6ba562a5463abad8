"""ESP-IDF projects: layout per ESP32 chip, portable C, an app that prints the reference checksums, idf.py."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import stat
import subprocess
import zlib
from pathlib import Path

import pytest

from tinyedge.boards import load_board
from tinyedge.build import C_FLAGS, FREESTANDING_FLAGS, toolchain
from tinyedge.codegen import CompiledModel
from tinyedge.errors import TinyEdgeError
from tinyedge.espidf import (
    APP_BASE_BYTES,
    COMPONENT,
    PROJECT_FILE,
    EspIdfMissing,
    add_arguments,
    available,
    build_espidf,
    missing_message,
    partitioning,
    render_espidf_project,
    run,
)
from tinyedge.pipeline import compile_tflite
from tinyedge.resources import firmware_dir
from tinyedge.verify import random_samples, reference_outputs

ESP32_BOARDS = {"esp32": ("esp32", 240, 4), "esp32s3": ("esp32s3", 240, 8), "esp32c3": ("esp32c3", 160, 4)}

# A stand-in for ESP-IDF's tools/cmake/project.cmake: it reads the project exactly as ESP-IDF's
# build does (COMPONENTS, main/, components/*/, idf_component_register) and links everything
# into one host program, so the generated CMake and C are exercised without ESP-IDF.
PROJECT_CMAKE = r"""
set(TE_STAND_IN "${CMAKE_CURRENT_LIST_DIR}/../..")
set(TE_IDF_COMPONENTS freertos esp_hw_support esp_common esp_system log)
function(idf_component_register)
    cmake_parse_arguments(ARG "" "" "SRCS;INCLUDE_DIRS;PRIV_INCLUDE_DIRS;REQUIRES;PRIV_REQUIRES" ${ARGN})
    if(ARG_UNPARSED_ARGUMENTS)
        message(FATAL_ERROR "idf_component_register: unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
    endif()
    foreach(source ${ARG_SRCS})
        if(NOT EXISTS "${CMAKE_CURRENT_LIST_DIR}/${source}")
            message(FATAL_ERROR "missing source ${CMAKE_CURRENT_LIST_DIR}/${source}")
        endif()
        set_property(GLOBAL APPEND PROPERTY TE_SOURCES "${CMAKE_CURRENT_LIST_DIR}/${source}")
    endforeach()
    foreach(dir ${ARG_INCLUDE_DIRS} ${ARG_PRIV_INCLUDE_DIRS})
        set_property(GLOBAL APPEND PROPERTY TE_INCLUDES "${CMAKE_CURRENT_LIST_DIR}/${dir}")
    endforeach()
    set_property(GLOBAL APPEND PROPERTY TE_REQUIRES ${ARG_REQUIRES} ${ARG_PRIV_REQUIRES})
endfunction()
macro(project name)
    _project(${name} C)
    if(NOT "${COMPONENTS}" STREQUAL "main")
        message(FATAL_ERROR "COMPONENTS is '${COMPONENTS}', expected main")
    endif()
    include("${CMAKE_SOURCE_DIR}/main/CMakeLists.txt")
    file(GLOB te_components LIST_DIRECTORIES true "${CMAKE_SOURCE_DIR}/components/*")
    set(te_known ${TE_IDF_COMPONENTS})
    foreach(component ${te_components})
        include("${component}/CMakeLists.txt")
        get_filename_component(te_name "${component}" NAME)
        list(APPEND te_known ${te_name})
    endforeach()
    get_property(te_requires GLOBAL PROPERTY TE_REQUIRES)
    foreach(required ${te_requires})
        if(NOT required IN_LIST te_known)
            message(FATAL_ERROR "unknown component required: ${required}")
        endif()
    endforeach()
    get_property(te_sources GLOBAL PROPERTY TE_SOURCES)
    get_property(te_includes GLOBAL PROPERTY TE_INCLUDES)
    add_executable(app ${te_sources} "${TE_STAND_IN}/host_main.c")
    target_include_directories(app PRIVATE ${te_includes} "${TE_STAND_IN}/include")
    target_compile_options(app PRIVATE -std=gnu17 -O2 -Wall -Wextra -Werror)
    target_compile_definitions(app PRIVATE TE_STAND_IN_INFERENCES=${TE_STAND_IN_INFERENCES})
endmacro()
"""
STAND_IN_HEADERS = {
    "esp_cpu.h": "#include <stdint.h>\n"
                 "typedef uint32_t esp_cpu_cycle_count_t;\n"
                 "esp_cpu_cycle_count_t esp_cpu_get_cycle_count(void);\n",
    "esp_idf_version.h": "#define ESP_IDF_VERSION_VAL(major, minor, patch) "
                         "(((major) << 16) | ((minor) << 8) | (patch))\n"
                         "#define ESP_IDF_VERSION ESP_IDF_VERSION_VAL(5, 3, 0)\n",
    "freertos/FreeRTOS.h": "#include <stdint.h>\n"
                           "typedef uint32_t TickType_t;\n"
                           "#define portMAX_DELAY ((TickType_t)0xFFFFFFFFu)\n"
                           "#define pdMS_TO_TICKS(ms) ((TickType_t)(ms) / 10u)\n",
    "freertos/task.h": "#include \"freertos/FreeRTOS.h\"\nvoid vTaskDelay(TickType_t ticks);\n",
}
# app_main never returns: the stand-in counts its delays (one per inference) and exits 0 after
# TE_STAND_IN_INFERENCES; te_exit's endless delay (the app stopped) exits 3.
HOST_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
#include "esp_cpu.h"
#include "freertos/task.h"
void app_main(void);
static uint32_t te_cycles;
static int te_delays;
esp_cpu_cycle_count_t esp_cpu_get_cycle_count(void) { return te_cycles += 1000u; }
void vTaskDelay(TickType_t ticks)
{
    fflush(stdout);
    if (ticks == portMAX_DELAY) exit(3);
    if (++te_delays == TE_STAND_IN_INFERENCES) exit(0);
}
int main(void) { app_main(); return 1; }
"""


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory, quantize_for_test) -> Path:
    """Conv, depthwise conv, dense and softmax: four kernels in a few KB."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.DepthwiseConv2D(3, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(5, activation="softmax")(x)
    return quantize_for_test(keras.Model(inputs, outputs), tmp_path_factory.mktemp("tiny") / "tiny.tflite")


@pytest.fixture(scope="module")
def tiny(tiny_tflite: Path) -> CompiledModel:
    return compile_tflite(tiny_tflite, name="tiny")


@pytest.fixture(scope="module")
def samples(tiny: CompiledModel) -> list[bytes]:
    return random_samples(tiny, 2, seed=5)


def stand_in_idf(root: Path) -> Path:
    (root / "tools" / "cmake").mkdir(parents=True)
    (root / "tools" / "cmake" / "project.cmake").write_text(PROJECT_CMAKE)
    (root / "host_main.c").write_text(HOST_MAIN)
    for name, text in STAND_IN_HEADERS.items():
        (root / "include" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "include" / name).write_text(text)
    return root


def run_app(project: Path, tmp_path: Path, inferences: int) -> subprocess.CompletedProcess:
    """Configure and build the project with the stand-in ESP-IDF, then run it."""
    idf = stand_in_idf(tmp_path / "idf")
    build = tmp_path / "build"
    env = {**os.environ, "IDF_PATH": str(idf)}
    for command in (["cmake", "-S", str(project), "-B", str(build), "-G", "Ninja",
                     f"-DTE_STAND_IN_INFERENCES={inferences}"], ["cmake", "--build", str(build)]):
        proc = subprocess.run(command, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return subprocess.run([str(build / "app")], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", sorted(ESP32_BOARDS))
def test_each_esp32_chip_gets_a_complete_project_with_its_target_clock_and_flash(
        name: str, tiny: CompiledModel, samples: list[bytes], tmp_path: Path) -> None:
    target, mhz, flash_mb = ESP32_BOARDS[name]
    project = render_espidf_project(tmp_path / name, name, tiny, samples[0])
    out = project.out_dir
    assert project.target == target
    top = (out / "CMakeLists.txt").read_text()
    assert top.index("set(COMPONENTS main)") < top.index("include($ENV{IDF_PATH}/tools/cmake/project.cmake)")
    assert "project(tinyedge_app)" in top
    config = (out / "sdkconfig.defaults").read_text().splitlines()
    for line in (f'CONFIG_IDF_TARGET="{target}"', f"CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ_{mhz}=y",
                 f"CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ={mhz}", f"CONFIG_ESPTOOLPY_FLASHSIZE_{flash_mb}MB=y",
                 "CONFIG_COMPILER_OPTIMIZATION_PERF=y", "CONFIG_PARTITION_TABLE_SINGLE_APP=y"):
        assert line in config
    assert not (out / "partitions.csv").exists()  # a few KB of weights fit ESP-IDF's built-in table
    assert "PRIV_REQUIRES tinyedge_model" in (out / "main" / "CMakeLists.txt").read_text()
    main = (out / "main" / "main.c").read_text()
    assert "void app_main(void)" in main and "esp_cpu_get_cycle_count()" in main and "te_report_sample" in main

    component = out / "components" / COMPONENT
    listed = component.joinpath("CMakeLists.txt").read_text().split("SRCS")[1].split("INCLUDE_DIRS")[0]
    listed_sources = sorted(s.strip().strip('"') for s in listed.split())
    on_disk = sorted(p.relative_to(component).as_posix() for p in component.rglob("*.c"))
    assert listed_sources == on_disk
    assert sorted(p.name for p in (component / "kernels").glob("*.c")) == sorted(tiny.kernel_sources)
    meta = json.loads((out / PROJECT_FILE).read_text())
    assert (meta["board"], meta["target"], meta["samples"], meta["expected_checksums"]) == (name, target, 1, None)


def portable_sources(project: Path) -> tuple[Path, list[Path]]:
    component = project / "components" / COMPONENT
    meta = json.loads((project / PROJECT_FILE).read_text())
    return component, [component / source for source in meta["portable_sources"]]


@pytest.mark.parametrize("compiler", ["host", "esp32c3"])
def test_component_model_and_kernels_compile_with_host_and_riscv_gcc(
        compiler: str, tiny: CompiledModel, samples: list[bytes], tmp_path: Path) -> None:
    """Nothing in the component but its ESP-IDF port is Xtensa or ESP-IDF code. The two compilers also
    differ where ESP-IDF v5's Xtensa GCC differs from the host: int32_t is `long` on bare-metal RV32."""
    tools = toolchain(load_board(compiler))
    if shutil.which(tools.cc) is None:
        pytest.skip(f"{tools.cc} is not installed")
    project = render_espidf_project(tmp_path / "esp32", "esp32", tiny, samples[0]).out_dir
    component, sources = portable_sources(project)
    assert {s.parent.name for s in sources} == {"model", "kernels", "runtime"}
    flags = [*tools.arch_flags, *C_FLAGS, f"-I{component / 'include'}", f"-I{component / 'model'}"]
    if compiler != "host":  # bare metal: no C library headers but the runtime's own string.h
        flags += [*FREESTANDING_FLAGS, f"-I{firmware_dir() / 'runtime' / 'libc'}"]
    for source in sources:
        proc = subprocess.run([tools.cc, *flags, "-c", str(source), "-o", str(tmp_path / f"{source.stem}.o")],
                              capture_output=True, text=True)
        assert proc.returncode == 0, f"{source.name}:\n{proc.stderr}"


@pytest.mark.skipif(not (shutil.which("cmake") and shutil.which("ninja")), reason="needs cmake and ninja")
def test_app_prints_tflite_micro_checksums_for_each_sample_in_turn(
        tiny_tflite: Path, tiny: CompiledModel, samples: list[bytes], tmp_path: Path) -> None:
    expected = reference_outputs(tiny_tflite.read_bytes(), tiny, samples)
    project = render_espidf_project(tmp_path / "esp32s3", "esp32s3", tiny, b"".join(samples), expected).out_dir
    proc = run_app(project, tmp_path, inferences=3)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checksums = [zlib.crc32(expected[n % 2]) for n in range(3)]
    assert proc.stdout.splitlines() == [f"tinyedge: sample={n} cycles=1000 checksum={c:08x}"
                                        for n, c in enumerate(checksums)]


@pytest.mark.skipif(not (shutil.which("cmake") and shutil.which("ninja")), reason="needs cmake and ninja")
def test_app_stops_with_an_error_line_when_an_output_differs_from_tflite_micro(
        tiny_tflite: Path, tiny: CompiledModel, samples: list[bytes], tmp_path: Path) -> None:
    expected = reference_outputs(tiny_tflite.read_bytes(), tiny, samples[:1])
    wrong = bytes([expected[0][0] ^ 1]) + expected[0][1:]
    project = render_espidf_project(tmp_path / "esp32", "esp32", tiny, samples[0], [wrong]).out_dir
    proc = run_app(project, tmp_path, inferences=5)
    assert proc.returncode == 3  # te_exit: the task stopped
    assert proc.stdout.splitlines() == [
        f"tinyedge: sample=0 cycles=1000 checksum={zlib.crc32(expected[0]):08x}",
        "tinyedge: error=output checksum differs from TFLite-Micro's"]


def test_partition_table_grows_with_the_weights_and_refuses_what_the_flash_cannot_hold(tiny: CompiledModel) -> None:
    board = load_board("esp32")  # 4 MB of flash

    def with_weights(weight_bytes: int) -> CompiledModel:
        return dataclasses.replace(tiny, weight_bytes=weight_bytes)

    assert partitioning(board, with_weights(1024 * 1024 - APP_BASE_BYTES)).config == (
        "CONFIG_PARTITION_TABLE_SINGLE_APP=y",)
    assert partitioning(board, with_weights(1024 * 1024)).config == ("CONFIG_PARTITION_TABLE_SINGLE_APP_LARGE=y",)
    custom = partitioning(board, with_weights(3 * 1024 * 1024))
    assert custom.config[0] == "CONFIG_PARTITION_TABLE_CUSTOM=y"
    assert custom.rows[-1] == {"name": "factory", "type": "app", "subtype": "factory", "offset": "0x10000",
                               "size": "0x3f0000"}
    with pytest.raises(TinyEdgeError, match=r"does not fit board esp32: the app needs about 4,521,984 B"):
        partitioning(board, with_weights(4 * 1024 * 1024))


def test_large_weights_get_a_partitions_csv(tiny: CompiledModel, samples: list[bytes], tmp_path: Path) -> None:
    big = dataclasses.replace(tiny, weight_bytes=2 * 1024 * 1024)
    out = render_espidf_project(tmp_path / "p", "esp32s3", big, samples[0]).out_dir
    assert 'CONFIG_PARTITION_TABLE_CUSTOM_FILENAME="partitions.csv"' in (out / "sdkconfig.defaults").read_text()
    rows = [line.split(",") for line in (out / "partitions.csv").read_text().splitlines() if not line.startswith("#")]
    assert [[field.strip() for field in row] for row in rows] == [
        ["nvs", "data", "nvs", "0x9000", "0x6000"], ["phy_init", "data", "phy", "0xf000", "0x1000"],
        ["factory", "app", "factory", "0x10000", "0x7f0000"]]


def test_non_espressif_board_and_partial_samples_are_refused(tiny: CompiledModel, samples: list[bytes],
                                                              tmp_path: Path) -> None:
    with pytest.raises(TinyEdgeError, match="nrf52840 is not an Espressif chip"):
        render_espidf_project(tmp_path / "a", "nrf52840", tiny, samples[0])
    with pytest.raises(TinyEdgeError, match=f"the model takes samples of {tiny.input_bytes} B"):
        render_espidf_project(tmp_path / "b", "esp32", tiny, samples[0][:-1])


def test_without_esp_idf_the_build_stops_with_one_line_saying_what_to_install(
        tiny: CompiledModel, samples: list[bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDF_PATH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = render_espidf_project(tmp_path / "p", "esp32", tiny, samples[0]).out_dir
    assert not available()
    with pytest.raises(EspIdfMissing) as error:
        build_espidf(out)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("ESP-IDF is not installed") and f"{out.resolve()} is generated but not built" in message
    assert "install ESP-IDF v5.0 or newer" in message and "idf.py build" in message


def fake_idf(folder: Path, exit_code: int = 0) -> Path:
    """An idf.py that records its arguments and IDF_TARGET and leaves what a build leaves."""
    folder.mkdir(parents=True)
    script = folder / "idf.py"
    script.write_text(f"""#!/bin/sh
echo "$@" > "{folder}/argv"
echo "$IDF_TARGET" > "{folder}/target"
if [ {exit_code} -ne 0 ]; then echo "ninja: build stopped: subcommand failed." >&2; exit {exit_code}; fi
mkdir -p "$4" && touch "$4/tinyedge_app.bin" "$4/flasher_args.json"
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


def test_build_runs_idf_py_for_the_rendered_target(tiny: CompiledModel, samples: list[bytes], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    tools = fake_idf(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    monkeypatch.setenv("IDF_TARGET", "esp32c6")  # a stale export must not win over the project's target
    out = render_espidf_project(tmp_path / "p", "esp32s3", tiny, samples[0]).out_dir.resolve()
    build = build_espidf(out)
    assert (tools / "argv").read_text().split() == ["-C", str(out), "-B", str(out / "build"), "build"]
    assert (tools / "target").read_text().strip() == "esp32s3"
    assert (build.target, build.app_bin, build.flasher_args) == (
        "esp32s3", out / "build" / "tinyedge_app.bin", out / "build" / "flasher_args.json")
    assert build.app_bin.is_file() and build.flasher_args.is_file()


def test_a_failing_idf_build_shows_its_output(tiny: CompiledModel, samples: list[bytes], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{fake_idf(tmp_path / 'bin', exit_code=2)}:{os.environ['PATH']}")
    out = render_espidf_project(tmp_path / "p", "esp32", tiny, samples[0]).out_dir
    with pytest.raises(TinyEdgeError, match=r"`idf.py build` failed .*target esp32\): ninja: build stopped"):
        build_espidf(out)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_command_renders_a_checked_project_and_says_what_to_install_without_esp_idf(
        tiny_tflite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("IDF_PATH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "project"
    assert run(parse([str(tiny_tflite), "--board", "esp32c3", "-o", str(out), "--samples", "3"])) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"wrote {out}: ESP-IDF project for esp32c3, 3 sample(s)")
    assert captured.err.strip().splitlines() == [f"tinyedge: {missing_message(out)}"]
    meta = json.loads((out / PROJECT_FILE).read_text())
    assert meta["samples"] == 3 and len(meta["expected_checksums"]) == 3
    assert not list(tmp_path.glob(".project-*"))  # the scratch folder was renamed into place


def test_command_refuses_a_board_outside_the_esp32_family_before_any_work(tiny_tflite: Path, tmp_path: Path) -> None:
    with pytest.raises(TinyEdgeError, match="rp2040 is not an Espressif chip"):
        run(parse([str(tiny_tflite), "--board", "rp2040", "-o", str(tmp_path / "p")]))
    assert not (tmp_path / "p").exists()


def test_an_arena_larger_than_the_boards_ram_is_refused_with_the_figures(
        tiny: CompiledModel, samples: list[bytes], tmp_path: Path) -> None:
    huge = dataclasses.replace(tiny, plan=dataclasses.replace(tiny.plan, arena_bytes=400 * 1024))
    static = 400 * 1024 + tiny.input_bytes + tiny.output_bytes
    with pytest.raises(TinyEdgeError, match=f"arena and I/O buffers take {static:,} B of RAM, 'dram' has 335,872 B"):
        render_espidf_project(tmp_path / "p", "esp32", huge, samples[0])
    assert not (tmp_path / "p").exists()
