"""What the start-up code of every firmware variant sets up, as template values (board file [setup]).

The cost model prices a board at its rated clock with its flash accelerator and caches on; the
firmware must run that way on the chip. [setup]'s register steps and the Cortex-M7 L1 cache
switch are rendered into startup.c here, and the UART variant's [console] steps (board_init.c)
use the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable

from tinyedge.boards import Board, InitStep

# The C symbol that switches the Cortex-M7 L1 caches on (firmware/runtime/te_cache.c), and the
# define that compiles its body (without it the cache functions are empty).
L1_CACHE_DEFINE = "TE_L1_CACHES"


def init_step_rows(steps: Iterable[InitStep]) -> list[dict[str, str]]:
    """One te_init_step initializer per step (te_runtime.h), its fields as C literals."""
    rows = []
    for step in steps:
        if step.action == "wait":
            kind, clear, value, mask = "TE_STEP_WAIT", 0, step.wait_value, step.wait
        elif step.action == "write":
            assert step.value is not None
            kind, clear, value, mask = "TE_STEP_WRITE", 0, step.value, 0
        else:
            kind, clear, value, mask = "TE_STEP_MODIFY", step.clear, step.set, 0
        rows.append({"kind": kind, "reg": f"0x{step.reg:08X}u", "clear_bits": f"0x{clear:08X}u",
                     "value": f"0x{value:08X}u", "wait_mask": f"0x{mask:08X}u", "note": step.note})
    return rows


def setup_context(board: Board) -> dict:
    """What templates/firmware/startup_*.c.j2 render for the board's start-up set-up."""
    setup = board.setup
    clock = f"{board.clock_hz / 1e6:g} MHz" if board.clock_hz else "the reset clock"
    return {
        "setup_steps": init_step_rows(setup.init) if setup is not None else [],
        "l1_caches": setup is not None and setup.l1_caches,
        "setup_clock": f"{clock}: {setup.clock}" if setup is not None else
                       "not set up here: the core runs at its reset clock",
    }


def setup_defines(board: Board) -> tuple[str, ...]:
    """Preprocessor defines the runtime needs for the set-up (the L1 cache helpers' bodies)."""
    return (L1_CACHE_DEFINE,) if board.setup is not None and board.setup.l1_caches else ()


def clock_source(board: Board) -> str:
    """How the flashed firmware reaches the clock the report's latency and energy use."""
    setup = board.setup
    if setup is None:
        return "the board's rated clock; nothing in tinyedge's firmware sets it (the board file has no [setup])"
    if setup.init or setup.l1_caches:
        return f"set by the firmware's start-up code: {setup.clock}"
    return setup.clock
