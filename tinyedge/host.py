"""The host board: run a firmware built for the development machine on input samples.

The host build (boards/host.toml, built by tinyedge.build) runs the same main loop as the
board firmware, with stdio in place of semihosting: it reads input.bin and writes
output.bin in its working folder. Bit-exactness is checked there in milliseconds before
any cross-compiler or emulator is involved.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from tinyedge.errors import TinyEdgeError


def run_host(executable: Path, samples: list[bytes], output_bytes: int, timeout: float = 600) -> list[bytes]:
    """Outputs of each sample (the concatenated input bytes), in order."""
    with tempfile.TemporaryDirectory(prefix="tinyedge-host-") as tmp:
        folder = Path(tmp)
        (folder / "input.bin").write_bytes(b"".join(samples))
        try:
            proc = subprocess.run([str(Path(executable).resolve())], cwd=folder, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise TinyEdgeError(f"the host build did not finish within {timeout:g} s") from exc
        if proc.returncode != 0:
            detail = (proc.stdout + proc.stderr).strip().splitlines()
            raise TinyEdgeError(f"the host build failed (exit {proc.returncode}): {detail[-1] if detail else ''}")
        out = (folder / "output.bin").read_bytes()
    if len(out) != output_bytes * len(samples):
        raise TinyEdgeError(f"the host build wrote {len(out)} output bytes for {len(samples)} samples "
                            f"of {output_bytes} bytes")
    return [out[i * output_bytes:(i + 1) * output_bytes] for i in range(len(samples))]
