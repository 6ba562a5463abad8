"""The CI slice of the fuzzer: 500 hostile cases end in exit 0 or one error line, never worse.

The 10,000-case run is benchmarks/fuzz.py; both derive every case from (seed, number) alone.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from fuzz import harness, mutate

CASES = 500
KERAS_CASES = 3  # damaged .keras, damaged .h5, hostile calibration: each runs TensorFlow (seconds)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, bytes]:
    return harness.build_seeds(tmp_path_factory.mktemp("seeds"), ("kws", "ic"))


@pytest.mark.slow
def test_500_hostile_cases_end_in_exit_0_or_one_error_line(seeds, tmp_path_factory):
    keras_seeds = harness.build_keras_seeds(tmp_path_factory.mktemp("keras"))
    cases = itertools.chain(harness.keras_cases(keras_seeds, KERAS_CASES, seed=1),
                            harness.tflite_cases(seeds, CASES - KERAS_CASES, seed=1))
    started = time.monotonic()
    summary = harness.run_cases(cases, tmp_path_factory.mktemp("sandbox"))
    report = [f"{o.case.ident} ({o.case.mutation}): {o.failure}\n{o.output[-600:]}" for o in summary.failures]
    assert not report, "\n\n".join(report[:10])
    assert len(summary.outcomes) == CASES
    assert len(summary.error_lines()) > 20  # the cases reach many different checks, not one early exit
    assert any(o.exit_code == 0 for o in summary.outcomes)  # and some damage leaves a model that still compiles
    print(f"{CASES} cases in {time.monotonic() - started:.0f} s, {len(summary.error_lines())} distinct errors")


def test_cases_are_repeatable_from_seed_and_number(seeds):
    shapes = {name: harness._input_shape(data) for name, data in seeds.items()}
    first = [harness.tflite_case(seeds, shapes, 7, n) for n in range(40)]
    again = [harness.tflite_case(seeds, shapes, 7, n) for n in range(40)]
    assert [c.files for c in first] == [c.files for c in again]
    assert len({c.mutation.split("/")[1] for c in first}) > 10


def test_the_judge_accepts_one_error_line_and_nothing_else():
    assert harness.judge(0, "wrote out\n") == (None, None)
    assert harness.judge(1, "progress\ntinyedge: error: bad\n") == ("tinyedge: error: bad", None)
    assert harness.judge(1, "tinyedge: error: bad\nmore detail\n")[1] == "output after the error line"
    assert harness.judge(1, "")[1] == "exit 1 with 0 error lines"
    assert harness.judge(0, "Traceback (most recent call last):\n")[1] == "traceback in output"


@pytest.mark.parametrize("action, failure", [("crash", "worker crashed (exit code -11)"), ("stuck", "hang: killed")])
def test_a_crashed_or_stuck_worker_is_recorded_and_replaced(tmp_path, action, failure):
    """The harness's own watchdog: such a case is a failure, and the next case still runs in a new worker."""
    runner = harness.Runner(tmp_path, grace=2.0)
    try:
        outcome = runner.run(harness.Case(action, "selftest", action, {}, (action,), ()))
        assert outcome.failure is not None and outcome.failure.startswith(failure)
        damaged = {"m.tflite": mutate.truncated(b"x" * 64, np.random.default_rng(0))}
        outcome = runner.run(harness.Case("next", "tflite", "truncated", damaged,
                                          ("generate", "{dir}/m.tflite", "-o", "{dir}/out"), ("out",)))
        assert outcome.failure is None and outcome.error_line.startswith("tinyedge: error: ")
    finally:
        runner.close()
