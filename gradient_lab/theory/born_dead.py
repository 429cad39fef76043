"""Born-dead ReLU nets (Lu, Shin, Su and Karniadakis 2019): the closed form and its Monte Carlo.

How likely is a He-initialised ReLU net to compute a constant function before training starts?
`born_dead_closed_form` answers for one input; `born_dead_by_depth` and `born_dead_probability`
measure it on the training inputs, with the weights drawn as the project's Keras initializers draw them.
"""

import math

import numpy as np

from gradient_lab.theory.weights import draw_kernels


def binomial_standard_error(p, num_trials):
    """sqrt(p (1 - p) / N): the standard error of a fraction p measured over N independent trials."""
    return math.sqrt(p * (1 - p) / num_trials)


def born_dead_closed_form(width, depth):
    """P(born dead) = 1 - (1 - 2^-n)^L for one input, zero biases and weights symmetric about 0.

    Lu, Shin, Su and Karniadakis (2019), "Dying ReLU and initialization", prove that a deep ReLU
    net whose weights are symmetric about 0 dies with probability tending to 1 as the depth
    grows; the form of their theorem was not checked here. At one input x the formula takes two
    lines (tests/test_theory.py checks it by Monte Carlo): a layer that receives a non-zero,
    non-negative vector h gives each unit w.h, positive with probability 1/2 independently, so
    all n units are zero with probability 2^-n; a zero layer stays zero with zero biases. The net
    survives L layers with probability (1 - 2^-n)^L.

    Args:
        width: units per hidden layer, n.
        depth: hidden layers, L.

    Returns:
        The probability, a float in [0, 1).
    """
    return 1.0 - (1.0 - 2.0**-width) ** depth


def layer_streams(seed, depth):
    """One `numpy.random.Generator` per layer, 1 to `depth`; layer l's stream is the same for every `depth` >= l."""
    return [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(depth)]


def born_dead_by_depth(width, depths, inputs, num_nets, seed, initializer="he_uniform"):
    """Monte Carlo of P(born dead) at several depths: how often a net's last hidden layer is constant.

    A net is born dead when it computes a constant function at initialisation: its last hidden
    layer's activations are identical on every row of `inputs`, so the output is too. Each net
    is drawn once, `max(depths)` layers deep; the net of depth L is its first L layers, so the
    depths share nets (each depth's estimate is unbiased; they are correlated with each other).
    Zero biases. To test one input x alone, pass `[0, x]`: the origin's activations are all zero,
    so "constant on {0, x}" means "all zero at x".

    Each layer draws its weights from its own random stream (`layer_streams`), so net k's first
    L layers are the same whatever the other depths asked for: `python theory.py born-dead` at
    one depth prints the same p as the table of `python theory.py` at that depth and seed.

    Args:
        width: units per hidden layer.
        depths: the hidden-layer counts to report.
        inputs: `(rows, features)` array.
        num_nets: independent nets to draw.
        seed: seeds the weights.
        initializer: the hidden kernels' initializer (`he_uniform`, as the project's ReLU nets).

    Returns:
        `{depth: (p, standard_error)}`.
    """
    inputs = np.asarray(inputs, dtype=np.float32)
    max_depth = max(depths)
    streams = layer_streams(seed, max_depth)
    dead = np.zeros(max_depth + 1)
    chunk = max(1, 4_000_000 // (len(inputs) * max(width, inputs.shape[1])))  # Nets at once: ~16 MB arrays.
    for start in range(0, num_nets, chunk):
        nets = min(chunk, num_nets - start)
        h = np.broadcast_to(inputs, (nets, *inputs.shape))
        for layer in range(1, max_depth + 1):
            kernels = draw_kernels(initializer, h.shape[-1], width, nets, streams[layer - 1]).astype(np.float32)
            h = np.maximum(h @ kernels, 0.0)
            dead[layer] += np.all(h == h[:, :1, :], axis=(1, 2)).sum()  # Same activations on every row.
    return {
        depth: (dead[depth] / num_nets, binomial_standard_error(dead[depth] / num_nets, num_nets)) for depth in depths
    }


def born_dead_probability(width, depth, inputs, num_nets, seed):
    """Monte Carlo estimate of the probability that a He-uniform ReLU net is born dead on `inputs`.

    Args:
        width: units per hidden layer.
        depth: hidden layers.
        inputs: `(rows, features)` array; the net is dead when constant on all of its rows.
        num_nets: independent nets to draw.
        seed: seeds the weights.

    Returns:
        `(p, standard_error)`, with standard error sqrt(p (1 - p) / num_nets).
    """
    return born_dead_by_depth(width, [depth], inputs, num_nets, seed)[depth]
