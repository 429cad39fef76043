"""What theory predicts for the lab's nets at initialisation, before any training step.

Four questions, each answered by a formula from a paper and by a simulation that checks it:

1. Born-dead ReLU nets (Lu, Shin, Su and Karniadakis 2019): how likely is a He-initialised
   ReLU net to compute a constant function before training starts?
2. Mean-field depth scales for tanh (Poole et al. 2016; Schoenholz et al. 2017): how many
   layers can a signal, and its gradient, cross in an infinitely wide tanh net?
3. Width against depth for ReLU (Hanin 2018; Hanin and Rolnick 2018): how much do activation
   lengths fluctuate from net to net, at finite width?
4. U(0, 1) weights: their mean is not zero, so mean-field theory does not apply; the gradient's
   attenuation per layer is measured by simulation instead.

The weights are drawn as the project's Keras initializers draw them (`draw_kernels`), with zero
biases, as the project's Dense layers start. Everything here is numpy (and scipy): no TensorFlow.
`python theory.py` computes it all and writes `results/theory.json`; `load_theory`,
`born_dead_curve` and `tanh_trainable_depth` read that file back for the studies' figures.

The docstrings name each paper and the quantity taken from it, but no equation, section or
theorem number: only the papers' abstracts and introductions could be read while this was
checked, so such numbers could not be verified. docs/theory.md ("Sources") says what was checked
and where; it derives every formula used here, and tests/test_theory.py checks each one.
"""

import json
import math
from pathlib import Path

import numpy as np
from scipy import optimize, special, stats

# Hidden-layer initializers as the project names them -> the half-width of their uniform range.
# he_gaussian is N(0, 2 / fan_in), the case with exact finite-width formulas (Keras's he_normal is truncated).
UNIFORM_LIMITS = {
    "he_uniform": lambda fan_in, fan_out: math.sqrt(6 / fan_in),
    "glorot_uniform": lambda fan_in, fan_out: math.sqrt(6 / (fan_in + fan_out)),
}


def draw_kernels(initializer, fan_in, fan_out, num_nets, rng):
    """Returns `num_nets` kernels of shape `(fan_in, fan_out)`, stacked: `(num_nets, fan_in, fan_out)`.

    Args:
        initializer: `he_uniform`, `glorot_uniform`, `uniform_0_1` or `he_gaussian`.
        fan_in, fan_out: the layer's inputs and units.
        num_nets: how many independent nets to draw a kernel for.
        rng: a `numpy.random.Generator`.
    """
    shape = (num_nets, fan_in, fan_out)
    if initializer == "uniform_0_1":
        return rng.uniform(0.0, 1.0, shape)
    if initializer == "he_gaussian":
        return rng.normal(0.0, math.sqrt(2 / fan_in), shape)
    if initializer not in UNIFORM_LIMITS:
        raise ValueError(f"unknown initializer {initializer!r}; try {', '.join([*UNIFORM_LIMITS, 'uniform_0_1'])}")
    limit = UNIFORM_LIMITS[initializer](fan_in, fan_out)
    return rng.uniform(-limit, limit, shape)


def binomial_standard_error(p, num_trials):
    """sqrt(p (1 - p) / N): the standard error of a fraction p measured over N independent trials."""
    return math.sqrt(p * (1 - p) / num_trials)


# --- 1. Born-dead ReLU nets -------------------------------------------------------------------


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


# --- 2. Mean-field depth scales for tanh ------------------------------------------------------

# phi, phi' and phi'' of the activations the mean-field functions know. `linear` has closed forms
# (q* = sigma_b2 / (1 - sigma_w2), chi_1 = sigma_w2) and serves as a check of the machinery.
ACTIVATIONS = {
    "tanh": (np.tanh, lambda u: 1 - np.tanh(u) ** 2, lambda u: -2 * np.tanh(u) * (1 - np.tanh(u) ** 2)),
    "linear": (lambda u: u, np.ones_like, np.zeros_like),
}
QUADRATURE_POINTS = 80
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(QUADRATURE_POINTS)  # For the weight exp(-z^2 / 2).
_WEIGHTS = _WEIGHTS / math.sqrt(2 * math.pi)  # Now sum(w f(z)) = E[f(z)] for z ~ N(0, 1).


def gaussian_expectation(f, q):
    """E[f(u)] for u ~ N(0, q), by Gauss-Hermite quadrature (the integral "Dz" of the papers)."""
    return float(np.sum(_WEIGHTS * f(math.sqrt(q) * _NODES)))


def gaussian_pair_expectation(f, q, c):
    """E[f(u1, u2)] for u1, u2 ~ N(0, q) with correlation c: u1 = sqrt(q) z1, u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2)."""
    z1, z2 = _NODES[:, None], _NODES[None, :]
    u1 = math.sqrt(q) * z1
    u2 = math.sqrt(q) * (c * z1 + math.sqrt(max(1 - c * c, 0.0)) * z2)
    return float(np.sum(_WEIGHTS[:, None] * _WEIGHTS[None, :] * f(u1, u2)))


def length_map(q, sigma_w2, sigma_b2, activation="tanh"):
    """The next layer's pre-activation variance: q' = sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2.

    The length map of Poole et al. (2016), "Exponential expressivity in deep neural networks
    through transient chaos", also used by Schoenholz et al. (2017) (equation numbers not checked).
    """
    phi = ACTIVATIONS[activation][0]
    return sigma_w2 * gaussian_expectation(lambda u: phi(u) ** 2, q) + sigma_b2


def length_map_iterates(sigma_w2, sigma_b2, q0, depth, activation="tanh"):
    """Returns [q^1, ..., q^depth]: the length map applied `depth` times from q^0 = q0.

    Args:
        sigma_w2: fan_in Var(W), the weights' variance in the mean-field convention.
        sigma_b2: the biases' variance.
        q0: the input's pre-activation variance.
        depth: layers.
        activation: `tanh` or `linear`.
    """
    q, iterates = q0, []
    for _ in range(depth):
        q = length_map(q, sigma_w2, sigma_b2, activation)
        iterates.append(q)
    return np.array(iterates)


def length_fixed_point(sigma_w2, sigma_b2, activation="tanh"):
    """q*, the stable fixed point of the length map (Poole et al. 2016).

    With sigma_b2 = 0 and chi_1(0) = sigma_w2 phi'(0)^2 <= 1 it is q* = 0: the signal shrinks to
    nothing (for tanh, E[tanh(u)^2] < q for every q > 0). Otherwise it is the root of
    q' - q = 0 on (0, infinity), found by bracketing and Brent's method.
    """
    dphi = ACTIVATIONS[activation][1]
    if sigma_b2 == 0 and sigma_w2 * float(dphi(np.zeros(1))[0]) ** 2 <= 1:
        return 0.0
    gap = lambda q: length_map(q, sigma_w2, sigma_b2, activation) - q  # noqa: E731
    low, high = 1e-12, max(1.0, sigma_w2 + sigma_b2)
    while gap(high) > 0:
        high *= 2
        if high > 1e12:
            raise ValueError(f"no fixed point: q grows without bound at sigma_w2={sigma_w2}, sigma_b2={sigma_b2}")
    return optimize.brentq(gap, low, high, xtol=1e-15, rtol=1e-13)


def chi_1(q_star, sigma_w2, activation="tanh"):
    """chi_1 = sigma_w2 E[phi'(sqrt(q*) z)^2], the slope of the correlation map at c = 1.

    In Poole et al. (2016) it is the stability of c* = 1 (chi_1 < 1: ordered, > 1: chaotic);
    Schoenholz et al. (2017) develop a mean field theory of backpropagation in which the ordered
    and chaotic phases are those of vanishing and exploding gradients, chi_1 being the per-layer
    factor of the mean squared gradient.
    """
    dphi = ACTIVATIONS[activation][1]
    return sigma_w2 * gaussian_expectation(lambda u: dphi(u) ** 2, q_star)


def correlation_map(c, q_star, sigma_w2, sigma_b2, activation="tanh"):
    """The next layer's correlation of two inputs: c' = (sigma_w2 E[phi(u1) phi(u2)] + sigma_b2) / q*.

    The correlation map of Poole et al. (2016) and Schoenholz et al. (2017) (equation numbers not
    checked), with both inputs at the length fixed point q*.
    """
    phi = ACTIVATIONS[activation][0]
    return (sigma_w2 * gaussian_pair_expectation(lambda u1, u2: phi(u1) * phi(u2), q_star, c) + sigma_b2) / q_star


def correlation_fixed_point(q_star, sigma_w2, sigma_b2, activation="tanh"):
    """c*, the stable fixed point of the correlation map.

    c* = 1 when chi_1 <= 1 (the ordered phase: every pair of inputs ends up identical). In the
    chaotic phase (chi_1 > 1) c = 1 is unstable and c* < 1 is the root of c' - c on [0, 1).
    """
    if chi_1(q_star, sigma_w2, activation) <= 1:
        return 1.0
    gap = lambda c: correlation_map(c, q_star, sigma_w2, sigma_b2, activation) - c  # noqa: E731
    return optimize.brentq(gap, 0.0, 1 - 1e-9, xtol=1e-14)


def chi_c(c_star, q_star, sigma_w2, activation="tanh"):
    """chi_c = sigma_w2 E[phi'(u1) phi'(u2)] at c*: the slope of the correlation map at its fixed point.

    Schoenholz et al. (2017), "Deep information propagation", whose depth scale xi_c diverges at
    the order-to-chaos boundary: the correlation's distance from c* shrinks by chi_c per layer, so
    xi_c = -1 / ln(chi_c). At c* = 1 it is chi_1 (u1 = u2).
    """
    dphi = ACTIVATIONS[activation][1]
    return sigma_w2 * gaussian_pair_expectation(lambda u1, u2: dphi(u1) * dphi(u2), q_star, c_star)


def depth_scale(chi):
    """xi = -1 / ln(chi): the layers over which a perturbation shrinks by e; None (infinite) when chi >= 1."""
    return None if chi >= 1 else -1.0 / math.log(chi)


def length_depth_scale(q_star, sigma_w2, activation="tanh"):
    """xi_q = -1 / ln(chi_1 + sigma_w2 E[phi''(sqrt(q*) z) phi(sqrt(q*) z)]): how fast q^l reaches q*.

    The length depth scale of Schoenholz et al. (2017): the slope of the length map at q* (the
    bracket) sets how fast the lengths converge; Gaussian integration by parts gives this form.
    """
    phi, dphi, d2phi = ACTIVATIONS[activation]
    slope = chi_1(q_star, sigma_w2, activation) + sigma_w2 * gaussian_expectation(lambda u: d2phi(u) * phi(u), q_star)
    return depth_scale(slope)


# The empirical rule of Schoenholz et al. (2017): nets train up to about 6 xi_c layers. As recalled:
# their text could not be read here, so the factor 6 is not checked (docs/theory.md, Sources).
TRAINABLE_DEPTH_FACTOR = 6


def mean_field_depth_scales(sigma_w2, sigma_b2, activation="tanh"):
    """The mean-field summary of one (sigma_w2, sigma_b2): q*, chi_1, c*, chi_c, xi_q, xi_c and 6 xi_c.

    Args:
        sigma_w2: fan_in Var(W).
        sigma_b2: Var(b).
        activation: `tanh` or `linear`.

    Returns:
        A dict with keys `weight_variance`, `bias_variance`, `q_star`, `chi_1`, `c_star`,
        `chi_c`, `xi_q`, `xi_c` and `trainable_depth` (the depth scales None where infinite).
        At q* = 0 (sigma_b2 = 0, chi_1 <= 1) every net's signal shrinks to zero and the
        correlation map is the identity in the limit, so every c is a fixed point and chi_c = 1;
        c* = 1 is then reported by convention.
    """
    q_star = length_fixed_point(sigma_w2, sigma_b2, activation)
    slope = chi_1(q_star, sigma_w2, activation)
    if q_star == 0:
        c_star, slope_c, xi_q = 1.0, slope, None
    else:
        c_star = correlation_fixed_point(q_star, sigma_w2, sigma_b2, activation)
        slope_c = chi_c(c_star, q_star, sigma_w2, activation)
        xi_q = length_depth_scale(q_star, sigma_w2, activation)
    xi_c = depth_scale(slope_c)
    return {
        "weight_variance": sigma_w2,
        "bias_variance": sigma_b2,
        "q_star": q_star,
        "chi_1": slope,
        "c_star": c_star,
        "chi_c": slope_c,
        "xi_q": xi_q,
        "xi_c": xi_c,
        "trainable_depth": None if xi_c is None else TRAINABLE_DEPTH_FACTOR * xi_c,
    }


def critical_weight_variance(sigma_b2, activation="tanh"):
    """The sigma_w2 at which chi_1 = 1 for this sigma_b2: the edge of chaos (Poole et al. 2016).

    Root of chi_1(q*(sigma_w2), sigma_w2) - 1 by Brent's method, searched on [1, 4] for tanh.
    """
    gap = lambda sigma_w2: chi_1(length_fixed_point(sigma_w2, sigma_b2, activation), sigma_w2, activation) - 1  # noqa: E731
    return optimize.brentq(gap, 1.0, 4.0, xtol=1e-13)


def glorot_weight_variance(fan_in, fan_out):
    """sigma_w2 = fan_in Var(W) of glorot_uniform: fan_in * 2 / (fan_in + fan_out); 1 for square layers."""
    return fan_in * 2 / (fan_in + fan_out)


UNIFORM_NOTE = "U(0, 1) weights have mean 1/2: mean-field theory assumes zero-mean weights and does not apply."


def init_weight_variance(initializer, width):
    """sigma_w2 = fan_in Var(W) of a project initializer on square `width` layers: glorot 1, he_uniform 2.

    Raises:
        ValueError: for `uniform_0_1`, whose non-zero mean puts it outside mean-field theory.
    """
    if initializer == "uniform_0_1":
        raise ValueError(UNIFORM_NOTE + " Try: python theory.py uniform")
    return {"glorot": glorot_weight_variance(width, width), "he_uniform": 2.0}[initializer]


def critical_backward_signal(q1, depth, sigma_w2=1.0):
    """Mean-field squared backward signal, last hidden layer to first, at sigma_b2 = 0: prod of chi(q^l), l < L.

    chi(q) = sigma_w2 E[tanh'(sqrt(q) z)^2] is the per-layer gradient factor of the backward mean
    field of Schoenholz et al. (2017), taken at each layer's own q^l instead of q*. At the
    critical point (sigma_w2 = 1, q* = 0) q^l ~ 1 / (2 l) and chi(q^l) ~ 1 - 2 q^l ~ 1 - 1/l, so
    the product falls as a power of the depth (~ 1 / depth), not exponentially.

    Args:
        q1: the first hidden layer's pre-activation variance.
        depth: hidden layers, L.
        sigma_w2: fan_in Var(W) of the hidden layers after the first.
    """
    lengths = np.concatenate([[q1], length_map_iterates(sigma_w2, 0.0, q1, depth - 2)]) if depth > 1 else []
    return float(np.prod([chi_1(q, sigma_w2) for q in lengths]))


# --- 3. Width against depth for ReLU ----------------------------------------------------------


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


# --- 4. U(0, 1) weights: the gradient's attenuation, measured ---------------------------------


def tanh_kernel_gradient_norms(kernels, output_kernel, x, y):
    """Each hidden kernel's gradient norm of the mean binary cross-entropy, by plain backprop, for stacked nets.

    The net: h_l = tanh(h_(l-1) W_l), zero biases, p = sigmoid(h_L w_out); the loss is the mean
    over rows of -[y ln p + (1 - y) ln(1 - p)], whose gradient with respect to the logit is
    (p - y) / rows.

    Args:
        kernels: the hidden kernels, each `(nets, fan_in, fan_out)`.
        output_kernel: `(nets, width, 1)`.
        x: `(rows, features)` inputs.
        y: `(rows,)` labels in {0, 1}.

    Returns:
        `(nets, layers)` array of the Frobenius norms of dLoss/dW_l, input side first.
    """
    activations = [np.broadcast_to(np.asarray(x, dtype=np.float64), (len(output_kernel), *np.shape(x)))]
    for kernel in kernels:
        activations.append(np.tanh(activations[-1] @ kernel))
    p = 1 / (1 + np.exp(-(activations[-1] @ output_kernel)))
    delta = (p - np.asarray(y, dtype=np.float64)[None, :, None]) / len(x)  # dLoss/dlogit.
    backward = delta @ np.swapaxes(output_kernel, 1, 2)  # dLoss/dh_L.
    norms = []
    for layer in range(len(kernels), 0, -1):
        delta = backward * (1 - activations[layer] ** 2)  # dLoss/dz_l: tanh' = 1 - tanh^2.
        norms.append(np.linalg.norm(np.swapaxes(activations[layer - 1], 1, 2) @ delta, axis=(1, 2)))
        backward = delta @ np.swapaxes(kernels[layer - 1], 1, 2)
    return np.stack(norms[::-1], axis=1)


def draw_tanh_net(depth, width, num_nets, rng, initializer="uniform_0_1", output_initializer="uniform_0_1"):
    """Returns `(kernels, output_kernel)` of `num_nets` stacked nets, 2 inputs, `depth` hidden layers of `width`."""
    sizes = [2] + [width] * depth
    kernels = [draw_kernels(initializer, fan_in, fan_out, num_nets, rng) for fan_in, fan_out in zip(sizes, sizes[1:])]
    return kernels, draw_kernels(output_initializer, width, 1, num_nets, rng)


def uniform_attenuation(depth, x, y, num_nets, seed, width=5):
    """The gradient's attenuation at initialisation in tanh nets with every kernel U(0, 1), zero biases.

    The norms span decades from net to net, so the averages over nets are geometric means (the
    arithmetic mean is ruled by the few nets whose first layers escape saturation).

    Args:
        depth: hidden layers.
        x, y: the training set; the gradient is of the mean loss over all of it.
        num_nets: nets drawn.
        seed: seeds the weights.
        width: units per hidden layer.

    Returns:
        A dict: `depth`; `layer_grad_norms`, each hidden kernel's gradient norm (input side
        first); `first_layer_grad_norm` and `last_layer_grad_norm`, its ends;
        `attenuation_per_layer`, the geometric mean over layers of the ratio of layer l's norm
        to layer l+1's, (first / last)^(1 / (depth - 1)) (below 1: the gradient shrinks towards
        the input; None at depth 1); `attenuation_near_output`, the same over the last three
        ratios at most, where the saturated layers sit; `nets`.
    """
    kernels, output_kernel = draw_tanh_net(depth, width, num_nets, np.random.default_rng(seed))
    log_norms = np.log(tanh_kernel_gradient_norms(kernels, output_kernel, x, y)).mean(axis=0)

    def mean_ratio(first, last):
        return None if last == first else float(math.exp((log_norms[first] - log_norms[last]) / (last - first)))

    return {
        "depth": depth,
        "layer_grad_norms": np.exp(log_norms).tolist(),
        "first_layer_grad_norm": float(math.exp(log_norms[0])),
        "last_layer_grad_norm": float(math.exp(log_norms[-1])),
        "attenuation_per_layer": mean_ratio(0, depth - 1),
        "attenuation_near_output": mean_ratio(max(0, depth - 4), depth - 1),
        "nets": num_nets,
    }


# --- Finite width: where the mean-field picture of the Glorot tanh nets stops ------------------


def finite_width_log_length_drift(width):
    """E[ln(|W u|^2)] = psi(n/2) - ln(n/2) for an n x n Gaussian W of variance 1/n and a unit vector u.

    |W u|^2 is chi^2_n / n, whose log has mean digamma(n/2) + ln 2 - ln n < 0. So in a deep
    near-linear net with sigma_w2 = 1 the mean squared length is preserved (mean-field theory's
    q) while the typical (median) one falls by this much per layer: exponentially, at rate ~1/n.
    Twice the top Lyapunov exponent of a product of such matrices (Newman 1986 derives these
    exponents exactly; the formula is derived and tested here, not read from him). -0.213 at n = 5.
    """
    return float(special.digamma(width / 2) - math.log(width / 2))


def tanh_glorot_lengths(width, depths, inputs, num_nets, seed):
    """Measured against predicted pre-activation variance q^L of zero-bias Glorot tanh nets, by depth.

    Args:
        width: units per hidden layer (the first layer has fan_in = inputs' features).
        depths: the depths to report.
        inputs: `(rows, features)`.
        num_nets: nets drawn.
        seed: seeds the weights.

    Returns:
        A list of dicts: `width`, `depth`; `mean_q`, `median_q`, `q_10` and `q_90` (percentiles)
        over nets and inputs of the mean squared pre-activation of layer L; `mean_field_q`, the
        length map iterated from the first layer's mean q (infinite width); `typical_q_linear`,
        the first layer's q times exp((L - 1) drift) (`finite_width_log_length_drift`: finite
        width, tanh taken as linear).
    """
    kernels, _ = draw_tanh_net(max(depths), width, num_nets, np.random.default_rng(seed), "glorot_uniform")
    q1 = glorot_weight_variance(inputs.shape[1], width) * float(np.mean(np.sum(inputs**2, axis=1))) / inputs.shape[1]
    mean_field = np.concatenate([[q1], length_map_iterates(1.0, 0.0, q1, max(depths) - 1)])
    drift = finite_width_log_length_drift(width)
    h, rows = np.broadcast_to(np.asarray(inputs, dtype=np.float64), (num_nets, *inputs.shape)), []
    for depth, kernel in enumerate(kernels, 1):
        z = h @ kernel
        h = np.tanh(z)
        if depth in depths:
            q = np.mean(z**2, axis=-1)
            rows.append(
                {
                    "width": width,
                    "depth": depth,
                    "mean_q": float(q.mean()),
                    "median_q": float(np.median(q)),
                    "q_10": float(np.percentile(q, 10)),
                    "q_90": float(np.percentile(q, 90)),
                    "mean_field_q": float(mean_field[depth - 1]),
                    "typical_q_linear": q1 * math.exp((depth - 1) * drift),
                }
            )
    return rows


# --- Reading back the results of `python theory.py` -----------------------------------------


def load_theory(path="results/theory.json"):
    """Reads the file `python theory.py` writes.

    Args:
        path: the JSON file.

    Returns:
        Its dict, or None when the file does not exist.
    """
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else None


def born_dead_curve(theory, width):
    """P(born dead) on the training inputs against depth, for one width.

    Args:
        theory: the dict of `load_theory`.
        width: units per hidden layer (5 and 25 are computed by default).

    Returns:
        `(depths, p, se)`, three numpy arrays sorted by depth (empty for a width not computed).
    """
    rows = sorted((row for row in theory["born_dead"] if row["width"] == width), key=lambda row: row["depth"])
    return tuple(np.array([row[key] for row in rows]) for key in ("depth", "p", "se"))


def tanh_trainable_depth(theory, case="glorot"):
    """6 xi_c, the depth to which a tanh net trains by the empirical rule of Schoenholz et al. (2017).

    Args:
        theory: the dict of `load_theory`.
        case: `glorot` (the project's init, zero biases) or `example`.

    Returns:
        The depth as a float, or None when xi_c is infinite: for the project's Glorot init, the
        theory sets no depth limit (see the entry's `note`), so a figure should draw no marker.
    """
    return theory["tanh_depth_scale"][case]["trainable_depth"]
