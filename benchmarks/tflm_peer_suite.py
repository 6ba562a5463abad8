"""TFLite-Micro's own models as a peer suite: every .tflite of its repository that tflite_micro runs,
through tinyedge on the host and on nrf52840 (built-in emulator), byte for byte against tflite_micro.

    python benchmarks/tflm_peer_suite.py --tflm PATH [--only SUBSTRING ...] [--board nrf52840]

PATH is a TFLite-Micro checkout (every *.tflite under it) or a bare git mirror of it (the files of
HEAD, read with `git show`). Each file is first run by tflite_micro itself, in a child process (a
model it cannot allocate can crash the interpreter), on two seeded random inputs of the input's
dtype; files it cannot allocate or invoke are counted apart. tinyedge then compiles each runnable
file as `tinyedge run` does; a TinyEdgeError is a refusal, grouped by its reason. The figures:
total, tflite_micro-runnable, bit-exact, refused (reasons, files) and differing (must be zero).
Not a test (tests/test_tflm_peer_suite.py runs a subset): it prints figures, exit 1 if any differs.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLES = 2
BOARD = "nrf52840"
_CHILD_TIMEOUT_S = 300


# ---------------------------------------------------------------- where the models are read from

class Tree:
    """A TFLite-Micro source tree: a checkout folder or a bare git mirror (read with git, no work tree)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.bare = not (self.path / ".git").exists() and (self.path / "HEAD").is_file() and (
            self.path / "objects").is_dir()
        if not self.bare and not self.path.is_dir():
            raise SystemExit(f"{self.path}: neither a TFLite-Micro checkout nor a bare git mirror of it")

    def models(self) -> list[str]:
        """The repository paths of every .tflite, sorted."""
        if self.bare:
            names = self._git("ls-tree", "-r", "--name-only", "HEAD").decode().splitlines()
            return sorted(n for n in names if n.endswith(".tflite"))
        return sorted(str(p.relative_to(self.path)) for p in self.path.rglob("*.tflite"))

    def read(self, name: str) -> bytes:
        return self._git("show", f"HEAD:{name}") if self.bare else (self.path / name).read_bytes()

    def _git(self, *args: str) -> bytes:
        return subprocess.run(["git", f"--git-dir={self.path}", *args], check=True, capture_output=True).stdout


# ---------------------------------------------------------------- tflite_micro, in a child

def random_inputs(details: Sequence[tuple[tuple[int, ...], str]], seed: int) -> list[np.ndarray]:
    """One random array per input (shape, dtype): the dtype's whole range for integers, [-1, 1) for floats."""
    rng = np.random.default_rng(seed)
    arrays = []
    for shape, dtype in details:
        if np.issubdtype(np.dtype(dtype), np.integer):
            info = np.iinfo(dtype)
            arrays.append(rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True))
        elif dtype == "bool":
            arrays.append(rng.integers(0, 2, size=shape).astype(bool))
        else:
            arrays.append(rng.uniform(-1, 1, size=shape).astype(dtype))
    return arrays


def _tflm_child(path: str) -> None:
    """Run one model in tflite_micro on SAMPLES random inputs; print a JSON line: ok, or the error."""
    from tflite_micro import runtime
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    data = Path(path).read_bytes()
    try:
        inputs = len(schema.Model.GetRootAs(data, 0).Subgraphs(0).InputsAsNumpy())
        interpreter = runtime.Interpreter.from_bytes(data, arena_size=max(len(data) * 4, 4 << 20))
        details = [(tuple(int(d) for d in interpreter.get_input_details(i)["shape"]),
                    np.dtype(interpreter.get_input_details(i)["dtype"]).name) for i in range(inputs)]
        for seed in range(SAMPLES):
            for i, array in enumerate(random_inputs(details, seed)):
                interpreter.set_input(array, i)
            interpreter.invoke()
        print(json.dumps({"ok": True}))
    except Exception as exc:  # any failure of tflite_micro's is the answer
        text = str(exc).strip()
        print(json.dumps({"ok": False, "error": text.splitlines()[0] if text else type(exc).__name__}))


def tflm_runs(model: Path) -> str | None:
    """None if tflite_micro allocates and invokes the model, else why not (a crash included)."""
    try:
        proc = subprocess.run([sys.executable, __file__, "--tflm-child", str(model)], capture_output=True,
                              text=True, timeout=_CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"tflite_micro took more than {_CHILD_TIMEOUT_S} s"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return f"tflite_micro crashed (exit {proc.returncode})"
    answer = json.loads(lines[-1])
    return None if answer["ok"] else answer["error"]


# ---------------------------------------------------------------- tinyedge

@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # "tflm-cannot", "bit-exact", "refused", "differing"
    detail: str = ""  # the refusal's or tflite_micro's message, or where the bytes differ


def run_tinyedge(model: Path, workdir: Path, board: str = BOARD) -> Outcome:
    """Compile the model as `tinyedge run` does, run it on the host and on `board`, compare with tflite_micro."""
    from tinyedge.boards import load_board
    from tinyedge.errors import TinyEdgeError
    from tinyedge.host import run_host
    from tinyedge.importer import load_tflite
    from tinyedge.model_kind import require_compilable
    from tinyedge.pipeline import build, compile_tflite
    from tinyedge.simulate import DEFAULT_BUDGET, backends
    from tinyedge.verify import compare_outputs, random_samples, reference_outputs

    name = model.name
    try:
        require_compilable(load_tflite(model), name)
        compiled = compile_tflite(model)
        samples = random_samples(compiled, SAMPLES, seed=0)
        expected = reference_outputs(model.read_bytes(), compiled, samples)
        host = build(compiled, "host", workdir / "host")
        check = compare_outputs(expected, run_host(host.elf, samples, compiled.output_bytes))
    except TinyEdgeError as exc:
        return Outcome(name, "refused", str(exc).splitlines()[0])
    if not check.bit_exact:
        return Outcome(name, "differing", f"host: {check.first_mismatch}")
    try:
        firmware = build(compiled, board, workdir / board)
        sim = backends.run("builtin", firmware.elf, load_board(board), samples, budget=DEFAULT_BUDGET,
                           expected_layers=len(compiled.layers))
    except TinyEdgeError as exc:  # the host run stands; the board's refusal is said with it
        return Outcome(name, "refused", f"bit-exact on the host; {board}: {str(exc).splitlines()[0]}")
    check = compare_outputs(expected, list(sim.outputs))
    if not check.bit_exact:
        return Outcome(name, "differing", f"{board}: {check.first_mismatch}")
    return Outcome(name, "bit-exact")


def reason_of(message: str, name: str) -> str:
    """A refusal's reason without what is particular to the file (its name, tensor names, numbers)."""
    message = message.replace(name, "FILE").replace(f"{Path(name).stem}:", "FILE:")  # the importer says the stem
    reason = re.sub(r"(?<!\w)'[^']*'", "'…'", message)
    reason = re.sub(r" \(tensor '…' \(\w+\) of layer \d+ \w+( \([^()]*\))?\)", "", reason)  # model_kind's evidence
    return re.sub(r"\blayer \d+", "layer N", reason)


def run_suite(tree: Tree, only: Sequence[str] = (), board: str = BOARD, log=print) -> list[Outcome]:
    names = [n for n in tree.models() if not only or any(s in n for s in only)]
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="tinyedge-peer-") as tmp:
        for number, name in enumerate(names, 1):
            path = Path(tmp) / f"{number:03d}" / Path(name).name
            path.parent.mkdir()
            path.write_bytes(tree.read(name))
            why = tflm_runs(path)
            if why is not None:
                outcome = Outcome(name, "tflm-cannot", why)
            else:
                outcome = run_tinyedge(path, path.parent)
                outcome = Outcome(name, outcome.status, outcome.detail)
            log(f"[{number}/{len(names)}] {outcome.status:<11} {name}  {outcome.detail[:160]}")
            outcomes.append(outcome)
    return outcomes


def summary(outcomes: Sequence[Outcome]) -> Iterator[str]:
    def count(status: str) -> list[Outcome]:
        return [o for o in outcomes if o.status == status]

    runnable = [o for o in outcomes if o.status != "tflm-cannot"]
    yield (f"total {len(outcomes)}, tflite_micro-runnable {len(runnable)} (cannot: {len(count('tflm-cannot'))}), "
           f"bit-exact {len(count('bit-exact'))}, refused {len(count('refused'))}, "
           f"differing {len(count('differing'))}")
    groups: dict[str, list[str]] = {}
    for o in count("refused"):
        groups.setdefault(reason_of(o.detail, Path(o.name).name), []).append(o.name)
    for reason, names in sorted(groups.items(), key=lambda item: -len(item[1])):
        yield f"refused {len(names)}: {reason}"
        yield from (f"    {n}" for n in names)
    for title, status in (("bit-exact", "bit-exact"), ("differing", "differing"),
                          ("tflite_micro cannot run", "tflm-cannot")):
        for o in count(status):
            yield f"{title}: {o.name}{'  ' + o.detail if o.detail else ''}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tflm", type=Path, help="a TFLite-Micro checkout or a bare git mirror of it")
    parser.add_argument("--only", nargs="*", default=(), help="only the files whose path holds one of these")
    parser.add_argument("--board", default=BOARD, help=f"the emulated board (default {BOARD})")
    parser.add_argument("--tflm-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tflm_child:
        _tflm_child(args.tflm_child)
        return 0
    if args.tflm is None:
        parser.error("--tflm is required")
    outcomes = run_suite(Tree(args.tflm), args.only, args.board)
    print()
    for line in summary(outcomes):
        print(line)
    return 1 if any(o.status == "differing" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
