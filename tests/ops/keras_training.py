"""Small Keras models trained briefly on synthetic data before they are quantized, and the
models more than one test file uses.

Trained weights have what random ones lack: dead channels, uneven scales, activations
pushed into saturation. The task is made up but learnable: the targets are a fixed random
projection of the inputs, squashed by tanh, in the model's output shape.
"""

from __future__ import annotations

import keras
import numpy as np


def train_briefly(model: keras.Model, epochs: int = 3, samples: int = 128, seed: int = 0) -> keras.Model:
    """`model` after `epochs` epochs of Adam on mean squared error; returns the same model."""
    rng = np.random.default_rng(seed)
    inputs = [rng.uniform(-1, 1, (samples, *t.shape[1:])).astype(np.float32) for t in model.inputs]
    flat = np.concatenate([x.reshape(samples, -1) for x in inputs], axis=1)
    output_shape = tuple(model.outputs[0].shape[1:])
    projection = rng.normal(0, 1 / np.sqrt(flat.shape[1]), (flat.shape[1], int(np.prod(output_shape))))
    targets = np.tanh(2 * flat @ projection).reshape(samples, *output_shape).astype(np.float32)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(inputs if len(inputs) > 1 else inputs[0], targets, epochs=epochs, batch_size=16, verbose=0)
    return model


def squeeze_excite_model(size: int = 8, channels: int = 8) -> keras.Model:
    """Conv2D, then a squeeze-excite block: GlobalAveragePooling2D -> Dense -> Dense(sigmoid) ->
    Multiply, whose channel weights [1, 1, 1, C] broadcast over the feature map [1, H, W, C]."""
    layers = keras.layers
    x = keras.Input((size, size, 3), batch_size=1)
    features = layers.Conv2D(channels, 3, padding="same", activation="relu")(x)
    weights = layers.GlobalAveragePooling2D(keepdims=True)(features)
    weights = layers.Dense(max(channels // 2, 1), activation="relu")(weights)
    weights = layers.Dense(channels, activation="sigmoid")(weights)
    excited = layers.Multiply()([features, weights])
    return keras.Model(x, layers.Dense(4)(layers.GlobalAveragePooling2D()(excited)))
