"""Width against depth for ReLU (Hanin 2018; Hanin and Rolnick 2018): the spread of activation lengths.

How much do activation lengths fluctuate from net to net, at finite width? `beta` is the sum of
1 / n_l; `log_length_variance` measures Var[ln |h_L|^2] by Monte Carlo, against its wide-layer
prediction 5 beta (`wide_layer_log_length_variance`) and the exact value for Gaussian weights
(`gaussian_log_length_variance`).
"""

import math

import numpy as np
from scipy import special, stats

from gradient_lab.theory.weights import draw_kernels


def beta(widths):
    """beta = sum over hidden layers of 1 / n_l, the constant of Hanin (2018) and Hanin and Rolnick (2018).

    Args:
        widths: the hidden layers' widths n_1 ... n_L.

    Returns:
        The float beta.
    """
    return float(sum(1.0 / width for width in widths))


# Hanin and Rolnick (2018): with weights of variance 2 / fan_in the mean length is preserved, and
# the length's fluctuations grow exponentially in beta (their failure mode FM2, stated for the
# empirical variance of the lengths across a net's layers); keeping beta small avoids it. The
# constant 5 is derived here, not read from their theorem: each layer multiplies the squared length
# by an independent factor of relative variance 5 / n (Gaussian weights: relu(g)^2 is g^2 half the
# time, E g^4 = 3, so Var/mean^2 = 4 (3/2 - 1/4) / n), and a log-normal with that second moment
# has Var[ln |h_L|^2] = 5 beta.
WIDE_LAYER_RELATIVE_VARIANCE = 5


def wide_layer_log_length_variance(widths):
    """Var[ln |h_L|^2] = 5 beta for He ReLU nets, to leading order in 1/n (derived in docs/theory.md, section 3)."""
    return WIDE_LAYER_RELATIVE_VARIANCE * beta(widths)


def gaussian_log_length_variance(widths):
    """Var[ln |z_L|^2 | the net is alive] for He-Gaussian weights, exactly at finite width.

    With Gaussian weights each layer's pre-activations are i.i.d. N(0, (2 / fan_in) |h|^2) whatever
    the previous layer's direction, so |h_l|^2 / |h_(l-1)|^2 = (2 / fan_in) chi^2_K, K ~ Bin(n_l, 1/2)
    units active, independently across layers. Given K >= 1 (alive), ln chi^2_K has mean
    psi(K/2) + ln 2 and variance psi'(K/2) (digamma, trigamma); the law of total variance over K
    gives each layer's term, about 5 / n_l for wide layers. Independent of the input.
    """
    total = 0.0
    for width in widths:
        active = np.arange(1, width + 1)
        weights = stats.binom.pmf(active, width, 0.5) / (1 - 0.5**width)  # P(K = k | K >= 1).
        means = special.digamma(active / 2)
        total += float(np.sum(weights * special.polygamma(1, active / 2)) + np.sum(weights * means**2))
        total -= float(np.sum(weights * means)) ** 2
    return total


def relu_log_squared_lengths(widths, inputs, num_nets, seed, initializer="he_uniform"):
    """ln(|h_L|^2 / |x|^2) of `num_nets` zero-bias ReLU nets, each at one input drawn from `inputs`.

    One input per net keeps the samples independent, so their variance has a plain standard
    error. A net whose last layer is all zero at its input (dead) gives -inf.

    Args:
        widths: the hidden layers' widths.
        inputs: `(rows, features)`; each net takes one row at random.
        num_nets: independent nets.
        seed: seeds the weights and the choice of rows.
        initializer: `he_uniform` (the project's) or `he_gaussian` (exact formulas exist for it).

    Returns:
        A float array of shape `(num_nets,)`.
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(inputs, dtype=np.float64)[rng.integers(len(inputs), size=num_nets)]
    h = x
    for width in widths:
        kernels = draw_kernels(initializer, h.shape[-1], width, num_nets, rng)
        h = np.maximum(np.einsum("ni,nij->nj", h, kernels), 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.sum(h**2, axis=1) / np.sum(x**2, axis=1))


def variance_with_standard_error(samples):
    """The sample variance and its standard error sqrt((m4 - s^4) / N) (delta method), m4 the 4th central moment."""
    samples = np.asarray(samples, dtype=np.float64)
    deviations = samples - samples.mean()
    variance = float(np.mean(deviations**2) * len(samples) / (len(samples) - 1))
    fourth = float(np.mean(deviations**4))
    return variance, math.sqrt(max(fourth - variance**2, 0.0) / len(samples))


def log_length_variance(width, depth, inputs, num_nets, seed, initializer="he_uniform"):
    """Monte Carlo Var[ln |h_L|^2] over the nets alive at their input, for a constant-width ReLU net.

    Args:
        width: units per hidden layer.
        depth: hidden layers.
        inputs: `(rows, features)`; each net is evaluated at one random row.
        num_nets: independent nets (the dead ones are left out).
        seed: seeds the weights.
        initializer: `he_uniform` or `he_gaussian`.

    Returns:
        `(variance, standard_error, alive_fraction)`.
    """
    logs = relu_log_squared_lengths([width] * depth, inputs, num_nets, seed, initializer)
    alive = np.isfinite(logs)
    return (*variance_with_standard_error(logs[alive]), float(alive.mean()))
