"""The sweep runner: a grid of configurations x seeds, resumable, in parallel here or on Dask.

- Every run is one `experiment.train_and_evaluate` call in its own run directory
  `<log dir>/<run name>/`, whose `result.json` is written atomically at the end.
- A run whose `result.json` says `completed`, with the same config, is skipped when the
  sweep is run again, so an interrupted sweep loses nothing it finished. A run saved
  with another config (say fewer epochs) is trained again.
- Runs go to joblib worker processes (one TensorFlow thread each, so `jobs` workers use
  `jobs` cores), or to a Dask cluster through joblib's Dask backend.
- A tqdm progress bar with an ETA shows on the terminal.
"""

import contextlib
import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import joblib
from tqdm import tqdm

from gradient_lab import cli
from gradient_lab import experiment
from gradient_lab import recording


def add_sweep_flags(parser, log_dir):
    """Adds the flags every sweep script shares."""
    parser.add_argument(
        "--jobs", type=cli.positive_int(), default=2, help="local worker processes (default: %(default)s)"
    )
    parser.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://127.0.0.1:8786 (default: run locally)")
    parser.add_argument("--epochs", type=cli.positive_int(), default=500, help="default: %(default)s")
    parser.add_argument("--log-dir", default=log_dir, help="default: %(default)s")
    parser.add_argument("--figure-dir", default="figures", help="default: %(default)s")
    parser.add_argument("--table-dir", default="results", help="CSV and Markdown tables (default: %(default)s)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")


def check_output_dirs(args):
    """Checks every output directory is writable before any run starts (exit 2 if not)."""
    for directory in (args.log_dir, args.figure_dir, args.table_dir):
        cli.writable_dir(directory)


@dataclass(frozen=True)
class Run:
    """One cell of a sweep: a unique run name and its config."""

    name: str
    config: experiment.Config


def load_completed(run_dir, config):
    """Returns the run's saved result if it completed with exactly `config`, else None."""
    path = Path(run_dir) / recording.RESULT_FILE
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    completed = result.get("status") == "completed" and result.get("config") == dataclasses.asdict(config)
    return result if completed else None


def train_one(run, log_dir):
    """Trains one run in a fresh directory (replacing a partial one) and returns its result."""
    return experiment.train_and_evaluate(run.config, log_dir, figure_dir=None, run_name=run.name, overwrite=True)


@contextlib.contextmanager
def dask_backend(address):
    """Connects to the Dask scheduler at `address` and makes it joblib's backend; exits 2 if it cannot."""
    from dask.distributed import Client

    try:
        client = Client(address, timeout=5)
    except (OSError, TimeoutError, ValueError, TypeError) as error:
        cli.fail(f"cannot reach the Dask scheduler at {address!r}: {error}")
    try:
        with joblib.parallel_config(backend="dask"):
            yield
    finally:
        client.close()


def run_sweep(runs, log_dir, jobs=2, scheduler=None, progress=True):
    """Runs every `Run` not yet completed under `log_dir`.

    Args:
        runs: the grid, as a list of `Run` with unique names.
        log_dir: parent directory of the run directories.
        jobs: local worker processes (ignored with `scheduler`).
        scheduler: address of a Dask scheduler, e.g. `tcp://127.0.0.1:8786`, or None.
        progress: show a progress bar on stderr.

    Returns:
        The results of all runs, in the order of `runs`; a run that did not complete
        (NaN loss) appears with its status.
    """
    if not runs:
        cli.fail("the grid is empty: nothing to run")
    names = [run.name for run in runs]
    if len(set(names)) != len(names):
        raise ValueError("run names in a sweep must be unique")
    log_dir = Path(log_dir)
    done = {run.name: load_completed(log_dir / run.name, run.config) for run in runs}
    todo = [run for run in runs if done[run.name] is None]
    backend = dask_backend(scheduler) if scheduler else contextlib.nullcontext()
    with (
        backend,
        tqdm(
            total=len(runs),
            initial=len(runs) - len(todo),
            unit="run",
            disable=not progress,
            file=sys.stderr,
            dynamic_ncols=True,
        ) as bar,
    ):
        parallel = joblib.Parallel(n_jobs=-1 if scheduler else jobs, return_as="generator_unordered")
        for result in parallel(joblib.delayed(train_one)(run, log_dir) for run in todo):
            done[result["run_name"]] = result
            bar.update()
    return [done[name] for name in names]
