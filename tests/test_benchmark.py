"""The speed benchmark's short version runs and ends with its summary line (no timing is asserted); its statistics."""

import importlib.util
import re

import pytest
from conftest import ROOT, run_script


def test_benchmark_smoke():
    process = run_script(
        "benchmarks/bench_training.py", "--model", "shallow_tanh", "--epochs", 2, "--repeats", 1, "--ours-repeats", 1
    )
    assert process.returncode == 0, process.stderr
    lines = process.stdout.strip().splitlines()
    assert re.fullmatch(r"speedup: \d+\.\dx, grad-logging overhead: -?\d+%", lines[-1]), lines[-1]
    assert re.fullmatch(r"diagnostics overhead: -?\d+%", lines[-2])
    assert sum(line.startswith(("port", "ours")) for line in lines) == 4


def load_benchmark():
    spec = importlib.util.spec_from_file_location("bench_training", ROOT / "benchmarks" / "bench_training.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_compared_runs_run_back_to_back_in_alternating_order():
    bench = load_benchmark()
    calls = []
    variants = {name: (lambda name=name: calls.append(name) or 0.5) for name in (bench.PORT, "a", "b", "c")}
    times, accuracies = bench.time_interleaved(variants, repeats=1, ours_repeats=3)
    assert calls == [bench.PORT, "a", "b", "c", "c", "b", "a", "a", "b", "c"]
    assert [len(times[name]) for name in variants] == [1, 3, 3, 3]
    assert accuracies == dict.fromkeys(variants, 0.5)


def test_paired_overhead_is_the_median_ratio_of_runs_in_the_same_round():
    bench = load_benchmark()
    # Round ratios 1.1, 1.1, 1.1 and 1.25: machine drift between rounds (1.0 to 4.0 s) cancels.
    overhead, interval = bench.paired_overhead([2.2, 3.3, 1.1, 5.0], [2.0, 3.0, 1.0, 4.0])
    assert overhead == pytest.approx(0.1)
    assert interval.startswith("10.0% to ")
    assert bench.paired_overhead([1.5], [1.0]) == (pytest.approx(0.5), "n/a (fewer than 3 rounds)")
