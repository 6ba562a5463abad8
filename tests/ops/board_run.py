"""A compiled model built for a board, emulated on seeded inputs, its bytes held to tflite_micro's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinyedge.boards import load_board
from tinyedge.codegen import CompiledModel, compile_graph
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
