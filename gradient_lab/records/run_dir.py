"""A run's directory, and how the run ended: completed, a NaN loss, or stopped by Ctrl-C or SIGTERM."""

import contextlib
import shutil
import time
from pathlib import Path

import keras

from gradient_lab import cli

INTERRUPTED, TERMINATED, NAN_LOSS = 130, 143, 1  # Exit statuses: Ctrl-C, SIGTERM, a NaN loss.


def new_run_dir(log_dir, name, overwrite=False):
    """Returns a fresh `log_dir/name`, numbering the name (`name-2`, ...) unless `overwrite`."""
    log_dir = Path(log_dir)
    run_dir = log_dir / name
    if overwrite and run_dir.exists():
        shutil.rmtree(run_dir)
    number = 1
    while run_dir.exists():
        number += 1
        run_dir = log_dir / f"{name}-{number}"
    run_dir.mkdir(parents=True)
    return run_dir


class RunStatus:
    """How a run ended: `status` for its result (`completed` or `interrupted`), `stop_status` for its exit."""

    def __init__(self):
        self.status, self.stop_status, self.wall_time = "completed", None, None

    @contextlib.contextmanager
    def timed(self):
        """Times the `with` block; Ctrl-C or SIGTERM ends it as `interrupted`, with their exit status."""
        start = time.perf_counter()
        try:
            yield
        except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM (`cli.Terminated`).
            self.status = "interrupted"
            self.stopped(stop)
        self.wall_time = time.perf_counter() - start

    def stopped(self, stop):
        """Records the exit status of a stop signal's exception (Ctrl-C: 130, SIGTERM: 143)."""
        self.stop_status = getattr(stop, "exit_status", INTERRUPTED)


def stop_check():
    """A callback that stops training at an epoch's end after a stop signal whose exception TensorFlow swallowed."""
    return keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: cli.raise_if_stopped())
