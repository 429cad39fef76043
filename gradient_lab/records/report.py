"""What a script prints when a run ends, and the exit status it returns."""

from gradient_lab.records.run_dir import NAN_LOSS
from gradient_lab.sweeps import intervals


def summary_line(result):
    """Returns e.g. `deep_relu     Train: 0.836, Test: 0.840  (3.1 s)` for a result dict."""
    name = result["config"]["model"]
    seconds = result["wall_time_seconds"]
    if result["status"] != "completed":
        return f"{name:<13s} {result['status']} after {result['epochs_completed']} epochs  ({seconds:.1f} s)"
    return f"{name:<13s} Train: {result['train_accuracy']:.3f}, Test: {result['test_accuracy']:.3f}  ({seconds:.1f} s)"


def report(result, run_dir, stop_status=None):
    """Prints the result line, the verdict and the seeds' distribution; returns the exit status.

    The status is 0, 1 after a NaN loss, or `stop_status` (130 after Ctrl-C, 143 after SIGTERM).
    """
    print(summary_line(result), flush=True)
    for sentence in result.get("verdict", []):
        print(f"  - {sentence}")
    if result.get("seeds"):
        members = result["seeds"]
        accuracies = [member["test_accuracy"] for member in members if member["status"] == "completed"]
        print(f"  {intervals.distribution_line(accuracies, len(members))}", flush=True)
    if result["status"] == "interrupted":
        print(f"interrupted: partial result saved in {run_dir}")
        return stop_status
    if stop_status is not None:
        print(f"interrupted while training the other seeds: seed 0's result is saved in {run_dir}")
        return stop_status
    if result["status"] == "nan_loss":
        print(f"error: loss became NaN or Inf at epoch {result['epochs_completed']}; logs up to then are in {run_dir}")
        return NAN_LOSS
    return 0
