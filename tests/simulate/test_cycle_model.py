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
    ("add r1, r2, r3\nstr r0, [r4, r1]", 1 + 2 + 1),  # the index register counts too (STR [Rn, Rm] 2)
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
    # 3.3.2's own examples: "normally three (four) cycles total"
    ("ldr r0, [r1, r2]\nstr r0, [r3, #20]", 3),
    ("ldr r0, [r1, r2]\nstr r1, [r3, r2]", 3),
    ("ldr r0, [r1, r5]\nldr r1, [r2]\nldr r2, [r3, #4]", 4),
    # table 3-1: STR 2; only an immediate-offset STR is always one cycle
    ("str r0, [r1, r2]", 2),
    ("str r0, [r1, #4]", 1),
    ("str r0, [r1, r2]\nldr r3, [r4]", 2 + 2),  # nothing pipelines after a store
    # IT folds onto a preceding 16-bit instruction (0 cycles), not onto a 32-bit one
    ("adds r0, #1\nit eq\nmoveq r1, r2", 1 + 0 + 1),
    ("add.w r0, r0, #1\nit eq\nmoveq r1, r2", 1 + 1 + 1),
    ("it eq\nmoveq r1, r2", 1 + 1),  # nothing before it in the run: not folded
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


def _block(thumb_bytes, core: str, source: str, address: int = 0x100) -> tuple[float, float]:
    """(cycles per entry, per taken entry) of one block of `source` at `address`."""
    code = thumb_bytes(source)
    costs = _model(core).block_costs(BlockTable(np.array([address], np.uint64), np.array([len(code)], np.uint32),
                                                np.array([0], np.uint32)), lambda _a, _s: code)
    return float(costs.per_entry[0]), float(costs.per_taken_entry[0])


@pytest.mark.parametrize(("source", "address", "per_entry", "per_taken"), [
    # DDI 0439B table 3-1 note: a taken immediate branch reloads in 1 (2 in all), a register one in 2;
    # the target's taken entry pays 1, the block ending in BX pays the second.
    ("adds r0, #1\nb .", 0x100, 1 + 1, 1),
    ("adds r0, #1\nbx lr", 0x100, 1 + 1 + 1, 1),
    ("adds r0, #1\nblx r3", 0x100, 1 + 1 + 1, 1),
    # 3.3.2: a load into the PC reloads in 3: POP {r4, pc} is 1+N, then P 3 (1 at the target, 2 here)
    ("pop {r4, pc}", 0x100, 3 + 2, 1),
    ("ldr pc, [sp], #4", 0x100, 2 + 2, 1),
    # a conditional return is charged at its target only (whether it was taken is not known here)
    ("cmp r0, #0\nit eq\nbxeq lr", 0x100, 1 + 0 + 1, 1),
    # P depends on the target's width and alignment: a 32-bit first instruction at a halfword address +1
    ("add.w r0, r0, #1\nb .", 0x102, 1 + 1, 1 + 1),
    ("add.w r0, r0, #1\nb .", 0x100, 1 + 1, 1),
    ("adds r0, #1\nb .", 0x102, 1 + 1, 1),
])
def test_cortex_m4_refill_by_branch_kind_and_target(thumb_bytes, source, address, per_entry, per_taken):
    assert _block(thumb_bytes, "cortex-m4", source, address) == (per_entry, per_taken)


@pytest.mark.parametrize(("source", "cycles"), [
    ("ldr r0, [r1]", 1),  # address generation in stage 2: one-cycle loads
    ("ldr r0, [r1]\nadds r2, r0, #1", 1 + 1 + 1),  # the loaded register read right after: load-use stall
    ("ldr r0, [r1]\nadds r2, r3, #1", 1 + 1),
    ("ldr r0, [r1]\nldr r2, [r0]", 1 + 1 + 1),  # an address from the load just before: the same stall
    ("ldr r0, [r1], #4\nadds r2, r1, #1", 1 + 1),  # the written-back base is no loaded data
    ("ldm r1!, {r2, r3}\nadds r4, r3, #1", 3 + 1 + 1),
    ("ldm r1!, {r2, r3}\nadds r4, r1, #1", 3 + 1),
    ("adds r1, r1, #4\nldr r0, [r1]", 1 + 1),  # no M4 address-dependency stall
    ("ldr r0, [r1]\nldr r1, [r2]", 2),  # no M4 load pipelining needed: both single-cycle
    ("str r0, [r1, r2]", 1),
    ("mla r0, r1, r2, r3", 1),
])
def test_cortex_m33_rows_and_load_use_stall(thumb_bytes, source, cycles):
    assert _cost(thumb_bytes, "cortex-m33", source) == cycles


def test_cortex_m33_refill_and_label_say_what_is_assumed(thumb_bytes):
    assert _block(thumb_bytes, "cortex-m33", "adds r0, #1\nbx lr") == (2, 1)  # branches resolved in stage 2
    assert _block(thumb_bytes, "cortex-m33", "pop {r4, pc}") == (3 + 1, 1)  # the loaded PC a cycle later
    timing = core_timing("cortex-m33")
    assert "not a published table" in timing.table and "dual issue is not modelled" in timing.table
    assert "LLVM schedules it with its Cortex-M4 model" in timing.table


def test_breakdown_adds_up_to_the_block_costs(thumb_bytes):
    """The breakdown's cycle parts sum to what the cycles of the same run are."""
    loop = thumb_bytes("ldr r0, [r1]\nldr r2, [r3]\nit ne\nmovne r4, r5\nadds r1, #4\nstr r0, [r1, r2]\n"
                       "bx lr")
    model = _model("cortex-m4")
    blocks = BlockTable(np.array([0x100], np.uint64), np.array([len(loop)], np.uint32), np.array([7], np.uint32))
    run = Snapshot(total=70, counts=np.array([10], np.uint64), taken=np.array([9], np.uint64))
    parts = model.breakdown(blocks, run, lambda _a, _s: loop)
    assert sum(v for k, v in parts.items() if not k.startswith("n:")) == \
        model.block_costs(blocks, lambda _a, _s: loop).cycles(run)
    assert parts["load pipelining"] == -10 and parts["n:load pipelining"] == 10
    assert parts["address stall"] == 10  # str [r1, r2] right after adds r1
    assert parts["IT folded"] == -10
    assert parts["refill (taken entries)"] == 9 and parts["refill extra (register branch)"] == 10


def test_table_and_docs_agree_on_the_rows_the_docs_quote():
    """docs/cycle-model.md quotes the table's figures; each quoted figure is the table's."""
    docs = (Path(__file__).parents[2] / "docs" / "cycle-model.md").read_text()
    m4, m0 = core_timing("cortex-m4"), core_timing("cortex-m0plus")
    m33 = core_timing("cortex-m33")
    quoted = {"MLA/MLS 1": m4.costs["mla"].cycles == 1, "VLDR/VSTR .64 3": m4.costs["vfp_load64"].cycles == 3,
              "SDIV/UDIV 12": m4.costs["div"].cycles == 12,
              "POP {..., PC} 3+N": m0.costs["load_multiple_pc"].cycles == 2,
              "address-dependency stall 1": m4.address_stall == 1,
              "P = 1 after an immediate branch": m4.branch_refill == 1,
              "2 after a register branch": m4.register_branch_refill == 2,
              "3 after a load into the PC": m4.load_pc_refill == 3,
              "STR with a register offset 2": m4.costs["store_register_offset"].cycles == 2,
              "M33 loads 1": m33.costs["load"].cycles == 1 and m33.load_use_stall == 1}
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
    np.testing.assert_array_equal(costs.per_taken_entry, [1 + 3, 1])  # refill 1; flash +3 wait states
    run = Snapshot(total=40, counts=np.array([10, 10], np.uint64), taken=np.array([9, 0], np.uint64))
    assert costs.cycles(run) == 10 * 2 + 9 * 4 + 10 * 2


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


def test_every_rule_a_core_applies_names_its_source():
    import tomllib

    from tinyedge.simulate import cycle_model

    with open(cycle_model._TABLE, "rb") as stream:
        cores = tomllib.load(stream)["cores"]
    rules = ("branch_refill", "register_branch_refill", "load_pc_refill", "unaligned_target", "it_folding",
             "address_stall", "load_use_stall")
    for name, entry in cores.items():
        for rule in rules:
            if entry.get(rule):
                assert entry.get(f"{rule}_source"), f"{name}: {rule} without {rule}_source"


def test_model_name_says_estimate_table_and_wait_states():
    name = _model("cortex-m4", wait_states=1).name
    assert name.startswith("tinyedge cycle model v3 (estimate): Cortex-M4, ARM DDI 0439B")
    assert "+1 flash wait state per taken branch into flash" in name
    assert "+P per taken branch (1 immediate, 2 register, 3 load into the PC)" in name
    assert "+1 cycles per taken branch" in _model("cortex-m0plus").name


def test_unknown_core_is_an_error_listing_known_ones():
    with pytest.raises(TinyEdgeError, match="no cycle model for core 'cortex-a53'.*cortex-m4"):
        core_timing("cortex-a53")
