"""Recurrent Keras layers on nrf52840 (Cortex-M4F): instructions, per MAC, flash and weights, and where
the time goes, for small trained LSTM / GRU / SimpleRNN models compiled the way users compile them.

Each model is `Input((8, 8))` -> recurrent layer -> `Dense(4)`, trained 3 epochs on a learnable
synthetic task, saved as .keras and compiled with `tinyedge.pipeline.compile_model` (the quantize
child unrolls the layer), run in the built-in emulator and checked byte for byte against
tflite_micro. Not a test: it prints figures.

    python benchmarks/recurrent_nrf52840.py
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tinyedge.pipeline import compile_model  # noqa: E402

BOARD = "nrf52840"
STEPS, FEATURES = 8, 8
MODELS = {
    "LSTM(8)": lambda: keras.layers.LSTM(8),
    "LSTM(16)": lambda: keras.layers.LSTM(16),
    "GRU(16)": lambda: keras.layers.GRU(16),
    "SimpleRNN(16)": lambda: keras.layers.SimpleRNN(16),
}


def trained(layer: keras.layers.Layer) -> tuple[keras.Model, np.ndarray]:
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (256, STEPS, FEATURES)).astype(np.float32)
    y = np.stack([x[:, :, :2].mean(axis=(1, 2)), x[:, -1, 2:4].mean(axis=1), x[:, 0, 4:].mean(axis=1),
                  x.max(axis=(1, 2))], axis=1)
    inputs = keras.Input((STEPS, FEATURES), batch_size=1)
    model = keras.Model(inputs, keras.layers.Dense(4)(layer(inputs)))
    model.compile("adam", "mse")
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    return model, x[:64]


def main() -> None:
    print(f"{'model':<14} {'layers':>6} {'MACs':>8} {'instructions':>13} {'per MAC':>8} {'flash B':>8} "
          f"{'weights B':>9}  bit-exact  time by op")
    with tempfile.TemporaryDirectory(prefix="tinyedge-recurrent-") as tmp:
        for name, make in MODELS.items():
            model, calib = trained(make())
            path, calib_path = Path(tmp) / f"{name}.keras", Path(tmp) / f"{name}.npy"
            model.save(path)
            np.save(calib_path, calib)
            result = compile_model(path, BOARD, Path(tmp) / f"{name}-out", calib=calib_path, samples=2,
                                   backend="builtin")
            report = result.report
            assert report.simulation is not None and report.memory.flash_bytes is not None
            by_op: Counter[str] = Counter()
            for layer in report.layers:
                by_op[layer.op] += layer.instructions
            total = sum(by_op.values())
            split = ", ".join(f"{op} {count / total:.0%}" for op, count in by_op.most_common(4))
            print(f"{name:<14} {len(report.layers):>6} {report.model.macs:>8,} {report.simulation.instructions:>13,} "
                  f"{report.simulation.instructions / report.model.macs:>8.1f} {report.memory.flash_bytes:>8,} "
                  f"{report.memory.weights_bytes:>9,}  {str(report.verification.bit_exact):<9}  {split}")


if __name__ == "__main__":
    main()
