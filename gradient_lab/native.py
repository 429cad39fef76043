"""What Keras 3 has no portable API for, from each backend's own: a function's gradient, and a compiled function.

Keras's maintainers point to each backend's own autodiff (keras-team/keras#19220, #20760), so
this module names the three: `tf.GradientTape` and `tf.function` (in `tf_speed/native.py`, as
only `tf_speed/` imports TensorFlow), `jax.grad` and `jax.jit`, and `torch.autograd.grad`.
"""

import keras


def gradient(function, tensors):
    """Returns the gradients of the scalar `function(tensors)` with respect to each of `tensors` (a list)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from gradient_lab.tf_speed import native

        return native.gradient(function, tensors)
    if backend == "jax":
        import jax

        return jax.grad(function)(list(tensors))
    if backend == "torch":
        import torch

        leaves = [torch.as_tensor(tensor).detach().clone().requires_grad_(True) for tensor in tensors]
        return list(torch.autograd.grad(function(leaves), leaves))
    raise ValueError(f"no autodiff for the {backend} backend here")


def compiled(function, variables):
    """Returns `function` (no arguments; it reads `variables`, Keras variables) compiled by the backend.

    TensorFlow traces it into a graph, JAX jits it as a function of the variables' values
    (inside a `keras.StatelessScope`), and PyTorch runs it as it is, eagerly.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from gradient_lab.tf_speed import native

        return native.compiled(function)
    if backend == "jax":
        import jax

        def of_values(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return function()

        jitted = jax.jit(of_values)
        return lambda: jitted([variable.value for variable in variables])
    return function


def jitted(function):
    """`function` (of tensors) jitted whole on JAX, where every eager op compiles on its first use; else as it is."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(function)
    return function
