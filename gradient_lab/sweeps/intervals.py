"""Statistics over seeds: accuracy distributions, success rates with their intervals, gradient ratios.

`seed_tables.py` turns them into tables (with pandas); this module needs only SciPy.
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
    return (
        f"over {runs} seeds: test {summary['mean']:.3f} ± {summary['std']:.3f} "
        f"(95% CI {summary['ci95_low']:.3f}-{summary['ci95_high']:.3f}), {learned}/{runs} learned{failed}"
    )


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
