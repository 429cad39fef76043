"""Figures of one run and of the three models: the data, learning curves, per-layer gradient norms, comparisons.

Every figure comes in two parts: `draw_<figure>(...)` returns the matplotlib Figure, so that a test can read
what it shows, and `save_<figure>(..., path)` draws it, writes it as a PNG and returns the path. The figures of
many seeds and of the studies live in `study_plots.py`; `save_multiseed` and `save_study` are importable here too.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # Write files; never open a window.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gradient_lab.thresholds import SUCCESS_ACCURACY  # noqa: E402

MODEL_ORDER = ("shallow_tanh", "deep_tanh", "deep_relu")  # Left to right in comparisons.


def model_title(config):
    """Describes a run's model from its config, e.g. `deep_tanh: 5 x tanh, uniform_0_1`."""
    return (
        f"{config['model']}: {config['num_hidden_layers']} x {config['activation']}"
        f"({config['width']}), {config['initializer']}"
    )


def _save(figure, path):
    """Writes `figure` to `path` as a PNG and closes it; returns the path, or None when `figure` is None."""
    if figure is None:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def layer_colors(num_layers):
    """Returns one colour per layer, dark at the input side and light at the output side."""
    return plt.cm.viridis(np.linspace(0.0, 0.9, num_layers))


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
    return _save(draw_circles(x_train, y_train, x_test, y_test, noise), path)


def draw_learning_curves(result):
    """Train and test accuracy and loss per epoch of one run.

    Args:
        result: a run's result dict (see `experiment.train_and_evaluate`).

    Returns:
        The Figure: accuracy on the left, loss on the right, train then test in each.
    """
    history = result["history"]
    epochs = np.arange(1, len(history["loss"]) + 1)
    figure, (accuracy_ax, loss_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, label in [("accuracy", "train"), ("val_accuracy", "test")]:
        accuracy_ax.plot(epochs, history[key], label=label)
    for key, label in [("loss", "train"), ("val_loss", "test")]:
        loss_ax.plot(epochs, history[key], label=label)
    accuracy_ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0.3, 1.0), title="accuracy")
    loss_ax.set(xlabel="epoch", ylabel="binary cross-entropy", title="loss")
    for ax in (accuracy_ax, loss_ax):
        ax.legend()
        ax.grid(alpha=0.3)
    figure.suptitle(f"{result['run_name']}: learning curves")
    return figure


def save_learning_curves(result, path):
    """Writes `draw_learning_curves` to `path`; returns the path."""
    return _save(draw_learning_curves(result), path)


def plot_gradient_norms(ax, result, stat="mean"):
    """Draws one line per layer (input side first in the legend) of a run's gradient norms."""
    keys = result["layer_keys"]
    history = result["history"]
    for key, color in zip(keys, layer_colors(len(keys))):
        values = history[f"grad_norm/{key}/{stat}"]
        ax.plot(np.arange(1, len(values) + 1), values, color=color, label=key)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"gradient L2 norm ({stat} over the epoch's steps)")
    ax.grid(alpha=0.3, which="both")


def draw_gradient_norms(result):
    """Per-layer gradient norm per epoch of one run, log scale.

    Args:
        result: a run's result dict, with gradient logging on.

    Returns:
        The Figure: one line per layer, in `result["layer_keys"]` order.
    """
    figure, ax = plt.subplots(figsize=(7, 4.5))
    plot_gradient_norms(ax, result)
    ax.legend(title="layer (input -> output)", fontsize=8)
    ax.set_title(f"{result['run_name']}: gradient norm per layer")
    return figure


def save_gradient_norms(result, path):
    """Writes `draw_gradient_norms` to `path`; returns the path."""
    return _save(draw_gradient_norms(result), path)


def draw_comparison(results_by_model):
    """The models side by side on shared axes: gradient norms per layer and test accuracy.

    Args:
        results_by_model: model name -> that model's result dict.

    Returns:
        The Figure: one column per model in `MODEL_ORDER` (others after), gradient norms above, test accuracy below.
    """
    names = [name for name in MODEL_ORDER if name in results_by_model]
    names += [name for name in results_by_model if name not in names]
    figure, axes = plt.subplots(2, len(names), figsize=(4.6 * len(names), 7.5), sharey="row", squeeze=False)
    for column, name in enumerate(names):
        result = results_by_model[name]
        plot_gradient_norms(axes[0, column], result)
        axes[0, column].set_title(f"{model_title(result['config'])}\n(seed {result['seed']})", fontsize=10)
        axes[0, column].legend(fontsize=7, title="layer (input -> output)", title_fontsize=7)
        accuracy = result["history"]["val_accuracy"]
        axes[1, column].plot(np.arange(1, len(accuracy) + 1), accuracy, color="black")
        axes[1, column].axhline(0.5, color="gray", linestyle="--", linewidth=1, label="chance")
        axes[1, column].set(xlabel="epoch", ylim=(0.3, 1.0), title=f"test accuracy, final {accuracy[-1]:.3f}")
        axes[1, column].grid(alpha=0.3)
        axes[1, column].legend(loc="lower right", fontsize=8)
        if column:
            axes[0, column].set_ylabel("")
    axes[1, 0].set_ylabel("test accuracy")
    figure.suptitle("Vanishing gradients: mean gradient norm of every layer per epoch, and test accuracy")
    figure.tight_layout()
    return figure


def save_comparison(results_by_model, path):
    """Writes `draw_comparison` to `path`; returns the path."""
    return _save(draw_comparison(results_by_model), path)


def save_multiseed(results, path, success=SUCCESS_ACCURACY):
    """Writes `study_plots.draw_multiseed` to `path`; returns the path."""
    from gradient_lab import study_plots  # Here, not at the top: `study_plots` imports this module's helpers.

    return study_plots.save_multiseed(results, path, success)


def save_study(name, results, path):
    """Writes `study_plots.draw_study` to `path`; returns the path."""
    from gradient_lab import study_plots

    return study_plots.save_study(name, results, path)


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
    return _save(draw_gradient_heatmap(result), path)


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
    return _save(draw_decision_boundaries(snapshots, x_test, y_test, result), path)


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
    return _save(draw_backward_signal(result), path)
