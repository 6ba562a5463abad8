"""Arduino libraries: layout in Arduino's 1.5 format, portable C, and an example sketch that prints the result line."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from tinyedge.arduino import add_arguments, example_name, render_arduino_library, run, zero_point_sample
from tinyedge.boards import load_board
from tinyedge.build import C_FLAGS, FREESTANDING_FLAGS, toolchain
from tinyedge.codegen import CompiledModel
from tinyedge.errors import TinyEdgeError
from tinyedge.pipeline import compile_tflite
from tinyedge.resources import firmware_dir
from tinyedge.verify import random_samples, reference_outputs

# A stand-in for an Arduino core: what the example sketch uses, on the host. delay() ends the
# program after ARDUINO_LOOPS passes of loop().
ARDUINO_H = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#define F_CPU 64000000UL
struct SerialPort {
    void begin(unsigned long baud) { (void)baud; }
    void println(const char *text) { printf("%s\r\n", text); }
};
extern SerialPort Serial;
unsigned long micros();
void delay(unsigned long ms);
"""
ARDUINO_MAIN = r"""
#include "Arduino.h"
SerialPort Serial;
static unsigned long now_us;
static int loops;
unsigned long micros() { return now_us += 125; }
void delay(unsigned long ms) { (void)ms; if (++loops == ARDUINO_LOOPS) { fflush(stdout); exit(0); } }
void setup();
void loop();
int main() { setup(); for (;;) loop(); }
"""


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory, quantize_for_test) -> Path:
    """Conv, max pool, dense and softmax in a few KB."""
    import keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    return quantize_for_test(keras.Model(inputs, outputs), tmp_path_factory.mktemp("tiny") / "tiny.tflite")


@pytest.fixture(scope="module")
def tiny(tiny_tflite: Path) -> CompiledModel:
    return compile_tflite(tiny_tflite, name="tiny")


def properties(library: Path) -> dict[str, str]:
    lines = (library / "library.properties").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_library_follows_the_arduino_format_with_flat_sources(tiny: CompiledModel, tmp_path: Path) -> None:
    library = render_arduino_library(tmp_path / "TinyModel", tiny, "TinyModel")
    fields = properties(library)
    assert fields["name"] == "TinyModel" and fields["includes"] == "TinyModel.h" and fields["architectures"] == "*"
    assert {"version", "author", "maintainer", "sentence", "paragraph", "category"} <= set(fields)
    assert "url" not in fields
    src = library / "src"
    assert not [p for p in src.iterdir() if p.is_dir()]  # Arduino puts only src/ itself on the include path
    sources = sorted(p.name for p in src.glob("*.c"))
    assert sources == sorted(["tinyedge_model.c", "te_crc32.c", *tiny.kernel_sources])
    header = (src / "TinyModel.h").read_text()
    assert header.index('extern "C"') < header.index('#include "tinyedge_model.h"')
    sketch = library / "examples" / "TinyModel_inference"
    assert sorted(p.name for p in sketch.iterdir()) == ["TinyModel_inference.ino", "tinyedge_sample.h"]
    assert "#include <TinyModel.h>" in (sketch / "TinyModel_inference.ino").read_text()


def test_url_is_written_when_given(tiny: CompiledModel, tmp_path: Path) -> None:
    library = render_arduino_library(tmp_path / "m", tiny, "m", url="https://example.org/m")
    assert properties(library)["url"] == "https://example.org/m"


@pytest.mark.parametrize("compiler", ["host", "esp32c3"])
def test_library_sources_compile_with_host_and_riscv_gcc(compiler: str, tiny: CompiledModel, tmp_path: Path) -> None:
    tools = toolchain(load_board(compiler))
    if shutil.which(tools.cc) is None:
        pytest.skip(f"{tools.cc} is not installed")
    src = render_arduino_library(tmp_path / "lib", tiny, "tiny_lib") / "src"
    flags = [*tools.arch_flags, *C_FLAGS, f"-I{src}"]
    if compiler != "host":
        flags += [*FREESTANDING_FLAGS, f"-I{firmware_dir() / 'runtime' / 'libc'}"]
    for source in sorted(src.glob("*.c")):
        proc = subprocess.run([tools.cc, *flags, "-c", str(source), "-o", str(tmp_path / f"{source.stem}.o")],
                              capture_output=True, text=True)
        assert proc.returncode == 0, f"{source.name}:\n{proc.stderr}"


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ for the sketch")
@pytest.mark.parametrize("given_sample", [True, False])
def test_example_sketch_prints_the_result_line_with_tflite_micro_checksum(
        given_sample: bool, tiny_tflite: Path, tiny: CompiledModel, tmp_path: Path) -> None:
    sample = random_samples(tiny, 1, seed=9)[0] if given_sample else zero_point_sample(tiny)
    expected = reference_outputs(tiny_tflite.read_bytes(), tiny, [sample])[0]
    library = render_arduino_library(tmp_path / "lib", tiny, "tiny_lib", sample if given_sample else None)
    core = tmp_path / "core"
    core.mkdir()
    (core / "Arduino.h").write_text(ARDUINO_H)
    (core / "main.cpp").write_text(ARDUINO_MAIN)
    sketch = library / "examples" / example_name("tiny_lib")
    # What the Arduino builder does to a sketch: prepend the core's header, compile it as C++.
    (tmp_path / "sketch.cpp").write_text('#include "Arduino.h"\n' + (sketch / f"{sketch.name}.ino").read_text())
    objects = []
    for source in sorted((library / "src").glob("*.c")):
        objects.append(tmp_path / f"{source.stem}.o")
        subprocess.run(["gcc", *C_FLAGS, f"-I{library / 'src'}", "-c", str(source), "-o", str(objects[-1])],
                       check=True)
    program = tmp_path / "sketch"
    proc = subprocess.run(["g++", "-Wall", "-Wextra", "-Werror", "-DARDUINO_LOOPS=3", f"-I{core}",
                           f"-I{library / 'src'}", f"-I{sketch}", str(tmp_path / "sketch.cpp"), str(core / "main.cpp"),
                           *map(str, objects), "-o", str(program)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run([str(program)], capture_output=True, text=True, timeout=30, check=True)
    assert run.stdout.splitlines() == [
        f"tinyedge: sample={n} cycles=8000 checksum={zlib.crc32(expected):08x}" for n in range(3)]


@pytest.mark.parametrize("name", ["9lives", "my-model", "ArduinoModel", "tinyedge_model", "te_runtime", ""])
def test_names_that_are_not_safe_library_names_are_refused(name: str, tiny: CompiledModel, tmp_path: Path) -> None:
    with pytest.raises(TinyEdgeError, match="Arduino library name"):
        render_arduino_library(tmp_path / "lib", tiny, name)


def test_the_sketch_takes_exactly_one_sample(tiny: CompiledModel, tmp_path: Path) -> None:
    with pytest.raises(TinyEdgeError, match="one sample"):
        render_arduino_library(tmp_path / "lib", tiny, "m", bytes(2 * tiny.input_bytes))


def test_command_writes_the_library_named_after_the_model(tiny_tflite: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out = tmp_path / "lib"
    assert run(parser.parse_args([str(tiny_tflite), "-o", str(out)])) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}: Arduino library 'tiny' (#include <tiny.h>)")
    assert properties(out)["name"] == "tiny" and (out / "examples" / "tiny_inference" / "tiny_inference.ino").is_file()
