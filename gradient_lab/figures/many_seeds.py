"""Figures of many runs: the three models over many seeds (`multiseed.py`) and the studies (`studies.py`).

As in `training.py`, `draw_<figure>(...)` returns the matplotlib Figure and `save_<figure>(..., path)` writes it.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from gradient_lab.figures.saving import save
from gradient_lab.figures.training import MODEL_ORDER, layer_colors, model_title
from gradient_lab.thresholds import SUCCESS_ACCURACY


def plot_median_band(ax, curves, color, label):
    """Draws the median over runs of per-epoch curves with an interquartile band."""
    curves = np.asarray(curves, dtype=float)
    epochs = np.arange(1, curves.shape[1] + 1)
    low, median, high = np.nanpercentile(curves, [25, 50, 75], axis=0)
    ax.plot(epochs, median, color=color, label=label)
    ax.fill_between(epochs, low, high, color=color, alpha=0.2, linewidth=0)


def _seed_strip(strip, by_model, names, success):
    """Draws every seed's final test accuracy, one column of points per model, with the median as a bar."""
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


def draw_multiseed(results, success=SUCCESS_ACCURACY):
    """Accuracy of every seed per model, and the median gradient norm per layer with its IQR band.

    Args:
        results: the result dicts of all runs; only completed runs are drawn.
        success: the test accuracy drawn as the success line.

    Returns:
        The Figure: the seeds' accuracies on the left (a scatter per model, in `MODEL_ORDER`), then one panel of
        gradient norms per model.
    """
    by_model = {}
    for result in results:
        if result["status"] == "completed":
            by_model.setdefault(result["config"]["model"], []).append(result)
    names = [name for name in MODEL_ORDER if name in by_model] + [name for name in by_model if name not in MODEL_ORDER]
    figure, axes = plt.subplots(1, 1 + len(names), figsize=(4.4 * (1 + len(names)), 4.6))
    _seed_strip(axes[0], by_model, names, success)
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
    return figure


def save_multiseed(results, path, success=SUCCESS_ACCURACY):
    """Writes `draw_multiseed` to `path`; returns the path."""
    return save(draw_multiseed(results, success), path)


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
    """The first hidden layer's mean gradient norm at `epoch` (0-based, -1 = last) of one run."""
    return result["history"][f"grad_norm/{result['layer_keys'][0]}/mean"][epoch]


def _success_rate(members, success=SUCCESS_ACCURACY):
    """The fraction of runs whose final test accuracy reaches `success`."""
    return float(np.mean([result["test_accuracy"] >= success for result in members]))


def success_grid(cells, lines, depths):
    """Returns the success rate of every (line, depth) cell, lines as rows and depths as columns; NaN if absent."""
    grid = np.full((len(lines), len(depths)), np.nan)
    for row, line in enumerate(lines):
        for column, depth in enumerate(depths):
            if line + (depth,) in cells:
                grid[row, column] = _success_rate(cells[line + (depth,)])
    return grid


def _trainability_map(figure, ax, cells, lines, depths, label):
    """Draws the success rate per line and depth as a coloured grid with the percentages written in."""
    grid = success_grid(cells, lines, depths)
    image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for (row, column), value in np.ndenumerate(grid):
        if not np.isnan(value):
            ax.text(column, row, f"{value:.0%}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(depths)), depths)
    ax.set_yticks(range(len(lines)), [label[line] for line in lines])
    ax.set(xlabel="hidden layers", title=f"success rate (test accuracy >= {SUCCESS_ACCURACY})")
    figure.colorbar(image, ax=ax, fraction=0.03)


def _cell_accuracies(ax, cells, lines, depths, colors, label):
    """Draws every seed's final test accuracy, one column of points per cell, with the median as a bar."""
    positions = [(line, depth) for line in lines for depth in depths if line + (depth,) in cells]
    rng = np.random.default_rng(0)  # Jitter only.
    for index, (line, depth) in enumerate(positions):
        accuracies = [result["test_accuracy"] for result in cells[line + (depth,)]]
        ax.scatter(index + rng.uniform(-0.15, 0.15, len(accuracies)), accuracies, s=14, color=colors[line])
        ax.hlines(np.median(accuracies), index - 0.3, index + 0.3, color="black")
    ax.set_xticks(
        range(len(positions)),
        [f"{label[line]}, depth {depth}" for line, depth in positions],
        fontsize=7,
        rotation=55,
        ha="right",
        rotation_mode="anchor",
    )
    ax.axhline(SUCCESS_ACCURACY, color="gray", linestyle="--", linewidth=1)
    ax.set(ylabel="final test accuracy", ylim=(0.3, 1.0), title="every seed, bar = median")


def _first_layer_over_epochs(ax, cells, lines, depth, colors, label):
    """Draws the first layer's gradient norm per epoch, median and IQR over seeds, one band per line."""
    for line in lines:
        members = cells[line + (depth,)]
        key = members[0]["layer_keys"][0]
        plot_median_band(
            ax, [result["history"][f"grad_norm/{key}/mean"] for result in members], colors[line], label[line]
        )
    ax.set(
        yscale="log",
        xlabel="epoch",
        ylabel="first hidden layer gradient norm (median, IQR)",
        title=f"gradient reaching the first layer, depth {depth}",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)


def _first_layer_against_depth(ax, cells, lines, depths, colors, label):
    """Draws the median over seeds of the first layer's gradient norm against depth, at epoch 1 and at the end."""
    for line in lines:
        present = [depth for depth in depths if line + (depth,) in cells]
        for epoch, style, when in [(0, "--", "epoch 1"), (-1, "-", "end")]:
            medians = [
                np.median([_first_layer_norm(result, epoch) for result in cells[line + (depth,)]]) for depth in present
            ]
            ax.plot(
                present, medians, style, marker="o", markersize=3, color=colors[line], label=f"{label[line]}, {when}"
            )
    ax.set(
        yscale="log",
        xlabel="hidden layers",
        ylabel="first hidden layer gradient norm (median over seeds)",
        title="gradient reaching the first layer",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)


def _success_with_interval(members):
    """The success rate of a cell's seeds and its 95% Wilson interval's distances below and above it."""
    from gradient_lab.sweeps.intervals import success_interval

    successes = sum(result["test_accuracy"] >= SUCCESS_ACCURACY for result in members)
    interval = success_interval(successes, len(members))
    rate = successes / len(members)
    return rate, rate - interval["success_ci95_low"], interval["success_ci95_high"] - rate


def _measured_success(ax, x_of, cells, lines, depths, colors, label, markers=None):
    """Draws each line's success rate, with its Wilson 95% interval, at x = `x_of(line, depth)`."""
    for line in lines:
        present = [depth for depth in depths if line + (depth,) in cells]
        rates, below, above = np.array([_success_with_interval(cells[line + (depth,)]) for depth in present]).T
        marker = (markers or {}).get(line, "o")
        x = [x_of(line, depth) for depth in present]
        ax.errorbar(
            x,
            rates,
            yerr=[below, above],
            marker=marker,
            markersize=6 if markers else 4,
            capsize=2,
            color=colors[line],
            label=f"{label[line]}, measured",
        )
    ax.set(ylabel=f"success rate (test accuracy >= {SUCCESS_ACCURACY}), 95% CI", ylim=(-0.03, 1.03))
    ax.grid(alpha=0.3)


def _success_against_depth_with_theory(ax, cells, lines, depths, colors, label, theory):
    """The depth study's success rates beside the theory: 1 - P(born dead) for ReLU, the tanh depth scale."""
    _measured_success(ax, lambda line, depth: depth, cells, lines, depths, colors, label)
    ax.set(xlabel="hidden layers", title="success rate against depth, beside the theory")
    critical_tanh = []
    for line in lines:
        present = [depth for depth in depths if line + (depth,) in cells]
        config = cells[line + (present[0],)][0]["config"]
        if config["activation"] == "relu":
            _born_dead_bound(ax, [cells[line + (depth,)] for depth in present], present, config, colors[line], theory)
        if config["activation"] == "tanh" and config["initializer"] in CRITICAL_TANH_INITIALIZERS:
            critical_tanh.append((line, config))
    if theory is not None and critical_tanh:
        _tanh_depth_scale_note(ax, critical_tanh, colors, label, theory)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)  # Below: the curves fill the axes.


# Zero-mean initializers with sigma_w2 = 1 on square layers: tanh nets at mean-field theory's critical point.
CRITICAL_TANH_INITIALIZERS = ("glorot_uniform", "orthogonal")


def _born_dead_bound(ax, members_by_depth, depths, config, color, theory):
    """Draws 1 - P(born dead), theory and measured: a born-dead net cannot learn, so it bounds the success rate."""
    from gradient_lab.theory import predictions

    if theory is not None:
        theory_depths, p, se = predictions.born_dead_curve(theory, config["width"])
        ax.plot(theory_depths, 1 - p, ":", color=color, linewidth=2, label="1 - P(born dead), Monte Carlo at init")
        ax.fill_between(theory_depths, 1 - p - 2 * se, 1 - p + 2 * se, color=color, alpha=0.15, linewidth=0)
    if all("born_dead" in result for members in members_by_depth for result in members):
        alive = [1 - np.mean([result["born_dead"] for result in members]) for members in members_by_depth]
        ax.plot(depths, alive, "x", color=color, markersize=6, label="1 - born-dead fraction of these seeds")


def _tanh_depth_scale_note(ax, lines, colors, label, theory):
    """Says what the theory predicts for tanh nets at the critical point: no mean-field depth limit
    (Schoenholz et al. 2017), and each initializer's finite-width drift of the typical net's length."""
    from gradient_lab.theory import predictions

    trainable = predictions.tanh_trainable_depth(theory)
    if trainable is not None:  # Not the critical point: mark 6 xi_c.
        for line, _ in lines:
            ax.axvline(trainable, color=colors[line], linestyle="--", label=f"{label[line]}: 6 xi_c")
        return
    rows = ["theory, tanh at the critical point (xi_c infinite):", "mean field: no depth limit predicted"]
    rows.append("typical |h|^2 per layer at init, finite width:")
    for line, config in lines:
        factor = predictions.linear_drift_per_layer(theory, config["initializer"], config["width"])
        if factor is not None:
            rows.append(f"{label[line]}: x{factor:.2f} at width {config['width']}")
    ax.text(
        0.98,
        0.97,
        "\n".join(rows),
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=7,
        bbox={"facecolor": "white", "edgecolor": "0.5", "alpha": 0.9},
    )


def _success_against_beta(ax, cells, lines, depths, label):
    """The width study's success rates against Hanin's beta = sum of 1 / width over the hidden layers.

    One colour per configuration and one marker per width: if width and depth act only through
    beta, each colour's points fall on one curve.
    """
    _success_by_width(
        ax,
        cells,
        lines,
        depths,
        label,
        lambda width, depth: depth / width,
        "beta = sum over hidden layers of 1 / width (Hanin 2018)",
        "success rate against beta: one curve per colour if only beta matters",
    )


def _success_against_drift(ax, cells, lines, depths, label, theory):
    """The tanh width study's success rates against the typical net's predicted loss of log length at init,
    (L - 1) |ln(drift per layer)| (`linear_drift` in theory.json): one curve if the drift alone decided."""
    from gradient_lab.theory import predictions

    def drift_loss(width, depth):
        return -(depth - 1) * np.log(predictions.linear_drift_per_layer(theory, "glorot_uniform", width))

    _success_by_width(
        ax,
        cells,
        lines,
        depths,
        label,
        drift_loss,
        "(L - 1) |ln drift|: the typical net's predicted loss of ln |h|^2 at init (theory.json)",
        "success rate against the finite-width drift: one curve if it alone decided",
    )


def _success_by_width(ax, cells, lines, depths, label, x_of, xlabel, title):
    """Success rates at x = `x_of(width, depth)`, one colour per configuration and one marker per width."""
    configurations = list(dict.fromkeys(line[0] for line in lines))
    width = {key[:2]: members[0]["config"]["width"] for key, members in cells.items()}  # Of each line.
    widths = sorted(set(width.values()))
    colors = {line: plt.cm.tab10(configurations.index(line[0]) % 10) for line in lines}
    if len(configurations) == 1:  # One configuration: one colour per width instead.
        colors = {line: plt.cm.viridis(0.85 * widths.index(width[line]) / max(1, len(widths) - 1)) for line in lines}
    markers = {line: "os^Dv"[widths.index(width[line]) % 5] for line in lines}
    _measured_success(ax, lambda line, depth: x_of(width[line], depth), cells, lines, depths, colors, label, markers)
    ax.set(xscale="log", xlabel=xlabel, title=title)
    ax.xaxis.set_minor_formatter(NullFormatter())  # Decade labels only: they overlap otherwise.
    ax.legend(fontsize=6.5, loc="lower left")


def study_lines(cells):
    """Returns the (configuration, variant) lines of a study's cells, their sorted depths and their labels."""
    configurations = list(dict.fromkeys(key[0] for key in cells))
    variants = list(dict.fromkeys(key[1] for key in cells))
    depths = sorted({key[2] for key in cells})
    lines = [
        (configuration, variant)
        for configuration in configurations
        for variant in variants
        if any((configuration, variant, depth) in cells for depth in depths)
    ]
    label = {line: line[0] if len(variants) == 1 else f"{line[0]} ({line[1]})" for line in lines}
    return lines, depths, label


def draw_study(name, results, theory=None):
    """The figure of one extension study (see `studies.py`).

    Args:
        name: the study's name; "weights" draws the weights' movement, the others accuracy and gradients.
        results: the result dicts of the study's runs; only completed runs are drawn.
        theory: the predictions `python theory.py` saved (`theory.load_theory()`), or None.

    Returns:
        The Figure. With several depths (and for "depth" and "width"), the left panel is the trainability map,
        an image of the success rates (lines as rows, depths as columns); otherwise every seed's accuracy.
        The depth study adds its success rates beside the theory's predictions; the width study, its
        success rates against beta.
    """
    cells = _cells(results)
    lines, depths, label = study_lines(cells)
    colors = dict(zip(lines, plt.cm.tab10(np.arange(len(lines)) % 10)))
    if name == "weights":
        return _draw_weight_study(cells, label)
    third = name in ("depth", "width", "tanh_width") and len(depths) > 1
    if third:  # The trainability map on top, the gradients and the success rates side by side below it.
        figure = plt.figure(figsize=(14, 10.5))
        grid = figure.add_gridspec(2, 2, height_ratios=[1, 1.25])
        left, right, below_right = (figure.add_subplot(cell) for cell in (grid[0, :], grid[1, 0], grid[1, 1]))
    else:
        figure, (left, right) = plt.subplots(1, 2, figsize=(13 + 0.25 * max(0, len(cells) - 8), 5.2))
    if third and name == "depth":
        _success_against_depth_with_theory(below_right, cells, lines, depths, colors, label, theory)
    elif third and name == "tanh_width" and theory is not None and "linear_drift" in theory:
        _success_against_drift(below_right, cells, lines, depths, label, theory)
    elif third:
        _success_against_beta(below_right, cells, lines, depths, label)
    if third or len(depths) > 2:
        _trainability_map(figure, left, cells, lines, depths, label)
    else:
        _cell_accuracies(left, cells, lines, depths, colors, label)
    if len(depths) == 1:
        # One depth: the first layer's gradient over the epochs says more than one point.
        _first_layer_over_epochs(right, cells, lines, depths[0], colors, label)
    else:
        _first_layer_against_depth(right, cells, lines, depths, colors, label)
    figure.suptitle(f"Study: {name}")
    figure.tight_layout()
    return figure


def save_study(name, results, path, theory=None):
    """Writes `draw_study` to `path`; returns the path."""
    return save(draw_study(name, results, theory), path)


def _draw_weight_study(cells, label):
    """One panel per cell: how far each layer's weights move from their initial values, median and IQR."""
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
    return figure
