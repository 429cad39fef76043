"""The tables `python theory.py` writes to results/theory.json, each row a formula beside its simulation.

The formulas and the simulations are in the `gradient_lab.theory` modules; this module only lays them out in
rows, with the notes a reader of the JSON needs. `gradient_lab.theory.predictions.load_theory` reads the file back.
"""

from scipy import stats

from gradient_lab.theory import born_dead
from gradient_lab.theory import lengths
from gradient_lab.theory import mean_field


def born_dead_table(widths, depths, inputs, num_nets, seed):
    """Rows `{width, depth, p, se, upper_95, closed_form, nets}` of P(born dead) on `inputs`, He-uniform ReLU nets.

    `upper_95` is the one-sided 95% Clopper-Pearson upper bound, which stays informative when
    no net died (p = 0, se = 0): 1 - 0.05^(1/N), about 3/N.
    """
    rows = []
    for width in widths:
        for depth, (p, se) in born_dead.born_dead_by_depth(width, depths, inputs, num_nets, seed).items():
            dead = round(p * num_nets)
            upper = 1.0 if dead == num_nets else float(stats.beta.ppf(0.95, dead + 1, num_nets - dead))
            closed = born_dead.born_dead_closed_form(width, depth)
            rows.append(
                {"width": width, "depth": depth, "p": float(p), "se": se, "upper_95": upper, "closed_form": closed}
                | {"nets": num_nets}
            )
    return rows


def log_length_table(widths, depths, inputs, num_nets, seed):
    """Rows of Var[ln |h_L|^2]: measured with he_uniform and he_gaussian weights against the theory.

    Keys: `width`, `depth`, `beta`; `measured`, `se` and `alive` (he_uniform, the project's);
    `predicted` (5 beta, the wide-layer limit); `measured_gaussian`, `se_gaussian` and
    `predicted_gaussian` (He-Gaussian weights, and the exact finite-width value for
    them); `nets`.
    """
    rows = []
    for width in widths:
        for depth in depths:
            measured, se, alive = lengths.log_length_variance(width, depth, inputs, num_nets, seed)
            gaussian, se_gaussian, _ = lengths.log_length_variance(
                width, depth, inputs, num_nets, seed + 1, "he_gaussian"
            )
            layers = [width] * depth
            rows.append(
                {
                    "width": width,
                    "depth": depth,
                    "beta": lengths.beta(layers),
                    "measured": measured,
                    "se": se,
                    "alive": alive,
                    "predicted": lengths.wide_layer_log_length_variance(layers),
                    "measured_gaussian": gaussian,
                    "se_gaussian": se_gaussian,
                    "predicted_gaussian": lengths.gaussian_log_length_variance(layers),
                    "nets": num_nets,
                }
            )
    return rows


GLOROT_NOTE = (
    "sigma_b2 = 0 and sigma_w2 = 1: the critical point, with q* = 0. Mean-field theory (infinite width) sets no "
    "exponential depth limit here (chi_1 = chi_c = 1, xi_c infinite): q^l falls as a power law, q^l ~ 1/(2l), and "
    "the backward signal as ~1/depth. At finite width the typical (median) net's q also falls exponentially: "
    "by 0.84 per layer at width 5 with the lab's uniform Glorot weights (linear_drift; 0.81 with Gaussian "
    "weights, exp(psi(5/2) - ln(5/2))), and not at all with orthogonal weights. The depth study's orthogonal "
    "control and the tanh_width study test what that drift explains (docs/theory.md)."
)


def linear_drift_table(widths, num_nets, seed):
    """Per width, the typical length's log drift per linear layer: glorot_uniform's, and orthogonal's at one width.

    Returns:
        A list of dicts: `initializer`, `width`, `drift` and `se` (`linear_log_length_drift`), and
        `gaussian_drift`, the Gaussian-weight formula at that width (`finite_width_log_length_drift`).
    """
    rows = []
    for initializer, sizes in (("glorot_uniform", widths), ("orthogonal", widths[:1])):  # Orthogonal's is 0.
        for width in sizes:
            drift, se = mean_field.linear_log_length_drift(initializer, width, num_nets, seed)
            gaussian = mean_field.finite_width_log_length_drift(width)
            rows.append(
                {"initializer": initializer, "width": width, "drift": drift, "se": se, "gaussian_drift": gaussian}
            )
    return rows


def tanh_depth_scale_summary(example_weight_variance, example_bias_variance, width):
    """The mean-field summaries of the project's Glorot init (zero biases, `width`-square layers) and an example.

    Returns:
        `{"glorot": {...}, "example": {...}, "critical_weight_variance": sigma_w2 at chi_1 = 1
        for the example's sigma_b2}`; each summary as `mean_field_depth_scales` plus `note`.
    """
    glorot = mean_field.mean_field_depth_scales(mean_field.glorot_weight_variance(width, width), 0.0)
    example = mean_field.mean_field_depth_scales(example_weight_variance, example_bias_variance)
    phase = "ordered (chi_1 < 1)" if example["chi_1"] < 1 else "chaotic (chi_1 > 1)"
    example["note"] = f"{phase}: correlations relax to c* over xi_c layers; nets train to about 6 xi_c layers."
    glorot["note"] = GLOROT_NOTE
    return {
        "glorot": glorot,
        "example": example,
        "critical_weight_variance": mean_field.critical_weight_variance(example_bias_variance),
    }
