"""The cycle model applies its timing tables as documented (small hand-checked sequences)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyedge.errors import TinyEdgeError
from tinyedge.simulate.block_counter import BlockTable, Snapshot
from tinyedge.simulate.cycle_model import CycleModel, core_timing
from tinyedge.simulate.firmware_image import ARCH_ARM, ARCH_RISCV, disassembler
from tinyedge.simulate.target import CORES


def _model(core: str, wait_states: int = 0, flash: tuple[tuple[int, int], ...] = ()) -> CycleModel:
    arch = ARCH_RISCV if core == "rv32imc" else ARCH_ARM
    return CycleModel(core_timing(core), arch, wait_states, flash)


def _cost(thumb_bytes, core: str, source: str) -> float:
    code = thumb_bytes(source)
    return _model(core).instructions_cost(list(disassembler(ARCH_ARM).disasm(code, 0)))


@pytest.mark.parametrize(("source", "cycles"), [
    ("adds r0, r1, r2", 1),
    ("ldr r0, [r1]", 2),
    # DDI 0439B 3.3.2: "LDR R0,[R1]; LDR R1,[R2]" is normally three cycles total.
    ("ldr r0, [r1]\nldr r1, [r2]", 3),
    # ...but not when the second load's address uses the first load's result.
    ("ldr r0, [r1]\nldr r2, [r0]", 4),
    ("ldr r0, [r1]\nldr r2, [r3, r0]", 4),
    ("ldr r0, [r1]\nstr r0, [r2]", 3),  # 3.3.2: "LDR ...; STR ..." normally three cycles total
    ("str r0, [r1]\nldr r2, [r3]", 3),  # nothing pipelines after a store
    ("ldrsb r0, [r1, #1]\nldrsb r2, [r3, #1]\nsmlabb r4, r0, r2, r4", 4),
    ("mla r0, r1, r2, r3", 1),  # table 3-1: MLA, MLS 1 (2 is the Cortex-M3's)
    ("mls r0, r1, r2, r3", 1),
    # 3.3.2: a load/store whose address the data operation just before it computed stalls 1
    ("adds r1, r1, #4\nldr r0, [r1]", 1 + 2 + 1),
    ("add r1, r2, r3\nstr r0, [r4, r1]", 1 + 1 + 1),  # the index register counts too
    ("adds r1, r1, #4\nldr r0, [r2]", 1 + 2),  # another register: no stall
    ("adds r1, r1, #4\nnop\nldr r0, [r1]", 1 + 1 + 2),  # not immediately preceding: no stall
    ("cmp r1, #4\nldr r0, [r1]", 1 + 2),  # a compare writes no register
    ("ldr r1, [r2]\nldr r0, [r1]", 2 + 2),  # a load's result: the load-use rule, not this one
    ("vldr s0, [r0]", 2),  # table 7-1: VLDR .32 2
    ("vldr d0, [r0]", 3),  # table 7-1: VLDR .64 3
    ("vstr d1, [r0, #8]", 3),  # table 7-1: VSTR .64 3
    ("pop {r4, pc}", 3),  # 1+N; the refill P is charged at the target's taken entry
    ("smlad r0, r1, r2, r3\nsxtb16 r4, r5", 2),
    ("sdiv r0, r1, r2", 12),
    ("push {r4, r5, r6, r7, lr}", 6),
    ("ldm r0!, {r1, r2, r3}", 4),
    ("ldrd r0, r1, [r2]", 3),
    ("vpush {d8, d9}", 5),  # two double registers are four words: 1 + 4
    ("vmla.f32 s0, s1, s2\nvdiv.f32 s3, s4, s5", 17),
    ("bl .+8", 1),
])
def test_cortex_m4_table_and_load_pipelining(thumb_bytes, source, cycles):
    assert _cost(thumb_bytes, "cortex-m4", source) == cycles


@pytest.mark.parametrize(("source", "cycles"), [
    ("ldr r0, [r1]\nldr r1, [r2]", 4),  # no load pipelining on the two-stage M0+
    ("str r0, [r1]", 2),
    ("muls r0, r1, r0", 1),
    ("bl .+8", 2),  # 3 with the taken-branch refill
    ("pop {r4, r5}", 3),  # table 3-1: POP 1+N
    ("pop {r4, r5, pc}", 5),  # table 3-1: POP {..., PC} 3+N = 6 with the target's refill of 1
    ("adds r1, r1, #4\nldr r0, [r1]", 1 + 2),  # no address-dependency stall on the two-stage M0+
])
def test_cortex_m0plus_table(thumb_bytes, source, cycles):
    assert _cost(thumb_bytes, "cortex-m0plus", source) == cycles


def test_cortex_m7_charges_every_alu_operation_half_a_cycle_and_says_it_is_optimistic(thumb_bytes):
    assert _cost(thumb_bytes, "cortex-m7", "adds r0, r1, r2\nadds r3, r4, r5") == 1
    # dependent operations cannot pair on the core, yet are charged alike: the label says so
    assert _cost(thumb_bytes, "cortex-m7", "adds r0, r1, r2\nadds r3, r0, r5") == 1
    assert "optimistic" in core_timing("cortex-m7").table and "pairing rules not modelled" in _model("cortex-m7").name


def test_cortex_m33_says_it_uses_the_cortex_m4_table(thumb_bytes):
    timing = core_timing("cortex-m33")
    assert "the Cortex-M4 table" in timing.table and "not modelled" in timing.table
    m4 = core_timing("cortex-m4")
    assert {c: (v.cycles, v.per_register) for c, v in timing.costs.items()} == \
        {c: (v.cycles, v.per_register) for c, v in m4.costs.items()}
    assert timing.address_stall == m4.address_stall == 1


def test_table_and_docs_agree_on_the_rows_the_docs_quote():
    """docs/cycle-model.md quotes the table's figures; each quoted figure is the table's."""
    docs = (Path(__file__).parents[2] / "docs" / "cycle-model.md").read_text()
    m4, m0 = core_timing("cortex-m4"), core_timing("cortex-m0plus")
    quoted = {"MLA/MLS 1": m4.costs["mla"].cycles == 1, "VLDR/VSTR .64 3": m4.costs["vfp_load64"].cycles == 3,
              "SDIV/UDIV 12": m4.costs["div"].cycles == 12,
              "POP {..., PC} 3+N": m0.costs["load_multiple_pc"].cycles == 2,
              "address-dependency stall 1": m4.address_stall == 1}
    for phrase, holds in quoted.items():
        assert phrase in docs, phrase
        assert holds, phrase


def test_instruction_outside_the_cores_table_is_an_error(thumb_bytes):
    with pytest.raises(TinyEdgeError, match="no 'div' class"):
        _cost(thumb_bytes, "cortex-m0plus", "sdiv r0, r1, r2")


def test_taken_entries_pay_refill_plus_flash_wait_states_only_in_flash(thumb_bytes):
    code = thumb_bytes("adds r0, r0, #1\nbne .-2")  # two instructions, 1 cycle each
    model = _model("cortex-m4", wait_states=3, flash=((0x0, 0x1000),))
    blocks = BlockTable(np.array([0x100, 0x20000100], np.uint64), np.array([4, 4], np.uint32),
                        np.array([2, 2], np.uint32))
    costs = model.block_costs(blocks, lambda _address, _size: code)
    np.testing.assert_array_equal(costs.per_entry, [2, 2])
    np.testing.assert_array_equal(costs.per_taken_entry, [2 + 3, 2])  # refill 2; flash +3 wait states
    run = Snapshot(total=40, counts=np.array([10, 10], np.uint64), taken=np.array([9, 0], np.uint64))
    assert costs.cycles(run) == 10 * 2 + 9 * 5 + 10 * 2


def test_rv32_model_classifies_compressed_instructions(riscv_program):
    # c.lw is a load, c.j a jump, mul a multiply: 2 + 1 + 1 with the assumed RV32 table
    model = _model("rv32imc")
    code = bytes.fromhex("9841") + bytes.fromhex("b307b502") + bytes.fromhex("01a0")  # c.lw a4,0(a1); mul; c.j
    insns = list(disassembler(ARCH_RISCV).disasm(code, 0))
    assert [i.insn_name() for i in insns] == ["c.lw", "mul", "c.j"]
    assert model.instructions_cost(insns) == 4


def test_every_emulated_core_has_a_timing_table_with_sources():
    for core in CORES:
        timing = core_timing(core)
        assert timing.table and timing.costs
        assert all(cost.source for cost in timing.costs.values())
        assert "alu" in timing.costs and "load" in timing.costs and "store" in timing.costs


def test_model_name_says_estimate_table_and_wait_states():
    name = _model("cortex-m4", wait_states=1).name
    assert name.startswith("tinyedge cycle model v2 (estimate): Cortex-M4, ARM DDI 0439B")
    assert "+1 flash wait state per taken branch into flash" in name


def test_unknown_core_is_an_error_listing_known_ones():
    with pytest.raises(TinyEdgeError, match="no cycle model for core 'cortex-a53'.*cortex-m4"):
        core_timing("cortex-a53")
