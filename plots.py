"""Figures of the experiment: the data, learning curves, per-layer gradient norms, comparisons."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # Write files; never open a window.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

MODEL_TITLES = {"shallow_tanh": "shallow tanh (1 hidden layer)", "deep_tanh": "deep tanh (5 hidden, U(0,1))",
                "deep_relu": "deep ReLU (5 hidden, He uniform)"}


def _save(figure, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def layer_colors(num_layers):
    """Returns one colour per layer, dark at the input side and light at the output side."""
    return plt.cm.viridis(np.linspace(0.0, 0.9, num_layers))


def save_circles(x_train, y_train, x_test, y_test, path):
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
    figure.suptitle("make_circles(n_samples=1000, noise=0.1), scaled to [-1, 1]")
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
    names = [name for name in MODEL_TITLES if name in results_by_model]
    names += [name for name in results_by_model if name not in names]
    figure, axes = plt.subplots(2, len(names), figsize=(4.6 * len(names), 7.5), sharey="row", squeeze=False)
    for column, name in enumerate(names):
        result = results_by_model[name]
        plot_gradient_norms(axes[0, column], result)
        axes[0, column].set_title(f"{MODEL_TITLES.get(name, name)}\n(seed {result['seed']})")
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
