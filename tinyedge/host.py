"""The host board: compile the generated model with the system C compiler and run it.

The same kernels run on the development machine, so bit-exactness is checked in
milliseconds before any cross-compiler or emulator is involved. Kernel objects are
cached by content hash; only the model itself is compiled per run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tinyedge.errors import TinyEdgeError
from tinyedge.resources import firmware_dir

HOST_CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror")
CACHE_DIR = Path(os.environ.get("TINYEDGE_CACHE", Path.home() / ".cache" / "tinyedge")) / "host-objects"


@dataclass(frozen=True)
class HostExecutable:
    path: Path
    input_bytes: int
    output_bytes: int


def host_compiler() -> str:
    compiler = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not compiler or not shutil.which(compiler):
        raise TinyEdgeError("no C compiler found for the host board: install one with "
                            "`sudo apt-get install gcc` (or set CC)")
    return compiler


def _compile(compiler: str, source: Path, output: Path, includes: list[Path]) -> None:
    command = [compiler, *HOST_CFLAGS, *(f"-I{i}" for i in includes), "-c", str(source), "-o", str(output)]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinyEdgeError(f"host compile of {source.name} failed: {proc.stderr.strip()}")


def _cached_object(compiler: str, source: Path, includes: list[Path]) -> Path:
    digest = hashlib.sha256()
    for part in (compiler, *HOST_CFLAGS, source.read_text()):
        digest.update(part.encode())
    for include in includes:
        for header in sorted(include.glob("*.h")):
            digest.update(header.read_bytes())
    obj = CACHE_DIR / f"{source.stem}-{digest.hexdigest()[:20]}.o"
    if not obj.exists():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        partial = obj.with_suffix(f".{os.getpid()}.tmp.o")
        _compile(compiler, source, partial, includes)
        partial.replace(obj)
    return obj


def build_host(model_dir: Path, kernel_sources: tuple[str, ...], build_dir: Path) -> HostExecutable:
    """Compile model_dir/tinyedge_model.c with the kernels it calls and the host runner."""
    compiler = host_compiler()
    firmware = firmware_dir()
    includes = [firmware / "include"]
    objects = [_cached_object(compiler, firmware / "kernels" / name, includes) for name in kernel_sources]
    objects.append(_cached_object(compiler, firmware / "host" / "te_host_main.c", [*includes, model_dir]))
    build_dir.mkdir(parents=True, exist_ok=True)
    model_obj = build_dir / "tinyedge_model.o"
    _compile(compiler, model_dir / "tinyedge_model.c", model_obj, [*includes, model_dir])
    exe = build_dir / "tinyedge_host"
    link = [compiler, str(model_obj), *map(str, objects), "-o", str(exe)]
    proc = subprocess.run(link, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinyEdgeError(f"host link failed: {proc.stderr.strip()}")
    sizes = _io_sizes(model_dir / "tinyedge_model.h")
    return HostExecutable(exe, *sizes)


def _io_sizes(header: Path) -> tuple[int, int]:
    values = {}
    for line in header.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "#define" and parts[1] in ("TINYEDGE_INPUT_BYTES", "TINYEDGE_OUTPUT_BYTES"):
            values[parts[1]] = int(parts[2])
    return values["TINYEDGE_INPUT_BYTES"], values["TINYEDGE_OUTPUT_BYTES"]


def run_host(exe: HostExecutable, samples: list[bytes], timeout: float = 600) -> list[bytes]:
    """Run each sample (the concatenated input bytes) through the host build; outputs in order."""
    for sample in samples:
        if len(sample) != exe.input_bytes:
            raise TinyEdgeError(f"an input sample has {len(sample)} bytes; the model takes {exe.input_bytes}")
    proc = subprocess.run([str(exe.path)], input=b"".join(samples), capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise TinyEdgeError(f"the host build of the model failed (exit {proc.returncode}): "
                            f"{proc.stderr.decode(errors='replace').strip()}")
    out = proc.stdout
    if len(out) != exe.output_bytes * len(samples):
        raise TinyEdgeError(f"the host build wrote {len(out)} bytes for {len(samples)} samples")
    return [out[i * exe.output_bytes:(i + 1) * exe.output_bytes] for i in range(len(samples))]
