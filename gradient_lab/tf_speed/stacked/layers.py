"""A stacked Dense layer, and how all members' weights sit in one flat variable."""

import keras
import numpy as np
import tensorflow as tf

import grad_logging

PARTS = grad_logging.PARTS


class StackedDense(keras.layers.Layer):
    """`members` independent Dense layers: inputs `[members, batch, in]` -> outputs `[members, batch, units]`.

    Its kernel `[members, in, units]` and bias `[members, 1, units]` are views of the model's one
    weight variable (`StackedMLP.weights_flat`), passed in.
    """

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.activation = units, keras.activations.get(activation)

    def call(self, x, kernel, bias):
        return self.activation(tf.matmul(x, kernel) + bias)


def entries_to_layer_parts(sizes):
    """The matrix that sums each entry of a flat gradient (kernel, bias, kernel, ...) into its layer's parts."""
    to_parts = np.zeros([sum(sizes), len(sizes) // 2 * len(PARTS)], np.float32)
    start = 0
    for index, size in enumerate(sizes):
        layer, part = divmod(index, 2)
        to_parts[start : start + size, layer * len(PARTS) + part] = 1.0
        to_parts[start : start + size, layer * len(PARTS) + 2] = 1.0  # The layer's total.
        start += size
    return to_parts


class FlatLayout:
    """Where each layer's kernel and bias sit in one flat row of all an MLP's weights: kernel, bias, kernel, ...

    All members' weights are one variable, `[members, size]`: so the optimizer updates one variable
    per step, not two per layer, and each step's gradient is already the flat row the ring stores.
    """

    def __init__(self, num_inputs, width, num_hidden_layers):
        fans = [num_inputs] + [width] * num_hidden_layers + [1]
        self.shapes = [shape for fan_in, fan_out in zip(fans, fans[1:]) for shape in ((fan_in, fan_out), (1, fan_out))]
        self.sizes = [int(np.prod(shape)) for shape in self.shapes]
        self.size = sum(self.sizes)
        self.to_layer_parts = tf.constant(entries_to_layer_parts(self.sizes))

    def views(self, weights):
        """Traceable: every layer's kernel and bias, input side first, as views of `weights` `[members, size]`."""
        pieces = tf.split(weights, self.sizes, axis=1)
        return [tf.reshape(piece, [-1, *shape]) for piece, shape in zip(pieces, self.shapes)]
