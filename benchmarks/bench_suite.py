"""Benchmark: the default test suite (`python -m pytest`) of an earlier revision against the working tree's.

Both suites run on this machine, one after the other, round by round in alternating order
(old new, new old, ...), so that a shared machine's drift favours neither; each round's
ratio new / old compares two runs made back to back. The old revision is checked out as a
detached git worktree in a temporary directory (a real checkout, as CI gets) and removed at
the end; the new suite runs in the working tree. Both use the packages installed here.

It prints each run's wall seconds and test count, each round's ratio, and ends with
`suite: new / old = R (median of N rounds), old median A s, new median B s`.
Every run must pass: a failed run stops the benchmark with its last lines and exit status 1.

Run:  python benchmarks/bench_suite.py --base 062ad0b --rounds 2     (about 5 minutes a round)
"""

import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gradient_lab import cli  # noqa: E402

OLD, NEW = "old", "new"
BASE = "062ad0b"  # The last revision before the suite was made faster (issue 17).


def run_suite(directory):
    """Runs `python -m pytest -q` in `directory`; returns (wall seconds, tests passed)."""
    start = time.perf_counter()
    process = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=directory, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    last = process.stdout.strip().splitlines()[-1] if process.stdout.strip() else ""
    passed = re.search(r"(\d+) passed", last)
    if process.returncode or not passed:
        print("\n".join(process.stdout.strip().splitlines()[-15:]), file=sys.stderr)
        print(f"error: the suite in {directory} failed (exit status {process.returncode})", file=sys.stderr)
        sys.exit(1)
    return seconds, int(passed.group(1))


def time_rounds(directories, rounds):
    """`{name: [seconds]}` of each suite, old new / new old round by round; prints each run."""
    times = {name: [] for name in directories}
    for round_number in range(rounds):
        order = [OLD, NEW] if round_number % 2 == 0 else [NEW, OLD]
        for name in order:
            seconds, passed = run_suite(directories[name])
            times[name].append(seconds)
            print(f"round {round_number + 1}, {name}: {seconds:.1f} s, {passed} passed", flush=True)
        print(f"round {round_number + 1}: new / old = {times[NEW][-1] / times[OLD][-1]:.2f}", flush=True)
    return times


def main(argv=None):
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=BASE, help="the old revision (default: %(default)s)")
    parser.add_argument("--rounds", type=cli.positive_int(maximum=20), default=2, help="default: %(default)s")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        old = Path(scratch) / "old"
        added = subprocess.run(
            ["git", "worktree", "add", "--detach", str(old), args.base], cwd=ROOT, capture_output=True, text=True
        )
        if added.returncode:
            cli.fail(f"git worktree add {args.base}: {added.stderr.strip()}")
        try:
            times = time_rounds({OLD: old, NEW: ROOT}, args.rounds)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, capture_output=True)
    ratios = [new / old for new, old in zip(times[NEW], times[OLD])]
    print(
        f"suite: new / old = {statistics.median(ratios):.2f} (median of {len(ratios)} rounds), "
        f"old median {statistics.median(times[OLD]):.1f} s, new median {statistics.median(times[NEW]):.1f} s"
    )


if __name__ == "__main__":
    main()
