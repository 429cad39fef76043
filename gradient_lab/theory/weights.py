"""The lab's initial weights, drawn in numpy as the project's Keras initializers draw them.

The theory modules draw their nets here, with zero biases, as the project's Dense layers start:
`he_uniform` = U(+-sqrt(6 / fan_in)), `glorot_uniform` = U(+-sqrt(6 / (fan_in + fan_out))),
`uniform_0_1` = U(0, 1), `orthogonal` (Keras's `Orthogonal`, gain 1: orthonormal columns, or rows
when fan_in < fan_out), and `he_gaussian` = N(0, 2 / fan_in) for the exact finite-width formulas.
"""

import math

import numpy as np

# Hidden-layer initializers as the project names them -> the half-width of their uniform range.
# he_gaussian is N(0, 2 / fan_in), the case with exact finite-width formulas (Keras's he_normal is truncated).
UNIFORM_LIMITS = {
    "he_uniform": lambda fan_in, fan_out: math.sqrt(6 / fan_in),
    "glorot_uniform": lambda fan_in, fan_out: math.sqrt(6 / (fan_in + fan_out)),
}


def draw_orthogonal(fan_in, fan_out, num_nets, rng):
    """`num_nets` random (Haar) orthogonal kernels `(fan_in, fan_out)`, drawn as Keras's `Orthogonal` draws one.

    The Q of a Gaussian matrix's QR decomposition, its columns' signs fixed by R's diagonal
    (Mezzadri 2007), transposed when fan_in < fan_out so that the rows are orthonormal.
    """
    tall = rng.normal(size=(num_nets, max(fan_in, fan_out), min(fan_in, fan_out)))
    q, r = np.linalg.qr(tall)
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    return q if fan_in >= fan_out else np.transpose(q, (0, 2, 1))


def draw_kernels(initializer, fan_in, fan_out, num_nets, rng):
    """Returns `num_nets` kernels of shape `(fan_in, fan_out)`, stacked: `(num_nets, fan_in, fan_out)`.

    Args:
        initializer: `he_uniform`, `glorot_uniform`, `uniform_0_1`, `orthogonal` or `he_gaussian`.
        fan_in, fan_out: the layer's inputs and units.
        num_nets: how many independent nets to draw a kernel for.
        rng: a `numpy.random.Generator`.
    """
    shape = (num_nets, fan_in, fan_out)
    if initializer == "uniform_0_1":
        return rng.uniform(0.0, 1.0, shape)
    if initializer == "orthogonal":
        return draw_orthogonal(fan_in, fan_out, num_nets, rng)
    if initializer == "he_gaussian":
        return rng.normal(0.0, math.sqrt(2 / fan_in), shape)
    if initializer not in UNIFORM_LIMITS:
        raise ValueError(
            f"unknown initializer {initializer!r}; try {', '.join([*UNIFORM_LIMITS, 'uniform_0_1', 'orthogonal'])}"
        )
    limit = UNIFORM_LIMITS[initializer](fan_in, fan_out)
    return rng.uniform(-limit, limit, shape)


def draw_tanh_net(depth, width, num_nets, rng, initializer="uniform_0_1", output_initializer="uniform_0_1"):
    """Returns `(kernels, output_kernel)` of `num_nets` stacked nets, 2 inputs, `depth` hidden layers of `width`."""
    sizes = [2] + [width] * depth
    kernels = [draw_kernels(initializer, fan_in, fan_out, num_nets, rng) for fan_in, fan_out in zip(sizes, sizes[1:])]
    return kernels, draw_kernels(output_initializer, width, 1, num_nets, rng)
