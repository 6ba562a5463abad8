"""The host board: run a firmware built for the development machine on input samples.

The host build (boards/host.toml, built by tinyedge.build) runs the same main loop as the
board firmware, with stdio in place of semihosting: it reads input.bin and writes
output.bin in its working folder. Bit-exactness is checked there in milliseconds before
any cross-compiler or emulator is involved.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tinyedge import children
from tinyedge.errors import TinyEdgeError


def run_host(executable: Path, samples: list[bytes], output_bytes: int, timeout: float = 600) -> list[bytes]:
    """Outputs of each sample (the concatenated input bytes), in order."""
    with tempfile.TemporaryDirectory(prefix="tinyedge-host-") as tmp:
        folder = Path(tmp)
        (folder / "input.bin").write_bytes(b"".join(samples))
        proc = children.run([str(Path(executable).resolve())], "the host build of the model", stage="host",
                            timeout=timeout, cwd=folder, text=True)
        if proc.returncode != 0:  # a crash here is a kernel or planner bug, reported with its signal
            raise children.completed_failure("the host build of the model", proc, stage="host")
        out = (folder / "output.bin").read_bytes()
    if len(out) != output_bytes * len(samples):
        raise TinyEdgeError(f"the host build wrote {len(out)} output bytes for {len(samples)} samples "
                            f"of {output_bytes} bytes")
    return [out[i * output_bytes:(i + 1) * output_bytes] for i in range(len(samples))]
