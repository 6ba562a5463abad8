"""Whole models shaped like the four MLPerf Tiny reference networks: bit-exact on the host."""

from __future__ import annotations

import pytest

from tinyedge.codegen import compile_graph
from tinyedge.host import run_host
from tinyedge.importer import parse_tflite
from tinyedge.pipeline import build
from tinyedge.plan_check import plan_problems
from tinyedge.verify import random_samples, verify

# MAC counts of the MLPerf Tiny reference models (docs/anchors.md)
REFERENCE_MACS = {"kws": 2_656_768, "vww": 7_489_664, "ic": 12_501_632, "ad": 264_192}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["kws", "vww", "ic", "ad"])
def test_mlperf_shaped_model_is_bit_exact_on_host(name, mlperf_tflite, tmp_path):
    flatbuffer = mlperf_tflite(name).read_bytes()
    model = compile_graph(parse_tflite(flatbuffer, name))
    assert plan_problems(model.graph, model.calls, model.plan) == []
    assert model.macs == REFERENCE_MACS[name]
    firmware = build(model, "host", tmp_path)
    samples = random_samples(model, 3, seed=11)
    result = verify(flatbuffer, model, samples, run_host(firmware.elf, samples, model.output_bytes))
    assert result.bit_exact, result.first_mismatch
