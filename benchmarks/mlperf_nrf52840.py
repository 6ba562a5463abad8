"""End to end on a board: the four MLPerf-Tiny-shaped models through `tinyedge compile`, with
trained weights and with the random weights of tinyedge.examples, and MLPerf Tiny's own trained
int8 models where they have been fetched (--weights mlperf --mlperf-dir DIR: benchmarks/mlperf_tiny.py).

Random weights hide what trained ones have (dead channels, tiny and huge per-channel scales,
which once sent whole layers to the reference kernels), so each model is also trained a few
epochs on synthetic data here (no dataset is downloaded: a learnable made-up task, labels from
a fixed random projection of the inputs, or the input itself for the autoencoder), once per run.
Those few epochs leave no channel outside the fast kernels' rounding range, where the real trained
models have many; "dead" is the trained model with one channel in 16 of every BatchNormalization
killed (with_dead_channels: an all-zero filter) and "decayed" the same channels with a gamma
1e-6 of theirs (a tiny, not zero, filter scale: channels the fast kernels requantize as the
reference does), to measure the fast kernels on such channels.

Per model and weights: exact instructions per inference, estimated cycles (and per MAC),
latency, flash, RAM, the whole compile's wall time (quantize, generate, cross-compile, emulate,
verify, report), the ratios to TFLite-Micro + CMSIS-NN from ../shared/ANCHORS.md (instructions,
arena, .text; same counting method: Unicorn, between markers around the inference; measured on
the real trained models), and every MAC layer that fell back to a reference kernel, with its
reason. Not a test: it prints figures.

    python benchmarks/mlperf_nrf52840.py [--board nrf52840] [--weights mlperf trained dead decayed random]
        [--mlperf-dir DIR] [--epochs 5] [kws vww ic ad]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from mlperf_tiny import mlperf_model  # noqa: E402

from tinyedge import examples  # noqa: E402
from tinyedge.ops import ConstArg, KernelCall  # noqa: E402
from tinyedge.ops.conv import CONV2D_1X1, CONV2D_IM2COL, DEPTHWISE_3X3, DEPTHWISE_CH4  # noqa: E402
from tinyedge.ops.fully_connected import FULLY_CONNECTED_PACKED  # noqa: E402
from tinyedge.pipeline import compile_model  # noqa: E402
from tinyedge.report import reference_fallbacks  # noqa: E402


@dataclass(frozen=True)
class Anchor:
    """TFLite-Micro + CMSIS-NN on Cortex-M4F (ANCHORS.md): instructions, arena used, firmware .text."""

    instructions: int
    arena: int
    text: int


CMSIS_NN = {"kws": Anchor(7_697_392, 22_820, 137_812), "vww": Anchor(24_101_966, 100_708, 417_164),
            "ic": Anchor(29_860_981, 54_996, 177_232), "ad": Anchor(582_976, 2_580, 308_484)}
COLUMNS = [("model", 5), ("weights", 7), ("instructions", 13), ("x CMSIS", 7), ("cycles", 12), ("cyc/MAC", 7),
           ("latency ms", 10), ("flash B", 9), ("x text", 6), ("RAM B", 8), ("x arena", 7), ("compile s", 9),
           ("bit-exact", 9), ("general", 7), ("fallbacks", 9)]
TRAIN_SAMPLES = 1024
DEAD_EVERY, DEAD_FIRST = 16, 3


def row(values: list[str]) -> str:
    return " ".join(f"{v:>{width}}" for v, (_, width) in zip(values, COLUMNS))


def synthetic_data(model: Any, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs uniform in [-1, 1]; targets the input (an autoencoder) or one-hot labels: the argmax of
    a fixed random projection of the input (a task the model can learn a little of in a few epochs)."""
    rng = np.random.default_rng(seed)
    inputs = rng.uniform(-1, 1, (samples, *model.inputs[0].shape[1:])).astype(np.float32)
    outputs = int(model.outputs[0].shape[-1])
    if tuple(model.outputs[0].shape[1:]) == tuple(model.inputs[0].shape[1:]):
        return inputs, inputs
    flat = inputs.reshape(samples, -1)
    labels = np.argmax(flat @ rng.normal(0, 1, (flat.shape[1], outputs)), axis=1)
    return inputs, np.eye(outputs, dtype=np.float32)[labels]


def trained(name: str, epochs: int, seed: int = 0) -> Any:
    """examples.build(name) after `epochs` epochs of Adam on synthetic_data."""
    import keras

    model = examples.build(name, seed)
    inputs, targets = synthetic_data(model, TRAIN_SAMPLES, seed)
    autoencoder = inputs is targets
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse" if autoencoder else "categorical_crossentropy")
    model.fit(inputs, targets, epochs=epochs, batch_size=32, verbose=0)
    return model


def general_units(call: KernelCall) -> int:
    """Units of channels a fast MAC kernel requantizes as the reference does (te_nn_dsp.h 'General
    channels'): the length of the general list after its constants, less its end marker."""
    consts = {arg.name: arg.values for arg in call.args if isinstance(arg, ConstArg)}
    if call.function == DEPTHWISE_3X3:  # one channel per unit: each channel's 11th word says general
        return int(consts["packed"][10::11].sum())
    if call.function == DEPTHWISE_CH4:
        p = call.params
        group_words = 4 + 2 * int(p["filter_height"]) * int(p["filter_width"]) + 12
        return len(consts["packed"]) - int(p["depth"]) // 4 * group_words - 1
    if call.function in (CONV2D_1X1, CONV2D_IM2COL, FULLY_CONNECTED_PACKED):
        depth = int(call.params["output_depth"])  # the general list ends at the channel count (the fully
        return consts["quant"][4 * depth:].tolist().index(depth)  # connected kernel's plain list follows)
    return 0


def with_dead_channels(trained_model: Any, every: int = DEAD_EVERY, scale: float = 0.0) -> Any:
    """A copy of `trained_model` with one channel in `every` of each BatchNormalization dead, as longer
    training on real data leaves them (the trained MobileNetV1 of issue 14 had such channels in 9 of its
    14 pointwise layers): gamma times `scale` (0: an all-zero folded filter, whose output is a constant;
    1e-6, "decayed": a filter scale that needs a right shift past 22) and a negative beta, so the ReLU
    after it outputs 0."""
    import keras

    model = keras.models.clone_model(trained_model)
    model.set_weights(trained_model.get_weights())
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            gamma[DEAD_FIRST::every] *= scale
            beta[DEAD_FIRST::every] = -0.05
            layer.set_weights([gamma, beta, mean, variance])
    return model


def save_keras(name: str, weights: str, keras_model: Any, workdir: Path) -> tuple[Path, Path]:
    """The model as a .keras file, and calibration inputs for it."""
    model_path = workdir / f"{name}-{weights}.keras"
    keras_model.save(model_path)
    calib = workdir / f"{name}-calib.npy"
    np.save(calib, np.random.default_rng(0).uniform(-1, 1, (40, *keras_model.inputs[0].shape[1:])).astype(np.float32))
    return model_path, calib


def measure(name: str, weights: str, model_path: Path, calib: Path | None, board: str,
            workdir: Path) -> tuple[list[str], list[str]]:
    """The table row of one compile, and its fallback lines."""
    start = time.perf_counter()
    result = compile_model(model_path, board, workdir / f"{name}-{weights}-{board}", calib=calib, samples=2)
    seconds = time.perf_counter() - start
    r = result.report
    anchor = CMSIS_NN[name]
    fallbacks = reference_fallbacks(r)
    flash, ram = r.memory.flash_bytes, r.memory.ram_bytes
    values = [name, weights, f"{r.simulation.instructions:,}", f"{r.simulation.instructions / anchor.instructions:.2f}",
              f"{r.simulation.cycles:,}", f"{r.simulation.cycles / r.model.macs:.2f}", f"{r.simulation.latency_ms:.1f}",
              f"{flash:,}" if flash else "?", f"{flash / anchor.text:.2f}" if flash else "?",
              f"{ram:,}" if ram else "?", f"{ram / anchor.arena:.2f}" if ram else "?", f"{seconds:.1f}",
              "yes" if r.verification.bit_exact else "NO", str(sum(general_units(call) for call in result.model.calls)),
              str(len(fallbacks))]
    lines = [f"  {name} {weights}: layer {layer.index} {layer.op} {layer.kernel}: {layer.fallback}"
             for layer in fallbacks]
    return values, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="nrf52840")
    parser.add_argument("--weights", nargs="+", choices=["mlperf", "trained", "dead", "decayed", "random"],
                        default=["trained", "dead", "random"],
                        help="mlperf: MLPerf Tiny's own trained int8 models (needs --mlperf-dir)")
    parser.add_argument("--mlperf-dir", type=Path, help="where MLPerf Tiny's reference models are (mlperf_tiny.py)")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs on synthetic data")
    parser.add_argument("models", nargs="*", default=list(examples.MLPERF_TINY))
    args = parser.parse_args()
    if "mlperf" in args.weights and args.mlperf_dir is None:
        parser.error("--weights mlperf needs --mlperf-dir (see benchmarks/mlperf_tiny.py)")
    header = row([title for title, _ in COLUMNS])
    print(f"board {args.board}; 'x CMSIS', 'x text', 'x arena' = tinyedge's instructions, flash and RAM (stack "
          "included) over TFLite-Micro+CMSIS-NN's instructions, .text and arena (ANCHORS.md, Cortex-M4F, trained "
          "MLPerf Tiny models); mlperf = MLPerf Tiny's own trained int8 models; "
          f"trained = {args.epochs} epochs on synthetic data; dead = trained, 1 channel in "
          f"{DEAD_EVERY} of each BatchNormalization killed; general = units of channels the fast kernels requantize "
          "as the reference does")
    print(header)
    print("-" * len(header))
    fallbacks: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            trained_model = trained(name, args.epochs) if set(args.weights) - {"random", "mlperf"} else None
            for weights in args.weights:
                if weights == "mlperf":
                    model_path, calib = mlperf_model(args.mlperf_dir, name), None
                else:
                    if weights == "random":
                        keras_model = examples.build(name)
                    else:
                        scale = {"trained": None, "dead": 0.0, "decayed": 1e-6}[weights]
                        keras_model = trained_model if scale is None else with_dead_channels(trained_model, scale=scale)
                    model_path, calib = save_keras(name, weights, keras_model, Path(tmp))
                values, lines = measure(name, weights, model_path, calib, args.board, Path(tmp))
                print(row(values), flush=True)
                fallbacks += lines
    print(f"MAC layers on a reference kernel although a fast variant exists: {len(fallbacks)}", *fallbacks, sep="\n")


if __name__ == "__main__":
    main()
