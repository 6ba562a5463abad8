"""Models shaped like the four MLPerf Tiny reference networks, with seeded random weights.

They exercise every op the benchmark suite needs and have the same layer shapes and MAC
counts as the reference models, so benchmarks compare like with like; they are not
trained (no dataset is downloaded), so their accuracy means nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _bn_relu(x: Any) -> Any:
    import keras

    return keras.layers.ReLU()(keras.layers.BatchNormalization()(x))


def ds_cnn_kws() -> Any:
    """Keyword spotting DS-CNN: 49x10 MFCC input, 12 classes (2.66 M MACs)."""
    import keras

    inputs = keras.Input((49, 10, 1))
    x = _bn_relu(keras.layers.Conv2D(64, (10, 4), strides=2, padding="same")(inputs))
    for _ in range(4):
        x = _bn_relu(keras.layers.DepthwiseConv2D(3, padding="same")(x))
        x = _bn_relu(keras.layers.Conv2D(64, 1)(x))
    x = keras.layers.AveragePooling2D(pool_size=(25, 5))(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(12, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="ds_cnn_kws")


def mobilenet_v1_025_vww() -> Any:
    """Visual wake words MobileNetV1 alpha 0.25: 96x96x3 input, 2 classes (7.49 M MACs)."""
    import keras

    inputs = keras.Input((96, 96, 3))
    x = _bn_relu(keras.layers.Conv2D(8, 3, strides=2, padding="same")(inputs))
    for filters, stride in [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1), (128, 1),
                            (128, 1), (128, 1), (256, 2), (256, 1)]:
        x = _bn_relu(keras.layers.DepthwiseConv2D(3, strides=stride, padding="same")(x))
        x = _bn_relu(keras.layers.Conv2D(filters, 1)(x))
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="mobilenet_v1_025_vww")


def resnet8_ic() -> Any:
    """Image classification ResNet-8: 32x32x3 input, 10 classes, residual ADDs (12.5 M MACs)."""
    import keras

    inputs = keras.Input((32, 32, 3))
    x = _bn_relu(keras.layers.Conv2D(16, 3, padding="same")(inputs))
    for filters, stride in [(16, 1), (32, 2), (64, 2)]:
        y = _bn_relu(keras.layers.Conv2D(filters, 3, strides=stride, padding="same")(x))
        y = keras.layers.BatchNormalization()(keras.layers.Conv2D(filters, 3, padding="same")(y))
        if stride != 1:
            x = keras.layers.Conv2D(filters, 1, strides=stride)(x)
        x = keras.layers.ReLU()(keras.layers.Add()([x, y]))
    x = keras.layers.AveragePooling2D(pool_size=8)(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="resnet8_ic")


def fc_autoencoder_ad() -> Any:
    """Anomaly detection fully connected autoencoder: 640 inputs (0.26 M MACs)."""
    import keras

    inputs = keras.Input((640,))
    x = inputs
    for width in [128, 128, 128, 128, 8, 128, 128, 128, 128]:
        x = _bn_relu(keras.layers.Dense(width)(x))
    outputs = keras.layers.Dense(640)(x)
    return keras.Model(inputs, outputs, name="fc_autoencoder_ad")


MLPERF_TINY: dict[str, Callable[[], Any]] = {
    "kws": ds_cnn_kws,
    "vww": mobilenet_v1_025_vww,
    "ic": resnet8_ic,
    "ad": fc_autoencoder_ad,
}


def build(name: str, seed: int = 0) -> Any:
    """A seeded instance of one of MLPERF_TINY, with non-trivial batch-norm statistics."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(seed)
    model = MLPERF_TINY[name]()
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 1.5, var.shape)])
    return model
