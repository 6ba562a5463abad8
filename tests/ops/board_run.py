"""A compiled model built for a board, emulated on seeded inputs, its bytes held to tflite_micro's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinyedge.boards import load_board
from tinyedge.build import build_firmware, render_project
from tinyedge.codegen import CompiledModel, compile_graph
from tinyedge.host import run_host
from tinyedge.importer import parse_tflite
from tinyedge.pipeline import build
from tinyedge.simulate import SimResult, simulate
from tinyedge.verify import random_samples, verify


@dataclass(frozen=True)
class BoardRun:
    model: CompiledModel
    sim: SimResult
    elf: Path


def run_bit_exact(flatbuffer: bytes, board: str, folder: Path, samples: int = 3, seed: int = 7,
                  model: CompiledModel | None = None) -> BoardRun:
    """Build the int8 .tflite (or `model`, compiled from it) for `board` in folder/board, emulate it on
    `samples` seeded random inputs and assert its outputs equal tflite_micro's byte for byte."""
    compiled = model or compile_graph(parse_tflite(flatbuffer, name="model"))
    firmware = build(compiled, board, folder / board)
    inputs = random_samples(compiled, samples, seed=seed)
    sim = simulate(firmware.elf, load_board(board), inputs)
    result = verify(flatbuffer, compiled, inputs, list(sim.outputs))
    assert result.bit_exact, f"not bit-exact on {board}: {result.first_mismatch}"
    return BoardRun(compiled, sim, firmware.elf)


VECTOR_MODEL_H = """\
#ifndef TINYEDGE_MODEL_H
#define TINYEDGE_MODEL_H
#include <stdint.h>
#define TINYEDGE_INPUT_BYTES {input_bytes}
#define TINYEDGE_OUTPUT_BYTES {output_bytes}
#define TINYEDGE_ARENA_BYTES 0
#define TINYEDGE_NUM_LAYERS 0
int8_t *tinyedge_model_input(void);
int tinyedge_model_invoke(const int8_t *input, int8_t *output);
#endif
"""
VECTOR_MODEL_C = """\
#include <stdint.h>
#include <string.h>
#include "te_nn_dsp.h"
#include "tinyedge_model.h"

static int8_t te_input[TINYEDGE_INPUT_BYTES] __attribute__((aligned(16)));

int8_t *tinyedge_model_input(void)
{{
    return te_input;
}}

int tinyedge_model_invoke(const int8_t *input, int8_t *output)
{{
{body}    return 0;
}}
"""


def run_vector_model(body: str, vectors: bytes, output_bytes: int, board: str, folder: Path) -> bytes:
    """A hand-written firmware "model" whose invoke runs `body` (C over `input` and `output`, with
    te_nn_dsp.h included) once on `vectors`, built for `board` (the host runs it natively); its output."""
    (folder / "model").mkdir()
    (folder / "model" / "tinyedge_model.h").write_text(
        VECTOR_MODEL_H.format(input_bytes=len(vectors), output_bytes=output_bytes))
    (folder / "model" / "tinyedge_model.c").write_text(VECTOR_MODEL_C.format(body=body))
    render_project(folder, board, kernel_sources=())
    firmware = build_firmware(folder, board)
    if board == "host":
        (output,) = run_host(firmware.elf, [vectors], output_bytes)
    else:
        (output,) = simulate(firmware.elf, load_board(board), [vectors]).outputs
    return output
