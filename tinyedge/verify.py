"""Verify stage: firmware outputs against TFLite-Micro's, byte for byte."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tinyedge.codegen import CompiledModel, IOTensor
from tinyedge.reference import REFERENCE_NAME, run_reference


@dataclass(frozen=True)
class Verification:
    reference: str
    samples: int
    bit_exact: bool
    mismatched_samples: int
    first_mismatch: str | None  # where the first differing byte is, for the error message


def random_samples(model: CompiledModel, count: int, seed: int = 0) -> list[bytes]:
    """Seeded inputs over each input dtype's whole range (int8, int16 in 16x8 mode, int32)."""
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(count):
        arrays = []
        for t in model.inputs:
            info = np.iinfo(t.dtype)
            arrays.append(rng.integers(info.min, info.max, size=t.shape, dtype=t.dtype, endpoint=True))
        samples.append(join_tensors(model.inputs, arrays))
    return samples


def join_tensors(tensors: Sequence[IOTensor], arrays: Sequence[np.ndarray]) -> bytes:
    """Arrays, one per model input (output), as the one buffer the firmware takes (gives): each at its offset."""
    buffer = bytearray(max((t.offset + t.nbytes for t in tensors), default=0))
    for t, array in zip(tensors, arrays):
        buffer[t.offset:t.offset + t.nbytes] = np.asarray(array, dtype=t.dtype).astype(_little(t.dtype)).tobytes()
    return bytes(buffer)


def split_tensors(tensors: Sequence[IOTensor], buffer: bytes) -> list[np.ndarray]:
    """The firmware's input (output) buffer as one array per model input (output)."""
    return [np.frombuffer(buffer[t.offset:t.offset + t.nbytes], dtype=_little(t.dtype)).astype(t.dtype)
            .reshape(t.shape) for t in tensors]


def _little(dtype: str) -> np.dtype:
    """Every target tinyedge builds for (Arm, RISC-V, Xtensa, x86) stores values little-endian."""
    return np.dtype(dtype).newbyteorder("<")


def split_sample(model: CompiledModel, sample: bytes) -> list[np.ndarray]:
    """One concatenated input sample as one array per model input."""
    return split_tensors(model.inputs, sample)


def reference_outputs(flatbuffer: bytes, model: CompiledModel, samples: list[bytes]) -> list[bytes]:
    results = run_reference(flatbuffer, [split_sample(model, s) for s in samples])
    return [join_tensors(model.outputs, outputs) for outputs in results]


def verify(flatbuffer: bytes, model: CompiledModel, samples: list[bytes], outputs: list[bytes]) -> Verification:
    return compare_outputs(reference_outputs(flatbuffer, model, samples), outputs)


def compare_outputs(expected: list[bytes], outputs: list[bytes]) -> Verification:
    """Byte-for-byte comparison of the firmware's outputs with the reference's, sample by sample.

    Strict: a sample the firmware gave no output for, an extra output, or an output of another
    length is a mismatch like a differing byte. They count as mismatches rather than raising, so
    the run still ends in the report and exit code every other failed verification gets, with
    the reason in `first_mismatch`.
    """
    first, mismatched = None, 0
    for i in range(max(len(expected), len(outputs))):
        want = expected[i] if i < len(expected) else None
        got = outputs[i] if i < len(outputs) else None
        if want == got:
            continue
        mismatched += 1
        if first is None:
            first = _describe_mismatch(i, want, got, len(expected), len(outputs))
    return Verification(REFERENCE_NAME, max(len(expected), len(outputs)), mismatched == 0, mismatched, first)


def _describe_mismatch(i: int, want: bytes | None, got: bytes | None, expected: int, given: int) -> str:
    if got is None:
        return f"sample {i}: the firmware gave no output ({given} outputs for {expected} samples)"
    if want is None:
        return f"sample {i}: the firmware gave an output the reference has no sample for ({given} outputs for " \
               f"{expected} samples)"
    if len(want) != len(got):
        return f"sample {i}: the firmware gave {len(got)} bytes, the reference {len(want)}"
    pos = next(j for j in range(len(want)) if want[j] != got[j])
    return (f"sample {i}, byte {pos}: firmware {np.int8(np.uint8(got[pos]))} vs reference "
            f"{np.int8(np.uint8(want[pos]))}; {sum(a != b for a, b in zip(want, got))} of {len(want)} bytes differ")
