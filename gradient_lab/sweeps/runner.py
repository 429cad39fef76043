"""The sweep runner: a grid of cells, each one configuration's seeds, resumable, in parallel here or on Dask.

- A cell is one configuration and its seeds, trained at once as one stacked computation
  (`stacked.train_stacked`), in its own directory `<log dir>/<cell name>/`, whose
  `cell.json` (every seed's result) is written atomically at the end.
- A cell whose `cell.json` holds the same config and seeds is skipped when the sweep runs
  again, so an interrupted sweep loses nothing it finished; a cell killed midway has no
  `cell.json` and is trained again, and so is one saved with another config, seeds or format.
- Cells go to joblib worker processes (one TensorFlow thread each, so `jobs` workers use
  `jobs` cores), or to a Dask cluster through joblib's Dask backend.
- Every seed is also written for TensorBoard's HParams dashboard, as `<cell>/seed-<k>`.
- A tqdm progress bar with an ETA shows on the terminal.
"""

import contextlib
import dataclasses
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import joblib
from tqdm import tqdm

from gradient_lab import backends, cli
from gradient_lab.tf_speed import runtime
from gradient_lab import experiment
from gradient_lab.records.result import json_text, library_versions, write_hparams


def add_sweep_flags(parser, log_dir):
    """Adds the flags every sweep script shares."""
    parser.add_argument(
        "--jobs", type=cli.positive_int(), default=2, help="local worker processes (default: %(default)s)"
    )
    parser.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://127.0.0.1:8786 (default: run locally)")
    parser.add_argument(
        "--epochs",
        type=experiment.epochs_flag,
        default=500,
        help=f"at most {experiment.MAX_EPOCHS} (default: %(default)s)",
    )
    parser.add_argument("--log-dir", default=log_dir, help="default: %(default)s")
    parser.add_argument("--figure-dir", default="figures", help="default: %(default)s")
    parser.add_argument("--table-dir", default="results", help="CSV and Markdown tables (default: %(default)s)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")
    backends.add_flag(parser)


def check_backend(args):
    """Exits with status 2 and one line unless the sweep runs on TensorFlow, the one backend its cells train on."""
    if args.backend != "tensorflow":
        cli.fail(
            f"the sweeps train on TensorFlow only, not on {args.backend}: unset KERAS_BACKEND or use --backend "
            f"tensorflow (the scripts, mlp_tanh.py and mlp_relu_deep.py, run on every backend)"
        )


def check_cells_fit(cells):
    """Exits with status 2 and one line if some cell would not fit the machine (see `experiment.check_size`)."""
    for cell in cells:
        config = cell.config
        experiment.check_size(
            config.num_hidden_layers, config.width, len(cell.seeds), config.num_samples, config.batch_size
        )


def check_output_dirs(args):
    """Checks every output directory is writable before any run starts (exit 2 if not)."""
    cli.writable_dirs(args.log_dir, args.figure_dir, args.table_dir)


CELL_FILE = "cell.json"
# Version 2: ReLU members say whether they were born dead and ended dead. A cell saved in
# another version is trained again, so that every table has every column.
CELL_FORMAT = 2
# What a cell keeps of each seed's per-epoch numbers (the rest goes into its verdict).
KEPT_SERIES = ("loss", "accuracy", "val_loss", "val_accuracy")
KEPT_GROUPS = ("weight_l1/", "weight_change_l1/")


@dataclass(frozen=True)
class Cell:
    """One cell of a sweep: a unique name, its config (whose `seed` is not used) and its seeds (a range, say)."""

    name: str
    config: experiment.Config
    seeds: tuple


def load_completed(cell_dir, cell):
    """Returns the cell's saved record if it completed with exactly this config and these seeds, else None."""
    path = Path(cell_dir) / CELL_FILE
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    same = record.get("config") == dataclasses.asdict(cell.config) and record.get("seeds") == list(cell.seeds)
    same = same and record.get("format") == CELL_FORMAT
    return record if same else None


def train_cell(cell, log_dir):
    """Trains a cell's seeds at once in a fresh directory (replacing a partial one); returns its record."""
    runtime.start_tensorflow()
    from gradient_lab import diagnostics
    from gradient_lab.tf_speed import stacked

    start = time.perf_counter()
    # A cell keeps per-epoch weight norms (with `weight_logging`) but no other per-epoch
    # diagnostics: its verdicts read only the last epoch's, so only those are taken.
    members = stacked.train_stacked(
        cell.config, list(cell.seeds), final_diagnostics_only=not cell.config.weight_logging
    )
    cell_dir = Path(log_dir) / cell.name
    if cell_dir.exists():
        shutil.rmtree(cell_dir)
    cell_dir.mkdir(parents=True)
    results = []
    for member in members:
        config = dataclasses.replace(cell.config, seed=member["seed"])
        result = {"run_name": f"{cell.name}-seed{member['seed']}", "config": dataclasses.asdict(config), **member}
        result["verdict"] = diagnostics.verdict(result) if cell.config.diagnostics else []
        result["history"] = {
            key: values
            for key, values in member["history"].items()
            if key in KEPT_SERIES
            or key.startswith(KEPT_GROUPS)
            or key.startswith("grad_norm/")
            and key.endswith("/mean")
        }
        write_hparams(config, cell_dir / f"seed-{member['seed']}", result)
        results.append(result)
    record = {
        "cell": cell.name,
        "format": CELL_FORMAT,
        "status": "completed",
        "config": dataclasses.asdict(cell.config),
        "seeds": list(cell.seeds),
        "wall_time_seconds": time.perf_counter() - start,
        "versions": library_versions(),
        "members": results,
    }
    cli.atomic_write_text(cell_dir / CELL_FILE, json_text(record, levels=1))
    return record


SCHEDULER_TIMEOUT = 5  # Seconds to reach a Dask scheduler before giving up.


@contextlib.contextmanager
def dask_backend(address):
    """Connects to the Dask scheduler at `address` and makes it joblib's backend; exits 2 if it cannot."""
    from dask.distributed import Client

    try:
        client = Client(address, timeout=SCHEDULER_TIMEOUT)
    except (OSError, TimeoutError, ValueError, TypeError) as error:
        cli.fail(f"cannot reach the Dask scheduler at {address!r}: {error}")
    try:
        with joblib.parallel_config(backend="dask"):
            yield
    finally:
        client.close()


def run_sweep(cells, log_dir, jobs=2, scheduler=None, progress=True):
    """Trains every `Cell` not yet completed under `log_dir`.

    Args:
        cells: the grid, as a list of `Cell` with unique names.
        log_dir: parent directory of the cell directories.
        jobs: local worker processes (ignored with `scheduler`).
        scheduler: address of a Dask scheduler, e.g. `tcp://127.0.0.1:8786`, or None.
        progress: show a progress bar on stderr.

    Returns:
        Every seed's result, cell after cell in the order of `cells`, each as a single
        run's result dict (`run_name` `<cell>-seed<k>`); a seed that did not complete (NaN
        loss) appears with its status.
    """
    if not cells:
        cli.fail("the grid is empty: nothing to run")
    names = [cell.name for cell in cells]
    if len(set(names)) != len(names):
        raise ValueError("cell names in a sweep must be unique")
    log_dir = Path(log_dir)
    done = {cell.name: load_completed(log_dir / cell.name, cell) for cell in cells}
    todo = [cell for cell in cells if done[cell.name] is None]
    backend = dask_backend(scheduler) if scheduler else contextlib.nullcontext()
    with (
        backend,
        tqdm(
            total=len(cells),
            initial=len(cells) - len(todo),
            unit="cell",
            disable=not progress,
            file=sys.stderr,
            dynamic_ncols=True,
        ) as bar,
    ):  # After the backend: a failed connection shows no bar.
        parallel = joblib.Parallel(n_jobs=-1 if scheduler else jobs, return_as="generator_unordered")
        for record in parallel(joblib.delayed(train_cell)(cell, log_dir) for cell in todo):
            done[record["cell"]] = record
            bar.update()
    return [member for name in names for member in done[name]["members"]]
