"""CONTRACT_FIRMWARE (conftest.py), the firmware contract's per-sample loop in a small C program, end to end."""

from __future__ import annotations

import pytest

from tinyedge.errors import TinyEdgeError
from tinyedge.simulate import simulate
from tinyedge.simulate.cycle_model import core_timing


def _expected(sample: bytes) -> bytes:
    values = [int.from_bytes([b], "little", signed=True) for b in sample]
    return bytes(((2 * v + 1) & 0xFF) for v in values)


SAMPLES = [bytes(range(8)), bytes([0x80, 0x7F, 0xFF, 1, 2, 3, 4, 5]), bytes([10] * 8)]


def test_semihosting_reads_inputs_writes_outputs_and_exits(contract_firmware, m4_board):
    result = simulate(contract_firmware, m4_board, SAMPLES)
    assert result.outputs == tuple(_expected(s) for s in SAMPLES)
    assert result.console == "tinyedge: sample=0\ntinyedge: sample=1\ntinyedge: sample=2\n"
    assert len(result.instructions) == 3
    assert result.total_instructions > sum(result.instructions)


def test_layers_split_the_inference_and_add_up(contract_firmware, m4_board):
    result = simulate(contract_firmware, m4_board, SAMPLES, expected_layers=2)
    for sample in result.samples:
        assert [layer.index for layer in sample.layers] == [0, 1]
        assert sum(layer.instructions for layer in sample.layers) == sample.instructions
        assert sum(layer.cycles for layer in sample.layers) == pytest.approx(sample.cycles)
        scale, offset = sample.layers
        assert scale.instructions > offset.instructions > 0  # the scaling layer does more work
    assert result.layers == result.samples[result.layers_sample].layers


def test_expected_layer_count_mismatch_is_an_error(contract_firmware, m4_board):
    with pytest.raises(TinyEdgeError, match="2 call sites but the model has 3 layers"):
        simulate(contract_firmware, m4_board, SAMPLES, expected_layers=3)


def test_stack_use_covers_the_layer_scratch_buffer(contract_firmware, m4_board):
    result = simulate(contract_firmware, m4_board, SAMPLES)
    assert 64 <= result.stack_bytes < 512


def test_c_hook_and_python_hook_agree(contract_firmware, m4_board):
    fast = simulate(contract_firmware, m4_board, SAMPLES, counter="c")
    oracle = simulate(contract_firmware, m4_board, SAMPLES, counter="python")
    assert (fast.counter, oracle.counter) == ("c", "python")
    assert fast.instructions == oracle.instructions
    assert fast.total_instructions == oracle.total_instructions
    assert fast.samples == oracle.samples  # per-layer instructions and cycles included
    assert fast.outputs == oracle.outputs


def test_cycles_are_an_estimate_named_by_their_model(contract_firmware, m4_board):
    result = simulate(contract_firmware, m4_board, SAMPLES)
    assert "estimate" in result.cycle_model and "Cortex-M4" in result.cycle_model
    assert core_timing("cortex-m4").table in result.cycle_model
    for instructions, cycles in zip(result.instructions, result.cycles, strict=True):
        assert instructions <= cycles <= 3 * instructions
    assert result.latency_seconds[0] == pytest.approx(result.cycles[0] / m4_board.clock_hz)


def test_too_few_input_bytes_for_the_samples_is_reported(contract_firmware, m4_board):
    with pytest.raises(TinyEdgeError, match="ran 1 inferences for 2 input samples"):
        simulate(contract_firmware, m4_board, [bytes(8), bytes(4)])


@pytest.mark.parametrize("counter", ["c", "python"])
def test_rv32_firmware_semihosting_layers_and_stack(rv32_contract_firmware, rv32_board, counter):
    result = simulate(rv32_contract_firmware, rv32_board, SAMPLES, counter=counter, expected_layers=2)
    assert result.outputs == tuple(_expected(s) for s in SAMPLES)
    assert result.console.count("tinyedge: sample=") == 3
    for sample in result.samples:
        assert sum(layer.instructions for layer in sample.layers) == sample.instructions
    assert 64 <= result.stack_bytes < 512
    assert "RV32IMC" in result.cycle_model
