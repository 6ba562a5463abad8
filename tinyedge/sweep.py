"""`tinyedge sweep SPEC`: every model x board x option combination as an independent Ray task.

Each job is one `tinyedge.compile`. A model is quantized once per calibration set and
activations (a task of its own) and the int8 .tflite is shared by its boards. Inputs travel
to the workers as bytes and each job's output folder comes back as an archive, so a cluster
needs no shared filesystem, only the same tinyedge and toolchains on every node. A job that
fails is recorded with its one-line error; the others go on. Jobs are keyed by the hash of
their inputs (tinyedge/sweep_spec.py), so running a spec again skips what is done.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import re
import secrets
import shutil
import socket
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyedge import __version__
from tinyedge.errors import TinyEdgeError
from tinyedge.outdir import MARKER, MARKER_FORMAT, check_output_folder
from tinyedge.sweep_report import job_record, write_results
from tinyedge.sweep_spec import Job, Spec, load_spec, plan_jobs

Log = Callable[[str], None]
RAY_MISSING = ("tinyedge sweep needs Ray, which is not installed: in the tinyedge checkout run "
               "`.venv/bin/pip install -e '.[sweep]'` (scripts/setup.sh does it)")
LOCAL_OBJECT_STORE_BYTES = 200 * 1024 * 1024  # inputs and archives of a few hundred KB each
JOB_RECORD = "sweep_job.json"
QUANTIZED_DIR = "quantized"
JOBS_DIR = "jobs"
STAGE_LINE = re.compile(r"^\[\d+/\d+\] (\S+)")
STAGE_NAMES = {"quantize": "quantize", "generate": "generate", "cross-compile": "compile", "run": "emulate",
               "verify": "verify", "accuracy": "accuracy", "report": "report"}


@dataclass(frozen=True)
class Blob:
    """A file or folder as bytes (a folder as a tar), to send to a worker that may not share our disk."""

    name: str
    data: bytes
    folder: bool

    @classmethod
    def of(cls, path: Path) -> Blob:
        if not path.is_dir():
            return cls(path.name, path.read_bytes(), False)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.add(path, arcname=path.name)
        return cls(path.name, buffer.getvalue(), True)

    def unpack(self, into: Path) -> Path:
        into.mkdir(parents=True, exist_ok=True)
        if self.folder:
            with tarfile.open(fileobj=io.BytesIO(self.data)) as tar:
                tar.extractall(into, filter="data")
        else:
            (into / self.name).write_bytes(self.data)
        return into / self.name


@dataclass(frozen=True)
class Quantized:
    """A quantize task's result: the int8 .tflite and how it was made, or the one-line error."""

    tflite: bytes | None
    error: str | None = None
    calibration_samples: int = 0
    agreement: dict | None = None  # tinyedge.report.AgreementInfo as a dict
    int8_agreement: dict | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class Outcome:
    """A compile job's result as the worker sends it back."""

    key: str
    error: str | None
    error_kind: str | None  # "error" (the user's to fix; not retried) or "crash" (retried on the next run)
    report: dict | None
    archive: bytes | None  # the job's output folder, tar.gz
    seconds: float
    stages: dict[str, float]
    node: str
    log: tuple[str, ...] = ()
    quantize_seconds: float = 0.0  # of the shared quantization (the first job of a model reports it; 0 passthrough)


@dataclass(frozen=True)
class SweepResult:
    out_dir: Path
    records: list[dict]  # one per job, in the spec's order (tinyedge/sweep_report.py)
    ran: int
    skipped: int

    @property
    def failed(self) -> int:
        return sum(record["status"] != "ok" for record in self.records)


def require_ray(local: bool = False) -> Any:
    """The ray module, or a TinyEdgeError saying how to install it.

    `local`: a Ray started here listens on loopback only. Ray swaps 127.0.0.1 for the machine's
    address and binds every interface unless it believes multi-node clusters are off, which
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 says (read when ray is first imported; a program that
    imported ray before gets Ray's own default)."""
    if local and "ray" not in sys.modules:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        # Ray's token authentication with a token of this run's own (else ray.init writes ~/.ray/auth_token)
        if "RAY_AUTH_TOKEN" not in os.environ and "RAY_AUTH_MODE" not in os.environ:
            os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    try:
        import ray
    except ImportError:
        raise TinyEdgeError(RAY_MISSING) from None
    return ray


def run_sweep(spec_path: str | Path, out_dir: str | Path | None = None, *, address: str | None = None,
              workers: int | None = None, log: Log | None = None, command: str | None = None) -> SweepResult:
    """Run every job of the spec not done before in `out_dir` (default build/sweep/<spec name>), write the results.

    Local Ray with `workers` CPUs (default: this machine's) unless `address` names a cluster to join.
    An already initialised Ray (ray.init by the caller) is used as it is.
    """
    log = log or (lambda message: print(message, file=sys.stderr))
    spec = load_spec(spec_path)
    if address is not None and workers is not None:
        raise TinyEdgeError("--workers sets the CPUs of a local Ray; a cluster joined with --address runs as many "
                            "jobs as its nodes have CPUs (ray start --num-cpus N)")
    if workers is not None and workers < 1:
        raise TinyEdgeError(f"--workers {workers}: give 1 or more")
    jobs = plan_jobs(spec)
    out = check_output_folder(Path("build/sweep") / spec.path.stem if out_dir is None else Path(out_dir),
                              [spec.path, *(m.path for m in spec.models)])
    records = {job.key: record for job in jobs if (record := _finished(out, job)) is not None}
    todo = [job for job in jobs if job.key not in records]
    ray = require_ray(local=address is None) if todo else None  # before the folder is made
    if records:
        log(f"{len(records)} of {len(jobs)} jobs already done in {out}: skipping them")
    if todo:
        with _ray_session(ray, address, workers):
            _mark(out)
            _run(ray, spec, todo, len(jobs), len(records), out, records, log, command or f"tinyedge sweep {spec.path}")
    _mark(out)
    ordered = [records[job.key] for job in jobs]
    write_results(out, spec, ordered)
    return SweepResult(out, ordered, len(todo), len(jobs) - len(todo))


# ---------------------------------------------------------------- the driver

@contextmanager
def _ray_session(ray: Any, address: str | None, workers: int | None) -> Iterator[None]:
    """Ray for the sweep: the caller's, a cluster's (--address) or a local one; no usage report leaves the machine."""
    if ray.is_initialized():
        yield
        return
    if address is not None:
        _check_reachable(address)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    common = {"log_to_driver": False, "logging_level": logging.ERROR, "include_dashboard": False}
    try:
        if address is None:
            ray.init(num_cpus=workers or os.cpu_count() or 1, object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                     **common)
        else:
            common.pop("include_dashboard")
            ray.init(address=address, **common)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError... with pages of detail
        where = f"join the Ray cluster at {address}" if address else "start a local Ray"
        first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise TinyEdgeError(f"cannot {where}: {first}; check the address (ray status on the head node) or "
                            "start one with `ray start --head`") from exc
    try:
        yield
    finally:
        ray.shutdown()


def _check_reachable(address: str) -> None:
    """A head that is not there fails in one line now, not after Ray's minutes of retries."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise TinyEdgeError(f"nothing answers at the Ray address {address} ({exc.strerror or exc}); start the head "
                            f"with `ray start --head --port {port}` or give its address (ray status on the head "
                            "shows it)") from None


def _run(ray: Any, spec: Spec, todo: list[Job], total: int, done_before: int, out: Path, records: dict[str, dict],
         log: Log, command: str) -> None:
    quantize_task = ray.remote(num_cpus=1, max_retries=1)(quantize_model)
    compile_task = ray.remote(num_cpus=1, max_retries=1)(compile_job)
    blobs: dict[Path, Any] = {}

    def blob(path: Path | None) -> Any:
        if path is None:
            return None
        if path not in blobs:
            blobs[path] = ray.put(Blob.of(path))
        return blobs[path]

    pending: dict[Any, tuple[str, Any]] = {}
    quantized: dict[str, Any] = {}
    for job in todo:
        if job.quantize_key not in quantized:
            cached = _cached_quantized(out, job.quantize_key)
            if cached is not None:
                quantized[job.quantize_key] = ray.put(cached)
            else:
                ref = quantize_task.remote(blob(job.model.path), blob(job.calib), job.activations, __version__,
                                           job.model.label)
                quantized[job.quantize_key] = ref
                pending[ref] = ("quantize", job.quantize_key)
        ref = compile_task.remote(job, blob(job.model.path), blob(job.calib), blob(job.model.eval),
                                  quantized[job.quantize_key], __version__, command)
        pending[ref] = ("job", job)
    log(f"{len(todo)} jobs on Ray ({_cluster_cpus(ray)} CPUs), {len(pending) - len(todo)} quantizations")
    started, finished, failed = time.perf_counter(), 0, 0
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            kind, item = pending.pop(ref)
            try:
                value = ray.get(ref)
            except Exception as exc:  # the task died (a worker crashed, a node left): retried on the next run
                value = _crashed(item.key if kind == "job" else "", exc)
            if kind == "quantize":
                if isinstance(value, Quantized) and value.tflite is not None:
                    _cache_quantized(out, item, value)
                continue
            record = _store(out, item, value, spec)
            records[item.key] = record
            finished += 1
            failed += record["status"] != "ok"
            elapsed = time.perf_counter() - started
            eta = elapsed / finished * (len(todo) - finished)
            what = "ok" if record["status"] == "ok" else f"failed: {record['error']}"
            log(f"{done_before + finished}/{total} done, {failed} failed, ETA {_clock(eta)}  "
                f"({record['model']} on {record['board']}: {what}, {record['seconds']:.1f} s)")


def _cluster_cpus(ray: Any) -> int:
    return int(ray.cluster_resources().get("CPU", 0))


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _crashed(key: str, exc: BaseException) -> Outcome:
    first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return Outcome(key, f"the Ray task failed: {first}", "crash", None, None, 0.0, {}, "")


def _mark(out: Path) -> None:
    """The sweep's folder (checked by check_output_folder): new, or one a sweep made, added to and never replaced."""
    out.mkdir(parents=True, exist_ok=True)
    marker = out / MARKER
    if not marker.is_file():
        marker.write_text(json.dumps({"format": MARKER_FORMAT, "version": 1, "command": "sweep"}, indent=2) + "\n")


def _finished(out: Path, job: Job) -> dict | None:
    """The job's record from an earlier run, unless it is missing or crashed (those run again)."""
    path = out / JOBS_DIR / job.name / JOB_RECORD
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if record.get("key") != job.key or record.get("error_kind") == "crash":
        return None
    return record


def _store(out: Path, job: Job, outcome: Outcome, spec: Spec) -> dict:
    """The job's folder under jobs/, whole or not at all, with its record last."""
    record = job_record(job, outcome, spec)
    jobs = out / JOBS_DIR
    jobs.mkdir(exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{job.name}.partial-", dir=jobs))
    try:
        if outcome.archive is not None:
            with tarfile.open(fileobj=io.BytesIO(outcome.archive), mode="r:gz") as tar:
                tar.extractall(partial, filter="data")
        if outcome.log:
            (partial / "sweep_log.txt").write_text("\n".join(outcome.log) + "\n")
        (partial / JOB_RECORD).write_text(json.dumps(record, indent=2) + "\n")
        final = jobs / job.name
        if final.exists():  # a crashed job's folder from an earlier run: this sweep's own
            shutil.rmtree(final)
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return record


def _cached_quantized(out: Path, key: str) -> Quantized | None:
    tflite, meta = out / QUANTIZED_DIR / f"{key}.tflite", out / QUANTIZED_DIR / f"{key}.json"
    if not (tflite.is_file() and meta.is_file()):
        return None
    return Quantized(tflite.read_bytes(), **json.loads(meta.read_text()))


def _cache_quantized(out: Path, key: str, value: Quantized) -> None:
    folder = out / QUANTIZED_DIR
    folder.mkdir(exist_ok=True)
    assert value.tflite is not None
    (folder / f"{key}.tflite").write_bytes(value.tflite)
    fields = {k: v for k, v in dataclasses.asdict(value).items() if k not in ("tflite", "error")}
    (folder / f"{key}.json").write_text(json.dumps(fields, indent=2) + "\n")


# ---------------------------------------------------------------- the tasks (run on the workers)

def quantize_model(model: Blob, calib: Blob | None, activations: str, version: str, label: str = "") -> Quantized:
    """Quantize once for every board of the model (TensorFlow's converter, in tinyedge's child process)."""
    from tinyedge.quantize import quantize

    started = time.perf_counter()
    if version != __version__:
        return Quantized(None, _version_mismatch(version))
    with tempfile.TemporaryDirectory(prefix="tinyedge-sweep-") as tmp:
        folder = Path(tmp)
        try:
            result = quantize(model.unpack(folder / "model"), folder / "model.tflite",
                              calib=None if calib is None else calib.unpack(folder / "calib"),
                              log=lambda _line: None, activations=activations)
        except TinyEdgeError as exc:
            return Quantized(None, _first_line(exc).replace(str(folder / "model" / model.name), label or model.name))
        agreement, int8 = (None if a is None else dataclasses.asdict(a) for a in
                           (result.agreement, result.int8_agreement))
        return Quantized(result.tflite.read_bytes(), None, result.calibration_samples, agreement, int8,
                         time.perf_counter() - started)


def compile_job(job: Job, model: Blob, calib: Blob | None, eval_data: Blob | None, quantized: Quantized,
                version: str, command: str) -> Outcome:
    """One `tinyedge.compile` of the shared int8 model for the job's board, its folder sent back as a tar.gz."""
    import tinyedge

    node = _node()
    if version != __version__:
        return Outcome(job.key, _version_mismatch(version), "error", None, None, 0.0, {}, node)
    if quantized.tflite is None:
        return Outcome(job.key, f"quantize: {quantized.error}", "error", None, None, 0.0, {}, node)
    started = time.perf_counter()
    lines: list[str] = []
    stages: list[tuple[str, float]] = []

    def note(line: str) -> None:
        lines.append(line)
        if match := STAGE_LINE.match(line):
            stages.append((STAGE_NAMES.get(match.group(1), match.group(1)), time.perf_counter()))

    with tempfile.TemporaryDirectory(prefix="tinyedge-sweep-") as tmp:
        folder = Path(tmp)
        try:
            float_model = model.unpack(folder / "model")
            tflite = folder / "int8" / f"{Path(model.name).stem}.tflite"  # the report names the model by the stem
            tflite.parent.mkdir()
            tflite.write_bytes(quantized.tflite)
            calib_path = None if calib is None else calib.unpack(folder / "calib")
            report = tinyedge.compile(
                tflite, board=job.board, calib=calib_path, out_dir=folder / "out",
                eval=None if eval_data is None else eval_data.unpack(folder / "eval"),
                source=None if float_model.suffix == ".tflite" else float_model,
                samples=job.samples, backend=job.backend, log=note, optimize=job.optimize)
            report = _with_quantization(report, job, quantized, command, folder / "out")
            archive = _archive(folder / "out")
            error = kind = None
        except TinyEdgeError as exc:
            paths = {folder / "model" / model.name: job.model.label,
                     folder / "int8" / f"{Path(model.name).stem}.tflite": job.model.label,
                     **({} if calib is None else {folder / "calib" / calib.name: job.calib_label}),
                     **({} if eval_data is None else {folder / "eval" / eval_data.name: "the eval data"})}
            report, archive, error, kind = None, None, _plain(_first_line(exc), paths), "error"
        except Exception as exc:  # a bug, not the user's: recorded, and the job runs again next time
            report, archive, error, kind = None, None, f"{type(exc).__name__}: {_first_line(exc)}", "crash"
    ended = time.perf_counter()
    ends = [at for _, at in stages[1:]] + [ended]
    durations = {name: round(end - at, 3) for (name, at), end in zip(stages, ends)}
    return Outcome(job.key, error, kind, None if report is None else report.to_dict(), archive,
                   ended - started, durations, node, tuple(lines), quantized.seconds)


def _with_quantization(report: Any, job: Job, quantized: Quantized, command: str, out: Path) -> Any:
    """The report as if the compile had quantized: the job compiled the shared .tflite, which the quantize task made
    from the model with the job's calibration set, so its provenance says so (then report.json/html are written
    again)."""
    from tinyedge.report import SYNTHETIC_CALIBRATION, AgreementInfo, write_html, write_json

    if report.provenance is None:
        return report
    agreement, int8 = (None if a is None else AgreementInfo(**a) for a in
                       (quantized.agreement, quantized.int8_agreement))
    provenance = report.provenance
    if quantized.calibration_samples:  # quantized here (not an int8 .tflite passed through)
        provenance = dataclasses.replace(
            provenance, calibration_samples=quantized.calibration_samples, agreement=agreement, int8_agreement=int8,
            calibration=SYNTHETIC_CALIBRATION if job.calib is None else job.calib_label,
        )
    report = dataclasses.replace(report, provenance=dataclasses.replace(provenance, command=command))
    write_json(report, out / "report.json")
    write_html(report, out / "report.html")
    return report


def _archive(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buffer.getvalue()


def _node() -> str:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:  # not in a Ray worker (a test calling the task directly)
        return socket.gethostname()


def _version_mismatch(version: str) -> str:
    return (f"this worker has tinyedge {__version__} and the driver {version}: install the same tinyedge checkout "
            "on every node (scripts/setup.sh)")


def _plain(message: str, paths: dict[Path, str]) -> str:
    """The message with the worker's scratch paths named as the spec names them."""
    for path, label in paths.items():
        message = message.replace(str(path), label)
    return message


def _first_line(exc: BaseException) -> str:
    return next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
