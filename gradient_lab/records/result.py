"""A run's result record: `result.json` (written atomically) and the HParams dashboard's entry.

`result.json` holds the config, status (`completed`, `nan_loss` or `interrupted`), final
accuracies, every epoch's logs, the diagnostics and library versions. Reading it back
(`load_results`) needs neither Keras nor TensorFlow, so that `compare.py` starts fast.
"""

import dataclasses
import json
import math
import platform
from importlib import metadata
from pathlib import Path

from gradient_lab import cli

RESULT_FILE = "result.json"
# What TensorBoard's HParams dashboard shows of every run, to filter and compare sweeps.
HPARAMS = (
    "model",
    "num_hidden_layers",
    "width",
    "activation",
    "initializer",
    "optimizer",
    "learning_rate",
    "batch_size",
    "epochs",
    "seed",
)
FINAL_METRICS = ("train_accuracy", "test_accuracy")


def run_result(config, run_dir, layer_keys, history, status, wall_time, backend="tensorflow"):
    """Returns the result dict of a run, without the final accuracies.

    Args:
        config: the run's `experiment.Config`.
        run_dir: its directory.
        layer_keys: the keys of its layers in the gradient-norm logs (none if it logged none).
        history: `{log name: one value per epoch}` (a Keras `History.history`).
        status: `completed` or `interrupted`; a NaN or Inf last loss makes it `nan_loss`.
        wall_time: seconds from the run's start to its end.
        backend: the Keras backend it trained on.
    """
    history = {key: [float(value) for value in values] for key, values in history.items()}
    if history.get("loss") and not math.isfinite(history["loss"][-1]):
        status = "nan_loss"
    return {
        "run_name": run_dir.name,
        "status": status,
        "config": dataclasses.asdict(config),
        "seed": config.seed,
        "backend": backend,
        "layer_keys": layer_keys,
        "epochs_completed": len(history.get("loss", [])),
        "wall_time_seconds": wall_time,
        "versions": library_versions(),
        "history": history,
    }


def write_hparams(config, run_dir, result):
    """Records a finished run for TensorBoard's HParams dashboard: its hyperparameters and final accuracies."""
    # Here, not at the top: reading results needs neither TensorBoard nor its protos.
    from gradient_lab.records import tensorboard_events

    hparams = {name: value for name, value in dataclasses.asdict(config).items() if name in HPARAMS}
    final_metrics = {name: result[name] for name in FINAL_METRICS if name in result}
    tensorboard_events.write_hparams(run_dir, hparams, final_metrics)


def library_versions():
    """Returns the versions of Python and the libraries that shape the numbers."""
    versions = {"python": platform.python_version()}
    for package in ("tensorflow", "jax", "torch", "keras", "tensorboard", "numpy", "scikit-learn", "matplotlib"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def save_result(run_dir, result):
    """Writes `result` as `<run_dir>/result.json`; a reader never sees a half-written file."""
    return cli.atomic_write_text(Path(run_dir) / RESULT_FILE, json_text(result))


def json_text(value, levels=2, indent=""):
    """Returns `value` as JSON with its first `levels` levels of dicts one key a line, and each list on one line.

    A history of 500 epochs then takes one line a series, and the JSON module's fast C
    encoder writes each line (with `indent=`, it falls back to slow Python for all of it).
    """
    if not isinstance(value, dict) or not value or levels == 0:
        return json.dumps(value)
    inner = indent + " "
    items = [f"{inner}{json.dumps(key)}: {json_text(item, levels - 1, inner)}" for key, item in value.items()]
    return "{\n" + ",\n".join(items) + "\n" + indent + "}"


def load_results(log_dir):
    """Returns every run result under `log_dir`, oldest first (by file modification time)."""
    paths = sorted(Path(log_dir).glob(f"*/{RESULT_FILE}"), key=lambda path: path.stat().st_mtime)
    return [json.loads(path.read_text()) for path in paths]


def latest_per_model(results):
    """Returns `{model name: its most recent completed result}`."""
    latest = {}
    for result in results:
        if result["status"] == "completed":
            latest[result["config"]["model"]] = result
    return latest
