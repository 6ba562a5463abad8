"""docs/ops.md cannot drift from the code: every registered op has a catalog row and every row a
registered op, every kernel a row names exists in firmware/kernels/ and is named by its op's
lowering module, every kernel file is run by some op, and docs/ops.md is the generator's output."""

from __future__ import annotations

import importlib
import inspect
import re
import sys

import pytest

from tinyedge import ops
from tinyedge.ops import supported_ops
from tinyedge.ops.catalog import OPS, OpDoc
from tinyedge.ops.docs import COMMAND, DOCS_PATH, catalog, kernel_files, render

ROWS = {entry.op: entry for entry in OPS}


def _lowering_sources(op: str) -> str:
    """The source of the module that lowers `op`, and of the private helper modules it imports."""
    supported_ops()  # loads every op module
    module = sys.modules[ops._LOWERINGS[op].__module__]  # the registry itself: which module lowers op
    source = inspect.getsource(module)
    # At the top of the module, or inside a lowering (a helper module that imports the op modules).
    helpers = re.findall(r"^\s*from tinyedge\.ops\.(_\w+) import", source, re.MULTILINE)
    return "\n".join([source, *(inspect.getsource(importlib.import_module(f"tinyedge.ops.{name}"))
                                 for name in helpers)])


def _named_in(kernel: str, source: str) -> bool:
    """`kernel` (te_<stem>_s8) is in the source literally, or as the pieces lowerings build it from
    (f"te_{name}_s8" with name "<stem>", or f"{kernel}_s8" with kernel "te_<stem>")."""
    stem = kernel.removeprefix("te_").removesuffix("_s8")
    return kernel in source or f'"te_{stem}"' in source or f'"{stem}"' in source


def test_every_registered_op_has_a_catalog_row():
    missing = [op for op in supported_ops() if op not in ROWS]
    assert not missing, f"add a row to tinyedge/ops/catalog.py for {missing}, then run {COMMAND}"


def test_every_catalog_row_names_a_registered_op():
    unknown = sorted(set(ROWS) - set(supported_ops()))
    assert not unknown, f"tinyedge/ops/catalog.py has rows for ops no module registers: {unknown}"


def test_catalog_rows_are_unique_sorted_and_complete():
    names = [entry.op for entry in OPS]
    assert names == sorted(set(names)), "keep tinyedge/ops/catalog.py's rows in alphabetical order, one per op"
    assert catalog() == ROWS
    for entry in OPS:
        assert entry.keras and entry.restrictions and entry.kernels, entry.op
        assert not entry.kernels[0].when, f"{entry.op}: the reference kernel comes first, with no condition"
        assert all(k.when for k in entry.kernels[1:]), f"{entry.op}: every fast variant says when it is picked"


@pytest.mark.parametrize("entry", OPS, ids=lambda entry: entry.op)
def test_every_kernel_named_exists_and_is_named_by_the_lowering(entry: OpDoc):
    files = set(kernel_files())
    source = _lowering_sources(entry.op)
    for kernel in entry.kernels:
        assert kernel.name in files, f"{entry.op}: no firmware/kernels/{kernel.name}.c"
        assert _named_in(kernel.name, source), f"{entry.op}: its lowering module never names {kernel.name}"


def test_every_kernel_file_is_run_by_some_op():
    named = {kernel.name for entry in OPS for kernel in entry.kernels}
    orphans = sorted(set(kernel_files()) - named)
    assert not orphans, f"firmware/kernels/ files no catalog row names: {orphans}"


def test_docs_ops_md_is_the_generator_output():
    assert DOCS_PATH.read_text() == render(), f"docs/ops.md is out of date: run {COMMAND}"


def test_docs_summary_counts_the_registered_ops():
    assert f"tinyedge compiles {len(supported_ops())} TFLite builtin ops" in render()
