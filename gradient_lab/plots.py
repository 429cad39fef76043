"""Figures of the experiment: the data, learning curves, per-layer gradient norms, comparisons."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # Write files; never open a window.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gradient_lab.seed_statistics import SUCCESS_ACCURACY  # noqa: E402

MODEL_ORDER = ("shallow_tanh", "deep_tanh", "deep_relu")  # Left to right in comparisons.


def model_title(config):
    """Describes a run's model from its config, e.g. `deep_tanh: 5 x tanh, uniform_0_1`."""
    return (
        f"{config['model']}: {config['num_hidden_layers']} x {config['activation']}"
        f"({config['width']}), {config['initializer']}"
    )


def _save(figure, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def layer_colors(num_layers):
    """Returns one colour per layer, dark at the input side and light at the output side."""
    return plt.cm.viridis(np.linspace(0.0, 0.9, num_layers))


def save_circles(x_train, y_train, x_test, y_test, path, noise=0.1):
    """Scatter plot of both splits, one colour per class."""
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
    return _save(figure, path)


def save_learning_curves(result, path):
    """Train and test accuracy and loss per epoch of one run."""
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
    return _save(figure, path)


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


def save_gradient_norms(result, path):
    """Per-layer gradient norm per epoch of one run, log scale."""
    figure, ax = plt.subplots(figsize=(7, 4.5))
    plot_gradient_norms(ax, result)
    ax.legend(title="layer (input -> output)", fontsize=8)
    ax.set_title(f"{result['run_name']}: gradient norm per layer")
    return _save(figure, path)


def save_comparison(results_by_model, path):
    """The models side by side on shared axes: gradient norms per layer and test accuracy."""
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
    return _save(figure, path)


def plot_median_band(ax, curves, color, label):
    """Draws the median over runs of per-epoch curves with an interquartile band."""
    curves = np.asarray(curves, dtype=float)
    epochs = np.arange(1, curves.shape[1] + 1)
    low, median, high = np.nanpercentile(curves, [25, 50, 75], axis=0)
    ax.plot(epochs, median, color=color, label=label)
    ax.fill_between(epochs, low, high, color=color, alpha=0.2, linewidth=0)


def save_multiseed(results, path, success=SUCCESS_ACCURACY):
    """Accuracy of every seed per model, and the median gradient norm per layer with its IQR band."""
    by_model = {}
    for result in results:
        if result["status"] == "completed":
            by_model.setdefault(result["config"]["model"], []).append(result)
    names = [name for name in MODEL_ORDER if name in by_model] + [name for name in by_model if name not in MODEL_ORDER]
    figure, axes = plt.subplots(1, 1 + len(names), figsize=(4.4 * (1 + len(names)), 4.6))
    strip = axes[0]
    rng = np.random.default_rng(0)  # Jitter only, so points do not hide each other.
    for index, name in enumerate(names):
        accuracies = [result["test_accuracy"] for result in by_model[name]]
        strip.scatter(index + rng.uniform(-0.15, 0.15, len(accuracies)), accuracies, s=16, alpha=0.7)
        strip.hlines(np.median(accuracies), index - 0.3, index + 0.3, color="black")
    strip.axhline(success, color="gray", linestyle="--", linewidth=1, label=f"success >= {success}")
    strip.set_xticks(range(len(names)), [name.replace("_", "\n") for name in names])
    strip.set(
        ylabel="final test accuracy", ylim=(0.3, 1.0), title=f"every seed (n = {len(by_model[names[0]])}), bar = median"
    )
    strip.legend(loc="lower right", fontsize=8)
    for ax, name in zip(axes[1:], names):
        keys = by_model[name][0]["layer_keys"]
        for key, color in zip(keys, layer_colors(len(keys))):
            plot_median_band(ax, [result["history"][f"grad_norm/{key}/mean"] for result in by_model[name]], color, key)
        ax.set(yscale="log", xlabel="epoch")
        ax.set_title(model_title(by_model[name][0]["config"]), fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, title="layer, median and IQR", title_fontsize=7)
    axes[1].set_ylabel("gradient L2 norm (epoch mean)")
    shared = [ax.get_ylim() for ax in axes[1:]]
    for ax in axes[1:]:
        ax.set_ylim(min(low for low, _ in shared), max(high for _, high in shared))
    figure.suptitle("Three models over many seeds: outcome and gradient flow")
    figure.tight_layout()
    return _save(figure, path)


def _cells(results):
    """Groups completed runs by (configuration, variant, depth); variant is width or optimizer."""
    cells = {}
    for result in results:
        if result["status"] == "completed":
            config = result["config"]
            variant = f"width {config['width']}, {config['optimizer']}"
            cells.setdefault((config["model"], variant, config["num_hidden_layers"]), []).append(result)
    return cells


def _first_layer_norm(result, epoch):
    return result["history"][f"grad_norm/{result['layer_keys'][0]}/mean"][epoch]


def _success_rate(members, success=SUCCESS_ACCURACY):
    return float(np.mean([result["test_accuracy"] >= success for result in members]))


def save_study(name, results, path):
    """The figure of one extension study (see `studies.py`)."""
    cells = _cells(results)
    configurations = list(dict.fromkeys(key[0] for key in cells))
    variants = list(dict.fromkeys(key[1] for key in cells))
    depths = sorted({key[2] for key in cells})
    lines = [
        (configuration, variant)
        for configuration in configurations
        for variant in variants
        if any((configuration, variant, depth) in cells for depth in depths)
    ]
    colors = dict(zip(lines, plt.cm.tab10(np.arange(len(lines)) % 10)))
    label = {line: line[0] if len(variants) == 1 else f"{line[0]} ({line[1]})" for line in lines}

    if name == "weights":
        return _save_weight_study(cells, label, path)
    figure, (left, right) = plt.subplots(1, 2, figsize=(13 + 0.25 * max(0, len(cells) - 8), 5.2))
    if name in ("depth", "width") or len(depths) > 2:
        # Trainability map: success rate per line and depth.
        grid = np.full((len(lines), len(depths)), np.nan)
        for row, line in enumerate(lines):
            for column, depth in enumerate(depths):
                if line + (depth,) in cells:
                    grid[row, column] = _success_rate(cells[line + (depth,)])
        image = left.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
        for (row, column), value in np.ndenumerate(grid):
            if not np.isnan(value):
                left.text(column, row, f"{value:.0%}", ha="center", va="center", fontsize=8)
        left.set_xticks(range(len(depths)), depths)
        left.set_yticks(range(len(lines)), [label[line] for line in lines])
        left.set(xlabel="hidden layers", title=f"success rate (test accuracy >= {SUCCESS_ACCURACY})")
        figure.colorbar(image, ax=left, fraction=0.03)
    else:
        # Accuracy of every seed per cell.
        positions = [(line, depth) for line in lines for depth in depths if line + (depth,) in cells]
        rng = np.random.default_rng(0)  # Jitter only.
        for index, (line, depth) in enumerate(positions):
            accuracies = [result["test_accuracy"] for result in cells[line + (depth,)]]
            left.scatter(index + rng.uniform(-0.15, 0.15, len(accuracies)), accuracies, s=14, color=colors[line])
            left.hlines(np.median(accuracies), index - 0.3, index + 0.3, color="black")
        left.set_xticks(
            range(len(positions)),
            [f"{label[line]}, depth {depth}" for line, depth in positions],
            fontsize=7,
            rotation=55,
            ha="right",
            rotation_mode="anchor",
        )
        left.axhline(SUCCESS_ACCURACY, color="gray", linestyle="--", linewidth=1)
        left.set(ylabel="final test accuracy", ylim=(0.3, 1.0), title="every seed, bar = median")
    if len(depths) == 1:
        # One depth: the first layer's gradient over the epochs says more than one point.
        for line in lines:
            members = cells[line + (depths[0],)]
            key = members[0]["layer_keys"][0]
            plot_median_band(
                right, [result["history"][f"grad_norm/{key}/mean"] for result in members], colors[line], label[line]
            )
        right.set(
            yscale="log",
            xlabel="epoch",
            ylabel="first hidden layer gradient norm (median, IQR)",
            title=f"gradient reaching the first layer, depth {depths[0]}",
        )
        right.grid(alpha=0.3, which="both")
        right.legend(fontsize=7)
        figure.suptitle(f"Study: {name}")
        figure.tight_layout()
        return _save(figure, path)
    for line in lines:
        present = [depth for depth in depths if line + (depth,) in cells]
        for epoch, style, when in [(0, "--", "epoch 1"), (-1, "-", "end")]:
            medians = [
                np.median([_first_layer_norm(result, epoch) for result in cells[line + (depth,)]]) for depth in present
            ]
            right.plot(
                present, medians, style, marker="o", markersize=3, color=colors[line], label=f"{label[line]}, {when}"
            )
    right.set(
        yscale="log",
        xlabel="hidden layers",
        ylabel="first hidden layer gradient norm (median over seeds)",
        title="gradient reaching the first layer",
    )
    right.grid(alpha=0.3, which="both")
    right.legend(fontsize=7, ncol=2)
    figure.suptitle(f"Study: {name}")
    figure.tight_layout()
    return _save(figure, path)


def _save_weight_study(cells, label, path):
    figure, axes = plt.subplots(1, len(cells), figsize=(5.5 * len(cells), 4.5), sharey=True, squeeze=False)
    for ax, (cell, members) in zip(axes[0], cells.items()):
        keys = members[0]["layer_keys"]
        for key, color in zip(keys, layer_colors(len(keys))):
            plot_median_band(ax, [result["history"][f"weight_change_l1/{key}"] for result in members], color, key)
        ax.set(yscale="log", xlabel="epoch", title=f"{label[cell[:2]]}, depth {cell[2]} (n = {len(members)})")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, title="layer, median and IQR", title_fontsize=7)
    axes[0, 0].set_ylabel("L1 distance of the weights from their initial values")
    figure.suptitle("Study: weights - how far each layer moves during training")
    figure.tight_layout()
    return _save(figure, path)


def save_gradient_heatmap(result, path):
    """Layers against epochs, colour = gradient norm (log scale), input side at the bottom."""
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
    return _save(figure, path)


def save_decision_boundaries(snapshots, x_test, y_test, result, path):
    """Predicted probability over the input square at the snapshot epochs, test points on top."""
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
    return _save(figure, path)


def save_backward_signal(result, path):
    """At initialisation: the theory's Jacobian product, the exact backward signal and the measured gradient."""
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
    return _save(figure, path)
