"""Figures of one run and of the three models: the data, learning curves, per-layer gradient norms, comparisons.

Every figure comes in two parts: `draw_<figure>(...)` returns the matplotlib Figure, so that a test can read
what it shows, and `save_<figure>(..., path)` draws it, writes it as a PNG and returns the path. The figures of
many seeds and of the studies live in `many_seeds.py`.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from gradient_lab.figures.saving import save
from gradient_lab.thresholds import SUCCESS_ACCURACY

MODEL_ORDER = ("shallow_tanh", "deep_tanh", "deep_relu")  # Left to right in comparisons.
SEED_BAND_PERCENTILES = (10, 90)  # The band of the seeds' gradient norms behind seed 0's lines.
BEHIND_SEED_0 = 1.6  # A zorder above the grid (1.5) and below seed 0's lines (2).
FAINT_LINE = {"linewidth": 0.7, "alpha": 0.3, "zorder": BEHIND_SEED_0, "label": "_nolegend_"}
BAND_ALPHA = 0.2


def model_title(config):
    """Describes a run's model from its config, e.g. `deep_tanh: 5 x tanh, uniform_0_1`."""
    return (
        f"{config['model']}: {config['num_hidden_layers']} x {config['activation']}"
        f"({config['width']}), {config['initializer']}"
    )


def layer_colors(num_layers):
    """Returns one colour per layer, dark at the input side and light at the output side."""
    return plt.cm.viridis(np.linspace(0.0, 0.9, num_layers))


def other_seeds(result):
    """Returns the members of `result["seeds"]` other than the run's own seed; none without "seeds"."""
    return [member for member in result.get("seeds", []) if member["seed"] != result["seed"]]


def plot_other_seeds(ax, members, key, color):
    """Draws every member's `history[key]` per epoch as a thin faint line behind seed 0's, none in the legend."""
    for member in members:
        values = member["history"][key]
        ax.plot(np.arange(1, len(values) + 1), values, color=color, **FAINT_LINE)


def nan_padded(curves):
    """Returns the curves as the rows of one array, the shorter ones padded with NaN at the end."""
    padded = np.full((len(curves), max(len(curve) for curve in curves)), np.nan)
    for row, curve in zip(padded, curves):
        row[: len(curve)] = curve
    return padded


def seed_band(members, key):
    """Returns the `SEED_BAND_PERCENTILES` per epoch over the members with a positive finite `history[key]` then.

    An epoch that no member has a positive value for is NaN in both (a gap in the band).
    """
    curves = nan_padded([np.asarray(member["history"].get(key, []), dtype=float) for member in members])
    curves[~(np.isfinite(curves) & (curves > 0))] = np.nan  # NaN, Inf and 0 have no place on a log scale.
    band = np.full((2, curves.shape[1]), np.nan)
    present = ~np.isnan(curves).all(axis=0)
    band[:, present] = np.nanpercentile(curves[:, present], SEED_BAND_PERCENTILES, axis=0)
    return band


def plot_seed_band(ax, members, key, color):
    """Fills the band of `seed_band(members, key)` behind seed 0's lines, in `color`."""
    low, high = seed_band(members, key)
    epochs = np.arange(1, len(low) + 1)
    ax.fill_between(epochs, low, high, color=color, alpha=BAND_ALPHA, linewidth=0, zorder=BEHIND_SEED_0)


def seed_legend(ax, others=(), band_members=(), **legend_kwargs):
    """Draws the legend of `ax`, then an entry for the other seeds' faint lines and one for the seed band."""
    handles, labels = ax.get_legend_handles_labels()
    if others:
        handles.append(Line2D([], [], color="gray", linewidth=1, alpha=0.6))
        labels.append(f"other seeds (n = {len(others)})")
    if band_members:
        handles.append(Patch(color="gray", alpha=BAND_ALPHA * 2, linewidth=0))
        low, high = SEED_BAND_PERCENTILES
        labels.append(f"{low}-{high}% of {len(band_members)} seeds")
    ax.legend(handles, labels, **legend_kwargs)


def band_members(result):
    """Returns the members whose spread the gradient-norm figures show: all of them, or none without other seeds."""
    return result["seeds"] if other_seeds(result) else []


def draw_circles(x_train, y_train, x_test, y_test, noise=0.1):
    """Scatter plot of both splits, one colour per class.

    Args:
        x_train, y_train, x_test, y_test: the points, shape (n, 2), and their labels, 0 or 1.
        noise: the `make_circles` noise, for the title.

    Returns:
        The Figure: the train split on the left, the test split on the right.
    """
    figure, axes = plt.subplots(1, 2, figsize=(9, 4.2), sharex=True, sharey=True)
    for ax, x, y, split in [(axes[0], x_train, y_train, "train"), (axes[1], x_test, y_test, "test")]:
        for label, color, name in [(0, "tab:blue", "outer circle (0)"), (1, "tab:orange", "inner circle (1)")]:
            ax.scatter(*x[y == label].T, s=8, color=color, label=name)
        ax.set_title(f"{split}: {len(x)} points")
        ax.set_xlabel("x1 (scaled)")
        ax.set_aspect("equal")
    axes[0].set_ylabel("x2 (scaled)")
    axes[0].legend(loc="upper right", fontsize=8)
    figure.suptitle(f"make_circles(n_samples={len(x_train) + len(x_test)}, noise={noise}), scaled to [-1, 1]")
    return figure


def save_circles(x_train, y_train, x_test, y_test, path, noise=0.1):
    """Writes `draw_circles` to `path`; returns the path."""
    return save(draw_circles(x_train, y_train, x_test, y_test, noise), path)


def draw_learning_curves(result):
    """Train and test accuracy and loss per epoch of one run; with "seeds", the other seeds' faint behind.

    Args:
        result: a run's result dict (see `experiment.train_and_evaluate`).

    Returns:
        The Figure: accuracy on the left, loss on the right, train then test in each.
    """
    history = result["history"]
    others = other_seeds(result)
    epochs = np.arange(1, len(history["loss"]) + 1)
    figure, (accuracy_ax, loss_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, keys in [(accuracy_ax, ("accuracy", "val_accuracy")), (loss_ax, ("loss", "val_loss"))]:
        for key, label in zip(keys, ("train", "test")):
            (line,) = ax.plot(epochs, history[key], label=label)
            plot_other_seeds(ax, others, key, line.get_color())
    accuracy_ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0.3, 1.0), title="accuracy")
    loss_ax.set(xlabel="epoch", ylabel="binary cross-entropy", title="loss")
    for ax in (accuracy_ax, loss_ax):
        seed_legend(ax, others)
        ax.grid(alpha=0.3)
    figure.suptitle(f"{result['run_name']}: learning curves")
    return figure


def save_learning_curves(result, path):
    """Writes `draw_learning_curves` to `path`; returns the path."""
    return save(draw_learning_curves(result), path)


def plot_gradient_norms(ax, result, stat="mean"):
    """Draws one line per layer (input side first in the legend) of a run's gradient norms, each on its seed band."""
    keys = result["layer_keys"]
    history = result["history"]
    members = band_members(result)
    for key, color in zip(keys, layer_colors(len(keys))):
        values = history[f"grad_norm/{key}/{stat}"]
        ax.plot(np.arange(1, len(values) + 1), values, color=color, label=key)
        if members:
            plot_seed_band(ax, members, f"grad_norm/{key}/{stat}", color)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"gradient L2 norm ({stat} over the epoch's steps)")
    ax.grid(alpha=0.3, which="both")


def draw_gradient_norms(result):
    """Per-layer gradient norm per epoch of one run, log scale.

    Args:
        result: a run's result dict, with gradient logging on.

    Returns:
        The Figure: one line per layer, in `result["layer_keys"]` order, each on the band of its seeds' norms
        (`SEED_BAND_PERCENTILES`) when the result has "seeds".
    """
    figure, ax = plt.subplots(figsize=(7, 4.5))
    plot_gradient_norms(ax, result)
    seed_legend(ax, band_members=band_members(result), title="layer (input -> output)", fontsize=8)
    ax.set_title(f"{result['run_name']}: gradient norm per layer")
    return figure


def save_gradient_norms(result, path):
    """Writes `draw_gradient_norms` to `path`; returns the path."""
    return save(draw_gradient_norms(result), path)


def accuracy_title(result, success=SUCCESS_ACCURACY):
    """Returns e.g. `test accuracy, final 0.548`, and with other seeds how many of all the seeds reached `success`."""
    accuracy = result["history"]["val_accuracy"]
    members = result.get("seeds", [])
    if not other_seeds(result):
        return f"test accuracy, final {accuracy[-1]:.3f}"
    learned = sum(member.get("test_accuracy", 0.0) >= success for member in members)  # A NaN loss did not learn.
    return f"test accuracy, seed {result['seed']} final {accuracy[-1]:.3f}\n{learned}/{len(members)} seeds >= {success}"


def plot_test_accuracy(ax, result):
    """Draws a run's test accuracy per epoch in black, the other seeds' faint behind it, and chance (0.5)."""
    accuracy = result["history"]["val_accuracy"]
    others = other_seeds(result)
    ax.plot(np.arange(1, len(accuracy) + 1), accuracy, color="black")
    plot_other_seeds(ax, others, "val_accuracy", "black")
    ax.axhline(0.5, color="gray", linestyle="--", linewidth=1, label="chance")
    ax.set(xlabel="epoch", ylim=(0.3, 1.0), title=accuracy_title(result))
    ax.grid(alpha=0.3)
    seed_legend(ax, others, loc="lower right", fontsize=8)


def draw_comparison(results_by_model):
    """The models side by side on shared axes: gradient norms per layer and test accuracy.

    Args:
        results_by_model: model name -> that model's result dict.

    Returns:
        The Figure: one column per model in `MODEL_ORDER` (others after), gradient norms above, test accuracy below;
        the spread of a result's "seeds" behind its lines, as in `draw_gradient_norms` and `draw_learning_curves`.
    """
    names = [name for name in MODEL_ORDER if name in results_by_model]
    names += [name for name in results_by_model if name not in names]
    figure, axes = plt.subplots(2, len(names), figsize=(4.6 * len(names), 7.5), sharey="row", squeeze=False)
    for column, name in enumerate(names):
        result = results_by_model[name]
        plot_gradient_norms(axes[0, column], result)
        axes[0, column].set_title(f"{model_title(result['config'])}\n(seed {result['seed']})", fontsize=10)
        seed_legend(
            axes[0, column],
            band_members=band_members(result),
            fontsize=7,
            title="layer (input -> output)",
            title_fontsize=7,
        )
        plot_test_accuracy(axes[1, column], result)
        if column:
            axes[0, column].set_ylabel("")
    axes[1, 0].set_ylabel("test accuracy")
    figure.suptitle("Vanishing gradients: mean gradient norm of every layer per epoch, and test accuracy")
    figure.tight_layout()
    return figure


def save_comparison(results_by_model, path):
    """Writes `draw_comparison` to `path`; returns the path."""
    return save(draw_comparison(results_by_model), path)


def draw_gradient_heatmap(result):
    """Layers against epochs, colour = gradient norm (log scale), input side at the bottom.

    Args:
        result: a run's result dict, with gradient logging on.

    Returns:
        The Figure, its image one row per layer (row 0, the input side, at the bottom), or None when no norm is
        positive and finite.
    """
    from matplotlib.colors import LogNorm

    keys = result["layer_keys"]
    norms = np.array([result["history"][f"grad_norm/{key}/mean"] for key in keys], dtype=float)
    norms = np.where(norms > 0, norms, np.nan)  # NaN (after a NaN loss) and 0 have no place on a log scale.
    if np.isnan(norms).all():
        return None
    figure, ax = plt.subplots(figsize=(9, 0.45 * len(keys) + 2))
    image = ax.imshow(
        norms,
        aspect="auto",
        origin="lower",
        cmap="magma",
        norm=LogNorm(),
        extent=(0.5, norms.shape[1] + 0.5, -0.5, len(keys) - 0.5),
        interpolation="nearest",
    )
    ax.set_yticks(range(len(keys)), keys)
    ax.set(xlabel="epoch", ylabel="layer (input at the bottom)", title=f"{result['run_name']}: gradient norm heatmap")
    figure.colorbar(image, ax=ax, label="gradient L2 norm (epoch mean, log scale)")
    return figure


def save_gradient_heatmap(result, path):
    """Writes `draw_gradient_heatmap` to `path`; returns the path, or None when there is nothing to draw."""
    return save(draw_gradient_heatmap(result), path)


def draw_decision_boundaries(snapshots, x_test, y_test, result):
    """Predicted probability over the input square at the snapshot epochs, test points on top.

    Args:
        snapshots: a `diagnostics.DecisionBoundarySnapshots` after training (`grid_x`, `grid_y`, `snapshots`).
        x_test, y_test: the test points and their labels.
        result: the run's result dict, for the title.

    Returns:
        The Figure, one panel per snapshot epoch in increasing order, or None without snapshots.
    """
    epochs = sorted(snapshots.snapshots)
    if not epochs:
        return None
    figure, axes = plt.subplots(1, len(epochs), figsize=(3.3 * len(epochs), 3.5), squeeze=False)
    for ax, epoch in zip(axes[0], epochs):
        image = ax.contourf(
            snapshots.grid_x,
            snapshots.grid_y,
            snapshots.snapshots[epoch],
            levels=np.linspace(0, 1, 11),
            cmap="RdBu_r",
            alpha=0.8,
        )
        ax.contour(snapshots.grid_x, snapshots.grid_y, snapshots.snapshots[epoch], levels=[0.5], colors="black")
        for label, color in [(0, "tab:blue"), (1, "tab:orange")]:
            ax.scatter(*x_test[y_test == label].T, s=4, color=color, edgecolors="none")
        ax.set(title=f"epoch {epoch}", xticks=[], yticks=[], aspect="equal")
    figure.colorbar(image, ax=axes[0].tolist(), label="P(inner circle)", fraction=0.02)
    figure.suptitle(f"{result['run_name']}: decision boundary (black, P = 0.5) over the test points")
    return figure


def save_decision_boundaries(snapshots, x_test, y_test, result, path):
    """Writes `draw_decision_boundaries` to `path`; returns the path, or None without snapshots."""
    return save(draw_decision_boundaries(snapshots, x_test, y_test, result), path)


def draw_backward_signal(result):
    """At initialisation: the theory's Jacobian product, the exact backward signal and the measured gradient.

    Args:
        result: a run's result dict, with diagnostics on (`result["init_diagnostics"]`).

    Returns:
        The Figure: three lines over the layers, each divided by its value at the output layer.
    """
    init = result["init_diagnostics"]
    keys = init["layer_keys"]
    positions = np.arange(len(keys))
    figure, ax = plt.subplots(figsize=(7, 4.5))
    for name, label, style in [
        ("jacobian_product", "product of the layers' Jacobian norms above (bound)", "s--"),
        ("backward_signal", "||d output / d layer output||, mean over inputs", "o-"),
        ("gradient_norm", "measured gradient norm of the layer's weights", "^-"),
    ]:
        values = np.asarray(init[name])
        ax.plot(positions, values / values[-1], style, label=label)
    ax.set_xticks(positions, keys, rotation=30, ha="right")
    ax.set(
        yscale="log",
        ylabel="relative to the output layer",
        xlabel="layer (input -> output)",
        title=f"{result['run_name']}: backward signal at initialisation",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return figure


def save_backward_signal(result, path):
    """Writes `draw_backward_signal` to `path`; returns the path."""
    return save(draw_backward_signal(result), path)


def save_run_figures(result, figure_dir, snapshots=None, test_data=None):
    """Draws a run's figures as `<figure_dir>/<run name>_<kind>.png`; nothing if no epoch completed.

    Args:
        result: the run's result dict.
        figure_dir: where the figures go; None for none.
        snapshots: its `diagnostics.DecisionBoundarySnapshots`, if it took them (with `test_data`,
            `(x_test, y_test)`, they add the decision boundaries and the backward signal at init).
    """
    if figure_dir is None or not result["epochs_completed"]:
        return
    prefix = Path(figure_dir) / result["run_name"]
    save_learning_curves(result, f"{prefix}_learning_curves.png")
    if result["layer_keys"]:
        save_gradient_norms(result, f"{prefix}_grad_norms.png")
        save_gradient_heatmap(result, f"{prefix}_grad_heatmap.png")
    if snapshots is not None:
        save_decision_boundaries(snapshots, *test_data, result, f"{prefix}_decision_boundary.png")
        save_backward_signal(result, f"{prefix}_init_jacobians.png")
