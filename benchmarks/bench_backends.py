"""Benchmark: the deep ReLU run on TensorFlow, JAX and PyTorch, and issue 19's speed targets.

Keras picks its backend once per process, so every round starts one worker process per backend,
back to back, in an order that rotates from round to round. A worker times, in one process and
in alternating order, the default deep ReLU experiment (500 epochs, 20 seeds):
- `run`: seed 0 as the scripts train it (`experiment.train_and_evaluate`: gradient norms,
  histograms, diagnostics, TensorBoard events, result JSON; no figures);
- `logged`: the same without diagnostics, and `bare`: without diagnostics or gradient logging,
  side by side: their ratio is the gradient logger's overhead;
- `seeds`: the 20 seeds stacked (`stacked_seeds.train_stacked`), against `run`.

It prints every round's times, then the medians and the paired per-round ratios (median and
bootstrap 95% CI) against the targets: JAX run <= 1.5x TensorFlow's, PyTorch run <= 2x, the
logger's overhead <= 15% and 20 stacked seeds <= 2x one seed, on each backend.

Run:  python benchmarks/bench_backends.py [--rounds 3] [--epochs 500] [--seeds 20]
"""

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

from gradient_lab import backends, cli  # noqa: E402

VARIANTS = ("run", "logged", "bare", "seeds")
TARGETS = {"jax": 1.5, "torch": 2.0}  # The run's time, at most this many times TensorFlow's.
LOGGER_TARGET, SEEDS_TARGET = 0.15, 2.0


def worker(epochs, seeds):
    """Times the variants on this process's backend (`KERAS_BACKEND`); prints `{variant: seconds}` as JSON."""
    import dataclasses

    from gradient_lab import experiment, stacked_seeds

    config = experiment.config_for("deep_relu", epochs=epochs)
    logged = dataclasses.replace(config, diagnostics=False)
    bare = dataclasses.replace(logged, grad_logging=False)
    scratch = tempfile.mkdtemp()
    runs = {
        "run": lambda: experiment.train_and_evaluate(config, tempfile.mkdtemp(dir=scratch), figure_dir=None),
        "logged": lambda: experiment.train_and_evaluate(logged, tempfile.mkdtemp(dir=scratch), figure_dir=None),
        "bare": lambda: experiment.train_and_evaluate(bare, tempfile.mkdtemp(dir=scratch), figure_dir=None),
        "seeds": lambda: stacked_seeds.train_stacked(config, list(range(seeds)), final_diagnostics_only=True),
    }
    warm_up = dataclasses.replace(config, epochs=2)  # Imports and caches, not timed; each model still compiles anew.
    experiment.train_and_evaluate(warm_up, tempfile.mkdtemp(dir=scratch), figure_dir=None)
    stacked_seeds.train_stacked(warm_up, [0, 1], final_diagnostics_only=True)
    times = {}
    for name in runs:
        gc.collect()
        start = time.perf_counter()
        runs[name]()
        times[name] = time.perf_counter() - start
    print(json.dumps(times))


def run_worker(backend, epochs, seeds):
    environment = {**os.environ, "KERAS_BACKEND": backend}
    flags = ["--worker", "--epochs", str(epochs), "--seeds", str(seeds)]
    process = subprocess.run(
        [sys.executable, __file__, *flags], capture_output=True, text=True, env=environment, timeout=3600
    )
    if process.returncode != 0:
        cli.fail(f"the {backend} worker failed: {process.stderr.strip().splitlines()[-1:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def paired(numerators, denominators):
    """The median of the per-round ratios and a bootstrap 95% CI of it, as text (n/a below 3 rounds)."""
    from scipy import stats

    ratios = np.array(numerators) / np.array(denominators)
    if len(ratios) < 3:
        return float(np.median(ratios)), "n/a, fewer than 3 rounds"
    interval = stats.bootstrap(
        (ratios,), np.median, confidence_level=0.95, method="percentile", random_state=0
    ).confidence_interval
    return float(np.median(ratios)), f"{interval.low:.2f} to {interval.high:.2f}"


def report(times, backends_run):
    print("\nmedian seconds per variant:")
    for backend in backends_run:
        medians = {name: statistics.median(round_[name] for round_ in times[backend]) for name in VARIANTS}
        print(f"  {backend:10s} " + "  ".join(f"{name} {seconds:6.2f}" for name, seconds in medians.items()))

    def series(backend, name):
        return [round_[name] for round_ in times[backend]]

    print("\ntargets (paired per-round ratios: median, 95% CI):")
    for backend, target in TARGETS.items():
        if backend in backends_run and "tensorflow" in backends_run:
            ratio, interval = paired(series(backend, "run"), series("tensorflow", "run"))
            verdict = "met" if ratio <= target else "NOT met"
            print(f"  {backend} run / tensorflow run: {ratio:.2f}x (CI {interval}); target <= {target}x: {verdict}")
    for backend in backends_run:
        overhead, interval = paired(series(backend, "logged"), series(backend, "bare"))
        verdict = "met" if overhead - 1 <= LOGGER_TARGET else "NOT met"
        print(f"  {backend} with the logger / without: {overhead:.2f}x (CI {interval}); target <= 1.15x: {verdict}")
    for backend in backends_run:
        ratio, interval = paired(series(backend, "seeds"), series(backend, "run"))
        verdict = "met" if ratio <= SEEDS_TARGET else "NOT met"
        print(f"  {backend} 20 stacked seeds / one seed: {ratio:.2f}x (CI {interval}); target <= 2x: {verdict}")


def main(argv=None):
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=cli.positive_int(maximum=50), default=3, help="default: %(default)s")
    parser.add_argument("--epochs", type=cli.positive_int(maximum=10_000), default=500, help="default: %(default)s")
    parser.add_argument(
        "--seeds", type=cli.positive_int(minimum=2, maximum=100), default=20, help="default: %(default)s"
    )
    parser.add_argument(
        "--backends", nargs="+", choices=backends.NAMES, default=list(backends.NAMES), help="default: all installed"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # The benchmark starts these itself.
    args = parser.parse_args(argv)
    if args.worker:
        backends.start(argv=[])
        return worker(args.epochs, args.seeds)
    import importlib.util

    backends_run = [name for name in args.backends if importlib.util.find_spec(name) is not None]
    times = {backend: [] for backend in backends_run}
    for round_number in range(args.rounds):
        shift = round_number % len(backends_run)
        for backend in backends_run[shift:] + backends_run[:shift]:
            times[backend].append(run_worker(backend, args.epochs, args.seeds))
            seconds = "  ".join(f"{name} {value:6.2f}" for name, value in times[backend][-1].items())
            print(f"round {round_number + 1} {backend:10s} {seconds}", flush=True)
    report(times, backends_run)


if __name__ == "__main__":
    main()
