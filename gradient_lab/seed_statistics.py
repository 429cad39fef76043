"""Statistics over seeds: accuracy distributions, success rates and gradient ratios, as tables.

SciPy gives the intervals; pandas (imported only where a table is made) the tables.
"""

import numpy as np
from scipy import stats

from gradient_lab.thresholds import SUCCESS_ACCURACY


def accuracy_summary(accuracies):
    """Returns mean, std, 95% confidence interval of the mean (Student t), median and success rate."""
    values = np.asarray(accuracies, dtype=float)
    mean = float(values.mean())
    if len(values) > 1 and values.std() > 0:
        low, high = stats.t.interval(0.95, len(values) - 1, loc=mean, scale=stats.sem(values))
    else:
        low = high = mean
    return {
        "runs": len(values),
        "mean": mean,
        "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "ci95_low": float(low),
        "ci95_high": float(high),
        "median": float(np.median(values)),
        "success_rate": float(np.mean(values >= SUCCESS_ACCURACY)),
        **success_interval(int(np.sum(values >= SUCCESS_ACCURACY)), len(values)),
    }


def success_interval(successes, runs):
    """Returns the 95% Wilson score interval of a success rate, as `success_ci95_low` and `success_ci95_high`."""
    interval = stats.binomtest(successes, runs).proportion_ci(confidence_level=0.95, method="wilson")
    return {"success_ci95_low": float(interval.low), "success_ci95_high": float(interval.high)}


def distribution_line(accuracies, runs):
    """Returns e.g. `over 20 seeds: test 0.585 ± 0.107 (95% CI 0.535-0.635), 3/20 learned`.

    Args:
        accuracies: the test accuracies of the runs that completed.
        runs: how many runs there were, completed or not (a NaN loss counts as not learned).
    """
    summary = accuracy_summary(accuracies)
    learned = int(np.sum(np.asarray(accuracies) >= SUCCESS_ACCURACY))
    failed = f", {runs - len(accuracies)} with a NaN loss" if runs > len(accuracies) else ""
    return (f"over {runs} seeds: test {summary['mean']:.3f} ± {summary['std']:.3f} "
            f"(95% CI {summary['ci95_low']:.3f}-{summary['ci95_high']:.3f}), {learned}/{runs} learned{failed}")


def gradient_norms(result, layer_key, stat="mean"):
    """Returns a run's per-epoch gradient norms of one layer as an array."""
    return np.asarray(result["history"][f"grad_norm/{layer_key}/{stat}"], dtype=float)


def weakest_to_output_ratio(result, epoch):
    """Returns the smallest hidden-layer gradient norm over the output layer's at `epoch`."""
    keys = result["layer_keys"]
    output = gradient_norms(result, keys[-1])[epoch]
    return float(min(gradient_norms(result, key)[epoch] for key in keys[:-1]) / output)


def first_to_output_ratio(result, epoch):
    """Returns the first hidden layer's gradient norm over the output layer's at `epoch` (0-based, -1 = last)."""
    keys = result["layer_keys"]
    return float(gradient_norms(result, keys[0])[epoch] / gradient_norms(result, keys[-1])[epoch])


def summary_table(results, group_by):
    """One row per group of completed runs: accuracy summary and median gradient ratios over seeds.

    `grad_ratio_epoch1` and `grad_ratio_final` are the first hidden layer's gradient norm
    over the output layer's at epoch 1 and at the last epoch; `weakest_ratio_epoch1` is
    the smallest such ratio over all hidden layers at epoch 1 (what the verdict uses).

    Args:
        results: run result dicts.
        group_by: function from a result to its group label (a string).

    Returns:
        A pandas DataFrame, groups in order of first appearance.
    """
    groups = {}
    for result in results:
        if result["status"] == "completed":
            groups.setdefault(group_by(result), []).append(result)
    rows = []
    for label, members in groups.items():
        row = {"group": label, **accuracy_summary([result["test_accuracy"] for result in members])}
        row["grad_ratio_epoch1"] = float(np.median([first_to_output_ratio(result, 0) for result in members]))
        row["grad_ratio_final"] = float(np.median([first_to_output_ratio(result, -1) for result in members]))
        row["weakest_ratio_epoch1"] = float(np.median([weakest_to_output_ratio(result, 0) for result in members]))
        rows.append(row)
    import pandas as pd

    return pd.DataFrame(rows)


def save_table(table, path_without_suffix):
    """Writes `table` as `<path>.csv` and `<path>.md`; returns both paths."""
    from gradient_lab import cli

    csv_path = cli.atomic_write_text(f"{path_without_suffix}.csv", table.to_csv(index=False))
    markdown_path = cli.atomic_write_text(f"{path_without_suffix}.md", table.to_markdown(index=False, floatfmt=".3f"))
    return csv_path, markdown_path


def report(results, group_by, group_name, path_without_suffix):
    """Builds the summary table of `results`, prints it, and saves it as CSV and Markdown."""
    table = summary_table(results, group_by).rename(columns={"group": group_name})
    print(table.to_string(index=False, float_format=lambda value: f"{value:.3f}"))
    for path in save_table(table, path_without_suffix):
        print(f"wrote {path}")
    return table
