"""tinyedge's .mpy linker on its own: small C objects compiled for every architecture, linked, written as
.mpy, loaded by a Python model of MicroPython's loader and run in Unicorn; and what it refuses."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tinyedge.micropython import mpy_format as fmt
from tinyedge.micropython.arch import LinkError
from tinyedge.micropython.emulate import call, parse
from tinyedge.micropython.mpy_link import link
from tinyedge.micropython.natmod import C_FLAGS, TOOLS, libgcc

ARCHS = ("x64", "armv6m", "armv7m", "armv7emsp", "armv7emdp", "rv32imc")
ENTRY = "void *mpy_init(void);\nvoid *mpy_init(void) { return (void *)te_test; }\n"
HEADER = "#include <stdint.h>\nint te_test(const int8_t *in, int8_t *out);\n"

RELOCATIONS = HEADER + """
static const int32_t table[4] = {10, 20, 30, 40};
static const int32_t *const pointers[3] = {&table[1], &table[3], &table[0]};  /* absolute words in constant data */
int32_t counter;                                    /* BSS through the GOT */
int8_t scratch[37];
static int32_t twice(int32_t x) { return 2 * x; }
static int32_t thrice(int32_t x) { return 3 * x; }
static int32_t (*const ops[2])(int32_t) = {twice, thrice};  /* function pointers (Thumb bit on Arm) */
__attribute__((noinline)) int64_t te_divide(int64_t a, int64_t b) { return a / b; }  /* libgcc on 32-bit */
int32_t (*volatile te_hook)(int32_t);  /* a function's address taken in code (PC-relative), called later */
int te_test(const int8_t *in, int8_t *out)
{
    counter += in[0];
    scratch[in[1]] = in[2];
    out[0] = (int8_t)*pointers[in[3] % 3];
    out[1] = (int8_t)ops[in[6] & 1](in[4]);
    out[2] = (int8_t)te_divide((int64_t)in[5] * 1000000007LL, 1000000007LL);
    out[3] = (int8_t)counter;
    out[4] = scratch[in[1]];
    te_hook = in[7] ? twice : thrice;
    out[5] = (int8_t)te_hook(in[4]);
    return 0;
}
"""


def _build(tmp_path: Path, arch: str, sources: dict[str, str]) -> list[Path]:
    tools = TOOLS[arch]
    if shutil.which(tools.cc) is None:
        pytest.fail(f"{tools.cc} is missing; scripts/setup.sh installs it")
    import subprocess

    objects = []
    for name, text in sources.items():
        source = tmp_path / f"{arch}_{name}.c"
        source.write_text(text)
        obj = source.with_suffix(".o")
        subprocess.run([tools.cc, *tools.flags, *C_FLAGS, "-c", str(source), "-o", str(obj)], check=True)
        objects.append(obj)
    return objects


def _link_and_run(tmp_path: Path, arch: str, sources: dict[str, str], inputs: bytes, outputs: int):
    objects = _build(tmp_path, arch, sources)
    archive = libgcc(TOOLS[arch])
    linked = link(objects, arch, archives=[archive] if archive else [])
    blob = linked.mpy(["t.mpy"], [])
    out, _ = call(blob, arch, linked.symbols["te_test"], inputs, outputs)
    return linked, blob, out


@pytest.mark.parametrize("arch", ARCHS)
def test_relocations_resolve_and_run_at_a_loader_chosen_address(tmp_path, arch):
    linked, blob, out = _link_and_run(tmp_path, arch, {"reloc": RELOCATIONS + ENTRY},
                                      bytes([5, 3, 0x77, 1, 7, 9, 1, 1]), 6)
    # pointers[1] = &table[3] = 40; thrice(7) = 21; 9 * p / p = 9; counter = 5; scratch[3] = 0x77; twice(7) = 14
    assert list(out) == [40, 21, 9, 5, 0x77, 14]
    loaded = parse(blob)
    assert loaded.bss_bytes >= 4 + 37
    destinations = {dest for _, dest in loaded.relocations}
    assert 2 in destinations and 0 in destinations  # BSS (GOT entries) and text (absolute pointers)
    assert linked.symbols["mpy_init"] == 0  # the loader enters the code at its start


@pytest.mark.parametrize("arch", ("x64", "armv6m", "rv32imc"))
def test_sections_keep_their_alignment(tmp_path, arch):
    source = HEADER + """
static const int8_t aligned_table[3] __attribute__((aligned(64))) = {1, 2, 3};
int8_t aligned_bss[5] __attribute__((aligned(32)));
int te_test(const int8_t *in, int8_t *out)
{
    aligned_bss[in[0]] = 9;
    out[0] = (int8_t)((uintptr_t)aligned_table & 63);
    out[1] = (int8_t)(((uintptr_t)aligned_bss - (uintptr_t)0x400000) & 31);
    out[2] = aligned_table[in[1]];
    return 0;
}
""" + ENTRY
    linked, _, out = _link_and_run(tmp_path, arch, {"align": source}, bytes([2, 2]), 3)
    assert list(out) == [0, 0, 3]
    assert linked.symbols["aligned_bss"] % 32 == 0


@pytest.mark.parametrize("arch", ("armv6m", "rv32imc", "x64"))
def test_many_sections_across_objects_link_in_order_of_reach(tmp_path, arch):
    files = {}
    for f in range(4):  # 4 objects x 60 functions, each in its own section, calling the next
        body = ["#include <stdint.h>"]
        for i in range(60):
            n = f * 60 + i
            callee = f"te_step{n + 1}" if n + 1 < 240 else None
            body.append(f"int32_t te_step{n}(int32_t x);")
            if callee:
                body.append(f"int32_t {callee}(int32_t x);")
            body.append(f"int32_t te_step{n}(int32_t x) {{ return {f'{callee}(x + {n % 7})' if callee else 'x'}; }}")
        body.append(f"int32_t te_unused{f}(int32_t x);")
        body.append(f"int32_t te_unused{f}(int32_t x) {{ return x * 5; }}")  # reached by nothing: left out
        files[f"part{f}"] = "\n".join(body) + "\n"
    files["main"] = HEADER + """int32_t te_step0(int32_t x);
int te_test(const int8_t *in, int8_t *out) { int32_t v = te_step0(in[0]); out[0] = (int8_t)v; out[1] = (int8_t)(v >> 8);
return 0; }
""" + ENTRY
    linked, _, out = _link_and_run(tmp_path, arch, files, bytes([1]), 2)
    expected = 1 + sum(n % 7 for n in range(239))
    assert int.from_bytes(out, "little") == expected
    assert "te_step239" in linked.symbols and not any(f"te_unused{f}" in linked.symbols for f in range(4))


@pytest.mark.parametrize("arch", ("armv7m", "rv32imc"))
def test_200_kb_of_weights_link_and_are_read_at_their_far_end(tmp_path, arch):
    size = 200 * 1024
    values = ", ".join(str((i * 37 + 11) % 251 - 125) for i in range(size))
    source = HEADER + f"""
static const int8_t weights[{size}] = {{{values}}};
int te_test(const int8_t *in, int8_t *out)
{{
    int32_t sum = 0;
    for (int i = 0; i < 64; ++i) {{
        sum += weights[{size} - 64 + i] * in[0];
    }}
    out[0] = (int8_t)sum;
    out[1] = (int8_t)(sum >> 8);
    out[2] = weights[in[1]];
    return 0;
}}
""" + ENTRY
    linked, blob, out = _link_and_run(tmp_path, arch, {"big": source}, bytes([3, 100]), 3)
    weights = [(i * 37 + 11) % 251 - 125 for i in range(size)]
    total = 3 * sum(weights[-64:])
    assert list(out) == [total & 0xFF, (total >> 8) & 0xFF, weights[100] & 0xFF]
    assert linked.rodata_bytes >= size and len(blob) > size


REFUSALS = {
    "initialised writable data": (HEADER + "int32_t te_gain = 3;\n"
                                  "int te_test(const int8_t *in, int8_t *out) { out[0] = (int8_t)(in[0] * te_gain);"
                                  " return 0; }\n" + ENTRY, r"initialised writable data \(.*te_gain.*make it const"),
    "writable static": (HEADER + "static int8_t te_state[8];\n"
                        "int te_test(const int8_t *in, int8_t *out) { te_state[in[0]] = 1; out[0] = te_state[1];"
                        " return 0; }\n" + ENTRY, r"writable static `te_state` PC-relative.*non-static global"),
    "libm": (HEADER + "float expf(float);\nint te_test(const int8_t *in, int8_t *out) "
             "{ out[0] = (int8_t)expf((float)in[0]); return 0; }\n" + ENTRY, r"calls expf, from libm"),
    "outside call": (HEADER + "int printf(const char *, ...);\nint te_test(const int8_t *in, int8_t *out) "
                     "{ out[0] = in[0]; return printf(\"%d\", in[0]); }\n" + ENTRY, r"calls printf, which is not in"),
}


@pytest.mark.parametrize("arch", ("x64", "armv7emsp", "rv32imc"))
@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_what_a_native_module_cannot_hold_is_refused_in_one_line(tmp_path, arch, case):
    source, message = REFUSALS[case]
    objects = _build(tmp_path, arch, {"bad": source})
    archive = libgcc(TOOLS[arch])
    with pytest.raises(LinkError) as info:
        link(objects, arch, archives=[archive] if archive else [])
    assert re.search(message, str(info.value)), str(info.value)
    assert "\n" not in str(info.value)


def test_objects_of_another_architecture_are_refused(tmp_path):
    objects = _build(tmp_path, "armv6m", {"arm": HEADER + "int te_test(const int8_t *in, int8_t *out) "
                                                    "{ out[0] = in[0]; return 0; }\n" + ENTRY})
    with pytest.raises(LinkError, match="EM_ARM, not rv32imc"):
        link(objects, "rv32imc")


def test_vuint_is_most_significant_group_first():
    assert fmt.vuint(0) == b"\x00"
    assert fmt.vuint(127) == b"\x7f"
    assert fmt.vuint(128) == b"\x81\x00"
    assert fmt.vuint(0x3FFF) == b"\xff\x7f"
    assert fmt.vuint(300_000) == bytes([0x92, 0xA7, 0x60])


def test_relocation_stream_merges_runs_and_moves_only_on_gaps():
    relocs = [fmt.Relocation(0, fmt.DEST_TEXT), fmt.Relocation(4, fmt.DEST_TEXT), fmt.Relocation(8, fmt.DEST_TEXT),
              fmt.Relocation(12, fmt.DEST_BSS), fmt.Relocation(40, fmt.FUN_TABLE_ENTRY + 65)]
    stream = fmt.relocation_stream(relocs, 4)
    # text x3 at word 0 (move, run of 3), BSS at word 3 (no move), mp_fun_table[65] at word 10 (move), end
    assert stream == bytes([0b11, 0, 3, 0b1000, (9 + 65) << 1 | 1, 20, 0xFF])
    with pytest.raises(ValueError, match="aligned"):
        fmt.relocation_stream([fmt.Relocation(2, fmt.DEST_TEXT)], 4)
