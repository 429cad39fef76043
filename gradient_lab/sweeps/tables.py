"""The sweeps' tables: one row per group of runs (a model, a study's cell), as CSV and Markdown."""

import numpy as np
import pandas as pd

from gradient_lab.sweeps.intervals import accuracy_summary, first_to_output_ratio, weakest_to_output_ratio


def summary_table(results, group_by):
    """One row per group of completed runs: accuracy summary and median gradient ratios over seeds.

    `grad_ratio_epoch1` and `grad_ratio_final` are the first hidden layer's gradient norm
    over the output layer's at epoch 1 and at the last epoch; `weakest_ratio_epoch1` is
    the smallest such ratio over all hidden layers at epoch 1 (what the verdict uses).
    For ReLU nets, `born_dead` is the fraction of seeds whose output was constant on the
    training set at initialisation, and `died_in_training` that of the others whose output
    is constant at the end (`diagnostics.constant_output`); other rows leave them empty.

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
        if all("born_dead" in result for result in members):  # ReLU nets: why the dead ones are dead.
            row["born_dead"] = float(np.mean([result["born_dead"] for result in members]))
            died = [result["dead_at_end"] and not result["born_dead"] for result in members]
            row["died_in_training"] = float(np.mean(died))
        rows.append(row)
    return pd.DataFrame(rows)


def save_table(table, path_without_suffix):
    """Writes `table` as `<path>.csv` and `<path>.md`; returns both paths."""
    from gradient_lab import cli

    csv_path = cli.atomic_write_text(f"{path_without_suffix}.csv", table.to_csv(index=False))
    # Blank, not "nan", where a column does not apply (born_dead in the rows of tanh nets).
    markdown_path = cli.atomic_write_text(
        f"{path_without_suffix}.md",
        table.astype(object).where(table.notna(), None).to_markdown(index=False, floatfmt=".3f", missingval=""),
    )
    return csv_path, markdown_path


def report(results, group_by, group_name, path_without_suffix):
    """Builds the summary table of `results`, prints it, and saves it as CSV and Markdown."""
    table = summary_table(results, group_by).rename(columns={"group": group_name})
    print(table.to_string(index=False, float_format=lambda value: f"{value:.3f}"))
    for path in save_table(table, path_without_suffix):
        print(f"wrote {path}")
    return table
