"""Shared test helpers: the repo on sys.path, runners for the real scripts, a figure check, the test order."""

import ast
import contextlib
import gc
import io
import json
import os
import runpy
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_script(script, *args, cwd=None):
    """Runs `python <script> <args>` from the repo and returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def pytest_configure(config):
    """In each process that runs tests, starts TensorFlow as the scripts do, before a test module imports Keras.

    One thread per op, two ops at a time (`runtime.start_tensorflow`): TensorFlow's default, a
    thread per core for each op, would have the two test workers' threads fight over the two
    cores, and make the in-process script runs differ from the real ones. The xdist
    controller, which runs no test, does not import TensorFlow.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") or not getattr(config.option, "numprocesses", None):
        from gradient_lab.tf_speed import runtime

        runtime.start_tensorflow(ops_at_a_time=2)


def run_in_this_process(script, *args):
    """Runs `python <script> <args>` in this process, as `__main__`; returns (status, stdout, stderr).

    A fresh interpreter would add TensorFlow's start (3 to 5 s) and nothing these tests check: the
    script's own `if __name__ == "__main__"` line runs, with `sys.argv` as the shell would set it.
    The signal handlers that a training run installs (`cli.stop_on_signals`) are put back afterwards.
    """
    from gradient_lab import cli

    argv, handlers = sys.argv, {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    sys.argv = [str(ROOT / script), *map(str, args)]
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            runpy.run_path(str(ROOT / script), run_name="__main__")
        status = 0
    except SystemExit as stop:
        status = stop.code or 0
    finally:
        sys.argv = argv
        for number, handler in handlers.items():
            signal.signal(number, handler)
        cli._stop_requested = None
    return status, stdout.getvalue(), stderr.getvalue()


@pytest.fixture
def run_main():
    """`run_main("mlp_tanh", *args)`: `python mlp_tanh.py <args>` in this process (`run_in_this_process`)."""
    return lambda module, *args: run_in_this_process(f"{module}.py", *args)


def assert_png_shows(path, tmp_path, save, *data):
    """Checks, pixel for pixel, that the PNG at `path` is what `save(*data, other_path)` draws now.

    Together with test_figures.py, which checks what each figure draws from its data, this shows
    that a script's PNG is the figure of the numbers it saved (not a blank, stale or other run's one).
    """
    import numpy as np
    from matplotlib.image import imread

    again = tmp_path / f"again-{Path(path).name}"
    save(*data, again)
    written = imread(path)
    np.testing.assert_array_equal(written, imread(again), err_msg=f"{path} is not the figure of its data")
    colours = np.unique(written[::5, ::5].reshape(-1, written.shape[-1]), axis=0)
    assert len(colours) > 10, f"{path} is (nearly) blank"


def imported_names(path):
    """Every module name that the file at `path` imports, at its top or inside a function."""
    names = []
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def heavy_imports(paths):
    """Every import of pandas or Dask in the files at `paths`, and of SciPy outside sweeps/intervals.py.

    SciPy gives the seeds' confidence intervals (sweeps/intervals.py); pandas and Dask are the sweeps'.
    scikit-learn itself imports SciPy, and pandas where it is installed: only our own files count.
    """
    heavy, intervals = set(), ROOT / "gradient_lab" / "sweeps" / "intervals.py"
    for path in map(Path, paths):
        for name in imported_names(path):
            top = name.split(".")[0]
            if top in ("pandas", "dask") or top == "scipy" and path != intervals:
                heavy.add(f"{path.relative_to(ROOT)}: {name}")
    return sorted(heavy)


def our_files_imported_by(script):
    """The repo's files that `script` can import, directly or through others (without running any)."""
    found, waiting = set(), [ROOT / script]
    while waiting:
        path = waiting.pop()
        if path in found:
            continue
        found.add(path)
        for name in imported_names(path):
            if name.split(".")[0] not in ("gradient_lab", *(p.stem for p in ROOT.glob("*.py"))):
                continue
            module = ROOT / name.replace(".", "/")  # gradient_lab.x.y, or a top-level script.
            waiting += [path for path in (module.with_suffix(".py"), module / "__init__.py") if path.exists()]
    return sorted(found)


# Runs a script as `__main__` in a fresh interpreter and prints its exit status and the repo's modules
# it loaded, with their files.
RUNNER = """
    import json, runpy, sys
    sys.path.insert(0, {root!r})
    sys.argv = [{script!r}, *{args!r}]
    try:
        runpy.run_path({script!r}, run_name="__main__")
        status = 0
    except SystemExit as stop:
        status = stop.code
    ours = {{name: module.__file__ for name, module in list(sys.modules.items())
            if (getattr(module, "__file__", None) or "").startswith({root!r} + "/")}}
    print(json.dumps({{"status": status, "modules": sorted(ours), "files": sorted(ours.values())}}))
"""


def run_audited(script, *args):
    """Runs `python <script> <args>` in a fresh interpreter; returns its outcome and the process.

    The outcome: the exit `status`, the repo's `modules` it loaded, and `heavy`, their imports (and
    the script's) of pandas, Dask or SciPy (`heavy_imports`).
    """
    code = textwrap.dedent(RUNNER).format(root=str(ROOT), script=str(ROOT / script), args=[str(a) for a in args])
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    outcome = json.loads(process.stdout.strip().splitlines()[-1])
    outcome["heavy"] = heavy_imports([ROOT / script, *outcome["files"]])
    return outcome, process


# The longest tests and groups first (measured with `pytest --durations=25`), so that the two
# test workers (pytest.ini: -n 2 --dist loadgroup) start them at once and end together, instead
# of one worker waiting at the end while the other runs a long test it picked up last.
LONGEST_FIRST = [
    "test_backends.py",  # One group: grad_logging.py copied alone on each backend, three fresh interpreters.
    "test_scripts.py",  # One group: the run_all.py smoke run and the tests that read it.
    "test_robustness.py::test_nan_loss",
    "test_robustness.py::test_sigterm_from_outside",
    "test_headline.py",
    "test_stacked.py::test_member_k",  # With the test_stacked.py tests that share its training (one group).
    "test_stacked.py::test_with_adam",
    "test_grad_logging.py::test_plain_and_fast",
    "test_diagnostics.py::test_born_dead_fraction",
    "test_robustness.py::test_ctrl_c_or_sigterm",
    "test_benchmark.py::test_benchmark_smoke",
    "test_script_contracts.py",
]


def pytest_collection_modifyitems(items):
    """Puts the tests of `LONGEST_FIRST` first, in its order; the others keep theirs."""

    def rank(item):
        return next((i for i, start in enumerate(LONGEST_FIRST) if start in item.nodeid), len(LONGEST_FIRST))

    items.sort(key=rank)


@pytest.fixture(autouse=True)
def _collect_then_freeze():
    """After each test, collects its garbage and freezes what is left (`gc.freeze`).

    A test worker keeps hundreds of thousands of objects alive (TensorFlow's and Keras's
    modules, traced functions, earlier tests' models). Python's full collections scan all of
    them, and the few that the tests and the benchmark's `gc.collect()` trigger cost 1-2 s
    each. Frozen objects are not scanned again; each test's garbage is still collected.
    """
    yield
    gc.collect()
    gc.freeze()
