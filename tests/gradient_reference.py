"""Independent references for the gradient tests: per-layer norms from a fresh GradientTape, SGD by hand."""

import keras
import numpy as np
import tensorflow as tf

import grad_logging

LEARNING_RATE, MOMENTUM = 0.01, 0.9


def tape_layer_norms(model, x, y):
    """Per-layer (kernel, bias, total) gradient norms of the mean BCE loss, from a fresh GradientTape, and the
    gradients themselves by variable path."""
    with tf.GradientTape() as tape:
        loss = keras.losses.BinaryCrossentropy()(y.reshape(-1, 1), model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    by_path = {variable.path: grad.numpy() for variable, grad in zip(model.trainable_variables, grads)}
    norms = []
    for layer in grad_logging.trainable_layers(model):
        parts = {variable.name: by_path[variable.path] for variable in layer.trainable_weights}
        total = np.sqrt(sum(np.sum(grad.astype(np.float64) ** 2) for grad in parts.values()))
        kernel = np.linalg.norm(parts["kernel"]) if "kernel" in parts else 0.0
        bias = np.linalg.norm(parts["bias"]) if "bias" in parts else 0.0
        norms.append((kernel, bias, total))
    return np.array(norms), by_path


def logged_norms(history, keys, epoch, stat="mean"):
    """The History's (kernel, bias, total) norms of every layer at one epoch."""
    columns = (f"kernel_{stat}", f"bias_{stat}", stat)
    return np.array([[history[grad_logging.history_key(key, column)][epoch] for column in columns] for key in keys])


def assert_histogram_of(histogram, layer, grads):
    """Asserts that a TensorBoard histogram is of the layer's gradient; `grads` maps each variable's path to it."""
    layer_grads = np.concatenate([np.ravel(grads[variable.path]) for variable in layer.trainable_weights])
    assert histogram.num == layer_grads.size
    np.testing.assert_allclose(
        [histogram.min, histogram.max, histogram.sum],
        [layer_grads.min(), layer_grads.max(), layer_grads.sum()],
        rtol=1e-5,
        atol=1e-8,
    )


def sgd_momentum_step(weights, velocities, grads):
    """Keras SGD with momentum: v = m * v - lr * g; w = w + v."""
    for index, grad in enumerate(grads):
        velocities[index] = MOMENTUM * velocities[index] - LEARNING_RATE * grad
        weights[index] = weights[index] + velocities[index]
