"""Benchmark: a straight Keras 3 port of the 2019 training loop against this project's training.

In one process, for the same model and seed, it times (from model build to trained
model, tracing included) the port `--repeats` times and each of our variants
`--ours-repeats` times, interleaved so that machine noise hits all of them alike:

- port: `model.fit(x, y, validation_data=(x_test, y_test), epochs, batch_size=32)` on
  NumPy arrays, as the 2019 code does (no gradient logging; Keras 3 cannot do it);
- ours: `experiment.train_and_evaluate` as `mlp_tanh.py` and `mlp_relu_deep.py` run it
  by default: whole-epoch `fit`, per-layer gradient norms and histograms, diagnostics,
  TensorBoard logs and the result JSON (figures aside);
- ours, no diagnostics: the same with `--no-diagnostics`;
- ours, no grad logging: the same with `--no-grad-logging --no-diagnostics`.

It prints a table (min and median seconds, speedup over the port by min and by
median, final test accuracy) and, per overhead, the median over rounds of the ratio of
two variants' runs in the same round with a bootstrap 95% confidence interval (and the
ratios of the minimums and of the medians beside it). On a shared machine the speed
drifts by tens of percent over seconds; the two runs compared ran back to back (see
`time_interleaved`), so their ratio cancels most of that drift. It ends with
`diagnostics overhead: D%` (ours / ours no diagnostics - 1) and `speedup: N.Nx,
grad-logging overhead: M%` (median port / median ours; ours no diagnostics / ours no
grad logging - 1, paired). With several models, the worst model's numbers are printed.
With `--script` it also times `python mlp_relu_deep.py` from process start to its
printed result. With `--accuracy-seeds K` it times nothing and instead compares the
final test accuracy of the port and of ours over seeds 0..K-1. With `--json PATH` it
also writes each model's measured seconds and test accuracies, by variant, to PATH.

Run:  python benchmarks/bench_training.py --model deep_tanh --epochs 500 --repeats 3
"""

import dataclasses
import functools
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gradient_lab import cli  # noqa: E402
from gradient_lab.tf_speed import runtime  # noqa: E402
from gradient_lab import experiment  # noqa: E402


PORT = "port (model.fit on NumPy)"
OURS = "ours (as the scripts run)"
NO_DIAGNOSTICS = "ours, no diagnostics"
NO_GRAD_LOGGING = "ours, no grad logging, no diagnostics"


def train_port(config, data):
    """The 2019 loop on Keras 3: NumPy arrays straight into `fit`, validation every epoch."""
    import keras

    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(config.seed)
    model = experiment.compiled_model(config)  # The same seeded weights as ours.
    history = model.fit(
        x_train,
        y_train,
        validation_data=(x_test, y_test),
        epochs=config.epochs,
        batch_size=config.batch_size,
        verbose=0,
    )
    return history.history["val_accuracy"][-1]


def train_ours(config, log_root):
    """The project's training exactly as the scripts run it (TensorBoard logs, result JSON), minus figures."""
    log_dir = tempfile.mkdtemp(dir=log_root)
    return experiment.train_and_evaluate(config, log_dir, figure_dir=None)["history"]["val_accuracy"][-1]


def final_test_accuracy(variant, model, seed, epochs):
    """One untimed run for the accuracy comparison; runs in a joblib worker."""
    runtime.start_tensorflow()
    import data

    config = experiment.config_for(model, epochs=epochs, seed=seed, diagnostics=False, histogram_freq=0)
    if variant == PORT:
        return train_port(config, data.load_circles())
    with tempfile.TemporaryDirectory() as log_root:
        return train_ours(config, log_root)


def compare_accuracy_spread(models, seeds, epochs, jobs):
    """Prints the test accuracy over seeds of the port and of ours, side by side."""
    import joblib

    from gradient_lab.sweeps import intervals

    cells = [(variant, model, seed) for model in models for variant in (PORT, OURS) for seed in range(seeds)]
    accuracies = joblib.Parallel(n_jobs=jobs)(
        joblib.delayed(final_test_accuracy)(variant, model, seed, epochs) for variant, model, seed in cells
    )
    print(f"\nfinal test accuracy over seeds 0..{seeds - 1} ({epochs} epochs)")
    print(f"{'model':<13s} {'variant':<28s} {'mean':>6s} {'std':>6s} {'min':>6s} {'max':>6s} {'success':>8s}")
    for model in models:
        for variant in (PORT, OURS):
            values = [accuracy for (v, m, _), accuracy in zip(cells, accuracies) if (v, m) == (variant, model)]
            summary = intervals.accuracy_summary(values)
            print(
                f"{model:<13s} {variant:<28s} {summary['mean']:6.3f} {summary['std']:6.3f} {min(values):6.3f} "
                f"{max(values):6.3f} {summary['success_rate']:7.0%}"
            )


def time_script(epochs):
    """Seconds from `python mlp_relu_deep.py` starting to its result line, imports included."""
    with tempfile.TemporaryDirectory() as workdir:
        start = time.perf_counter()
        process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "mlp_relu_deep.py"),
                "--epochs",
                str(epochs),
                "--log-dir",
                f"{workdir}/logs",
                "--figure-dir",
                f"{workdir}/figures",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for line in process.stdout:
            if line.startswith("deep_relu"):
                seconds = time.perf_counter() - start
                print(f"  printed: {line.strip()}")
        process.wait()
        return seconds


def time_interleaved(variants, repeats, ours_repeats):
    """Times each variant's runs, round by round; returns `{name: [seconds]}` and each one's last accuracy.

    The port runs first in the first `repeats` rounds. Our variants follow in their order,
    reversed every other round (A B C, C B A, ...): the two runs an overhead compares are
    always back to back, and a drift of the machine's speed within a round favours
    neither. Every run starts from a collected heap, so none pays for an earlier one's garbage.
    """
    times, accuracies = {name: [] for name in variants}, {}
    ours = [name for name in variants if name != PORT]
    for round_number in range(max(repeats, ours_repeats)):
        order = [PORT] if PORT in variants and round_number < repeats else []
        if round_number < ours_repeats:
            order += ours if round_number % 2 == 0 else ours[::-1]
        for name in order:
            gc.collect()
            start = time.perf_counter()
            accuracies[name] = variants[name]()
            times[name].append(time.perf_counter() - start)
    return times, accuracies


def paired_overhead(slower, faster):
    """The median over rounds of slower / faster - 1, and a bootstrap 95% confidence interval of it.

    The runs of one round ran back to back, so their ratio cancels the slow drifts of a
    shared machine's speed that comparing all runs of one against all of the other keeps.
    """
    from scipy import stats

    ratios = np.array(slower) / np.array(faster)
    if len(ratios) < 3:
        return float(np.median(ratios)) - 1, "n/a (fewer than 3 rounds)"
    interval = stats.bootstrap(
        (ratios,), np.median, confidence_level=0.95, method="percentile", random_state=0
    ).confidence_interval
    return float(np.median(ratios)) - 1, f"{interval.low - 1:.1%} to {interval.high - 1:.1%}"


def ours_and_port(config, circles, log_root):
    """The variants to time for one config, `{name: function}`; ours ordered so each overhead compares neighbours."""
    no_diagnostics = dataclasses.replace(config, diagnostics=False)
    no_grad_logging = dataclasses.replace(no_diagnostics, grad_logging=False)
    return {
        PORT: functools.partial(train_port, config, circles),
        OURS: functools.partial(train_ours, config, log_root),
        NO_DIAGNOSTICS: functools.partial(train_ours, no_diagnostics, log_root),
        NO_GRAD_LOGGING: functools.partial(train_ours, no_grad_logging, log_root),
    }


def print_model_report(times, accuracies):
    """Prints one model's table and overheads; returns the speedup by median and `{overhead: (value, CI)}`."""
    fastest = {name: min(seconds) for name, seconds in times.items()}
    median = {name: statistics.median(seconds) for name, seconds in times.items()}
    print(f"{'variant':<38s} {'min s':>7s} {'median s':>9s} {'speedup (min)':>14s} {'(median)':>9s} {'test acc':>9s}")
    for name in times:
        print(
            f"{name:<38s} {fastest[name]:7.2f} {median[name]:9.2f} {fastest[PORT] / fastest[name]:13.1f}x "
            f"{median[PORT] / median[name]:8.1f}x {accuracies[name]:9.3f}"
        )
    overhead_of = {"grad logging": (NO_DIAGNOSTICS, NO_GRAD_LOGGING), "diagnostics": (OURS, NO_DIAGNOSTICS)}
    paired = {label: paired_overhead(times[slower], times[faster]) for label, (slower, faster) in overhead_of.items()}
    for label, (slower, faster) in overhead_of.items():
        overhead, interval = paired[label]
        print(
            f"{label} overhead: {overhead:.1%} (median of paired runs; 95% CI {interval}), "
            f"{fastest[slower] / fastest[faster] - 1:.1%} by min, "
            f"{median[slower] / median[faster] - 1:.1%} by median"
        )
    return median[PORT] / median[OURS], paired


def parse_args(argv):
    """The benchmark's flags, parsed."""
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        choices=sorted(experiment.MODELS) + ["all"],
        default="deep_tanh",
        help="model to benchmark (default: %(default)s)",
    )
    parser.add_argument("--epochs", type=experiment.epochs_flag, default=500, help="default: %(default)s")
    parser.add_argument(
        "--repeats", type=cli.positive_int(), default=3, help="timed runs of the port (default: %(default)s)"
    )
    parser.add_argument(
        "--ours-repeats",
        type=cli.positive_int(),
        default=20,
        help="timed runs of each of our variants; they are short, and more runs steady the "
        "overhead ratios on a noisy machine (default: %(default)s)",
    )
    parser.add_argument("--seed", type=cli.non_negative_int(), default=0, help="default: %(default)s")
    parser.add_argument("--script", action="store_true", help="also time `python mlp_relu_deep.py` end to end")
    parser.add_argument(
        "--accuracy-seeds",
        type=cli.positive_int(),
        help="instead of timing, compare test accuracy over this many seeds, port against ours",
    )
    parser.add_argument(
        "--json",
        metavar="PATH",
        help="also write each model's measured seconds and test accuracies, by variant, to this JSON file",
    )
    parser.add_argument(
        "--jobs",
        type=cli.positive_int(),
        default=2,
        help="worker processes for --accuracy-seeds (default: %(default)s)",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import data

    runtime.start_tensorflow()  # Both variants run with the same TensorFlow threading: one thread.
    circles = data.load_circles()
    models = sorted(experiment.MODELS) if args.model == "all" else [args.model]
    if args.accuracy_seeds:
        compare_accuracy_spread(models, args.accuracy_seeds, args.epochs, args.jobs)
        return
    speedups, overheads, diagnostics_overheads, measured = [], [], [], {}
    with tempfile.TemporaryDirectory() as log_root:
        for model in models:
            config = experiment.config_for(model, epochs=args.epochs, seed=args.seed)
            times, accuracies = time_interleaved(
                ours_and_port(config, circles, log_root), args.repeats, args.ours_repeats
            )
            print(
                f"\n{model}, {args.epochs} epochs, seed {args.seed}, port x {args.repeats}, "
                f"each of ours x {args.ours_repeats}, interleaved"
            )
            speedup, paired = print_model_report(times, accuracies)
            speedups.append(speedup)
            overheads.append(paired["grad logging"][0])
            diagnostics_overheads.append(paired["diagnostics"][0])
            measured[model] = {"seconds": times, "test_accuracy": accuracies}
    if args.json:
        Path(args.json).write_text(json.dumps(measured, indent=1) + "\n")
    if args.script:
        print(
            f"\npython mlp_relu_deep.py --epochs {args.epochs}, process start to result line: "
            f"{time_script(args.epochs):.1f} s"
        )
    print(f"diagnostics overhead: {max(diagnostics_overheads):.0%}")
    print(f"speedup: {min(speedups):.1f}x, grad-logging overhead: {max(overheads):.0%}")


if __name__ == "__main__":
    main()
