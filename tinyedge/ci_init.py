"""`tinyedge ci init`: write a GitHub Actions workflow that builds, emulates and verifies in CI.

The workflow (templates/ci/github-workflow.yml.j2) runs one job per board: it installs the
cross-compilers and QEMU with apt-get and tinyedge with pip from where this project gets it
(a git URL pinned at a commit, a folder or a wheel; never a registry name: PyPI's `tinyedge`
is another project), optionally Renode's portable
Linux package, runs the project's emulator tests with the pytest plugin, runs
`tinyedge compile` on the model, optionally compares the report with a committed baseline,
and uploads every report.html and report.json as artifacts.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import jinja2

from tinyedge import __version__
from tinyedge.compare import DEFAULT_THRESHOLD_PCT
from tinyedge.errors import TinyEdgeError
from tinyedge.resources import templates_dir

DEFAULT_OUTPUT = Path(".github/workflows/tinyedge.yml")
DEFAULT_BOARDS = ("nrf52840",)
PYTHON_VERSION = "3.11"
RENODE_VERSION = "1.15.3"  # the release tinyedge's Renode backend was checked against
APT_PACKAGES = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "gcc-riscv64-unknown-elf",
                "qemu-system-arm", "qemu-system-misc")
REPORTS_DIR = "tinyedge-reports"  # everything the workflow uploads lives under it
DISTRIBUTION = "tinyedge-mcu"  # pyproject's [project] name; the import name and the command are `tinyedge`


@dataclass(frozen=True)
class WorkflowOptions:
    boards: tuple[str, ...]
    model: str | None = None  # path relative to the repository root, POSIX separators
    calib: str | None = None
    tests: str | None = "tests"  # pytest's argument; None: no pytest step
    backend: str = "auto"
    renode: bool = False  # True: the optional Renode step runs unless a manual run turns it off
    renode_version: str = RENODE_VERSION
    install: str = "."  # pip requirement that installs tinyedge (see install_requirement)
    baseline: str | None = None  # folder holding <board>/report.json to compare against
    threshold: float = DEFAULT_THRESHOLD_PCT


def renode_url(version: str) -> str:
    return f"https://github.com/renode/renode/releases/download/v{version}/renode-{version}.linux-portable.tar.gz"


def command_line(options: WorkflowOptions) -> str:
    """The `tinyedge ci init` invocation that writes this workflow again."""
    words = ["tinyedge", "ci", "init"]
    for board in options.boards:
        words += ["--board", board]
    for flag, value, default in (("--model", options.model, None), ("--calib", options.calib, None),
                                 ("--backend", options.backend, "auto"),
                                 ("--renode-version", options.renode_version, RENODE_VERSION),
                                 ("--install", options.install, None),
                                 ("--baseline", options.baseline, None)):
        if value is not None and value != default:
            words += [flag, value]
    if options.tests is None:
        words.append("--no-tests")
    elif options.tests != "tests":
        words += ["--tests", options.tests]
    if options.baseline is not None and options.threshold != DEFAULT_THRESHOLD_PCT:
        words += ["--threshold", f"{options.threshold:g}"]
    if options.renode:
        words.append("--renode")
    return shlex.join(words)


def _board_path(prefix: str, suffix: str = "") -> str:
    """A shell word for prefix + the job's board + suffix (the board comes from $BOARD)."""
    return shlex.quote(prefix) + '"$BOARD"' + (shlex.quote(suffix) if suffix else "")


def render_workflow(options: WorkflowOptions) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "ci")),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["shell"] = shlex.quote
    env.globals["gh"] = lambda expression: "${{ " + expression + " }}"  # a GitHub Actions expression
    model_name = Path(options.model).stem if options.model else None
    model_out = _board_path(f"{REPORTS_DIR}/{model_name}/") if model_name else None
    return env.get_template("github-workflow.yml.j2").render(
        command=command_line(options), version=__version__, python_version=PYTHON_VERSION, reports_dir=REPORTS_DIR,
        boards=list(options.boards), apt_packages=APT_PACKAGES, install=install_requirement(options.install),
        backend=options.backend,
        renode=options.renode, renode_version=options.renode_version, renode_url=renode_url(options.renode_version),
        tests=options.tests, model=options.model, model_name=model_name, calib=options.calib, model_out=model_out,
        robot_suite=model_out and f"{model_out}/renode/{shlex.quote(f'{model_name}.robot')}",
        robot_results=model_out and f"{model_out}/renode-results",
        baseline=options.baseline,
        baseline_report=options.baseline and _board_path(f"{options.baseline}/", "/report.json"),
        threshold=f"{options.threshold:g}")


def refuse_overwrite(path: Path, force: bool) -> None:
    """A workflow file already there may be the user's own: replaced only with --force."""
    if Path(path).exists() and not force:
        raise TinyEdgeError(f"{path} already exists; pass --force to overwrite it (or -o another file)")


def write_workflow(options: WorkflowOptions, path: Path = DEFAULT_OUTPUT, force: bool = False) -> Path:
    path = Path(path)
    refuse_overwrite(path, force)
    text = render_workflow(options)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---------------------------------------------------------------- checking what the user gave

def check_boards(names: list[str]) -> tuple[str, ...]:
    """Every board must be one `tinyedge compile` can emulate (a shipped Cortex-M or RISC-V board)."""
    from tinyedge.boards import list_boards, load_board

    emulated = [name for name in list_boards() if load_board(name).emulated]
    for name in names:
        if name not in emulated:
            what = f"unknown board '{name}'" if name not in list_boards() else f"board '{name}' cannot be emulated"
            raise TinyEdgeError(f"{what}; boards `tinyedge compile` emulates in CI: {', '.join(emulated)}")
    return tuple(dict.fromkeys(names))  # in the order given, once each


def repository_path(path: Path, what: str, root: Path | None = None) -> str:
    """`path` as the workflow sees it: relative to the repository root (the current folder)."""
    root = (root or Path.cwd()).resolve()
    resolved = (root / path).resolve() if not Path(path).is_absolute() else Path(path).resolve()
    if not resolved.is_relative_to(root):
        raise TinyEdgeError(f"{what} {path} is outside {root}; run `tinyedge ci init` from the repository root "
                            f"and give a {what} inside it")
    if not resolved.exists():
        print(f"tinyedge: warning: {what} {path} does not exist yet; the workflow expects it in the repository",
              file=sys.stderr)
    return resolved.relative_to(root).as_posix()


# ---------------------------------------------------------------- where the workflow gets tinyedge

def _git(source: Path, *argv: str) -> str | None:
    """git's answer in `source`, or None when git fails or is not installed."""
    try:
        proc = subprocess.run(["git", "-C", str(source), *argv], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _fetchable_url(url: str) -> str | None:
    """A remote's URL as pip's git+ scheme takes it; None for a local path CI cannot reach."""
    scp_like = re.fullmatch(r"(?P<user>[\w.-]+)@(?P<host>[\w.-]+):(?P<path>[^/].*)", url)
    if scp_like:  # git@github.com:owner/name.git
        return f"ssh://{scp_like['user']}@{scp_like['host']}/{scp_like['path']}"
    return url if re.match(r"(https?|ssh|git)://", url) else None


def default_install(source: Path | None = None) -> str:
    """git+<remote URL>@<commit> of the checkout tinyedge runs from: the same code CI will run."""
    source = (source or Path(__file__).resolve().parents[1]).resolve()
    top = _git(source, "rev-parse", "--show-toplevel")
    remotes = (_git(source, "remote") or "").split() if top and Path(top).resolve() == source else []
    remote = "origin" if "origin" in remotes else (remotes[0] if remotes else None)
    url = remote and _fetchable_url(_git(source, "remote", "get-url", remote) or "")
    commit = url and _git(source, "rev-parse", "HEAD")
    if not url or not commit:
        raise TinyEdgeError(f"cannot tell where this project gets tinyedge ({source} is not a git checkout with a "
                            "remote CI can fetch); give --install git+URL@REV, a folder or a .whl")
    if _git(source, "status", "--porcelain", "--untracked-files=no"):
        print(f"tinyedge: warning: {source} has uncommitted changes; the workflow installs commit {commit[:12]} "
              "without them", file=sys.stderr)
    return f"git+{url}@{commit}"


def check_install(spec: str) -> str:
    """`--install` as the workflow uses it: a git URL pinned at a revision, or a folder or wheel in the repository.

    A bare name is refused: it would install whatever a registry holds under that name.
    """
    if spec.startswith("git+"):
        url, _, revision = spec.rpartition("@")
        if "://" not in url or not revision or "/" in revision:
            raise TinyEdgeError(f"--install {spec} names no revision; pin one: {spec}@<commit or tag>")
        return spec
    if re.match(r"https?://", spec) and spec.endswith(".whl"):
        return spec
    path = Path(spec)
    if spec.endswith(".whl") and path.is_file() or (path / "pyproject.toml").is_file():
        return repository_path(path, "--install")
    raise TinyEdgeError(f"--install {spec} is not a git URL pinned at a revision (git+URL@REV), a folder with a "
                        "pyproject.toml or a .whl; tinyedge is not installed by registry name (PyPI's `tinyedge` "
                        "is another project)")


def install_requirement(spec: str) -> str:
    """The pip argument for a checked --install: a git URL gets our distribution's name in front."""
    if spec.startswith("git+"):
        return f"{DISTRIBUTION} @ {spec}"
    if re.match(r"https?://", spec) or spec == "." or spec.startswith(("./", "../", "/")):
        return spec
    return f"./{spec}"  # pip reads a bare word as a registry name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`ci` takes one subcommand, `init`."""
    commands = parser.add_subparsers(dest="ci_command", required=True, metavar="SUBCOMMAND")
    init = commands.add_parser("init", help="write a GitHub Actions workflow", description=__doc__.splitlines()[0])
    init.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    init.add_argument("--board", action="append", dest="boards", metavar="BOARD",
                      help=f"a board to build and emulate; repeat for several (default: {', '.join(DEFAULT_BOARDS)})")
    init.add_argument("--model", type=Path, help="the model `tinyedge compile` builds for each board")
    init.add_argument("--calib", type=Path, help="its calibration data (.npy, .npz or a folder)")
    init.add_argument("--tests", default="tests", help="what pytest runs (default: tests)")
    init.add_argument("--no-tests", action="store_true", help="no pytest step")
    init.add_argument("--backend", default="auto", metavar="{auto,builtin,renode,qemu}",
                      help="emulator for the tests and the compile (default auto: Renode when installed)")
    init.add_argument("--renode", action="store_true",
                      help="turn the optional Renode step on (without it, a manual run can still turn it on)")
    init.add_argument("--renode-version", default=RENODE_VERSION, metavar="VERSION",
                      help=f"the Renode release the optional step installs (default {RENODE_VERSION})")
    init.add_argument("--install", metavar="SPEC",
                      help="where the workflow installs tinyedge from: git+URL@REV, a folder or a .whl in the "
                           "repository (default: the git remote and commit this tinyedge runs from)")
    init.add_argument("--baseline", type=Path, metavar="DIR",
                      help="compare each board's report with DIR/<board>/report.json (committed), with --model")
    init.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD_PCT, metavar="PCT",
                      help=f"growth that fails the baseline comparison (default {DEFAULT_THRESHOLD_PCT:g}%%)")
    init.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT,
                      help=f"the workflow file to write (default {DEFAULT_OUTPUT})")
    init.add_argument("--force", action="store_true", help="overwrite an existing workflow file")


def run(args: argparse.Namespace) -> int:
    from tinyedge.simulate.backends import CHOICES

    if args.backend not in CHOICES:
        raise TinyEdgeError(f"unknown emulator backend '{args.backend}'; valid backends: {', '.join(CHOICES)}")
    if args.threshold < 0:
        raise TinyEdgeError(f"--threshold {args.threshold:g} is not a growth; give a percentage >= 0")
    if args.baseline is not None and args.model is None:
        raise TinyEdgeError("--baseline compares the report of --model; give --model too")
    if args.no_tests and args.model is None:
        raise TinyEdgeError("with --no-tests and no --model the workflow would check nothing; give --model")
    refuse_overwrite(args.output, args.force)  # before anything else can fail or warn
    tests = None if args.no_tests else args.tests
    options = WorkflowOptions(
        boards=check_boards(args.boards or list(DEFAULT_BOARDS)),
        model=args.model and repository_path(args.model, "model"),
        calib=args.calib and repository_path(args.calib, "calibration data"),
        tests=tests, backend=args.backend, renode=args.renode, renode_version=args.renode_version,
        install=check_install(args.install) if args.install else default_install(),
        baseline=args.baseline and repository_path(args.baseline, "baseline folder"),
        threshold=args.threshold)
    if tests is not None and not Path(tests.split("::")[0]).exists():
        print(f"tinyedge: warning: {tests} does not exist yet; the workflow's pytest step fails until it does "
              "(or pass --tests PATH / --no-tests)", file=sys.stderr)
    path = write_workflow(options, args.output, force=args.force)
    print(f"wrote {path}: {len(options.boards)} board(s) ({', '.join(options.boards)}); "
          f"Renode step {'on' if options.renode else 'off (turn on with --renode or a manual run)'}")
    return 0
