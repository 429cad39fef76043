"""TensorFlow's autodiff and compiler for `gradient_lab.native`."""

import tensorflow as tf


def gradient(function, tensors):
    """The gradients of the scalar `function(tensors)` with respect to each of `tensors`, by `tf.GradientTape`."""
    tensors = [tf.convert_to_tensor(tensor) for tensor in tensors]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        value = function(tensors)
    return tape.gradient(value, tensors)


def compiled(function):
    """`function` traced into a TensorFlow graph."""
    return tf.function(function)
