"""Benchmark: N seeds trained at once (stacked) against one seed's run, side by side in one process.

For one model (deep ReLU by default, 500 epochs), each round times, back to back and in
alternating order:
- one seed as the scripts train it: `experiment.train_and_evaluate` (gradient norms, histograms,
  diagnostics, TensorBoard events, result JSON; figures off);
- `--seeds` seeds stacked into one model, as the scripts' `--seeds` and the sweeps train them:
  `stacked.train_stacked` (every seed's loss, accuracies, gradient norms and diagnostics).

It prints both medians, the paired per-round ratio (median, bootstrap 95% CI) and ends with
`seeds in parallel: 20 seeds in T s, R.Rx one seed` (T the median of the stacked runs, R the
median paired ratio).

With `--script`, it then times the whole default `python mlp_relu_deep.py` (seed 0's story and
its 20 seeds, from process start to exit, imports and figures included) against the same
script of an earlier revision (`--base`, one seed, before seeds in parallel), in fresh
working directories, back to back in alternating order, and ends with
`script: 20 seeds in T s, R.Rx the one-seed script of <base>`.

Run:  python benchmarks/bench_seeds.py [--seeds 20] [--model deep_relu] [--rounds 5] [--epochs 500]
      python benchmarks/bench_seeds.py --script [--base a97df6b] [--rounds 5]
"""

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_training import paired_overhead, time_interleaved  # noqa: E402
from bench_versions import extract_revision  # noqa: E402
from gradient_lab import cli, experiment  # noqa: E402
from gradient_lab.tf_speed import runtime  # noqa: E402

ONE_SEED, STACKED = "one seed", "stacked seeds"


def variants(model, seeds, epochs, log_root):
    """The two things to time, `{name: function returning a test accuracy}`."""
    from gradient_lab.tf_speed import stacked

    config = experiment.config_for(model, epochs=epochs)

    def one_seed():
        return experiment.train_and_evaluate(config, tempfile.mkdtemp(dir=log_root), figure_dir=None)["test_accuracy"]

    def stacked_seeds():
        return stacked.train_stacked(config, list(range(seeds)))[0].get("test_accuracy")

    return {ONE_SEED: one_seed, STACKED: stacked_seeds}


def script_variants(base, scratch):
    """Whole runs of `mlp_relu_deep.py`, `{name: function}`: the working tree's and `base`'s, each in a fresh folder."""
    old_tree = Path(scratch) / "old"
    extract_revision(base, old_tree)

    def run(script):
        def one_run():
            process = subprocess.run(
                [sys.executable, str(script)], cwd=tempfile.mkdtemp(dir=scratch), capture_output=True, text=True
            )
            if process.returncode:
                sys.exit(f"error: {script} failed with status {process.returncode}: {process.stderr.strip()}")
            return float(process.stdout.split("Test: ")[1].split()[0])

        return one_run

    return {f"{base} script": run(old_tree / "mlp_relu_deep.py"), "script now": run(ROOT / "mlp_relu_deep.py")}


def time_scripts(base, rounds):
    """Times the two scripts round by round and prints their medians and the paired ratio."""
    with tempfile.TemporaryDirectory() as scratch:
        times, accuracies = time_interleaved(script_variants(base, scratch), 0, rounds)
    old, new = f"{base} script", "script now"
    ratio, interval = paired_overhead(times[new], times[old])
    for name in times:
        print(
            f"{name:14s} median {statistics.median(times[name]):.2f} s, min {min(times[name]):.2f} s, "
            f"max {max(times[name]):.2f} s over {len(times[name])} runs; test accuracy {accuracies[name]:.3f}"
        )
    print(f"{new} / {old}, paired per round: {ratio + 1:.2f}x (95% CI of the ratio - 1: {interval})")
    print(f"script: 20 seeds in {statistics.median(times[new]):.1f} s, {ratio + 1:.2f}x the one-seed script of {base}")


def main(argv=None):
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=cli.positive_int(2), default=20, help="default: %(default)s")
    parser.add_argument("--model", choices=sorted(experiment.MODELS), default="deep_relu", help="default: %(default)s")
    parser.add_argument("--rounds", type=cli.positive_int(), default=5, help="default: %(default)s")
    parser.add_argument("--epochs", type=experiment.epochs_flag, default=500, help="default: %(default)s")
    parser.add_argument("--script", action="store_true", help="also time the whole mlp_relu_deep.py against --base's")
    parser.add_argument("--base", default="a97df6b", help="the revision of the one-seed script (default: %(default)s)")
    args = parser.parse_args(argv)
    runtime.start_tensorflow()
    with tempfile.TemporaryDirectory() as log_root:
        times, accuracies = time_interleaved(variants(args.model, args.seeds, args.epochs, log_root), 0, args.rounds)
    ratio, interval = paired_overhead(times[STACKED], times[ONE_SEED])
    for name in (ONE_SEED, STACKED):
        print(
            f"{name:14s} median {statistics.median(times[name]):.2f} s, min {min(times[name]):.2f} s "
            f"over {len(times[name])} runs; seed 0's test accuracy {accuracies[name]:.3f}"
        )
    shown = round(ratio + 1, 2)  # The last line rounds this, so that the two printed ratios agree.
    print(f"stacked / one seed, paired per round: {shown:.2f}x (95% CI of the ratio - 1: {interval})")
    print(f"seeds in parallel: {args.seeds} seeds in {statistics.median(times[STACKED]):.1f} s, {shown:.1f}x one seed")
    if args.script:
        time_scripts(args.base, args.rounds)


if __name__ == "__main__":
    main()
