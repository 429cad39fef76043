"""Mean-field depth scales for tanh (Poole et al. 2016; Schoenholz et al. 2017), and where they stop at finite width.

How many layers can a signal, and its gradient, cross in an infinitely wide tanh net? Gaussian
quadrature gives the length and correlation maps, their fixed points q* and c*, the slopes chi_1
and chi_c, the depth scales xi_q and xi_c, and the critical line; `init_weight_variance` gives the
project's Glorot and He inits in the theory's terms. At the critical point the signal dies as a
power law (`critical_backward_signal`); at finite width the typical net's length drifts down
exponentially instead (`finite_width_log_length_drift` for Gaussian weights, `linear_log_length_drift`
for any, measured by `tanh_lengths`), unless the weights are orthogonal.
"""

import math

import numpy as np
from scipy import optimize, special

from gradient_lab.theory.weights import draw_kernels, draw_tanh_net

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


def linear_log_length_drift(initializer, width, num_nets, seed, depth=60, burn_in=10):
    """Monte Carlo E[ln(|h_(l+1)|^2 / |h_l|^2)] per layer deep inside a linear net of `width`-square layers.

    Twice the top Lyapunov exponent of the product of the layers' kernels, for any initializer.
    For Gaussian weights of variance 1/n it is `finite_width_log_length_drift` (He-Gaussian's
    variance 2/n adds ln 2); for uniform weights it depends on the vector's direction through the
    weights' 4th moment, so it is simulated, after `burn_in` layers, once the direction has settled;
    for orthogonal weights it is 0: an orthogonal layer keeps every vector's length.

    Args:
        initializer: a name `weights.draw_kernels` knows.
        width: units per layer.
        num_nets: independent nets.
        seed: seeds the weights and the starting directions.
        depth, burn_in: layers simulated, and how many of the first are left out.

    Returns:
        `(drift, standard_error)` over the nets.
    """
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(num_nets, width))
    h /= np.linalg.norm(h, axis=1, keepdims=True)
    logs = np.zeros(num_nets)
    for layer in range(depth):
        h = np.matmul(h[:, None, :], draw_kernels(initializer, width, width, num_nets, rng))[:, 0]
        squared = np.sum(h**2, axis=1)
        if layer >= burn_in:
            logs += np.log(squared)
        h /= np.sqrt(squared)[:, None]
    per_layer = logs / (depth - burn_in)
    return float(per_layer.mean()), float(per_layer.std(ddof=1) / math.sqrt(num_nets))


def first_layer_weight_variance(initializer, fan_in, width):
    """sigma_w2 = fan_in E[W^2] of the first layer (fan_in inputs, `width` units): its q is sigma_w2 |x|^2 / fan_in.

    glorot_uniform: 2 fan_in / (fan_in + width). orthogonal with fan_in < width: the rows are
    orthonormal, so |x W|^2 = |x|^2 is shared by `width` units: fan_in / width.
    """
    if initializer == "orthogonal":
        return min(1.0, fan_in / width)
    return glorot_weight_variance(fan_in, width)


def tanh_lengths(width, depths, inputs, num_nets, seed, initializer="glorot_uniform"):
    """Measured against predicted pre-activation variance q^L of zero-bias tanh nets at the critical point, by depth.

    Args:
        width: units per hidden layer (the first layer has fan_in = inputs' features).
        depths: the depths to report.
        inputs: `(rows, features)`.
        num_nets: nets drawn.
        seed: seeds the weights.
        initializer: `glorot_uniform` or `orthogonal` (both sigma_w2 = 1 on square layers).

    Returns:
        A list of dicts: `initializer`, `width`, `depth`; `mean_q`, `median_q`, `q_10` and `q_90`
        (percentiles) over nets and inputs of the mean squared pre-activation of layer L;
        `mean_field_q`, the length map iterated from the first layer's mean q (infinite width);
        `typical_q_linear`, the first layer's q times exp((L - 1) drift), with the drift of these
        weights (`linear_log_length_drift`, tanh taken as linear); `typical_q_linear_gaussian`,
        the same with Gaussian weights' drift (`finite_width_log_length_drift`).
    """
    kernels, _ = draw_tanh_net(max(depths), width, num_nets, np.random.default_rng(seed), initializer)
    sigma_w2 = first_layer_weight_variance(initializer, inputs.shape[1], width)
    q1 = sigma_w2 * float(np.mean(np.sum(inputs**2, axis=1))) / inputs.shape[1]
    mean_field = np.concatenate([[q1], length_map_iterates(1.0, 0.0, q1, max(depths) - 1)])
    drift, _ = linear_log_length_drift(initializer, width, num_nets, seed)
    gaussian_drift = finite_width_log_length_drift(width)
    h, rows = np.broadcast_to(np.asarray(inputs, dtype=np.float64), (num_nets, *inputs.shape)), []
    for depth, kernel in enumerate(kernels, 1):
        z = h @ kernel
        h = np.tanh(z)
        if depth in depths:
            q = np.mean(z**2, axis=-1)
            rows.append(
                {
                    "initializer": initializer,
                    "width": width,
                    "depth": depth,
                    "mean_q": float(q.mean()),
                    "median_q": float(np.median(q)),
                    "q_10": float(np.percentile(q, 10)),
                    "q_90": float(np.percentile(q, 90)),
                    "mean_field_q": float(mean_field[depth - 1]),
                    "typical_q_linear": q1 * math.exp((depth - 1) * drift),
                    "typical_q_linear_gaussian": q1 * math.exp((depth - 1) * gaussian_drift),
                }
            )
    return rows
