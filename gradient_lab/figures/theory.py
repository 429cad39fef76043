"""The figures of `python theory.py`: `draw_*` returns the Figure (a test can read it), `save_*` writes a PNG.

Each takes the rows of a table from `gradient_lab.theory.tables`.
"""

import matplotlib.pyplot as plt
import numpy as np

from gradient_lab.figures.saving import save
from gradient_lab.theory import lengths


def draw_log_length_variance(rows):
    """Var[ln |h_L|^2] against beta, log-log: measured points (2 s.e. bars) by width and weights; the theory."""
    figure, ax = plt.subplots(figsize=(6.4, 4.6))
    betas = np.array(sorted({row["beta"] for row in rows}))
    for width, color, own, _ in _by_width(rows, plt.cm.tab10.colors):  # By depth, so by beta = depth / width.
        own_betas = [row["beta"] for row in own]
        for key, marker, weights in [("measured", "o", "he_uniform"), ("measured_gaussian", "s", "He-Gaussian")]:
            se = [2 * row["se" if key == "measured" else "se_gaussian"] for row in own]
            ax.errorbar(
                own_betas,
                [row[key] for row in own],
                yerr=se,
                fmt=marker,
                color=color,
                capsize=3,
                mfc="none" if weights == "He-Gaussian" else color,
                label=f"width {width}, {weights}: measured",
            )
        ax.plot(
            own_betas,
            [row["predicted_gaussian"] for row in own],
            "--",
            color=color,
            label=f"width {width}: exact for He-Gaussian weights",
        )
    ax.plot(betas, lengths.WIDE_LAYER_RELATIVE_VARIANCE * betas, "k-", label="5 beta: the wide-layer limit")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("beta = sum over hidden layers of 1 / width")
    ax.set_ylabel("Var[ln |h_L|^2] over the nets alive at init")
    ax.set_title("ReLU + He at init: the spread of the log squared length grows with beta")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    return figure


def save_log_length_variance(rows, path):
    """Writes `draw_log_length_variance` to `path`; returns the path."""
    return save(draw_log_length_variance(rows), path)


def _by_width(rows, colors):
    """Yields `(width, colour, that width's rows sorted by depth, their depths)` for each width in `rows`."""
    for width, color in zip(sorted({row["width"] for row in rows}), colors):
        own = sorted((row for row in rows if row["width"] == width), key=lambda row: row["depth"])
        yield width, color, own, [row["depth"] for row in own]


def draw_born_dead(rows):
    """P(born dead) against depth per width: Monte Carlo on the training inputs (2 s.e. bars) and the closed form."""
    figure, ax = plt.subplots(figsize=(6.4, 4.4))
    for width, color, own, depths in _by_width(rows, plt.cm.tab10.colors):
        ax.errorbar(
            depths,
            [r["p"] for r in own],
            yerr=[2 * r["se"] for r in own],
            fmt="o-",
            color=color,
            capsize=3,
            label=f"width {width}: Monte Carlo, training inputs ({own[0]['nets']} nets)",
        )
        ax.plot(
            depths,
            [r["closed_form"] for r in own],
            "--",
            color=color,
            label=f"width {width}: 1 - (1 - 2^-{width})^L, one input",
        )
    ax.set_xlabel("hidden layers L")
    ax.set_ylabel("P(born dead): constant output at init")
    ax.set_title("ReLU + He uniform, zero biases: nets born dead")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return figure


def save_born_dead(rows, path):
    """Writes `draw_born_dead` to `path`; returns the path."""
    return save(draw_born_dead(rows), path)


def draw_tanh_lengths(rows):
    """q^L against depth, tanh nets at the critical point: median and 10-90% of Glorot nets per width, mean field,
    the finite-width drift, and the orthogonal nets' median (no drift)."""
    figure, ax = plt.subplots(figsize=(6.6, 4.6))
    glorot = [row for row in rows if row["initializer"] == "glorot_uniform"]
    for width, color, own, depths in _by_width(glorot, plt.cm.tab10.colors):
        ax.fill_between(
            depths,
            [r["q_10"] for r in own],
            [r["q_90"] for r in own],
            color=color,
            alpha=0.15,
            label=f"width {width}: 10-90% of nets",
        )
        ax.plot(depths, [r["median_q"] for r in own], "o-", color=color, label=f"width {width}: median net")
        ax.plot(depths, [r["mean_q"] for r in own], "s:", color=color, label=f"width {width}: mean over nets")
        ax.plot(
            depths,
            [r["typical_q_linear"] for r in own],
            "--",
            color=color,
            label=f"width {width}: q^1 x (drift per layer)^(L-1)",
        )
        ax.plot(
            depths,
            [r["mean_field_q"] for r in own],
            "-",
            color=color,
            linewidth=4,
            alpha=0.35,
            label=f"width {width}: mean field (infinite width), ~1/(2L)",
        )
    for width, color, own, depths in _by_width([row for row in rows if row["initializer"] == "orthogonal"], "k"):
        ax.plot(depths, [r["median_q"] for r in own], "^-", color=color, label=f"width {width}, orthogonal: median net")
    ax.set_yscale("log")
    ax.set_xlabel("hidden layers L")
    ax.set_ylabel("q^L: mean squared pre-activation of layer L")
    ax.set_title(
        "tanh at the critical point, zero biases: Glorot's typical net\ndrifts down at width 5, orthogonal's does not"
    )
    ax.legend(fontsize=6.5, ncol=2, loc="lower left")
    ax.grid(alpha=0.3, which="both")
    return figure


def save_tanh_lengths(rows, path):
    """Writes `draw_tanh_lengths` to `path`; returns the path."""
    return save(draw_tanh_lengths(rows), path)
