"""The finite-width control: orthogonal tanh nets and the tanh + Glorot width study, their theory and figures."""

import math

import numpy as np
import pytest
from scipy import special

import data
from gradient_lab.figures import many_seeds as many_seeds_figures
from gradient_lab.theory import mean_field
from gradient_lab.theory.weights import draw_kernels
from test_figures import errorbar_data, study_results

(X_TRAIN, _), _ = data.load_circles()


@pytest.mark.parametrize("fan_in, fan_out", [(5, 5), (2, 5), (5, 1)])
def test_orthogonal_kernels_keep_lengths_as_keras_orthogonal_does(fan_in, fan_out):
    import keras

    kernels = draw_kernels("orthogonal", fan_in, fan_out, 500, np.random.default_rng(0))
    keras_kernel = np.asarray(keras.initializers.Orthogonal(seed=1)((fan_in, fan_out)))
    for kernel in (kernels[0], keras_kernel):  # Orthonormal columns, or rows when fan_in < fan_out.
        gram = kernel.T @ kernel if fan_in >= fan_out else kernel @ kernel.T
        np.testing.assert_allclose(gram, np.eye(min(fan_in, fan_out)), atol=1e-6)
    # Haar-distributed: every entry has E[w^2] = 1 / max(fan_in, fan_out), and mean 0.
    assert np.mean(kernels**2) == pytest.approx(1 / max(fan_in, fan_out), rel=1e-9)
    assert abs(np.mean(kernels[:, 0, 0])) < 4 * math.sqrt(1 / max(fan_in, fan_out) / 500)


def test_linear_drift_is_the_gaussian_formula_zero_for_orthogonal_and_smaller_for_uniform():
    gaussian, se = mean_field.linear_log_length_drift("he_gaussian", 5, 3000, seed=1)
    # He-Gaussian's variance 2/n adds ln 2 to the variance-1/n drift psi(n/2) - ln(n/2).
    assert abs(gaussian - math.log(2) - (special.digamma(2.5) - math.log(2.5))) < 4 * se
    drift, _ = mean_field.linear_log_length_drift("orthogonal", 5, 200, seed=1)
    assert drift == pytest.approx(0.0, abs=1e-12)
    uniform, uniform_se = mean_field.linear_log_length_drift("glorot_uniform", 5, 3000, seed=1)
    assert uniform - mean_field.finite_width_log_length_drift(5) > 4 * math.hypot(se, uniform_se)
    # Independently: the log length of one long product of uniform Glorot matrices, per layer, without
    # renormalising or leaving layers out (the first layers' transient costs at most a few hundredths).
    rng = np.random.default_rng(7)
    limit = math.sqrt(6 / 10)
    h = rng.normal(size=(3000, 5))
    start = np.log(np.sum(h**2, axis=1))
    for _ in range(40):
        h = np.einsum("ni,nij->nj", h, rng.uniform(-limit, limit, (3000, 5, 5)))
    assert np.mean(np.log(np.sum(h**2, axis=1)) - start) / 40 == pytest.approx(uniform, abs=0.02)
    assert math.exp(uniform) == pytest.approx(0.84, abs=0.01)  # The 0.84 per layer the docs give.


def test_orthogonal_tanh_nets_do_not_drift_and_glorot_ones_do():
    orthogonal = mean_field.tanh_lengths(5, [1, 20], X_TRAIN[:100], 300, seed=0, initializer="orthogonal")
    # Rows orthonormal: |x W|^2 = |x|^2, so the first layer's q is |x|^2 / 5 for every net
    # (to float32's precision: the inputs are float32).
    assert orthogonal[0]["mean_q"] == pytest.approx(orthogonal[0]["mean_field_q"], rel=1e-6)
    deep = orthogonal[1]
    assert deep["median_q"] == pytest.approx(deep["mean_q"], rel=0.2)  # The typical net is the mean net.
    assert deep["median_q"] == pytest.approx(deep["mean_field_q"], rel=0.35)  # And near mean field's power law.
    glorot = mean_field.tanh_lengths(5, [20], X_TRAIN[:100], 300, seed=0)[0]
    assert glorot["median_q"] < deep["median_q"] / 4


def test_orthogonal_study_cells_start_from_orthogonal_kernels():
    import studies
    from gradient_lab.tf_speed import stacked

    config = studies.cell_config("tanh_orthogonal", 3, 0, epochs=1)
    train, validation = data.load_circles()
    model = stacked.stacked_mlp(config, [0, 1], train, validation)
    views = [view.numpy() for view in model.weight_views()]
    for kernel in views[2:6:2]:  # The square hidden kernels, both members.
        for member in kernel:
            np.testing.assert_allclose(member.T @ member, np.eye(5), atol=1e-5)
    assert np.all(views[1] == 0)  # Zero biases.


def test_tanh_width_study_draws_success_against_the_predicted_drift():
    accuracies = {("tanh_glorot", 15): [0.9, 0.5], ("tanh_glorot", 30): [0.5, 0.5]}
    results = study_results(accuracies, width=5) + study_results(accuracies, width=100)
    for result in results:
        result["config"]["initializer"] = "glorot_uniform"
    theory = {
        "linear_drift": [
            {"initializer": "glorot_uniform", "width": w, "drift": d} for w, d in [(5, -0.2), (100, -0.01)]
        ]
    }
    ax = many_seeds_figures.draw_study("tanh_width", results, theory).axes[2]
    (x5, y5, *_), (x100, y100, *_) = errorbar_data(ax)
    np.testing.assert_allclose(x5, [14 * 0.2, 29 * 0.2])
    np.testing.assert_allclose(x100, [14 * 0.01, 29 * 0.01])
    np.testing.assert_allclose(y5, [0.5, 0.0])
    assert "drift" in ax.get_xlabel()
    assert "beta" in many_seeds_figures.draw_study("tanh_width", results).axes[2].get_xlabel()  # No theory: beta.


def test_depth_study_note_gives_each_critical_tanh_lines_drift():
    accuracies = {("tanh_glorot", 1): [0.9, 0.9], ("tanh_glorot", 10): [0.9, 0.5]}
    accuracies.update({("tanh_orthogonal", 1): [0.9, 0.9], ("tanh_orthogonal", 10): [0.9, 0.9]})
    results = study_results(accuracies)
    for result in results:
        result["config"]["initializer"] = (
            "orthogonal" if result["config"]["model"] == "tanh_orthogonal" else "glorot_uniform"
        )
    theory = {
        "born_dead": [],
        "tanh_depth_scale": {"glorot": {"trainable_depth": None}},
        "linear_drift": [
            {"initializer": "glorot_uniform", "width": 5, "drift": math.log(0.84)},
            {"initializer": "orthogonal", "width": 5, "drift": 0.0},
        ],
    }
    (note,) = many_seeds_figures.draw_study("depth", results, theory).axes[2].texts
    assert "tanh_glorot: x0.84 at width 5" in note.get_text()
    assert "tanh_orthogonal: x1.00 at width 5" in note.get_text()
