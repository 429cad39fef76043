"""Saving and loading run results: one `result.json` per run directory, written atomically."""

import json
import platform
from importlib import metadata
from pathlib import Path

from gradient_lab import cli

RESULT_FILE = "result.json"


def library_versions():
    """Returns the versions of Python and the libraries that shape the numbers."""
    versions = {"python": platform.python_version()}
    for package in ("tensorflow", "keras", "tensorboard", "numpy", "scikit-learn", "matplotlib"):
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
