"""tinyedge sweep: every job of a spec on a local Ray with 2 workers and on a two-node Ray cluster started here
(in a network namespace of its own: Ray binds every interface it finds), a failing job recorded while the
others finish, a second run that skips every finished job, and the spec's and the results' rules."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import markupsafe
import numpy as np
import pytest

import tinyedge
from tinyedge.errors import TinyEdgeError
from tinyedge.sweep import Blob, quantize_model
from tinyedge.sweep_report import Point, pareto_front, results_row
from tinyedge.sweep_spec import Budgets, load_spec, plan_jobs

ROOT = Path(__file__).resolve().parents[1]
PROGRESS = re.compile(r"^(\d+)/(\d+) done, (\d+) failed, ETA \d+:\d\d:\d\d  \(")
SPEC = """
models = ["models", "conv3d.keras"]
boards = ["nrf52840", "rp2040"]

[options]
calib = ["calib.npy"]
eval = "eval.npz"
samples = [1]
backend = "builtin"

[budgets]
latency_ms = 1.0
min_accuracy = 0.3
"""
@dataclass(frozen=True)
class Run:
    out: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def jobs(self) -> list[dict]:
        return json.loads((self.out / "results.json").read_text())["jobs"]

    def job(self, model: str, board: str) -> dict:
        return next(j for j in self.jobs if j["model"] == model and j["board"] == board)

    def report(self, model: str, board: str) -> dict:
        return json.loads((self.out / self.job(model, board)["folder"] / "report.json").read_text())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, quantize_for_test) -> Path:
    """Two tiny classifiers (a Keras conv model the sweep quantizes, an int8 dense .tflite it takes as it is),
    calibration and labelled samples, a Keras model with an unsupported layer (Conv3D), and the spec."""
    import keras

    folder = tmp_path_factory.mktemp("sweep")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 192)
    x = rng.normal(0, 0.3, (192, 8, 8, 1)).astype(np.float32)
    for i, label in enumerate(labels):  # which quadrant is bright
        row, col = divmod(int(label), 2)
        x[i, row * 4:row * 4 + 4, col * 4:col * 4 + 4, 0] += 1.0
    keras.utils.set_random_seed(0)
    conv = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                             keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
                             keras.layers.Dense(4, activation="softmax")])
    conv.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    conv.fit(x[:128], labels[:128], epochs=3, batch_size=32, verbose=0)
    (folder / "models").mkdir()
    conv.save(folder / "models" / "conv.keras")
    dense = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
    quantize_for_test(dense, folder / "models" / "dense.tflite", [x[:32]])
    np.save(folder / "calib.npy", x[:32])
    np.savez(folder / "eval.npz", x=x[128:], y=labels[128:])
    keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Reshape((8, 8, 1, 1)), keras.layers.Conv3D(2, (3, 3, 1)),
                      keras.layers.Flatten(), keras.layers.Dense(4)]).save(folder / "conv3d.keras")
    (folder / "spec.toml").write_text(SPEC)
    return folder


def sweep(*args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`tinyedge sweep ...` in a child: Ray's processes and settings stay out of the test process."""
    command = [*prefix, sys.executable, "-m", "tinyedge.cli", "sweep", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})})


def run(spec: Path, out: Path, ray_tmp: Path, *args: str) -> Run:
    proc = sweep(str(spec), "-o", str(out), *args, env={"RAY_TMPDIR": str(ray_tmp)})
    return Run(out, proc.returncode, proc.stdout, proc.stderr)


def _short_folder(prefix: str) -> Iterator[Path]:
    """A private folder directly in /tmp: Ray's socket paths inside it must fit in 107 characters,
    which pytest's own temporary paths (longer under pytest-xdist's workers) need not."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_tmp() -> Iterator[Path]:
    """Ray's temp folder: private, and short."""
    yield from _short_folder("te-ray-")


@pytest.fixture
def cluster_work() -> Iterator[Path]:
    """The test cluster's folder (its nodes' Ray temp folders among it): private, and short."""
    yield from _short_folder("te-cl-")


@pytest.fixture(scope="module")
def local_run(inputs, ray_tmp) -> Run:
    return run(inputs / "spec.toml", inputs / "out-local", ray_tmp, "--workers", "2")


@pytest.mark.slow
def test_local_ray_with_two_workers_compiles_every_job_bit_exact(local_run):
    assert local_run.returncode == 3, local_run.stderr  # the Conv3D model's jobs fail (below)
    jobs = [j for j in local_run.jobs if j["model"] != "conv3d.keras"]
    assert {(j["model"], j["board"]) for j in jobs} == {(m, b) for m in ("models/conv.keras", "models/dense.tflite")
                                                        for b in ("nrf52840", "rp2040")}
    for job in jobs:
        report = local_run.report(job["model"], job["board"])
        assert job["status"] == "ok" and job["error"] is None and job["bit_exact"] is True
        assert job["instructions"] == report["simulation"]["instructions"] > 0
        assert job["latency_ms"] == report["simulation"]["latency_ms"] > 0
        memory = report["memory"]
        assert (job["ram_bytes"], job["flash_bytes"]) == (memory["ram_bytes"], memory["flash_bytes"])
        assert job["accuracy"] == report["accuracy"]["int8_top1"] is not None
        # budgets: latency_ms <= 1.0 and min_accuracy 0.3, judged on the job's own figures
        assert job["latency_budget"] == ("pass" if job["latency_ms"] <= 1.0 else "fail")
        assert job["accuracy_budget"] == ("pass" if job["accuracy"] >= 0.3 else "fail")
        assert job["within_budget"] == (job["latency_budget"] == job["accuracy_budget"] == "pass")
        assert job["ram_budget"] == job["flash_budget"] == job["energy_budget"] == ""
    with open(local_run.out / "results.csv", newline="") as file:
        assert [(r["model"], r["board"], r["instructions"]) for r in csv.DictReader(file)] == \
            [(j["model"], j["board"], str(j["instructions"] or "")) for j in local_run.jobs]


@pytest.mark.slow
def test_a_model_is_quantized_once_and_shared_by_its_boards(local_run):
    keras_nrf, keras_rp = (local_run.report("models/conv.keras", b) for b in ("nrf52840", "rp2040"))
    assert keras_nrf["model"]["sha256"] == keras_rp["model"]["sha256"]
    assert keras_nrf["model"]["name"] == "conv"
    assert len(list((local_run.out / "quantized").glob("*.tflite"))) == 2  # one per model
    provenance = keras_nrf["provenance"]  # says how the shared .tflite was made, not "came already quantized"
    assert provenance["calibration"] == "calib.npy" and provenance["calibration_samples"] > 0
    assert provenance["agreement"]["cosine"] > 0.9
    assert keras_nrf["accuracy"]["float_top1"] is not None  # the float model went along as source=
    assert local_run.report("models/dense.tflite", "nrf52840")["provenance"]["calibration_samples"] == 0


@pytest.mark.slow
def test_progress_is_printed_as_jobs_finish(local_run):
    lines = [PROGRESS.match(line) for line in local_run.stderr.splitlines()]
    done = [(int(m.group(1)), int(m.group(2)), int(m.group(3))) for m in lines if m]
    assert [(n, total) for n, total, _ in done] == [(n, 6) for n in range(1, 7)], local_run.stderr
    assert [failed for _, _, failed in done] == sorted(failed for _, _, failed in done) and done[-1][2] == 2
    assert "6 jobs: 4 compiled, 2 failed (0 done before)" in local_run.stdout


@pytest.mark.slow
def test_the_pareto_page_plots_every_job_and_rings_the_front(local_run):
    html = (local_run.out / "sweep.html").read_text()
    jobs = [j for j in local_run.jobs if j["status"] == "ok"]
    points = [Point(j, j["latency_ms"], j["accuracy"], j["ram_bytes"]) for j in jobs]
    front = pareto_front(points)
    assert html.count("<circle cx=") == len(jobs) + 2  # the jobs and the two boards' legend markers
    assert html.count('class="ring"') == len(front) >= 1
    assert html.count('<tr><td class="text') == len(local_run.jobs)  # one sortable table row per job
    for job in jobs:
        assert f"{job['model']} on {job['board']}" in html


@pytest.mark.slow
def test_a_second_run_skips_every_finished_job(local_run, ray_tmp):
    before = local_run.jobs
    again = run(local_run.out.parent / "spec.toml", local_run.out, ray_tmp, "--workers", "2")
    assert again.returncode == 3, again.stderr
    assert "6 of 6 jobs already done" in again.stderr  # the failed ones too: the user's error, not retried
    assert "jobs on Ray" not in again.stderr and not PROGRESS.search(again.stderr)  # Ray was not even started
    assert "6 jobs: 4 compiled, 2 failed (6 done before)" in again.stdout
    assert again.jobs == before


@pytest.mark.slow
def test_a_failing_job_is_recorded_in_one_line_and_the_others_finish(local_run):
    for board in ("nrf52840", "rp2040"):
        bad = local_run.job("conv3d.keras", board)
        assert bad["status"] == "failed" and bad["instructions"] is None and bad["within_budget"] is False
        assert "CONV_3D" in bad["error"] and "Keras layer 'conv3d'" in bad["error"] and "\n" not in bad["error"]
        assert str(markupsafe.escape(bad["error"])) in (local_run.out / "sweep.html").read_text()
        record = json.loads((local_run.out / bad["folder"] / "sweep_job.json").read_text())
        assert record["error"] == bad["error"] and record["error_kind"] == "error"
    assert sum(j["status"] == "ok" for j in local_run.jobs) == 4  # every other job finished


@pytest.mark.slow
def test_the_same_spec_on_a_two_node_ray_cluster(inputs, local_run, cluster_work):
    """Head and worker are `ray start` processes on this machine, stopped by tests/sweep_cluster.py in a finally."""
    work = cluster_work
    out = inputs / "out-cluster"
    proc = sweep(str(inputs / "spec.toml"), "--address", "{address}", "-o", str(out),
                 prefix=(shutil.which("unshare") or "unshare", "-rn", sys.executable,
                         str(ROOT / "tests" / "sweep_cluster.py"), str(work)))
    assert proc.returncode == 3, proc.stderr + (work / "head.log").read_text()[-2000:]  # 3: the Conv3D jobs
    cluster = Run(out, proc.returncode, proc.stdout, proc.stderr)
    assert len({job["node"] for job in cluster.jobs}) == 2  # both nodes ran jobs
    assert [(j["model"], j["board"], j["status"], j["instructions"], j["cycles"], j["ram_bytes"], j["accuracy"])
            for j in cluster.jobs] == \
        [(j["model"], j["board"], j["status"], j["instructions"], j["cycles"], j["ram_bytes"], j["accuracy"])
         for j in local_run.jobs]
    assert len({job["node"] for job in local_run.jobs}) == 1


# ---------------------------------------------------------------- without Ray, and the spec's rules (no Ray)

def test_without_ray_the_sweep_says_in_one_line_how_to_install_it(inputs, tmp_path):
    code = ("import sys; sys.modules['ray'] = None; from tinyedge.cli import main; "
            f"sys.exit(main(['sweep', {str(inputs / 'spec.toml')!r}, '-o', {str(tmp_path / 'out')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "tinyedge: error: tinyedge sweep needs Ray, which is not installed: in the tinyedge checkout run "
        "`.venv/bin/pip install -e '.[sweep]'` (scripts/setup.sh does it)"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("spec, message", [
    ('models = ["models"]\nboards = ["nrf52840"]\nboard = "x"\n', "unknown key 'board'; valid keys: models, boards"),
    ('models = ["models"]\nboards = ["nrf5284"]\n', "unknown board 'nrf5284'; valid boards: .*nrf52840"),
    ('models = ["nothing.keras"]\nboards = ["nrf52840"]\n', "models names nothing.keras, which does not exist"),
    ('boards = ["nrf52840"]\n', "no 'models' list"),
    ('models = ["models"]\nboards = ["nrf52840"]\n[options]\nactivations = ["int4"]\n',
     "options.activations has 'int4'; valid: int8, int16"),
    ('models = ["models"]\nboards = ["nrf52840"]\n[options]\noptimize = ["size"]\n',
     "options.optimize has 'size'; valid: speed, ram"),
    ('models = ["models"]\nboards = ["nrf52840"]\n[budgets]\nmin_accuracy = 85\n',
     r"budgets.min_accuracy = 85; give a fraction in \(0, 1\]"),
])
def test_a_spec_mistake_is_one_line_naming_the_field(inputs, tmp_path, spec, message):
    path = inputs / f"bad-{tmp_path.name}.toml"
    path.write_text(spec)
    with pytest.raises(TinyEdgeError, match=message) as info:
        plan_jobs(load_spec(path))
    assert "\n" not in str(info.value)


def test_a_yaml_spec_is_refused_naming_toml(tmp_path):
    (tmp_path / "spec.yaml").write_text("models: [a.keras]\n")
    with pytest.raises(TinyEdgeError, match="YAML specs are not supported .* write the same keys in TOML"):
        load_spec(tmp_path / "spec.yaml")


def test_workers_and_address_together_are_refused(inputs, tmp_path):
    proc = sweep(str(inputs / "spec.toml"), "--address", "127.0.0.1:1", "--workers", "2", "-o", str(tmp_path / "o"))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("tinyedge: error: --workers sets the CPUs of a local Ray")


def test_jobs_are_keyed_by_their_inputs_and_share_the_quantization_across_boards(inputs):
    spec = inputs / "keys.toml"
    spec.write_text('models = ["models"]\nboards = ["nrf52840", "rp2040"]\n[options]\ncalib = ["calib.npy"]\n'
                    'activations = ["int8", "int16"]\noptimize = ["speed", "ram"]\n')
    jobs = plan_jobs(load_spec(spec))
    assert len(jobs) == 2 * 2 * 2 * 2 and len({j.key for j in jobs}) == 16 and len({j.name for j in jobs}) == 16
    assert len({j.quantize_key for j in jobs}) == 4  # model x activations, shared by the boards and the plans
    assert [j.key for j in plan_jobs(load_spec(spec))] == [j.key for j in jobs]  # stable
    np.save(inputs / "calib2.npy", np.load(inputs / "calib.npy")[:16])
    spec.write_text(spec.read_text().replace('"calib.npy"', '"calib2.npy"'))
    assert not {j.key for j in plan_jobs(load_spec(spec))} & {j.key for j in jobs}  # other data, other jobs


def test_the_pareto_front_keeps_the_points_no_other_beats_on_latency_and_accuracy():
    def point(latency: float, accuracy: float) -> Point:
        return Point({}, latency, accuracy, 1)

    points = [point(1.0, 0.80), point(2.0, 0.90), point(1.5, 0.85), point(3.0, 0.88), point(1.0, 0.70),
              point(4.0, 0.95), point(2.5, 0.90)]
    assert [(p.latency_ms, p.accuracy) for p in pareto_front(points)] == [(1.0, 0.80), (1.5, 0.85), (2.0, 0.90),
                                                                         (4.0, 0.95)]


def test_budget_verdicts_pass_fail_and_unknown():
    record = {"model": "m", "board": "b", "calib": "c", "activations": "int8", "optimize": "speed", "samples": 1,
              "status": "ok",
              "error": None, "node": "n", "folder": "jobs/x", "seconds": 1.0, "quantize_seconds": 0.0, "stages": {},
              "figures": {"latency_ms": 2.0, "ram_bytes": 10 * 1024, "flash_bytes": 100 * 1024, "energy_uj": 5.0,
                          "accuracy": None, "bit_exact": True, "measured_by": "emulator"}}
    row = results_row(record, Budgets(latency_ms=2.0, ram_kb=9.5, flash_kb=100, min_accuracy=0.5))
    assert (row["latency_budget"], row["ram_budget"], row["flash_budget"], row["energy_budget"],
            row["accuracy_budget"]) == ("pass", "fail", "pass", "", "unknown")
    assert row["within_budget"] is False
    assert results_row(record, Budgets(latency_ms=2.0))["within_budget"] is True


def test_a_job_error_names_the_model_as_the_spec_does_not_the_workers_scratch_path(inputs):
    """An int8 .tflite cannot be requantized to int16 without its float model: the job says so about models/..."""
    result = quantize_model(Blob.of(inputs / "models" / "dense.tflite"), None, "int16", tinyedge.__version__,
                            "models/dense.tflite")
    assert result.tflite is None
    assert result.error.startswith("models/dense.tflite is already quantized with int8 activations"), result.error
    assert "/tmp" not in result.error and "sweep-" not in result.error


def test_an_address_where_no_ray_head_listens_fails_in_one_line_and_makes_no_folder(inputs, tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = sweep(str(inputs / "spec.toml"), "--address", f"127.0.0.1:{port}", "-o", str(tmp_path / "o"))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f"tinyedge: error: nothing answers at the Ray address 127.0.0.1:{port}")
    assert not (tmp_path / "o").exists()
