"""The gradient of a function by the backend's own autodiff: Keras 3 has no portable one.

Keras's maintainers point to each backend's own (keras-team/keras#19220, #20760), so this
module names the three: `tf.GradientTape` (in `tf_speed/`, the one place that imports
TensorFlow), `jax.grad` and `torch.autograd.grad`.
"""

import keras


def gradient(function, tensors):
    """Returns the gradients of the scalar `function(tensors)` with respect to each of `tensors` (a list)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from gradient_lab.tf_speed.autodiff import gradient as tensorflow_gradient

        return tensorflow_gradient(function, tensors)
    if backend == "jax":
        import jax

        return jax.grad(function)(list(tensors))
    if backend == "torch":
        import torch

        leaves = [torch.as_tensor(tensor).detach().clone().requires_grad_(True) for tensor in tensors]
        return list(torch.autograd.grad(function(leaves), leaves))
    raise ValueError(f"no autodiff for the {backend} backend here")
