"""te_depthwise_conv2d_3x3_s8, the 3x3 stride-1/stride-2 depthwise variant (channel-major widened rows,
SMLAD on tap pairs): which layers choose it, its packed constants, and the same bytes as TFLite-Micro on
many seeded random single-op configurations on the host (portable C), a batch of them on nrf52840 in the
emulator (the DSP path), and a trained Keras model with such layers on both and on rp2040 (the plain C
path on a Cortex-M0+)."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from keras_training import train_briefly
from single_op import (
    ACTIVATIONS,
    OpCase,
    TensorSpec,
    activation,
    check_cases,
    log_uniform,
    random_zero_point,
    single_op_tflite,
)
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyedge.boards import load_board
from tinyedge.codegen import compile_graph
from tinyedge.importer import parse_tflite
from tinyedge.ops import ConstArg, ScratchArg, conv
from tinyedge.ops.conv import (
    DEPTHWISE_3X3,
    DEPTHWISE_CH4,
    DEPTHWISE_REFERENCE,
    FastRequantization,
    pack_depthwise_3x3,
    without_depthwise_3x3,
)
from tinyedge.pipeline import build
from tinyedge.simulate import simulate
from tinyedge.verify import random_samples, verify

PADDINGS = {"SAME": schema.Padding.SAME, "VALID": schema.Padding.VALID}
HAS_ARM_GCC = shutil.which("arm-none-eabi-gcc") is not None


def random_cases(seed: int, count: int, narrow_groups: bool = False) -> list[OpCase]:
    """Seeded 3x3 depthwise layers of depth multiplier 1: any channel count (1 to 20), strides 1 and 2 each
    way, both paddings, any zero points, per-channel or per-tensor scales, fused activations; some
    channels dead (all-zero filter) or with tiny scales (a right shift past 22: general channels).
    narrow_groups: channels a multiple of 4 and outputs 1 to 11 wide (te_depthwise_conv2d_ch4_s8's)."""
    rng = np.random.default_rng(seed)
    cases = []
    for number in range(count):
        channels = int(rng.choice([4, 8, 12, 16] if narrow_groups else [1, 2, 3, 4, 5, 8, 12, 16, 20]))
        stride_h, stride_w = (int(v) for v in rng.integers(1, 3, 2))
        in_h = int(rng.integers(1, 9))
        # The lowering takes the variant for outputs 12 wide or more, or any width of channels not a
        # multiple of 4 (which te_depthwise_conv2d_ch4_s8 does not take).
        if narrow_groups:  # outputs 1 to 11 wide
            in_w = int(rng.integers(1, 11 * stride_w + 1))
        else:
            in_w = int(rng.integers(1, 13)) if channels % 4 else 12 * stride_w + 2 + int(rng.integers(0, 14))
        padding = str(rng.choice(["SAME", "VALID"]))
        if padding == "VALID":
            in_h, in_w = max(in_h, 3), max(in_w, 3)
            out_h, out_w = (in_h - 3) // stride_h + 1, (in_w - 3) // stride_w + 1
        else:
            out_h, out_w = (in_h + stride_h - 1) // stride_h, (in_w + stride_w - 1) // stride_w
        weights = rng.integers(-127, 128, (1, 3, 3, channels)).astype(np.int8)
        input_scale = log_uniform(rng, -3, -1)
        filter_scales = [log_uniform(rng, -4, -2) for _ in range(channels)]
        rare = 0.0 if narrow_groups else 1.0
        for c in range(channels):
            kind = rng.random()
            if kind < 0.08 * rare:
                weights[..., c] = 0  # dead: a constant output
            elif kind < 0.16 * rare:
                filter_scales[c] = log_uniform(rng, -12, -10)  # a right shift past 22
        if narrow_groups and rng.random() < 0.4:  # ch4: one general group among its pixel pairs
            weights[..., int(rng.integers(channels))] = 0
            filter_scales[int(rng.integers(channels))] = log_uniform(rng, -12, -10)
        if rng.random() < 0.25:
            filter_scales = [filter_scales[0]]
        mean_scale = float(np.exp(np.mean(np.log(filter_scales))))
        output_scale = input_scale * mean_scale * 128 * 3 * log_uniform(rng, -0.7, 0.3)
        bias_values = rng.integers(-3000, 3000, channels).astype(np.int32)
        options = schema.DepthwiseConv2DOptionsT()
        options.padding = PADDINGS[padding]
        options.strideH, options.strideW = stride_h, stride_w
        options.dilationHFactor = options.dilationWFactor = 1
        options.depthMultiplier = 1
        options.fusedActivationFunction = activation(str(rng.choice(ACTIVATIONS)))
        if narrow_groups and rng.random() < 0.6:  # the whole int8 range: ch4's hand-scheduled path
            options.fusedActivationFunction = activation("NONE")
        bias_scales = [input_scale * s for s in np.resize(filter_scales, channels)]
        inputs = [TensorSpec((1, in_h, in_w, channels), input_scale, random_zero_point(rng)),
                  TensorSpec((1, 3, 3, channels), filter_scales, [0] * len(filter_scales), data=weights, axis=3)]
        if rng.random() < 0.85:
            inputs.append(TensorSpec((channels,), bias_scales, [0] * channels, data=bias_values, dtype="int32"))
        output = TensorSpec((1, out_h, out_w, channels), output_scale, random_zero_point(rng))
        cases.append(OpCase("DEPTHWISE_CONV_2D", tuple(inputs), output, options,
                            f"seed {seed} #{number} stride {stride_h}x{stride_w} {padding} {channels} ch"))
    return cases


def lowered(case: OpCase) -> str:
    return compile_graph(parse_tflite(single_op_tflite(case), name="case")).calls[0].function


def test_random_3x3_depthwise_layers_choose_the_variant_and_match_tflite_micro_on_the_host(tmp_path: Path):
    cases = random_cases(seed=314, count=120)
    models = check_cases(cases, tmp_path)
    assert [model.calls[0].function for model in models] == [DEPTHWISE_3X3] * len(cases)
    general = sum(int(np.asarray(arg.values)[10::11].sum()) for model in models for arg in model.calls[0].args
                  if getattr(arg, "name", "") == "packed")
    assert general > 0  # some channels took the reference requantization inside the kernel


def test_other_depthwise_geometries_keep_their_kernels(tmp_path: Path):
    base = random_cases(seed=7, count=1)[0]
    options = base.options
    assert lowered(base) == DEPTHWISE_3X3
    options.strideH = options.strideW = 3  # stride 3: not the 3x3 variant's
    assert lowered(base) != DEPTHWISE_3X3
    options.strideH = options.strideW = 1
    options.dilationHFactor = 2
    assert lowered(base) in (DEPTHWISE_CH4, DEPTHWISE_REFERENCE)
    options.dilationHFactor = 1
    assert lowered(base) == DEPTHWISE_3X3
    with without_depthwise_3x3():
        assert lowered(base) != DEPTHWISE_3X3


def test_pack_depthwise_3x3_lays_out_bias_tap_pairs_requantization_and_general_flag():
    weights = np.arange(18, dtype=np.int8).reshape(9, 2) - 9  # taps row-major, 2 channels
    fast = FastRequantization(np.array([11, 12]), np.array([21, 22]), np.array([1, 2]), general_units=(1,))
    packed = pack_depthwise_3x3(weights, np.array([100, 101]), fast)
    assert packed.shape == (22,)
    words = packed.view(np.uint32)

    def lanes(word: int) -> tuple[int, int]:
        low, high = word & 0xFFFF, word >> 16
        return low - (low >> 15 << 16), high - (high >> 15 << 16)

    channel0 = weights[:, 0].reshape(3, 3)
    assert packed[0] == 100 and packed[11] == 101
    for row in range(3):
        w0, w1, w2 = (int(v) for v in channel0[row])
        assert lanes(int(words[1 + 2 * row])) == (w0, w1)
        assert lanes(int(words[2 + 2 * row])) == (w1, w2)
    assert packed[7:11].tolist() == [11, 21, 1, 0]
    assert packed[18:22].tolist() == [12, 22, 2, 1]


def keras_model() -> keras.Model:
    """A small DS-CNN / MobileNet stack: 3x3 depthwise at stride 1 and 2, SAME and VALID, 8 and 6 channels."""
    x = keras.Input((6, 26, 3), batch_size=1)
    y = keras.layers.Conv2D(8, 1, activation="relu")(x)
    y = keras.layers.DepthwiseConv2D(3, padding="same")(y)
    y = keras.layers.BatchNormalization()(y)
    y = keras.layers.ReLU()(y)
    y = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")(y)
    y = keras.layers.Conv2D(6, 1)(y)
    y = keras.layers.DepthwiseConv2D(3, strides=(1, 2), padding="valid", activation="relu6")(y)
    return keras.Model(x, keras.layers.Flatten()(y))


@pytest.fixture(scope="module")
def trained() -> keras.Model:
    keras.utils.set_random_seed(0)
    return train_briefly(keras_model())


@pytest.mark.parametrize("board", ["host", *(pytest.param(board, marks=pytest.mark.skipif(
    not HAS_ARM_GCC, reason="arm-none-eabi-gcc is not installed")) for board in ("nrf52840", "rp2040"))])
def test_trained_model_with_3x3_depthwise_layers_is_bit_exact(trained, tmp_path: Path, quantize_for_test,
                                                             assert_tflite_bit_exact, board: str):
    tflite = quantize_for_test(trained, tmp_path / "model.tflite")
    if board == "host":
        result = assert_tflite_bit_exact(tflite)
        calls = result.model.calls
    else:
        flatbuffer = tflite.read_bytes()
        compiled = compile_graph(parse_tflite(flatbuffer, name="model"))
        firmware = build(compiled, board, tmp_path / board)
        inputs = random_samples(compiled, 3, seed=3)
        outputs = list(simulate(firmware.elf, load_board(board), inputs).outputs)
        check = verify(flatbuffer, compiled, inputs, outputs)
        assert check.bit_exact, f"not bit-exact on {board}: {check.first_mismatch}"
        calls = compiled.calls
    assert [call.function for call in calls].count(DEPTHWISE_3X3) == 3


M4_CASES = random_cases(seed=2718, count=12)
CH4_M4_CASES = random_cases(seed=1439, count=12, narrow_groups=True)


@pytest.mark.skipif(not HAS_ARM_GCC, reason="arm-none-eabi-gcc is not installed")
def test_random_3x3_depthwise_layers_on_nrf52840_match_tflite_micro(tmp_path: Path):
    # The DSP path (SMLAD on tap pairs, SXTB16 widening) on a batch of random configurations.
    failures = []
    for number, case in enumerate(M4_CASES):
        flatbuffer = single_op_tflite(case)
        compiled = compile_graph(parse_tflite(flatbuffer, name="model"))
        assert compiled.calls[0].function == DEPTHWISE_3X3
        firmware = build(compiled, "nrf52840", tmp_path / str(number))
        inputs = random_samples(compiled, 2, seed=number)
        result = verify(flatbuffer, compiled, inputs,
                        list(simulate(firmware.elf, load_board("nrf52840"), inputs).outputs))
        if not result.bit_exact:
            failures.append(f"{case.describe()}: {result.first_mismatch}")
    assert not failures, "\n".join(failures)


@pytest.mark.skipif(not HAS_ARM_GCC, reason="arm-none-eabi-gcc is not installed")
@pytest.mark.parametrize("copy_max", [0, conv.DEPTHWISE_CONSTANTS_COPY_MAX_BYTES])
@pytest.mark.parametrize("variant", [DEPTHWISE_3X3, DEPTHWISE_CH4])
def test_trained_depthwise_constants_read_from_flash_or_a_ram_copy_on_nrf52840(
        trained, tmp_path: Path, quantize_for_test, monkeypatch, copy_max: int, variant: str):
    # constants_words: the packed constants copied into the scratch once per call (a RAM copy each
    # pixel reads), or 0 (read in place). Both variants lower both ways; the in-place path runs here
    # (the copy, the default, in test_trained_model_with_3x3_depthwise_layers_is_bit_exact and
    # test_random_narrow_..._ch4_s8_on_nrf52840), the same bytes as TFLite-Micro.
    monkeypatch.setattr(conv, "DEPTHWISE_CONSTANTS_COPY_MAX_BYTES", copy_max)
    flatbuffer = quantize_for_test(trained, tmp_path / "model.tflite").read_bytes()
    with without_depthwise_3x3() if variant == DEPTHWISE_CH4 else contextlib.nullcontext():
        compiled = compile_graph(parse_tflite(flatbuffer, name="model"))
    calls = [call for call in compiled.calls if call.function in (DEPTHWISE_3X3, DEPTHWISE_CH4)]
    # without the 3x3 variant the 6-channel layer takes the reference kernel (not a multiple of 4)
    assert [call.function for call in calls] == [variant] * (3 if variant == DEPTHWISE_3X3 else 2)
    for call in calls:
        (packed,) = (arg.values for arg in call.args if isinstance(arg, ConstArg))
        (scratch,) = (arg.nbytes for arg in call.args if isinstance(arg, ScratchArg))
        p = call.params
        rows = (conv.depthwise_3x3_scratch_bytes(int(p["output_width"]), int(p["stride_width"]), int(p["depth"]))
                if call.function == DEPTHWISE_3X3 else
                conv.depthwise_scratch_bytes(3, (int(p["output_width"]) - 1) * int(p["stride_width"]) + 3,
                                             int(p["depth"])))
        assert p["constants_words"] == (len(packed) if copy_max else 0)
        assert scratch == rows + 4 * int(p["constants_words"])
    if copy_max:
        return
    firmware = build(compiled, "nrf52840", tmp_path / "fw")
    inputs = random_samples(compiled, 2, seed=5)
    check = verify(flatbuffer, compiled, inputs, list(simulate(firmware.elf, load_board("nrf52840"), inputs).outputs))
    assert check.bit_exact, check.first_mismatch


@pytest.mark.skipif(not HAS_ARM_GCC, reason="arm-none-eabi-gcc is not installed")
def test_random_narrow_3x3_depthwise_layers_on_te_depthwise_conv2d_ch4_s8_on_nrf52840_match_tflite_micro(
        tmp_path: Path):
    # te_depthwise_conv2d_ch4_s8's DSP path on the narrow rows it keeps: pixel pairs at stride 1 and 2,
    # an odd width's last pixel alone, a general group among ordinary ones at either stride (a right
    # shift past 22) and dead channels, a narrower clamp.
    failures = []
    for number, case in enumerate(CH4_M4_CASES):
        flatbuffer = single_op_tflite(case)
        compiled = compile_graph(parse_tflite(flatbuffer, name="model"))
        assert compiled.calls[0].function == DEPTHWISE_CH4, case.describe()
        firmware = build(compiled, "nrf52840", tmp_path / str(number))
        inputs = random_samples(compiled, 2, seed=number)
        result = verify(flatbuffer, compiled, inputs,
                        list(simulate(firmware.elf, load_board("nrf52840"), inputs).outputs))
        if not result.bit_exact:
            failures.append(f"{case.describe()}: {result.first_mismatch}")
    assert not failures, "\n".join(failures)
