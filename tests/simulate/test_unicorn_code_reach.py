"""Each engine's translated code lies within a direct call (2 GiB) of libunicorn, so TCG calls its
helpers directly (unicorn_backend.py, "Translated code"): also with earlier engines still alive and
a large mapping made after Unicorn was loaded, as TensorFlow's libraries are when it is imported
after the simulator. Checked in a fresh process: what earlier tests mapped into this one would
decide it otherwise."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux" or platform.machine() != "x86_64",
                                reason="reads /proc/self/maps; the 2 GiB reach is x86-64's")

REACH = 1 << 31
ENGINES = 4

# In the child: Unicorn loaded, then 512 MiB of address space mapped (never touched, so no memory
# used), then ENGINES engines created and run, each kept alive; prints libunicorn's code range and
# the executable mapping each engine added.
CHILD = """
import json, mmap, sys
from tinyedge.simulate import SimTarget, Memory, cycle_model_for
from tinyedge.simulate.firmware_image import load_image
from tinyedge.simulate.unicorn_backend import Emulation

def mappings():
    rows = []
    for line in open("/proc/self/maps"):
        fields = line.split()
        start, end = (int(x, 16) for x in fields[0].split("-"))
        rows.append((start, end, fields[1], fields[5] if len(fields) > 5 else ""))
    return rows

board = SimTarget("test-m4", "cortex-m4", 64_000_000, (Memory("flash", 0, 0x40000, "flash"),
                  Memory("ram", 0x20000000, 0x10000, "ram")))
image = load_image(sys.argv[1])
text = [(s, e) for s, e, perms, path in mappings() if "libunicorn" in path and "x" in perms]
stand_in = mmap.mmap(-1, 512 << 20, prot=mmap.PROT_READ)
engines, buffers = [], []
for _ in range(int(sys.argv[2])):
    before = set(mappings())
    engine = Emulation(image, board, b"", cycle_model_for(board, image.arch))
    instructions = engine.run().samples[0].instructions
    new = [(s, e) for s, e, perms, _ in set(mappings()) - before if perms.startswith("rwx")]
    buffers.append(max(new, key=lambda r: r[1] - r[0]) if new else None)
    engines.append(engine)
print(json.dumps({"text": text, "buffers": buffers, "instructions": instructions}))
"""


def test_translated_code_stays_within_a_direct_call_of_unicorn(thumb_program):
    elf = thumb_program("    movs r0, #1\n    adds r0, r0, #2\n", name="reach")
    child = subprocess.run([sys.executable, "-c", CHILD, str(elf), str(ENGINES)], capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == 0, child.stderr
    found = json.loads(child.stdout.splitlines()[-1])
    assert found["instructions"] == 4
    assert found["text"], "libunicorn's code is not in /proc/self/maps"
    low, high = min(s for s, _ in found["text"]), max(e for _, e in found["text"])
    assert len(found["buffers"]) == ENGINES
    for number, buffer in enumerate(found["buffers"], 1):
        assert buffer is not None, f"no executable mapping appeared for engine {number}'s translated code"
        start, end = buffer
        assert max(high - start, end - low) < REACH, (
            f"engine {number}'s code buffer 0x{start:x}-0x{end:x} is out of a direct call's reach of libunicorn "
            f"0x{low:x}-0x{high:x}")
