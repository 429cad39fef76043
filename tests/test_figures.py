"""Figure contracts: every figure draws the data it should show, read back from the Figure's artists."""

from types import SimpleNamespace

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgba

from gradient_lab.figures import training as training_figures
from gradient_lab.figures import many_seeds as many_seeds_figures


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def make_result(model="deep_tanh", depth=3, epochs=5, seed=0, accuracy=0.9, width=5, optimizer="sgd"):
    """A hand-made result dict with the keys the figures read; every curve is distinct."""
    rng = np.random.default_rng([seed, depth, epochs, len(model), width])
    keys = [f"{i:02d}_hidden_{i}" for i in range(1, depth + 1)] + [f"{depth + 1:02d}_output"]
    history = {name: list(rng.uniform(0.3, 1.0, epochs)) for name in ("accuracy", "val_accuracy", "loss", "val_loss")}
    for position, key in enumerate(keys):
        scale = 10.0 ** (position - depth)  # Vanishing: smaller towards the input.
        history[f"grad_norm/{key}/mean"] = list(scale * rng.uniform(0.5, 1.5, epochs))
        history[f"grad_norm/{key}/max"] = list(3 * scale * rng.uniform(0.5, 1.5, epochs))
        history[f"weight_change_l1/{key}"] = list(scale * rng.uniform(0.5, 1.5, epochs))
    init = {"layer_keys": keys}
    for name in ("jacobian_product", "backward_signal", "gradient_norm"):
        init[name] = list(10.0 ** (np.arange(len(keys)) - depth) * rng.uniform(0.5, 1.5, len(keys)))
    config = {
        "model": model,
        "num_hidden_layers": depth,
        "width": width,
        "activation": "tanh",
        "initializer": "uniform_0_1",
        "optimizer": optimizer,
    }
    return {
        "run_name": f"{model}-seed{seed}",
        "status": "completed",
        "config": config,
        "seed": seed,
        "layer_keys": keys,
        "history": history,
        "test_accuracy": accuracy,
        "init_diagnostics": init,
    }


def line_data(ax):
    """Returns the (x, y) arrays of every Line2D of an axis, in drawing order."""
    return [(np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)) for line in ax.get_lines()]


def legend_labels(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def scatter_offsets(ax):
    """Returns the points of every scatter of an axis, in drawing order."""
    return [np.asarray(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection)]


def tick_labels(ax, axis="x"):
    return [label.get_text() for label in getattr(ax, f"get_{axis}ticklabels")()]


def assert_labelled(ax):
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def epochs_of(values):
    return np.arange(1, len(values) + 1)


def test_circles_show_each_split_by_class():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (60, 2))
    y = (np.hypot(*x.T) < 0.6).astype(float)
    figure = training_figures.draw_circles(x[:40], y[:40], x[40:], y[40:], noise=0.3)
    train_ax, test_ax = figure.axes
    for ax, points, labels in [(train_ax, x[:40], y[:40]), (test_ax, x[40:], y[40:])]:
        outer, inner = scatter_offsets(ax)
        np.testing.assert_array_equal(outer, points[labels == 0])
        np.testing.assert_array_equal(inner, points[labels == 1])
        assert ax.get_title().endswith(f"{len(points)} points") and ax.get_xlabel()
    assert train_ax.get_ylabel() and legend_labels(train_ax) == ["outer circle (0)", "inner circle (1)"]
    assert "noise=0.3" in figure.get_suptitle()


def test_learning_curves_show_the_history():
    result = make_result()
    history = result["history"]
    accuracy_ax, loss_ax = training_figures.draw_learning_curves(result).axes
    for ax, keys in [(accuracy_ax, ("accuracy", "val_accuracy")), (loss_ax, ("loss", "val_loss"))]:
        assert len(ax.get_lines()) == 2 and legend_labels(ax) == ["train", "test"]
        for (x, y), key in zip(line_data(ax), keys):
            np.testing.assert_array_equal(x, epochs_of(history[key]))
            np.testing.assert_array_equal(y, history[key])
        assert_labelled(ax)


def test_gradient_norms_one_line_per_layer_in_layer_order():
    result = make_result(depth=4)
    (ax,) = training_figures.draw_gradient_norms(result).axes
    assert legend_labels(ax) == result["layer_keys"]
    assert len(ax.get_lines()) == len(result["layer_keys"])
    for (x, y), key in zip(line_data(ax), result["layer_keys"]):
        np.testing.assert_array_equal(x, epochs_of(y))
        np.testing.assert_array_equal(y, result["history"][f"grad_norm/{key}/mean"])
    assert ax.get_yscale() == "log"
    assert_labelled(ax)


def test_comparison_one_column_per_model_in_model_order():
    results = {name: make_result(name, depth) for name, depth in [("deep_relu", 5), ("shallow_tanh", 1)]}
    results["deep_tanh"] = make_result("deep_tanh", 5)
    figure = training_figures.draw_comparison(results)
    axes = np.array(figure.axes).reshape(2, 3)
    for column, name in enumerate(["shallow_tanh", "deep_tanh", "deep_relu"]):
        result = results[name]
        norms_ax, accuracy_ax = axes[:, column]
        assert norms_ax.get_title().startswith(f"{name}:") and norms_ax.get_yscale() == "log"
        assert legend_labels(norms_ax) == result["layer_keys"]
        for (_, y), key in zip(line_data(norms_ax), result["layer_keys"]):
            np.testing.assert_array_equal(y, result["history"][f"grad_norm/{key}/mean"])
        (x, accuracy), (_, chance) = line_data(accuracy_ax)
        np.testing.assert_array_equal(accuracy, result["history"]["val_accuracy"])
        np.testing.assert_array_equal(x, epochs_of(accuracy))
        assert set(chance) == {0.5}
        assert accuracy_ax.get_title() and accuracy_ax.get_xlabel()
    assert axes[0, 0].get_ylabel() and axes[1, 0].get_ylabel()


def test_comparison_puts_other_models_after_the_three():
    results = {"wide": make_result("wide", 2), "deep_tanh": make_result("deep_tanh", 5)}
    titles = [ax.get_title() for ax in training_figures.draw_comparison(results).axes[:2]]
    assert [title.split(":")[0] for title in titles] == ["deep_tanh", "wide"]


def member(seed, history, test_accuracy=None):
    """One entry of a result's "seeds"; `test_accuracy` None for a member whose loss became NaN."""
    entry = {"seed": seed, "status": "nan_loss", "epochs_completed": len(history["loss"]), "history": history}
    if test_accuracy is not None:
        entry.update(status="completed", test_accuracy=test_accuracy, train_accuracy=test_accuracy)
    return entry


def with_seeds(result, accuracies=(0.74, 0.75)):
    """`result` (4 epochs) with "seeds": seed 0, seed 1 completed, seed 2 with a NaN loss at epoch 2 of 4."""
    model, depth = result["config"]["model"], result["config"]["num_hidden_layers"]
    # The stacked members match the single run to about 1e-5, not bit for bit: seed 0's own line is the run's.
    own = {key: list(np.float32(values).astype(float)) for key, values in result["history"].items()}
    completed = make_result(model, depth, epochs=4, seed=1)["history"]
    diverged = {key: values[:2] for key, values in make_result(model, depth, epochs=4, seed=2)["history"].items()}
    diverged["loss"][1] = diverged["val_loss"][1] = float("nan")
    first, second = (f"grad_norm/{key}/mean" for key in result["layer_keys"][:2])
    diverged[first][1], diverged[second][1] = float("nan"), float("inf")  # No place on a log scale: left out.
    completed[first][2] = 0.0
    seeds = [member(0, own, accuracies[0]), member(1, completed, accuracies[1])]
    return dict(result, test_accuracy=accuracies[0], seeds=seeds + [member(2, diverged)])


def percentiles_over_seeds(members, key):
    """Per epoch, the 10th and 90th percentile of the positive finite `history[key]` of the members that have it."""
    bounds = []
    for epoch in range(max(len(m["history"][key]) for m in members)):
        values = [m["history"][key][epoch] for m in members if epoch < len(m["history"][key])]
        bounds.append(np.percentile([v for v in values if np.isfinite(v) and v > 0], [10, 90]))
    return np.array(bounds)


def assert_bands_span_the_seeds(ax, result):
    """Every layer's line lies on a band, in its colour and below it, from the 10th to the 90th percentile."""
    lines, bands = ax.get_lines(), ax.collections
    assert len(lines) == len(bands) == len(result["layer_keys"])
    for line, band, key in zip(lines, bands, result["layer_keys"]):
        np.testing.assert_array_equal(line.get_ydata(), result["history"][f"grad_norm/{key}/mean"])
        assert band.get_zorder() < line.get_zorder()
        np.testing.assert_array_equal(band.get_facecolor()[0][:3], to_rgba(line.get_color())[:3])
        vertices = np.concatenate([path.vertices for path in band.get_paths()])
        expected = percentiles_over_seeds(result["seeds"], f"grad_norm/{key}/mean")
        assert set(vertices[:, 0]) == set(epochs_of(expected))
        for epoch, (low, high) in zip(epochs_of(expected), expected):
            at_epoch = vertices[vertices[:, 0] == epoch, 1]
            np.testing.assert_allclose([at_epoch.min(), at_epoch.max()], [low, high], rtol=1e-12)


def split_faint(ax):
    """Returns an axis's own lines (not chance) and its faint ones (the other seeds'), each in drawing order."""
    lines = [line for line in ax.get_lines() if line.get_label() != "chance"]
    faint = [line for line in lines if line.get_label() == "_nolegend_"]
    return [line for line in lines if line not in faint], faint


def test_learning_curves_show_the_other_seeds_faint_behind_seed_0():
    result = with_seeds(make_result(epochs=4))
    others = result["seeds"][1:]
    accuracy_ax, loss_ax = training_figures.draw_learning_curves(result).axes
    for ax, keys in [(accuracy_ax, ("accuracy", "val_accuracy")), (loss_ax, ("loss", "val_loss"))]:
        own, faint = split_faint(ax)
        assert len(own) == 2 and len(faint) == len(others) * len(keys)
        assert legend_labels(ax) == ["train", "test", "other seeds (n = 2)"]
        for line, key in zip(own, keys):
            np.testing.assert_array_equal(line.get_ydata(), result["history"][key])  # The run's, not the member's.
            same_kind = [li for li in faint if to_rgba(li.get_color()) == to_rgba(line.get_color())]
            assert len(same_kind) == len(others)
            for faint_line, other in zip(same_kind, others):
                np.testing.assert_array_equal(faint_line.get_xdata(), epochs_of(other["history"][key]))
                np.testing.assert_array_equal(faint_line.get_ydata(), other["history"][key])
                assert faint_line.get_zorder() < line.get_zorder() and faint_line.get_alpha() < 0.5
                assert faint_line.get_linewidth() < line.get_linewidth()


def test_gradient_norms_show_the_band_of_the_seeds():
    result = with_seeds(make_result(depth=3, epochs=4))
    (ax,) = training_figures.draw_gradient_norms(result).axes
    assert legend_labels(ax) == result["layer_keys"] + ["10-90% of 3 seeds"]
    assert_bands_span_the_seeds(ax, result)
    assert ax.get_yscale() == "log"


def test_comparison_shows_the_seeds_and_counts_those_that_learned():
    results = {"deep_tanh": with_seeds(make_result("deep_tanh", 3, epochs=4)), "deep_relu": make_result("deep_relu", 2)}
    figure = training_figures.draw_comparison(results)
    (tanh_norms, relu_norms), (tanh_accuracy, relu_accuracy) = np.array(figure.axes).reshape(2, 2)
    result = results["deep_tanh"]
    assert_bands_span_the_seeds(tanh_norms, result)
    assert legend_labels(tanh_norms)[-1] == "10-90% of 3 seeds"
    final = result["history"]["val_accuracy"][-1]
    # 0.74 (seed 0) did not learn, 0.75 did, a NaN loss did not.
    assert tanh_accuracy.get_title() == f"test accuracy, seed 0 final {final:.3f}\n1/3 seeds >= 0.75"
    (own,), faint = split_faint(tanh_accuracy)
    np.testing.assert_array_equal(own.get_ydata(), result["history"]["val_accuracy"])
    assert [list(line.get_ydata()) for line in faint] == [m["history"]["val_accuracy"] for m in result["seeds"][1:]]
    assert all(line.get_zorder() < own.get_zorder() for line in faint)
    assert legend_labels(tanh_accuracy) == ["chance", "other seeds (n = 2)"]
    relu_final = results["deep_relu"]["history"]["val_accuracy"][-1]
    assert not relu_norms.collections and len(relu_accuracy.get_lines()) == 2  # Without seeds: as before.
    assert relu_accuracy.get_title() == f"test accuracy, final {relu_final:.3f}"


def drawn(figure):
    """What a figure shows, axis by axis: title, legend, lines' data and how many collections (bands)."""
    return [
        (ax.get_title(), legend_labels(ax), [y.tolist() for _, y in line_data(ax)], len(ax.collections))
        for ax in figure.axes
    ]


@pytest.mark.parametrize("seeds", ["absent", "empty", "only seed 0"])
def test_without_other_seeds_the_figures_are_as_before(seeds):
    plain = make_result(depth=3, epochs=4)
    result = {"absent": plain, "empty": dict(plain, seeds=[]), "only seed 0": with_seeds(plain)}[seeds]
    if seeds == "only seed 0":
        result["seeds"] = result["seeds"][:1]
    layers = len(plain["layer_keys"])
    for draw, lines in [
        (training_figures.draw_learning_curves, [2, 2]),
        (training_figures.draw_gradient_norms, [layers]),
        (lambda r: training_figures.draw_comparison({"deep_tanh": r}), [layers, 2]),
    ]:
        shown = drawn(draw(result))
        assert [len(axis_lines) for _, _, axis_lines, _ in shown] == lines
        assert all(collections == 0 for *_, collections in shown)
        assert shown == drawn(draw(plain))


def test_heatmap_rows_are_layers_input_at_the_bottom():
    result = make_result(depth=3, epochs=4)
    first = result["layer_keys"][0]
    result["history"][f"grad_norm/{first}/mean"][2] = 0.0  # No place on a log scale: left blank.
    ax = training_figures.draw_gradient_heatmap(result).axes[0]
    image = ax.images[0]
    expected = np.array([result["history"][f"grad_norm/{key}/mean"] for key in result["layer_keys"]])
    expected[0, 2] = np.nan
    np.testing.assert_array_equal(np.ma.filled(image.get_array().astype(float), np.nan), expected)
    assert image.origin == "lower"  # Row 0, the input side, at the bottom.
    assert image.get_extent() == [0.5, 4.5, -0.5, 3.5]  # Epochs 1 to 4 centred on their cells.
    assert tick_labels(ax, "y") == result["layer_keys"]
    assert_labelled(ax)


def test_heatmap_without_a_positive_norm_is_not_drawn(tmp_path):
    result = make_result()
    for key in result["layer_keys"]:
        result["history"][f"grad_norm/{key}/mean"] = [float("nan")] * 5
    assert training_figures.draw_gradient_heatmap(result) is None
    assert training_figures.save_gradient_heatmap(result, tmp_path / "heatmap.png") is None
    assert not (tmp_path / "heatmap.png").exists()


def snapshots_with_boundaries(boundary_by_epoch):
    """Snapshots whose probability rises linearly in x1 and crosses 0.5 at x1 = boundary_by_epoch[epoch]."""
    axis = np.linspace(-1.2, 1.2, 25)
    grid_x, grid_y = np.meshgrid(axis, axis)
    snapshots = {epoch: np.clip(0.5 + (grid_x - at) / 4, 0, 1) for epoch, at in boundary_by_epoch.items()}
    return SimpleNamespace(grid_x=grid_x, grid_y=grid_y, snapshots=snapshots)


def test_decision_boundary_panels_match_the_snapshots():
    boundaries = {100: 0.5, 1: -0.6, 10: 0.1}  # Not in epoch order: the panels are.
    snapshots = snapshots_with_boundaries(boundaries)
    rng = np.random.default_rng(0)
    x_test = rng.uniform(-1, 1, (30, 2))
    y_test = (x_test[:, 0] > 0).astype(float)
    figure = training_figures.draw_decision_boundaries(snapshots, x_test, y_test, make_result())
    panels = figure.axes[:3]  # The colour bar comes last.
    assert len(figure.axes) == 4
    for ax, epoch in zip(panels, [1, 10, 100]):
        assert ax.get_title() == f"epoch {epoch}"
        filled, boundary = ax.collections[:2]
        np.testing.assert_array_equal(filled.levels, np.linspace(0, 1, 11))
        assert (filled.zmin, filled.zmax) == (snapshots.snapshots[epoch].min(), snapshots.snapshots[epoch].max())
        assert list(boundary.levels) == [0.5]
        np.testing.assert_allclose(boundary.get_paths()[0].vertices[:, 0], boundaries[epoch], atol=1e-9)
        outer, inner = scatter_offsets(ax)
        np.testing.assert_array_equal(outer, x_test[y_test == 0])
        np.testing.assert_array_equal(inner, x_test[y_test == 1])
    assert figure.axes[3].get_ylabel() == "P(inner circle)"


def test_decision_boundaries_without_snapshots_are_not_drawn(tmp_path):
    empty = SimpleNamespace(snapshots={})
    assert (
        training_figures.save_decision_boundaries(
            empty, np.zeros((2, 2)), np.zeros(2), make_result(), tmp_path / "b.png"
        )
        is None
    )


def test_backward_signal_is_relative_to_the_output_layer():
    result = make_result(depth=4)
    init = result["init_diagnostics"]
    (ax,) = training_figures.draw_backward_signal(result).axes
    lines = line_data(ax)
    assert len(lines) == 3
    for (x, y), name in zip(lines, ("jacobian_product", "backward_signal", "gradient_norm")):
        np.testing.assert_array_equal(x, np.arange(len(init["layer_keys"])))
        np.testing.assert_allclose(y, np.array(init[name]) / init[name][-1], rtol=1e-15)
        assert y[-1] == 1.0
    assert tick_labels(ax) == init["layer_keys"]
    assert ax.get_yscale() == "log" and len(legend_labels(ax)) == 3
    assert_labelled(ax)


def test_multiseed_strip_has_one_point_per_seed():
    accuracies = {"deep_relu": [0.95, 0.9, 0.97], "shallow_tanh": [0.99, 0.98, 0.96], "deep_tanh": [0.5, 0.52, 0.8]}
    depths = {"shallow_tanh": 1, "deep_tanh": 5, "deep_relu": 5}
    results = [
        make_result(name, depths[name], seed=seed, accuracy=accuracy)
        for name, values in accuracies.items()
        for seed, accuracy in enumerate(values)
    ]
    results.append(dict(make_result("deep_tanh", 5, seed=9, accuracy=0.1), status="failed"))  # Not drawn.
    figure = many_seeds_figures.draw_multiseed(results)
    strip, *bands = figure.axes
    names = ["shallow_tanh", "deep_tanh", "deep_relu"]
    assert len(scatter_offsets(strip)) == len(bands) == 3
    assert tick_labels(strip) == [name.replace("_", "\n") for name in names]
    for index, (points, name) in enumerate(zip(scatter_offsets(strip), names)):
        np.testing.assert_array_equal(points[:, 1], accuracies[name])
        assert np.all(np.abs(points[:, 0] - index) <= 0.15)
    assert strip.get_ylabel() and strip.get_title()
    for ax, name in zip(bands, names):
        members = [result for result in results if result["config"]["model"] == name and result["status"] != "failed"]
        keys = members[0]["layer_keys"]
        assert ax.get_title().startswith(f"{name}:") and ax.get_yscale() == "log"
        assert legend_labels(ax) == keys
        for (_, y), key in zip(line_data(ax), keys):
            median = np.median([result["history"][f"grad_norm/{key}/mean"] for result in members], axis=0)
            np.testing.assert_allclose(y, median, rtol=1e-12)
    assert bands[0].get_ylabel()


def study_results(accuracies, **overrides):
    """Result dicts of a study: (configuration, depth) -> the test accuracy of each seed."""
    return [
        make_result(configuration, depth, seed=seed, accuracy=accuracy, **overrides)
        for (configuration, depth), values in accuracies.items()
        for seed, accuracy in enumerate(values)
    ]


def first_layer_median(results, configuration, depth, epoch):
    """The median over a cell's completed runs of the first hidden layer's gradient norm at one epoch."""
    members = [
        result
        for result in results
        if result["status"] == "completed"
        and (result["config"]["model"], result["config"]["num_hidden_layers"]) == (configuration, depth)
    ]
    return np.median([result["history"][f"grad_norm/{result['layer_keys'][0]}/mean"][epoch] for result in members])


def test_study_trainability_map_shows_the_success_rates():
    accuracies = {
        ("tanh_uniform01", 1): [0.9, 0.8],
        ("tanh_uniform01", 3): [0.9, 0.5],
        ("tanh_uniform01", 5): [0.5, 0.6],
        ("relu_he", 1): [0.9, 0.75],
        ("relu_he", 3): [0.74, 0.9],
    }  # relu_he at depth 5 did not run.
    results = study_results(accuracies)
    results.append(dict(make_result("relu_he", 5, accuracy=0.9), status="failed"))  # Not a cell.
    left, right, _beside_theory, _colour_bar = many_seeds_figures.draw_study("depth", results).axes
    expected = np.array([[1.0, 0.5, 0.0], [1.0, 0.5, np.nan]])  # 0.75 is a success, 0.74 is not.
    np.testing.assert_array_equal(left.images[0].get_array(), expected)
    assert tick_labels(left) == ["1", "3", "5"] and tick_labels(left, "y") == ["tanh_uniform01", "relu_he"]
    assert [text.get_text() for text in left.texts] == ["100%", "50%", "0%", "100%", "50%"]
    assert left.get_title() and left.get_xlabel()
    assert left.images[0].get_clim() == (0, 1) and left.images[0].colorbar is not None
    # Right: the first layer's gradient norm against depth, median over seeds, at epoch 1 and at the end.
    expected = [
        (line, present, epoch)
        for line, present in [("tanh_uniform01", [1, 3, 5]), ("relu_he", [1, 3])]
        for epoch in (0, -1)
    ]
    lines = line_data(right)
    assert len(lines) == len(expected) and right.get_yscale() == "log"
    for (x, y), (configuration, present, epoch) in zip(lines, expected):
        np.testing.assert_array_equal(x, present)
        medians = [first_layer_median(results, configuration, depth, epoch) for depth in present]
        np.testing.assert_allclose(y, medians, rtol=1e-12)
    assert_labelled(right)


def errorbar_data(ax):
    """Each errorbar's (x, y, lower error, upper error), in drawing order."""
    bars = []
    for container in ax.containers:
        line, _caps, (segments,) = container.lines[0], container.lines[1], container.lines[2]
        x, y = line.get_data()
        ends = np.array([path[:, 1] for path in segments.get_segments()])
        x, y = np.asarray(x, float), np.asarray(y, float)
        bars.append((x, y, y - ends[:, 0], ends[:, 1] - y))
    return bars


def wilson_interval(successes, runs, z=1.959963984540054):
    """The 95% Wilson score interval, written out (Wilson 1927)."""
    p = successes / runs
    centre, half = p + z**2 / (2 * runs), z * (p * (1 - p) / runs + z**2 / (4 * runs**2)) ** 0.5
    return (centre - half) / (1 + z**2 / runs), (centre + half) / (1 + z**2 / runs)


def test_depth_study_draws_the_success_rates_beside_the_theory():
    accuracies = {("relu_he", 1): [0.9, 0.8, 0.85, 0.9], ("relu_he", 10): [0.5, 0.9, 0.5, 0.5]}
    accuracies.update({("tanh_glorot", 1): [0.9] * 4, ("tanh_glorot", 10): [0.9, 0.9, 0.5, 0.5]})
    results = study_results(accuracies)
    for result in results:
        if result["config"]["model"] == "relu_he":
            result["config"].update(activation="relu", initializer="he_uniform")
            result["born_dead"] = result["config"]["num_hidden_layers"] == 10 and result["seed"] < 2
        else:
            result["config"].update(initializer="glorot_uniform")
    theory = {
        "born_dead": [{"width": 5, "depth": depth, "p": p, "se": 0.01} for depth, p in [(10, 0.3), (1, 0.0), (20, 0.5)]]
        + [{"width": 25, "depth": 10, "p": 0.9, "se": 0.01}],  # Another width: not drawn.
        "tanh_depth_scale": {"glorot": {"trainable_depth": None}},
    }
    ax = many_seeds_figures.draw_study("depth", results, theory).axes[2]
    (relu_x, relu_y, relu_low, relu_high), (tanh_x, tanh_y, tanh_low, tanh_high) = errorbar_data(ax)
    np.testing.assert_array_equal(relu_x, [1, 10])
    np.testing.assert_allclose(relu_y, [1.0, 0.25])
    low, high = wilson_interval(1, 4)  # 1 of 4 seeds learned at depth 10: 0.046 to 0.699.
    np.testing.assert_allclose([relu_low[1], relu_high[1]], [0.25 - low, high - 0.25])
    np.testing.assert_allclose(tanh_y, [1.0, 0.5])
    low, high = wilson_interval(2, 4)  # 0.150 to 0.850.
    np.testing.assert_allclose([tanh_low[1], tanh_high[1]], [0.5 - low, high - 0.5])
    np.testing.assert_allclose([relu_low[0], relu_high[0]], [1 - wilson_interval(4, 4)[0], 0], atol=1e-12)
    by_label = {line.get_label(): line for line in ax.get_lines()}
    theory_line = by_label["1 - P(born dead), Monte Carlo at init"]
    np.testing.assert_array_equal(theory_line.get_xdata(), [1, 10, 20])  # Sorted by depth, width 5 only.
    np.testing.assert_allclose(theory_line.get_ydata(), [1.0, 0.7, 0.5])
    seeds_line = by_label["1 - born-dead fraction of these seeds"]
    np.testing.assert_allclose(seeds_line.get_ydata(), [1.0, 0.5])  # Two of four seeds born dead at depth 10.
    assert any("no depth limit predicted" in text.get_text() for text in ax.texts)
    theory["tanh_depth_scale"]["glorot"]["trainable_depth"] = 12.5
    ax = many_seeds_figures.draw_study("depth", results, theory).axes[2]
    assert any(list(line.get_xdata()) == [12.5, 12.5] for line in ax.get_lines())
    labels = [line.get_label() for line in many_seeds_figures.draw_study("depth", results).axes[2].get_lines()]
    assert "1 - born-dead fraction of these seeds" in labels  # No theory: the seeds' own count only.
    assert "1 - P(born dead), Monte Carlo at init" not in labels


def test_width_study_draws_the_success_rates_against_beta():
    accuracies = {("relu_he", 5): [0.9, 0.5], ("relu_he", 10): [0.5, 0.5]}
    results = study_results(accuracies, width=5) + study_results(accuracies, width=25)
    ax = many_seeds_figures.draw_study("width", results).axes[2]
    (x5, y5, *_), (x25, y25, *_) = errorbar_data(ax)
    np.testing.assert_allclose(x5, [1.0, 2.0])
    np.testing.assert_allclose(x25, [0.2, 0.4])
    np.testing.assert_allclose(y5, [0.5, 0.0])
    np.testing.assert_allclose(y25, [0.5, 0.0])
    assert "beta" in ax.get_xlabel()


def test_study_with_one_depth_shows_every_seed_and_the_first_layer_band():
    accuracies = {("tanh_uniform01", 5): [0.5, 0.6, 0.9], ("relu_he", 5): [0.95, 0.9, 0.99]}
    results = study_results(accuracies, optimizer="sgd") + study_results(accuracies, optimizer="adam")
    left, right = many_seeds_figures.draw_study("optimizer", results).axes
    cells = [("tanh_uniform01", "sgd"), ("tanh_uniform01", "adam"), ("relu_he", "sgd"), ("relu_he", "adam")]
    assert len(scatter_offsets(left)) == len(cells)
    for points, (configuration, _) in zip(scatter_offsets(left), cells):
        np.testing.assert_array_equal(points[:, 1], accuracies[(configuration, 5)])
    labels = [f"{configuration} (width 5, {optimizer})" for configuration, optimizer in cells]
    assert tick_labels(left) == [f"{label}, depth 5" for label in labels]
    assert legend_labels(right) == labels and right.get_yscale() == "log"
    for (_, y), (configuration, optimizer) in zip(line_data(right), cells):
        members = [
            r for r in results if r["config"]["model"] == configuration and r["config"]["optimizer"] == optimizer
        ]
        median = np.median([r["history"][f"grad_norm/{r['layer_keys'][0]}/mean"] for r in members], axis=0)
        np.testing.assert_allclose(y, median, rtol=1e-12)
    assert left.get_ylabel() and left.get_title()
    assert_labelled(right)


def test_weight_study_shows_how_far_each_layer_moves():
    results = study_results({("tanh_uniform01", 2): [0.6, 0.5, 0.7], ("relu_he", 2): [0.9, 0.9, 0.9]})
    figure = many_seeds_figures.draw_study("weights", results)
    assert len(figure.axes) == 2
    for ax, configuration in zip(figure.axes, ["tanh_uniform01", "relu_he"]):
        members = [result for result in results if result["config"]["model"] == configuration]
        keys = members[0]["layer_keys"]
        assert ax.get_title().startswith(f"{configuration}, depth 2") and ax.get_yscale() == "log"
        assert legend_labels(ax) == keys
        for (_, y), key in zip(line_data(ax), keys):
            median = np.median([result["history"][f"weight_change_l1/{key}"] for result in members], axis=0)
            np.testing.assert_allclose(y, median, rtol=1e-12)
    assert figure.axes[0].get_ylabel()


@pytest.mark.parametrize(
    "save, draw, data",
    [
        (training_figures.save_learning_curves, training_figures.draw_learning_curves, [make_result()]),
        (training_figures.save_gradient_norms, training_figures.draw_gradient_norms, [make_result()]),
        (
            many_seeds_figures.save_multiseed,
            many_seeds_figures.draw_multiseed,
            [[make_result("deep_tanh", 5, seed=s) for s in range(3)]],
        ),
        (
            many_seeds_figures.save_study,
            many_seeds_figures.draw_study,
            ["weights", study_results({("relu_he", 2): [0.9, 0.8]})],
        ),
    ],
    ids=["learning_curves", "gradient_norms", "multiseed", "study"],
)
def test_save_writes_the_drawn_figure_and_returns_its_path(tmp_path, save, draw, data):
    path = tmp_path / "figures" / "figure.png"
    assert save(*data, path) == path
    assert not plt.get_fignums()  # Closed after writing.
    draw(*data).savefig(tmp_path / "drawn.png", dpi=110, bbox_inches="tight")  # The figure the tests above check.
    written = matplotlib.image.imread(path)
    np.testing.assert_array_equal(written, matplotlib.image.imread(tmp_path / "drawn.png"))
    assert written.shape[0] > 200 and written.shape[1] > 200  # Readable at README size, 110 dpi.


@pytest.fixture(scope="module")
def real_result(tmp_path_factory):
    from gradient_lab import experiment

    config = experiment.config_for("deep_tanh", epochs=3)
    return experiment.train_and_evaluate(config, tmp_path_factory.mktemp("run") / "logs", figure_dir=None)


def test_figures_of_a_real_run_show_its_history(real_result):
    history, keys = real_result["history"], real_result["layer_keys"]
    (norms_ax,) = training_figures.draw_gradient_norms(real_result).axes
    assert legend_labels(norms_ax) == keys
    for (_, y), key in zip(line_data(norms_ax), keys):
        np.testing.assert_array_equal(y, history[f"grad_norm/{key}/mean"])
    heatmap = training_figures.draw_gradient_heatmap(real_result).axes[0].images[0].get_array()
    np.testing.assert_array_equal(heatmap, [history[f"grad_norm/{key}/mean"] for key in keys])
    init = real_result["init_diagnostics"]
    (backward_ax,) = training_figures.draw_backward_signal(real_result).axes
    for (_, y), name in zip(line_data(backward_ax), ("jacobian_product", "backward_signal", "gradient_norm")):
        np.testing.assert_allclose(y, np.array(init[name]) / init[name][-1], rtol=1e-15)
    accuracy_ax, _ = training_figures.draw_learning_curves(real_result).axes
    np.testing.assert_array_equal(line_data(accuracy_ax)[1][1], history["val_accuracy"])
