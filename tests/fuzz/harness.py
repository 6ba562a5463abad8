"""Fuzz harness: hostile files through `tinyedge generate/run/quantize`, in a long-lived worker process.

Spawning Python per case would cost more than the cases, so one worker runs them in turn:
it calls `tinyedge.cli.main(argv)` with fds 1 and 2 captured per case, a per-case alarm and
an address-space cap. The parent watches it: a worker that dies (a crash) or stops
answering (a hang in native code) is recorded against its case and replaced.

Each case may only end in exit 0 or exactly one `tinyedge: error: ...` line, and may only
write its declared outputs (checked on the case folder, the worker's cwd and its TMPDIR).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import mutate

MEMORY_LIMIT = 2 << 30
CASE_SECONDS = 10.0
TF_CASE_SECONDS = 60.0  # quantize cases run the TensorFlow converter, which legitimately takes seconds
EXAMPLE_SEEDS = ("kws", "vww", "ic", "ad")
ERROR_PREFIX = "tinyedge: error: "


@dataclass(frozen=True)
class Case:
    ident: str
    family: str  # "tflite", "keras", "calib", or "selftest" (the harness's own tests: a 1 s limit)
    mutation: str
    files: dict[str, bytes]  # written into the case folder before the run
    argv: tuple[str, ...]  # "{dir}" stands for the case folder
    outputs: tuple[str, ...]  # what the command may create in the case folder

    @property
    def seconds(self) -> float:
        return {"tflite": CASE_SECONDS, "selftest": 1.0}.get(self.family, TF_CASE_SECONDS)


@dataclass
class Outcome:
    case: Case
    exit_code: int | None
    error_line: str | None
    seconds: float
    failure: str | None
    max_rss: int = 0  # bytes, the worker's peak so far (with its children)
    output: str = ""  # the case's stdout and stderr together (the last 2000 characters), kept for failures


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failure]

    def error_lines(self) -> dict[str, int]:
        """Distinct error lines, with paths and numbers folded so that one bug class counts once."""
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            if outcome.error_line:
                key = fold(outcome.error_line)
                counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: -item[1]))


def fold(line: str) -> str:
    import re

    line = re.sub(r"\([^()]*->[^()]*\)", "(<tensors>)", line)
    line = re.sub(r"'[^']*'", "'<name>'", line)
    line = re.sub(r"/\S*/", "<dir>/", line)
    return re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "N", line)


# ---------------------------------------------------------------- seeds

def tiny_keras_model(seed: int = 0):  # noqa: ANN201 - keras is imported lazily
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((6, 5, 2)), keras.layers.Conv2D(4, 3, activation="relu"),
                             keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])


def build_seeds(folder: Path, names: tuple[str, ...] = EXAMPLE_SEEDS) -> dict[str, bytes]:
    """Int8 .tflite seeds from the example models, quantized once and kept in `folder`."""
    from tinyedge import examples
    from tinyedge.quantize import quantize_keras_model

    folder.mkdir(parents=True, exist_ok=True)
    seeds = {}
    for name in names:
        path = folder / f"{name}.tflite"
        if not path.exists():
            model = examples.build(name)
            rng = np.random.default_rng(0)
            calibration = [rng.uniform(-1, 1, (8, *t.shape[1:])).astype(np.float32) for t in model.inputs]
            quantize_keras_model(model, path, calibration, log=lambda _message: None)
        seeds[name] = path.read_bytes()
    return seeds


def build_keras_seeds(folder: Path) -> dict[str, bytes]:
    """A tiny float Keras model saved as .keras and .h5 (the quantize cases start from these)."""
    folder.mkdir(parents=True, exist_ok=True)
    model = tiny_keras_model()
    for suffix in (".keras", ".h5"):
        if not (folder / f"tiny{suffix}").exists():
            model.save(folder / f"tiny{suffix}")
    return {suffix: (folder / f"tiny{suffix}").read_bytes() for suffix in (".keras", ".h5")}


# ---------------------------------------------------------------- cases

def _input_shape(tflite: bytes) -> tuple[int, ...]:
    from tinyedge.importer import parse_tflite

    return parse_tflite(tflite).input_tensors()[0].shape


def tflite_cases(seeds: dict[str, bytes], count: int, seed: int, run_share: float = 0.15) -> Iterator[Case]:
    """`count` mutated models; each case derives from (seed, its number) alone, so any one can be replayed."""
    shapes = {name: _input_shape(data) for name, data in seeds.items()}
    for number in range(count):
        yield tflite_case(seeds, shapes, seed, number, run_share)


def tflite_case(seeds: dict[str, bytes], shapes: dict[str, tuple[int, ...]], seed: int, number: int,
                run_share: float = 0.15) -> Case:
    rng = np.random.default_rng([seed, number])
    names = sorted(seeds)
    name = names[number % len(names)]
    kind = mutate.TFLITE_MUTATIONS[int(rng.integers(len(mutate.TFLITE_MUTATIONS)))]
    files = {"model.tflite": mutate.mutate_tflite(seeds[name], kind, rng)}
    ident = f"tflite-{seed}-{number}"
    if rng.random() < run_share:
        if rng.random() < 0.8:
            input_kind = "good"
            files["input.npy"] = mutate.npy_bytes(rng.integers(-128, 128, size=shapes[name]).astype(np.int8))
        else:
            input_kind, files["input.npy"] = mutate.hostile_array(shapes[name], rng, "int8")
        argv = ("run", "{dir}/model.tflite", "--board", "host", "--input", "{dir}/input.npy",
                "--output", "{dir}/output.npy")
        return Case(ident, "tflite", f"{name}/{kind}/run/{input_kind}", files, argv, ("output.npy",))
    argv = ("generate", "{dir}/model.tflite", "--board", "host", "-o", "{dir}/out")
    return Case(ident, "tflite", f"{name}/{kind}/generate", files, argv, ("out",))


def _damaged_keras(data: bytes, suffix: str, rng: np.random.Generator) -> tuple[str, bytes]:
    import io
    import zipfile

    kind = ["truncated", "bit_flips", "wrong_config", "wrong_groups"][int(rng.integers(4))]
    if kind == "truncated":
        return kind, data[: int(rng.integers(0, len(data)))]
    if kind == "bit_flips":
        return kind, mutate.bit_flips(data, rng)
    if suffix == ".keras" and kind == "wrong_config":
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
            for item in source.infolist():
                body = source.read(item)
                if item.filename == "config.json":
                    body = [b'{"class_name": "Sequential", "config": 7}', b"[]", b"{not json",
                            body.replace(b"Conv2D", b"NoSuchLayer"), body.replace(b'"filters": 4', b'"filters": -4'),
                            body.replace(b'"units": 3', b'"units": 1000000000'),
                            ][int(rng.integers(6))]
                target.writestr(item, body)
        return kind, out.getvalue()
    if suffix == ".h5":
        import h5py

        buffer = io.BytesIO(data)
        with h5py.File(buffer, "r+") as h5:
            choice = int(rng.integers(3))
            if choice == 0 and "model_weights" in h5:
                del h5["model_weights"]
            elif choice == 1:
                h5.attrs["model_config"] = '{"class_name": "Nothing", "config": {}}'
            else:
                h5.create_group("model_weights/extra_group")
                if "model_config" in h5.attrs:
                    del h5.attrs["model_config"]
        return "wrong_groups", buffer.getvalue()
    return "truncated", data[: len(data) // 2]


def keras_cases(keras_seeds: dict[str, bytes], count: int, seed: int) -> Iterator[Case]:
    """Damaged .keras/.h5 files and hostile calibration data through `tinyedge quantize` (TensorFlow)."""
    for number in range(count):
        rng = np.random.default_rng([seed, 10**6 + number])
        suffix = (".keras", ".h5")[number % 2]
        model_name = f"model{suffix}"
        argv = ["quantize", "{dir}/" + model_name, "-o", "{dir}/model.tflite"]
        if number % 3 == 2:  # an intact model with hostile calibration data
            files = {model_name: keras_seeds[suffix]}
            if rng.random() < 0.5:
                kind, files["calib.npy"] = mutate.hostile_array((8, 6, 5, 2), rng, "float32")
                argv += ["--calib", "{dir}/calib.npy"]
            else:
                kind = "npz"
                import io

                buffer = io.BytesIO()
                arrays = {"x": np.full((4, 6, 5, 2), np.nan, np.float32)} if rng.random() < 0.5 else {}
                np.savez(buffer, **arrays)
                files["calib.npz"] = buffer.getvalue()
                argv += ["--calib", "{dir}/calib.npz"]
            yield Case(f"calib-{seed}-{number}", "calib", f"{suffix}/calib/{kind}", files, tuple(argv),
                       ("model.tflite",))
        else:
            kind, data = _damaged_keras(keras_seeds[suffix], suffix, rng)
            yield Case(f"keras-{seed}-{number}", "keras", f"{suffix}/{kind}", {model_name: data}, tuple(argv),
                       ("model.tflite",))


# ---------------------------------------------------------------- the worker (a child process)

class _CaseTimeout(BaseException):
    """Raised by the alarm inside a case; BaseException so that no `except Exception` in tinyedge swallows it."""


def _on_alarm(_signum: int, _frame: object) -> None:
    raise _CaseTimeout()


@contextlib.contextmanager
def _captured_fds(path: Path) -> Iterator[None]:
    """Fds 1 and 2 (Python's and native code's output alike) into one file for the case."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "wb") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _peak_rss() -> int:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) * 1024


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def judge(exit_code: int | None, output: str) -> tuple[str | None, str | None]:
    """(error line, failure) for one finished case's exit code and captured output."""
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(ERROR_PREFIX)]
    error_line = errors[-1] if errors else None
    if "Traceback (most recent call last)" in output:
        return error_line, "traceback in output"
    if exit_code == 0:
        return None, None
    if len(errors) != 1:
        return error_line, f"exit {exit_code} with {len(errors)} error lines"
    if lines[-1] != errors[0]:
        return error_line, "output after the error line"
    return error_line, None


def _selftest(action: str) -> None:
    """What the watchdog must survive: the interpreter killed by a signal, or stuck where no alarm reaches."""
    if action == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if action == "stuck":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(3600)


def run_case(case: Case, root: Path) -> Outcome:
    """Run one case in this process (the worker); the case folder is root/case."""
    from tinyedge import cli

    folder, cwd, tmp = root / "case", root / "cwd", root / "tmp"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for name, data in case.files.items():
        (folder / name).write_bytes(data)
    argv = [arg.replace("{dir}", str(folder)) for arg in case.argv]
    if case.family == "selftest":
        _selftest(argv[0])
    before = _listing(root)
    exit_code, failure = None, None
    start = time.monotonic()
    try:
        with _captured_fds(root / "output.txt"):
            signal.setitimer(signal.ITIMER_REAL, case.seconds)
            try:
                exit_code = cli.main(argv)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    except _CaseTimeout:
        failure = f"hang: no answer within {case.seconds:g} s"
    except MemoryError:
        failure = "MemoryError"
    except SystemExit as exc:
        failure = f"SystemExit({exc.code}) escaped main()"
    except BaseException as exc:  # noqa: BLE001 - any exception escaping main() is the finding
        failure = f"exception escaped main(): {type(exc).__name__}: {str(exc)[:200]}"
    seconds = time.monotonic() - start
    output = (root / "output.txt").read_text(errors="replace")
    error_line, verdict = judge(exit_code, output)
    failure = failure or verdict
    allowed = set(case.files) | set(case.outputs)
    stray = sorted(p for p in _listing(folder) if p.split("/")[0] not in allowed)
    stray += sorted(f"cwd/{p}" for p in _listing(cwd)) + sorted(f"tmp/{p}" for p in _listing(tmp))
    new = (_listing(root) - before) - {f"case/{p}" for p in _listing(folder)} - {"output.txt"}
    stray += sorted(p for p in new if not p.startswith("cache"))  # tinyedge's own cache: object files, child logs
    if stray and not failure:
        failure = f"wrote outside its outputs: {', '.join(stray[:3])}"
    for leftover in (cwd, tmp):  # emptied, not removed: the worker's cwd must stay
        for item in leftover.iterdir():
            shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
    return Outcome(case, exit_code, error_line, seconds, failure, _peak_rss(), output[-2000:] if failure else "")


def worker_main(connection, root: str, memory_limit: int) -> None:  # noqa: ANN001 - a multiprocessing Connection
    """The worker: capped memory, its own cwd and TMPDIR, cases from the pipe until None."""
    import tempfile

    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    root_path = Path(root)
    for name in ("cwd", "tmp"):
        (root_path / name).mkdir(parents=True, exist_ok=True)
    os.chdir(root_path / "cwd")
    os.environ["TMPDIR"] = str(root_path / "tmp")
    tempfile.tempdir = str(root_path / "tmp")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["TINYEDGE_CACHE"] = str(root_path / "cache")  # thousands of cases' logs stay in the sandbox
    signal.signal(signal.SIGALRM, _on_alarm)
    while True:
        case = connection.recv()
        if case is None:
            return
        connection.send(run_case(case, root_path))


# ---------------------------------------------------------------- the parent

class Runner:
    """Feeds cases to a worker; replaces it when it dies or stops answering."""

    def __init__(self, root: Path, memory_limit: int = MEMORY_LIMIT, grace: float = 20.0):
        self.root, self.memory_limit, self.grace = root, memory_limit, grace
        self.context = multiprocessing.get_context("spawn")
        self.process = None
        self.connection = None
        self.peak_rss = 0

    def _start(self) -> None:
        self.connection, child = self.context.Pipe()
        self.process = self.context.Process(target=worker_main, args=(child, str(self.root), self.memory_limit),
                                            daemon=True)
        self.process.start()
        child.close()

    def _stop(self, kill: bool) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            with contextlib.suppress(OSError):
                self.connection.send(None)
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.process = None

    def run(self, case: Case) -> Outcome:
        if self.process is None:
            self._start()
        start = time.monotonic()
        with contextlib.suppress(OSError):  # a worker that died since the last case shows up below
            self.connection.send(case)
        # the worker's own alarm fires at case.seconds; native code that ignores it is killed here
        with contextlib.suppress(EOFError, OSError):
            if self.connection.poll(case.seconds + self.grace):
                outcome = self.connection.recv()
                self.peak_rss = max(self.peak_rss, outcome.max_rss)
                return outcome
        seconds = time.monotonic() - start
        self.process.join(2)  # a dead worker's pipe closes a moment before its exit is seen
        alive = self.process.is_alive()
        code = self.process.exitcode
        self._stop(kill=True)
        failure = f"hang: killed after {seconds:.0f} s" if alive else f"worker crashed (exit code {code})"
        return Outcome(case, None, None, seconds, failure)

    def close(self) -> None:
        self._stop(kill=False)


def run_cases(cases: list[Case] | Iterator[Case], root: Path,
              progress: Callable[[Outcome], None] | None = None) -> Summary:
    root.mkdir(parents=True, exist_ok=True)
    runner, summary = Runner(root), Summary()
    try:
        for case in cases:
            outcome = runner.run(case)
            summary.outcomes.append(outcome)
            if progress:
                progress(outcome)
    finally:
        runner.close()
    return summary
