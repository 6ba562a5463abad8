"""verify's comparison is strict: a missing, extra or short output is a mismatch, never a match."""

from __future__ import annotations

from tinyedge.verify import compare_outputs

REFERENCE = [b"\x01\x02\x03", b"\x04\x05\x06", b"\x07\x08\x09"]


def test_identical_outputs_are_bit_exact():
    result = compare_outputs(REFERENCE, list(REFERENCE))
    assert result.bit_exact and result.mismatched_samples == 0 and result.samples == 3
    assert result.first_mismatch is None


def test_a_differing_byte_names_sample_and_position():
    result = compare_outputs(REFERENCE, [REFERENCE[0], b"\x04\xff\x06", REFERENCE[2]])
    assert not result.bit_exact and result.mismatched_samples == 1
    assert result.first_mismatch == "sample 1, byte 1: firmware -1 vs reference 5; 1 of 3 bytes differ"


def test_missing_outputs_count_as_mismatched_samples():
    result = compare_outputs(REFERENCE, REFERENCE[:1])
    assert not result.bit_exact and result.mismatched_samples == 2 and result.samples == 3
    assert result.first_mismatch == "sample 1: the firmware gave no output (1 outputs for 3 samples)"


def test_no_outputs_at_all_is_not_bit_exact():
    result = compare_outputs(REFERENCE, [])
    assert not result.bit_exact and result.mismatched_samples == 3


def test_extra_outputs_are_a_mismatch():
    result = compare_outputs(REFERENCE[:2], REFERENCE)
    assert not result.bit_exact and result.mismatched_samples == 1 and result.samples == 3
    assert result.first_mismatch is not None and result.first_mismatch.startswith("sample 2: the firmware gave an")


def test_a_truncated_output_is_a_mismatch_even_when_its_bytes_agree():
    result = compare_outputs(REFERENCE, [REFERENCE[0][:2], REFERENCE[1], REFERENCE[2]])
    assert not result.bit_exact and result.mismatched_samples == 1
    assert result.first_mismatch == "sample 0: the firmware gave 2 bytes, the reference 3"


def test_an_empty_output_is_a_mismatch():
    result = compare_outputs(REFERENCE, [b"", REFERENCE[1], REFERENCE[2]])
    assert not result.bit_exact
    assert result.first_mismatch == "sample 0: the firmware gave 0 bytes, the reference 3"
