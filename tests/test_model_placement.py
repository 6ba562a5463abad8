"""The model's constants in RAM where the board asks for it and they fit (rp2040), else in flash."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.test_console import write_model
from tinyedge.boards import load_board
from tinyedge.build import MODEL_FLASH_LINKER_SCRIPT, build_firmware, render_project
from tinyedge.pipeline import compile_model
from tinyedge.report import summary_table
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
    # The clock the flashed firmware runs at, and how it gets there, in all three outputs.
    assert "PLL_SYS" in result.report.to_dict()["board"]["clock_source"]
    assert "set by the firmware's start-up code" in summary_table(result.report)
    assert "PLL_SYS from the 12 MHz crystal" in (tmp_path / "out" / "report.html").read_text()
