"""Fuzz tinyedge with mutated .tflite, Keras and .npy/.npz files; print what it found.

Each case is derived from (--seed, its number) alone, so a run repeats exactly. Cases run
in one worker process (2 GiB address-space cap, 10 s per .tflite case); see
tests/fuzz/harness.py for what counts as a failure.

    python benchmarks/fuzz.py [--cases 10000] [--seed 0] [--keras-cases 40] [--seeds kws,vww,ic,ad]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fuzz import harness  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="total cases (default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keras-cases", type=int, default=40, help="of the total, damaged Keras/calibration cases "
                        "(each runs TensorFlow; default 40)")
    parser.add_argument("--seeds", default=",".join(harness.EXAMPLE_SEEDS), help="example models to mutate")
    parser.add_argument("--work", type=Path, help="folder for seeds and the sandbox (default: a temporary one)")
    parser.add_argument("--show", type=int, default=10, help="how many error lines and failures to list")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tinyedge-fuzz-") as tmp:
        work = args.work or Path(tmp)
        started = time.monotonic()
        seeds = harness.build_seeds(work / "seeds", tuple(args.seeds.split(",")))
        keras_count = min(args.keras_cases, args.cases)
        keras_seeds = harness.build_keras_seeds(work / "seeds") if keras_count else {}
        print(f"seeds ready in {time.monotonic() - started:.1f} s: "
              + ", ".join(f"{name} {len(data):,} B" for name, data in seeds.items()), flush=True)
        cases = itertools.chain(harness.keras_cases(keras_seeds, keras_count, args.seed),
                                harness.tflite_cases(seeds, args.cases - keras_count, args.seed))
        started = time.monotonic()

        def progress(outcome: harness.Outcome) -> None:
            done = len(summary_outcomes) + 1
            summary_outcomes.append(outcome)
            if outcome.failure:
                print(f"FAIL {outcome.case.ident} {outcome.case.mutation}: {outcome.failure}", flush=True)
            if done % 500 == 0:
                print(f"{done} cases, {time.monotonic() - started:.0f} s", flush=True)

        summary_outcomes: list[harness.Outcome] = []
        summary = harness.run_cases(cases, work / "sandbox", progress)
        elapsed = time.monotonic() - started

    outcomes = summary.outcomes
    slowest = max(outcomes, key=lambda o: o.seconds)
    lines = summary.error_lines()
    print(f"\ncases:            {len(outcomes):,} ({elapsed:.0f} s, {elapsed / len(outcomes) * 1000:.0f} ms per case)")
    print(f"failures:         {len(summary.failures)}")
    print(f"exit 0:           {sum(o.exit_code == 0 for o in outcomes):,}")
    print(f"distinct errors:  {len(lines)} (paths, names and numbers folded)")
    print(f"slowest case:     {slowest.seconds:.2f} s ({slowest.case.ident}, {slowest.case.mutation})")
    for family in sorted({o.case.family for o in outcomes}):
        worst = max((o for o in outcomes if o.case.family == family), key=lambda o: o.seconds)
        print(f"  slowest {family + ':':<9}{worst.seconds:.2f} s ({worst.case.ident}, {worst.case.mutation})")
    print(f"peak memory:      {max(o.max_rss for o in outcomes) / 2**20:.0f} MiB max RSS (worker or its children)")
    print(f"\ntop {args.show} error lines:")
    for line, count in list(lines.items())[: args.show]:
        print(f"  {count:6,}  {line}")
    for outcome in summary.failures[: args.show]:
        print(f"\nFAILED {outcome.case.ident} ({outcome.case.mutation}): {outcome.failure}\n{outcome.output[-800:]}")
    return 1 if summary.failures else 0


if __name__ == "__main__":
    sys.exit(main())
