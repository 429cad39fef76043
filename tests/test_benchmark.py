"""The speed benchmark's short version runs and ends with its summary line (no timing is asserted)."""

import re

from conftest import run_script


def test_benchmark_smoke():
    process = run_script("benchmarks/bench_training.py", "--model", "shallow_tanh", "--epochs", 2, "--repeats", 1,
                         "--ours-repeats", 1)
    assert process.returncode == 0, process.stderr
    lines = process.stdout.strip().splitlines()
    assert re.fullmatch(r"speedup: \d+\.\dx, grad-logging overhead: -?\d+%", lines[-1]), lines[-1]
    assert re.fullmatch(r"diagnostics overhead: -?\d+%", lines[-2])
    assert sum(line.startswith(("port", "ours")) for line in lines) == 4
