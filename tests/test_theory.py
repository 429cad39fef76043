"""The theory module against independent computations, and smoke runs of `theory.py`.

References: closed forms (born dead at one input, the linear net's mean field, the exact
He-Gaussian log-length variance), large seeded Monte Carlo for the quadratures, finite
differences for the slopes chi_1, chi_c and xi_q, a Taylor series for the critical power law,
and TensorFlow's autodiff for the numpy backprop.
"""

import math
import re

import numpy as np
import pytest

import data
from conftest import assert_png_shows
from gradient_lab.theory import predictions
from gradient_lab.theory import born_dead
from gradient_lab.theory import lengths
from gradient_lab.theory import mean_field
from gradient_lab.figures import theory as theory_figures
from gradient_lab.theory import tables as theory_tables
from gradient_lab.theory import uniform

X_TRAIN = data.load_circles()[0][0]
Y_TRAIN = data.load_circles()[0][1]


# --- 1. Born dead ------------------------------------------------------------------------------


@pytest.mark.parametrize("width, depth", [(5, 20), (3, 10), (2, 5)])
def test_born_dead_at_one_input_matches_the_closed_form(width, depth):
    nets = 4000
    one_input = np.array([[0.0, 0.0], [0.6, -0.3]])  # Constant on {0, x} means all zero at x.
    p, se = born_dead.born_dead_probability(width, depth, one_input, nets, seed=width)
    expected = born_dead.born_dead_closed_form(width, depth)
    assert abs(p - expected) < 4 * math.sqrt(expected * (1 - expected) / nets)
    assert se == pytest.approx(math.sqrt(p * (1 - p) / nets))


def test_one_layer_on_inputs_around_the_origin_is_never_born_dead():
    # The training points surround the origin: every unit w.x is positive on some row and not on others.
    p, se = born_dead.born_dead_probability(1, 1, X_TRAIN, 2000, seed=0)
    assert (p, se) == (0.0, 0.0)


@pytest.mark.parametrize("width", [1, 2])
def test_one_layer_on_the_two_unit_vectors_is_dead_when_every_unit_has_both_weights_negative(width):
    # Rows e1, e2 give unit j the values relu(w_1j), relu(w_2j): equal only when both are <= 0.
    nets, expected = 8000, 0.25**width
    p, _ = born_dead.born_dead_probability(width, 1, np.eye(2), nets, seed=1)
    assert abs(p - expected) < 4 * math.sqrt(expected * (1 - expected) / nets)


def test_a_depths_estimate_does_not_depend_on_the_other_depths_asked_for():
    # Each layer has its own random stream, so the nets' first 10 layers are the same in both calls.
    alone = born_dead.born_dead_by_depth(5, [10], X_TRAIN, 2000, seed=2)[10]  # 2 chunks of nets.
    assert born_dead.born_dead_by_depth(5, [3, 10, 25], X_TRAIN, 2000, seed=2)[10] == alone
    row = theory_tables.born_dead_table([5], [10, 25], X_TRAIN, 2000, seed=2)[0]  # How the JSON's table draws them.
    assert (row["depth"], row["p"]) == (10, alone[0])


def test_born_dead_grows_with_depth_and_dies_out_with_width_on_the_training_inputs():
    by_depth = born_dead.born_dead_by_depth(5, [2, 10, 20], X_TRAIN, 400, seed=0)
    assert by_depth[2][0] < by_depth[10][0] < by_depth[20][0]
    assert born_dead.born_dead_by_depth(25, [20], X_TRAIN, 100, seed=0)[20][0] == 0.0  # Closed form: 1e-6.


# --- 2. Mean field ----------------------------------------------------------------------------


def test_quadratures_match_a_large_monte_carlo():
    rng = np.random.default_rng(0)
    z1, z2 = rng.standard_normal((2, 1_000_000))
    q, c = 0.7, 0.6
    u1, u2 = math.sqrt(q) * z1, math.sqrt(q) * (c * z1 + math.sqrt(1 - c * c) * z2)
    dphi = mean_field.ACTIVATIONS["tanh"][1]
    for quadrature, samples in [
        (mean_field.gaussian_expectation(lambda u: np.tanh(u) ** 2, q), np.tanh(u1) ** 2),
        (
            mean_field.gaussian_pair_expectation(lambda a, b: np.tanh(a) * np.tanh(b), q, c),
            np.tanh(u1) * np.tanh(u2),
        ),
        (mean_field.gaussian_pair_expectation(lambda a, b: dphi(a) * dphi(b), q, c), dphi(u1) * dphi(u2)),
    ]:
        assert abs(quadrature - samples.mean()) < 4 * samples.std() / math.sqrt(len(samples))


def test_the_edge_of_chaos_at_bias_variance_0_05():
    sigma_w2 = mean_field.critical_weight_variance(0.05)
    assert 1.70 < sigma_w2 < 1.82  # Computed here: 1.761 (the paper's figure was not checked).
    assert mean_field.chi_1(mean_field.length_fixed_point(sigma_w2, 0.05), sigma_w2) == pytest.approx(1, abs=1e-6)


def test_chi_c_at_c_1_is_chi_1():
    q = mean_field.length_fixed_point(1.5, 0.05)
    assert mean_field.chi_c(1.0, q, 1.5) == pytest.approx(mean_field.chi_1(q, 1.5), rel=1e-10)


def test_linear_net_has_the_closed_form_mean_field():
    scales = mean_field.mean_field_depth_scales(0.5, 0.1, "linear")
    assert scales["q_star"] == pytest.approx(0.1 / (1 - 0.5), rel=1e-9)  # q* = sigma_b2 / (1 - sigma_w2).
    assert scales["chi_1"] == pytest.approx(0.5) and scales["c_star"] == 1.0
    assert scales["xi_c"] == pytest.approx(-1 / math.log(0.5))


@pytest.mark.parametrize("sigma_w2", [1.5, 2.5])  # Ordered (c* = 1) and chaotic (c* < 1).
def test_chi_c_and_xi_q_are_the_slopes_of_the_maps_at_their_fixed_points(sigma_w2):
    scales, eps = mean_field.mean_field_depth_scales(sigma_w2, 0.05), 1e-5
    q, c = scales["q_star"], scales["c_star"]
    assert mean_field.correlation_map(c, q, sigma_w2, 0.05) == pytest.approx(c, abs=1e-9)
    below, above = (
        mean_field.correlation_map(c - eps, q, sigma_w2, 0.05),
        mean_field.correlation_map(min(c + eps, 1), q, sigma_w2, 0.05),
    )
    assert (above - below) / (min(c + eps, 1) - (c - eps)) == pytest.approx(scales["chi_c"], rel=1e-3)
    length_slope = (mean_field.length_map(q + eps, sigma_w2, 0.05) - mean_field.length_map(q - eps, sigma_w2, 0.05)) / (
        2 * eps
    )
    assert length_slope == pytest.approx(math.exp(-1 / scales["xi_q"]), rel=1e-5)
    assert (c < 1) == (sigma_w2 > mean_field.critical_weight_variance(0.05))


def test_glorot_zero_bias_sits_on_the_critical_point_with_no_depth_limit():
    assert mean_field.glorot_weight_variance(5, 5) == 1.0
    scales = mean_field.mean_field_depth_scales(mean_field.glorot_weight_variance(5, 5), 0.0)
    assert scales["q_star"] == 0 and scales["chi_1"] == pytest.approx(1, abs=1e-12)
    assert scales["xi_c"] is None and scales["trainable_depth"] is None


def test_at_the_critical_point_the_length_decays_as_one_over_2l():
    q = mean_field.length_map_iterates(1.0, 0.0, 0.2, 4000)
    assert 4000 * q[-1] == pytest.approx(0.5, abs=3e-3)
    # The next order, from the series below: 1/q^l = 2l - (5/6) ln l + const, so the approach is slow.
    assert (1 / q[3999] - 2 * 4000) - (1 / q[999] - 2 * 1000) == pytest.approx(-5 / 6 * math.log(4), abs=0.01)
    small = 0.01  # E[tanh(sqrt(q) z)^2] = q - 2 q^2 + (17/3) q^3 + O(q^4), from tanh's Taylor series.
    assert mean_field.length_map(small, 1.0, 0.0) == pytest.approx(small - 2 * small**2 + 17 / 3 * small**3, abs=1e-6)


def test_at_the_critical_point_the_backward_signal_falls_as_a_power_of_depth():
    shallow, deep = (
        mean_field.critical_backward_signal(0.2, 400),
        mean_field.critical_backward_signal(0.2, 800),
    )
    assert deep / shallow == pytest.approx(0.5, abs=0.02)  # ~1/depth; an exponential would square it.


def test_typical_length_drift_at_width_5_and_its_wide_limit():
    assert mean_field.finite_width_log_length_drift(5) == pytest.approx(-0.2131, abs=1e-4)
    assert mean_field.finite_width_log_length_drift(1000) == pytest.approx(-1 / 1000, rel=0.01)
    rows = mean_field.tanh_lengths(5, [20], X_TRAIN[:100], 300, seed=0)
    assert rows[0]["median_q"] < rows[0]["mean_field_q"] / 4  # The typical width-5 net is far below mean field.


# --- 3. Width against depth -------------------------------------------------------------------


def test_beta_is_the_sum_of_the_reciprocal_widths():
    assert lengths.beta([5, 5, 25]) == pytest.approx(0.2 + 0.2 + 0.04)
    assert lengths.wide_layer_log_length_variance([5] * 20) == pytest.approx(20.0)


def test_exact_gaussian_variance_matches_its_monte_carlo_and_tends_to_5_over_n():
    measured, se, alive = lengths.log_length_variance(5, 5, X_TRAIN, 20000, seed=3, initializer="he_gaussian")
    assert abs(measured - lengths.gaussian_log_length_variance([5] * 5)) < 4 * se
    assert alive == pytest.approx((1 - 2**-5) ** 5, abs=0.01)
    assert lengths.gaussian_log_length_variance([2000]) == pytest.approx(5 / 2000, rel=0.01)


def test_he_uniform_wide_nets_match_5_beta():
    measured, se, _ = lengths.log_length_variance(50, 10, X_TRAIN, 3000, seed=4)
    predicted = lengths.wide_layer_log_length_variance([50] * 10)  # 5 beta = 1.0.
    assert abs(measured - predicted) < 4 * se + 0.1 * predicted  # 1/n^2 terms: the 4th moment, ln vs delta method.


def test_variance_standard_error_is_the_delta_method_of_normal_samples():
    samples = np.random.default_rng(5).normal(0, 2, 100_000)
    variance, se = lengths.variance_with_standard_error(samples)
    assert variance == pytest.approx(4, rel=0.02) and se == pytest.approx(4 * math.sqrt(2 / len(samples)), rel=0.05)


# --- 4. U(0, 1) attenuation -------------------------------------------------------------------


def test_numpy_backprop_matches_tensorflow_autodiff():
    from gradient_lab.tf_speed import runtime

    runtime.start_tensorflow()
    import keras
    import tensorflow as tf

    from gradient_lab import models

    model = models.build_mlp(4, 5, "tanh", "uniform_0_1", "uniform_0_1", seed=3)
    with tf.GradientTape() as tape:
        loss = keras.losses.binary_crossentropy(Y_TRAIN[:, None], model(X_TRAIN))
        loss = tf.reduce_mean(loss)
    kernels = [layer.kernel for layer in model.layers]
    expected = [float(tf.norm(gradient)) for gradient in tape.gradient(loss, kernels[:-1])]
    stacked = [np.asarray(kernel, dtype=np.float64)[None] for kernel in kernels]
    norms = uniform.tanh_kernel_gradient_norms(stacked[:-1], stacked[-1], X_TRAIN, Y_TRAIN)
    np.testing.assert_allclose(norms[0], expected, rtol=2e-4)


def test_uniform_attenuation_is_the_geometric_mean_of_layer_ratios():
    row = uniform.uniform_attenuation(10, X_TRAIN, Y_TRAIN, 50, seed=0)
    norms = np.array(row["layer_grad_norms"])
    assert row["attenuation_per_layer"] == pytest.approx(np.exp(np.mean(np.log(norms[:-1] / norms[1:]))))
    assert row["attenuation_near_output"] < 0.5  # The saturated layers near the output cut the gradient.
    assert uniform.uniform_attenuation(1, X_TRAIN, Y_TRAIN, 5, seed=0)["attenuation_per_layer"] is None


# --- Reading the results back, the figure, and the command ------------------------------------


def test_readers_of_the_results():
    assert predictions.load_theory("no/such/predictions.json") is None
    rows = [{"width": 5, "depth": d, "p": d / 100, "se": 0.01} for d in (20, 1, 10)] + [
        {"width": 25, "depth": 3, "p": 0.0, "se": 0.0}
    ]
    depths, p, se = predictions.born_dead_curve({"born_dead": rows}, 5)
    assert depths.tolist() == [1, 10, 20] and p.tolist() == [0.01, 0.1, 0.2] and se.tolist() == [0.01] * 3
    assert predictions.tanh_trainable_depth({"tanh_depth_scale": {"glorot": {"trainable_depth": None}}}) is None


def test_log_length_figure_shows_measured_points_against_beta_and_the_theory():
    rows = theory_tables.log_length_table([5, 25], [1, 3], X_TRAIN, 300, seed=0)
    figure = theory_figures.draw_log_length_variance(rows)
    ax = figure.axes[0]
    assert ax.get_title() and "beta" in ax.get_xlabel() and "Var" in ax.get_ylabel()
    assert len(ax.containers) == 4  # Error bars: two widths, two weight distributions.
    assert "5 beta" in " ".join(text.get_text() for text in ax.get_legend().get_texts())


def test_born_dead_command_prints_the_probability(run_main):
    status, out, err = run_main("theory", "born-dead", "--width", 5, "--depth", 20, "--nets", 1000)
    assert status == 0, err
    p, se = map(float, re.search(r"^P\(born dead\) = (0\.\d{3}) ± (0\.\d{3})$", out, re.M).groups())
    assert se == pytest.approx(math.sqrt(p * (1 - p) / 1000), abs=6e-4)  # The binomial standard error.
    assert "closed form for one input, 1 - (1 - 2^-5)^20 = 0.470" in out


def printed_numbers(text):
    """`name = number` lines as {name: float}; `infinite ...` and words stay out."""
    return {
        name: float(value) for name, value in re.findall(r"^(.+?) = ([-+0-9.e]+)$", text, re.M) if value[-1].isdigit()
    }


def test_depth_scale_command_prints_every_quantity(run_main):
    status, out, err = run_main("theory", "depth-scale", "--weight-variance", 1.0, "--bias-variance", 0.05)
    assert status == 0, err
    numbers = printed_numbers(out)
    names = ["q*", "chi_1", "c*", "chi_c", "xi_q", "xi_c", "trainable depth ~ 6 xi_c"]
    assert list(numbers) == names and all(math.isfinite(value) and value > 0 for value in numbers.values())
    # Gauss-Hermite quadrature here: q* = sigma_w2 E[tanh(sqrt(q*) z)^2] + sigma_b2; chi_1 = sigma_w2 E[tanh'^2].
    z, weights = np.polynomial.hermite_e.hermegauss(101)
    weights = weights / weights.sum()
    q = numbers["q*"]
    assert q == pytest.approx(1.0 * np.sum(weights * np.tanh(math.sqrt(q) * z) ** 2) + 0.05, rel=1e-4)
    assert numbers["chi_1"] == pytest.approx(np.sum(weights * (1 - np.tanh(math.sqrt(q) * z) ** 2) ** 2), rel=1e-4)
    # Ordered phase (sigma_w2 = 1 is below the critical 1.76): c* = 1, so chi_c = chi_1 and xi_c = -1 / ln chi_c.
    assert numbers["c*"] == 1 and numbers["chi_c"] == numbers["chi_1"]
    assert numbers["xi_c"] == pytest.approx(-1 / math.log(numbers["chi_c"]), rel=1e-3)
    assert numbers["trainable depth ~ 6 xi_c"] == pytest.approx(6 * numbers["xi_c"], rel=1e-3)
    status, glorot, _ = run_main("theory", "depth-scale", "--init", "glorot")
    assert status == 0 and printed_numbers(glorot)["q*"] == 0 and printed_numbers(glorot)["chi_1"] == 1
    assert "xi_c = infinite" in glorot and "power law" in glorot


@pytest.mark.parametrize(
    "flags, message",
    [
        (["born-dead", "--width", "0"], "error: theory.py born-dead: argument --width: must be >= 1, got 0"),
        (["depth-scale", "--init", "uniform_0_1"], "error: U(0, 1) weights have mean 1/2: mean-field theory"),
        (["--bad"], "error: theory.py: unrecognized arguments: --bad"),
        (["--quick", "born-dead"], "error: --quick is for the full run; born-dead takes its own sizes"),
    ],
)
def test_bad_flags_exit_2_with_one_line(flags, message, run_main):
    status, _, err = run_main("theory", *flags)
    assert status == 2
    assert err.startswith(message) and len(err.strip().splitlines()) == 1, err


def test_full_run_writes_the_results_others_read_and_born_dead_prints_the_same_p(tmp_path, run_main):
    results = tmp_path / "results" / "predictions.json"
    # --quick: every Monte Carlo size a tenth of the full run's, the same code.
    args = ("--seed", 1, "--quick", "--results", results, "--figure-dir", tmp_path / "figures")
    status, _, err = run_main("theory", *args)
    assert status == 0, err
    theory_results = predictions.load_theory(results)
    sizes = ("born_dead_nets", "length_nets", "uniform_nets", "glorot_nets")
    assert [theory_results["config"][key] for key in ("seed", *sizes)] == [1, 400, 1000, 20, 40]
    nets = theory_results["config"]["born_dead_nets"]
    for row in theory_results["born_dead"]:  # Each row against its closed form and the binomial standard error.
        assert row["closed_form"] == pytest.approx(1 - (1 - 2.0 ** -row["width"]) ** row["depth"], rel=1e-12)
        assert row["se"] == pytest.approx(math.sqrt(row["p"] * (1 - row["p"]) / nets), abs=1e-12)
    depths, p, se = predictions.born_dead_curve(theory_results, 5)
    assert depths.tolist() == [1, 2, 3, 5, 7, 10, 15, 20, 25, 30] and np.all(np.diff(p[2:]) > 0) and np.all(se >= 0)
    assert {
        "weight_variance",
        "bias_variance",
        "q_star",
        "chi_1",
        "c_star",
        "chi_c",
        "xi_c",
        "trainable_depth",
        "note",
    } <= set(theory_results["tanh_depth_scale"]["glorot"])
    assert predictions.tanh_trainable_depth(theory_results) is None
    assert predictions.tanh_trainable_depth(theory_results, "example") == pytest.approx(94.7, abs=0.1)
    for row in theory_results["log_length_variance"]:  # beta = sum of 1/width over the layers; 5 beta.
        assert row["beta"] == pytest.approx(row["depth"] / row["width"]) and row["predicted"] == pytest.approx(
            5 * row["beta"]
        )
        assert {"measured", "se"} <= set(row)
    for row in theory_results["uniform_attenuation"]:
        assert {"depth", "first_layer_grad_norm", "last_layer_grad_norm", "attenuation_per_layer"} <= set(row)
        if row["depth"] > 1:  # The geometric mean of the layer ratios: (first / last)^(1 / (depth - 1)).
            ratio = row["first_layer_grad_norm"] / row["last_layer_grad_norm"]
            assert row["attenuation_per_layer"] == pytest.approx(ratio ** (1 / (row["depth"] - 1)), rel=1e-9)
    assert sorted(path.name for path in (tmp_path / "figures").iterdir()) == [
        "born_dead.png",
        "theory_log_length_variance.png",
        "theory_tanh_lengths.png",
    ]
    figure = tmp_path / "figures" / "born_dead.png"
    assert_png_shows(figure, tmp_path, theory_figures.save_born_dead, theory_results["born_dead"])
    # One number per question: the subcommand, same seed, prints the table's p for (5, 20).
    table_p = next(row["p"] for row in theory_results["born_dead"] if (row["width"], row["depth"]) == (5, 20))
    status, out, err = run_main("theory", "--seed", 1, "born-dead", "--width", 5, "--depth", 20, "--nets", nets)
    assert status == 0, err
    assert f"P(born dead) = {table_p:.3f} ± " in out
