"""te_fully_connected_packed_s8's split quads (te_fully_connected_packed_s8.h, 'Split weights'):
trained dense layers bit-exact against tflite_micro on the host's C path, on nrf52840's DSP
path and on rp2040 (Cortex-M0+, the C path cross-compiled); quads that must stay plain (an odd
weight of -128 beside a negative one, a row whose split sum could leave int32) beside split
ones; general channels (left shifts) inside split quads; the packing's identity."""

from __future__ import annotations

import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from board_run import run_bit_exact
from keras_training import train_briefly
from tflite_edits import edited, only_operator, set_data, with_output_scale

from tinyedge.ops import ScratchArg
from tinyedge.ops.fully_connected import (
    FULLY_CONNECTED_PACKED,
    SPLIT_INPUT_OFFSET,
    pack_quads,
    pack_split_quads,
    split_pays_its_scratch,
    splittable_rows,
)

needs_arm = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(0)


def autoencoder() -> keras.Model:
    """The FC autoencoder's shape, small: 10 dense layers, ReLU between, one with leftover channels."""
    inputs = keras.Input((72,), batch_size=1)
    x = inputs
    for units in (32, 32, 6, 32, 32):
        x = keras.layers.Dense(units, activation="relu")(x)
    return train_briefly(keras.Model(inputs, keras.layers.Dense(72)(x)), epochs=4)


def split_quads_of(model) -> list[tuple[int, int]]:
    """Per packed fully connected layer: (whole quads, plain quads) from its plain list."""
    found = []
    for call in model.calls:
        if call.function != FULLY_CONNECTED_PACKED:
            continue
        channels = int(call.params["output_depth"])
        quant = next(a.values for a in call.args if getattr(a, "name", "") == "quant")
        lists = quant[4 * channels:].tolist()
        general_end = lists.index(channels)
        plain = lists[general_end + 1:]
        assert plain[-1] == channels
        found.append((channels // 4, len(plain) - 1))
    return found


def run_on(board: str, flatbuffer: bytes, tmp_path: Path, samples: int = 3):
    return run_bit_exact(flatbuffer, board, tmp_path, samples).model


def test_trained_autoencoder_splits_the_quads_that_pay_their_scratch_bit_exact_on_the_host(assert_bit_exact):
    result = assert_bit_exact(autoencoder(), samples=6)
    assert {layer.function for layer in result.model.layers} == {FULLY_CONNECTED_PACKED}
    # The narrowing layers stay plain, without scratch: 72 -> 32 (a 144-byte split row against the
    # 104 bytes it holds live) and 32 -> 6 (64 against 38: split_pays_its_scratch); the others split.
    assert split_quads_of(result.model) == [(8, 8), (8, 0), (1, 1), (8, 0), (8, 0), (18, 0)]
    scratch = [sum(a.nbytes for a in call.args if isinstance(a, ScratchArg)) for call in result.model.calls]
    assert scratch == [0, 64, 0, 16, 64, 64]


def test_the_split_row_is_taken_only_where_it_at_most_doubles_the_live_bytes():
    assert split_pays_its_scratch(accum_depth=128, live_bytes=128 + 128)
    assert not split_pays_its_scratch(accum_depth=640, live_bytes=640 + 128)
    assert split_pays_its_scratch(accum_depth=128, live_bytes=128 + 640)
    assert pack_split_quads(np.ones((8, 16), dtype=np.int8), allowed=False).split_quads == 0


@needs_arm
@pytest.mark.parametrize("board", ["nrf52840", "rp2040"])
def test_trained_autoencoder_on_boards(board, tmp_path, quantize_for_test):
    flatbuffer = quantize_for_test(autoencoder(), tmp_path / "ae.tflite").read_bytes()
    compiled = run_on(board, flatbuffer, tmp_path)
    assert [plain for _, plain in split_quads_of(compiled)] == [8, 0, 1, 0, 0, 0]


def dense_with_plain_quads(tmp_path: Path, quantize_for_test, depth: int = 402, units: int = 14,
                           output_scale: float = 1.0) -> bytes:
    """A trained Dense(depth -> units) whose quad 0 has an odd weight of -128 after a negative one and
    whose quad 2 has a row of +-127 (its split sum bound 128 * 201 * 127 + 255 * 201 * 127 > 2^23):
    both stay plain; quads 1 and 3 split; 2 leftover channels. Two rows, so that the split row pays
    its scratch (split_pays_its_scratch)."""
    inputs = keras.Input((2, depth), batch_size=1)
    model = train_briefly(keras.Model(inputs, keras.layers.Dense(units)(inputs)), epochs=2)
    flatbuffer = quantize_for_test(model, tmp_path / "dense.tflite").read_bytes()

    def edit(m) -> None:
        op = only_operator(m, "FULLY_CONNECTED")
        tensor = m.subgraphs[0].tensors[op.inputs[1]]
        weights = np.frombuffer(bytes(m.buffers[tensor.buffer].data), dtype=np.int8).reshape(units, depth).copy()
        weights[1, 6], weights[1, 7] = -5, -128
        weights[9] = np.where(np.arange(depth) % 3 == 0, -127, 127)
        set_data(m, op.inputs[1], weights)

    flatbuffer = edited(flatbuffer, edit)
    return with_output_scale(flatbuffer, output_scale) if output_scale != 1.0 else flatbuffer


def test_plain_quads_beside_split_ones_on_the_host(tmp_path, quantize_for_test, assert_tflite_bit_exact):
    result = assert_tflite_bit_exact(dense_with_plain_quads(tmp_path, quantize_for_test), samples=6)
    assert split_quads_of(result.model) == [(3, 2)]
    (call,) = result.model.calls
    quant = next(a.values for a in call.args if getattr(a, "name", "") == "quant")
    assert quant[4 * 14:].tolist() == [14, 0, 8, 14]  # no general channel; plain quads 0 and 2


@needs_arm
def test_plain_quads_and_left_shifts_on_nrf52840(tmp_path, quantize_for_test):
    # An output scale 4096 times smaller: every channel shifts left, so each quad is general too.
    flatbuffer = dense_with_plain_quads(tmp_path, quantize_for_test, output_scale=1 / 4096)
    compiled = run_on("nrf52840", flatbuffer, tmp_path)
    assert split_quads_of(compiled) == [(3, 2)]
    run_on("nrf52840", dense_with_plain_quads(tmp_path, quantize_for_test, depth=37, units=13), tmp_path)


@pytest.mark.parametrize("factor", [1 / 4096, 1e5])
def test_extreme_output_scales_in_split_quads_on_the_host(factor, tmp_path, quantize_for_test,
                                                          assert_tflite_bit_exact):
    inputs = keras.Input((3, 45), batch_size=1)  # 3 rows, depth 45 (a partial last group)
    model = train_briefly(keras.Model(inputs, keras.layers.Dense(10, activation="relu")(inputs)), epochs=2)
    flatbuffer = quantize_for_test(model, tmp_path / "rows.tflite").read_bytes()
    result = assert_tflite_bit_exact(with_output_scale(flatbuffer, factor), samples=6)
    assert split_quads_of(result.model) == [(2, 0)]


def test_split_packing_is_256_times_the_dot_product_less_the_odd_weights():
    rng = np.random.default_rng(3)
    weights = rng.integers(-127, 128, (8, 22)).astype(np.int8)
    x = rng.integers(-128, 128, 24)
    x[22:] = 0
    split = pack_split_quads(weights)
    assert split.plain_quads == ()
    stored = split.packed[:8 * 24].reshape(2, 6, 4, 4).transpose(0, 2, 1, 3).reshape(8, 24).astype(np.int64)
    low, high = stored[:, 0::2], stored[:, 1::2]
    h = (low & 0xFF) | ((high & 0xFF) << 8)
    h = np.where(h >= 1 << 15, h - (1 << 16), h)  # the int16 lanes
    xa = x[1::2] - SPLIT_INPUT_OFFSET
    xb = 256 * x[0::2] - xa
    total = h @ xa + low @ xb
    padded = np.zeros((8, 24), np.int64)
    padded[:, :22] = weights
    assert (total == 256 * (padded @ x - SPLIT_INPUT_OFFSET * padded[:, 1::2].sum(axis=1))).all()
    assert (split.bias_correction == SPLIT_INPUT_OFFSET * padded[:, 1::2].sum(axis=1)).all()
    assert ((xb >= -32768) & (xb <= 32767)).all()  # an int16 lane


def test_splittable_rows_bounds():
    limit_odd = np.zeros((1, 8), np.int8)
    limit_odd[0, 1], limit_odd[0, 0] = -128, -1
    assert not splittable_rows(limit_odd)[0]
    limit_odd[0, 0] = 0
    assert splittable_rows(limit_odd)[0]
    # 128 * 127 * n + 255 * 127 * n < 2^23 holds for n = 172 pairs, not 173.
    assert splittable_rows(np.full((1, 344), 127, np.int8))[0]
    assert not splittable_rows(np.full((1, 346), 127, np.int8))[0]
    # Leftover channels are never split: they stay raw after the quads.
    weights = np.arange(-30, 30, dtype=np.int8).reshape(6, 10)
    packed = pack_split_quads(weights).packed
    assert (packed[-2 * 12:] == pack_quads(weights)[-2 * 12:]).all()
