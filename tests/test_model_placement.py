"""The model's constants in RAM where the board asks for it and they fit (rp2040); when only some fit, the
arrays whose flash reads stall most per byte ("partial"); else in flash."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from tests.test_console import write_model
from tinyedge.boards import load_board
from tinyedge.build import (
    MODEL_FLASH_LINKER_SCRIPT,
    MODEL_RAM_MARGIN,
    ModelArray,
    build_firmware,
    choose_model_arrays,
    read_cost,
    render_project,
)
from tinyedge.pipeline import compile_model
from tinyedge.report import mips_text, summary_table
from tinyedge.simulate import simulate
from tinyedge.simulate.firmware_image import load_image

MODEL_C = """\
#include "tinyedge_model.h"
static int8_t te_input[TINYEDGE_INPUT_BYTES] __attribute__((aligned(16)));
static const int8_t te_weights[{size}] __attribute__((aligned(16))) = {{1, 2, 3}};

int8_t *tinyedge_model_input(void)
{{
    return te_input;
}}

int tinyedge_model_invoke(const int8_t *input, int8_t *output)
{{
    int32_t sum = 0;
    for (uint32_t i = 0; i < {size}u; i += 8u) {{ /* one read per XIP cache line */
        sum += te_weights[i];
    }}
    output[0] = (int8_t)sum;
    output[1] = te_weights[(uint8_t)input[0]];
    return 0;
}}
"""


def _project_with_weights(tmp_path: Path, board, size: int) -> Path:
    model = write_model(tmp_path)
    (model / "tinyedge_model.c").write_text(MODEL_C.format(size=size))
    return render_project(tmp_path / "project", board, model, kernel_sources=())


def _symbol(elf: Path, name: str) -> int:
    return load_image(elf).require_symbol(name)


def test_the_model_constants_go_to_ram_when_they_fit_and_stay_in_flash_when_not(tmp_path: Path) -> None:
    board = load_board("rp2040")
    sram = board.data_region
    fits = build_firmware(_project_with_weights(tmp_path / "fits", board, 64 * 1024), board)
    assert fits.model_constants == "ram" and sram.contains(_symbol(fits.elf, "te_weights"), 64 * 1024)
    assert fits.data >= 64 * 1024  # stored in flash as part of the .data image, copied at start-up

    # 200 KB of a 264 KB SRAM leaves less than the margin beside the stack: flash, and the project's
    # own linker.ld now says so (make and CMake link the same way).
    big = _project_with_weights(tmp_path / "big", board, 256 * 1024)
    too_big = build_firmware(big, board)
    assert too_big.model_constants == "flash"
    assert board.code_region.contains(_symbol(too_big.elf, "te_weights"), 256 * 1024)
    assert not (big / MODEL_FLASH_LINKER_SCRIPT).exists() and "EXCLUDE_FILE" not in (big / "linker.ld").read_text()


def test_boards_without_the_choice_keep_the_model_in_flash(tmp_path: Path) -> None:
    board = load_board("nrf52840")
    firmware = build_firmware(_project_with_weights(tmp_path, board, 1024), board)
    assert firmware.model_constants == "flash" and board.code_region.contains(_symbol(firmware.elf, "te_weights"))


def test_weights_in_sram_cost_no_xip_misses_and_give_the_same_outputs(tmp_path: Path) -> None:
    board = load_board("rp2040")
    in_flash = dataclasses.replace(board, layout=dataclasses.replace(board.layout, model_constants="flash"))
    runs = []
    for name, variant in (("ram", board), ("flash", in_flash)):
        firmware = build_firmware(_project_with_weights(tmp_path / name, variant, 64 * 1024), variant)
        assert firmware.model_constants == name
        runs.append(simulate(firmware.elf, variant, [bytes(range(8))]))
    ram, flash = runs
    assert ram.outputs == flash.outputs == (bytes([1, 1]),)  # te_weights[0] + te_weights[8] + ...; [0]
    assert ram.instructions == flash.instructions
    stalls = [r.samples[0].stall_cycles for r in runs]
    # From flash, each 8-byte line of the 64 KB misses the 16 KB XIP cache (768 cycles); the memory model
    # charges the whole pages holding only data, all but the array's first and last partial page.
    assert stalls[1] - stalls[0] >= 0.95 * (64 * 1024 // 8) * 768 and stalls[0] < 0.01 * stalls[1]


def test_rp2040_compile_reads_its_weights_from_sram_bit_exact_and_says_so(tiny_kws_tflite, tmp_path: Path) -> None:
    result = compile_model(tiny_kws_tflite, "rp2040", tmp_path / "out", samples=2)
    assert result.report.verification.bit_exact
    assert result.report.memory.model_constants == "ram"
    assert result.report.to_dict()["memory"]["model_constants"] == "ram"
    assert "weights" in summary_table(result.report) and "in RAM" in summary_table(result.report)
    # what the built-in emulator ran at
    mips = result.report.simulation.guest_mips
    assert mips > 0 and f"emulated at {mips_text(mips)} MIPS" in summary_table(result.report)
    assert (mips_text(212.4), mips_text(0.2738)) == ("212", "0.27")
    # The clock the flashed firmware runs at, and how it gets there, in all three outputs.
    assert "PLL_SYS" in result.report.to_dict()["board"]["clock_source"]
    assert "set by the firmware's start-up code" in summary_table(result.report)
    assert "PLL_SYS from the 12 MHz crystal" in (tmp_path / "out" / "report.html").read_text()


def _trained_model(quantize_for_test, path: Path) -> Path:
    """A small classifier trained for a few epochs: a 3x3 convolution whose 9 KB of weights every one of
    its 36 output pixels reads again (more than half the XIP cache: they miss on every pass), and a
    dense layer whose 24 KB are read once per inference."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (256, 6, 6, 8)).astype(np.float32)
    y = (x[:, :3].mean(axis=(1, 2, 3)) > x[:, 3:].mean(axis=(1, 2, 3))).astype(np.int64) + 2 * (x[..., 0].mean(
        axis=(1, 2)) > 0)
    model = keras.Sequential([
        keras.Input((6, 6, 8)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(3),
        keras.layers.Flatten(),
        keras.layers.Dense(96, activation="relu"),
        keras.layers.Dense(4, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    return quantize_for_test(model, path, [x[:32]])


def _with_ram(board, length: int):
    sram = board.data_region
    memories = tuple(dataclasses.replace(m, length=length) if m == sram else m for m in board.memories)
    return dataclasses.replace(board, memories=memories)


def test_a_model_too_big_for_ram_gets_its_costliest_arrays_there_bit_exact(quantize_for_test, tmp_path: Path) -> None:
    tflite = _trained_model(quantize_for_test, tmp_path / "model.tflite")
    rp2040 = load_board("rp2040")
    in_flash = dataclasses.replace(rp2040, layout=dataclasses.replace(rp2040.layout, model_constants="flash"))
    flash = compile_model(tflite, in_flash, tmp_path / "flash", samples=2)
    assert flash.report.memory.model_constants == "flash" and flash.report.verification.bit_exact

    # RAM for what the all-in-flash build uses, the margin, and the convolution's weights with a little to
    # spare, not the dense layer's: the convolution's are the ones whose flash reads stall most per byte.
    meta = json.loads((tmp_path / "flash" / "model" / "tinyedge_model.json").read_text())
    arrays = {c["name"]: c for c in meta["constants"]}
    conv = max((c for c in arrays.values() if c["layers"] == [1]), key=lambda c: c["bytes"])
    dense = max((c for c in arrays.values() if c["layers"] == [4]), key=lambda c: c["bytes"])
    assert conv["bytes"] == 9 * 16 * 64 and dense["bytes"] == 2 * 2 * 64 * 96
    small = _with_ram(rp2040, flash.report.memory.ram_bytes + MODEL_RAM_MARGIN + conv["bytes"] + 2048)
    sum_all = sum(c["bytes"] for c in arrays.values())
    assert flash.report.memory.ram_bytes + MODEL_RAM_MARGIN + sum_all > small.data_region.length  # not all fit

    partial = compile_model(tflite, small, tmp_path / "partial", samples=2)
    memory = partial.report.memory
    assert partial.report.verification.bit_exact
    assert partial.elf.read_bytes() != flash.elf.read_bytes()
    assert memory.model_constants == "partial" and conv["bytes"] <= memory.model_constants_ram_bytes < sum_all
    assert memory.ram_bytes + MODEL_RAM_MARGIN <= small.data_region.length
    assert small.data_region.contains(_symbol(partial.elf, conv["name"]), conv["bytes"])
    assert small.code_region.contains(_symbol(partial.elf, dense["name"]), dense["bytes"])
    assert f".rodata.{conv['name']}" in (tmp_path / "partial" / "linker.ld").read_text()  # make and CMake alike
    assert partial.report.to_dict()["memory"]["model_constants"] == "partial"
    assert partial.report.to_dict()["memory"]["model_constants_ram_bytes"] == memory.model_constants_ram_bytes
    assert f"partly in RAM: {memory.model_constants_ram_bytes:,} of" in summary_table(partial.report)
    assert "read from RAM" in (tmp_path / "partial" / "report.html").read_text()

    # The same instructions and outputs; the convolution's weights no longer miss the XIP cache.
    assert partial.report.simulation.instructions == flash.report.simulation.instructions
    before, after = (r.report.layers[1].stall_cycles for r in (flash, partial))
    assert after < 0.2 * before
    assert partial.report.simulation.stall_cycles < flash.report.simulation.stall_cycles - 0.8 * before


def test_arrays_go_to_ram_by_estimated_stall_per_byte_as_far_as_they_fit() -> None:
    board = load_board("rp2040")
    cost = read_cost(board)
    # 768-cycle misses on 8-byte lines: 96 cycles a byte once per inference, or on every pass when the
    # layer's constants exceed half the 16 KB cache.
    assert cost(1000, 1000, 4096) == 96.0 and cost(36_000, 1000, 9000) == 96.0 * 36
    assert read_cost(dataclasses.replace(board, caches=()))(36_000, 1000, 9000) == 36.0  # no cache: the passes
    arrays = [ModelArray("a", ".rodata.a", 100, 96.0), ModelArray("b", ".rodata.b", 5000, 3456.0),
              ModelArray("c", ".rodata.c", 3000, 96.0), ModelArray("d", ".rodata.d", 40, 96.0)]
    assert [a.name for a in choose_model_arrays(arrays, 5008 + 112 + 48)] == ["b", "a", "d"]  # padded to 16
    assert choose_model_arrays(arrays, 16) == []
