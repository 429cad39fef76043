"""A run's records: its directory, History, diagnostics, result JSON, HParams and figures.

The scripts tell the experiment; a `Run` keeps the books around it:

    run = recording.Run(config, log_dir="logs")   # logs/<model>/, numbered if taken
    with run.recorded():                          # Ctrl-C: the epochs so far are still saved
        ...build and compile the model...
        run.fit(model, x_train, y_train, epochs=..., batch_size=..., validation_data=..., callbacks=[...])
    run.save_figures("figures")
    status = run.report()                         # prints the result line and the verdict

`result.json` holds the config, status (`completed`, `nan_loss` or `interrupted`), final
accuracies, every epoch's logs, the diagnostics and library versions; it is written
atomically, so a reader never sees half a file.
"""

import contextlib
import dataclasses
import json
import math
import platform
import shutil
import time
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


class Run:
    """One training run: its directory under `log_dir`, its History, its result and its figures.

    Args:
        config: the run's `experiment.Config`, saved with the result.
        log_dir: parent of the run directory.
        run_name: the directory's name; defaults to `config.model`, numbered (`-2`, ...) if taken.
        overwrite: replace a run directory of that name instead of numbering.
    """

    INTERRUPTED, TERMINATED, NAN_LOSS = 130, 143, 1  # Exit statuses: Ctrl-C, SIGTERM, a NaN loss.

    def __init__(self, config, log_dir="logs", run_name=None, overwrite=False):
        import keras

        self.config = config
        self.dir = new_run_dir(log_dir, run_name or config.model, overwrite)
        self.history = keras.callbacks.History()  # Ours, so that it exists even if Ctrl-C comes early.
        self.model = self.train_data = self.test_data = self.snapshots = self.init_diagnostics = None
        self.status, self.result, self.stop_status = "completed", None, None
        self.seeds_job = self.born_dead = None

    @contextlib.contextmanager
    def recorded(self):
        """Times the `with` block and saves the result after it, also when Ctrl-C ends it."""
        start = time.perf_counter()
        try:
            yield self
        except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM (`cli.Terminated`).
            self.status, self.stop_status = "interrupted", getattr(stop, "exit_status", self.INTERRUPTED)
        self.result = self._finish(time.perf_counter() - start)

    def diagnostics(self, model, x, y):
        """Returns the diagnostics' callbacks (none with `--no-diagnostics`); measures the backward signal at init.

        They add saturation, dead units, activation statistics and update ratios per
        layer to the epoch logs, keep decision-boundary snapshots and, with
        `--weight-logging`, each layer's weight norms (see `gradient_lab/diagnostics.py`).
        """
        from gradient_lab import diagnostics
        from gradient_lab.tf_speed import layer_statistics

        callbacks = []
        if self.config.diagnostics:
            self.init_diagnostics = layer_statistics.backward_signal_at_init(model, x, y)
            if self.config.activation in diagnostics.DEAD_CHECKED_ACTIVATIONS:
                self.born_dead = diagnostics.model_constant_output(model, x)
            self.snapshots = diagnostics.DecisionBoundarySnapshots(epochs=(1, 10, 100, self.config.epochs))
            callbacks += [layer_statistics.LayerDiagnostics(x), self.snapshots]
        if self.config.weight_logging:
            callbacks.append(diagnostics.WeightNormLogger())
        return callbacks

    def fit(self, model, x, y, *, epochs, batch_size, validation_data, callbacks):
        """Trains like `model.fit(x, y, batch_size, epochs, validation_data=..., callbacks=...)`.

        By default each epoch runs in one TensorFlow call (`whole_epochs`), with the same
        mini-batches of `batch_size`, reshuffled every epoch; with `--plain-fit`, in plain
        `model.fit`. A NaN or Inf loss stops training; Ctrl-C stops it after flushing the logs.
        """
        import keras

        from gradient_lab.tf_speed import whole_epochs

        self.model, self.train_data, self.test_data = model, (x, y), validation_data
        callbacks = [stop_check(), keras.callbacks.TerminateOnNaN(), *callbacks, self.history]
        try:
            if self.config.plain_fit:
                model.fit(
                    x,
                    y,
                    batch_size=batch_size,
                    epochs=epochs,
                    validation_data=validation_data,
                    shuffle=True,
                    callbacks=callbacks,
                    verbose=0,
                )
            else:
                whole_epochs.fit_whole_epochs(
                    model,
                    x,
                    y,
                    epochs=epochs,
                    batch_size=batch_size,
                    validation_data=validation_data,
                    callbacks=callbacks,
                    seed=self.config.seed,
                )
        finally:
            for callback in callbacks:  # Flush what was logged, even after Ctrl-C.
                if hasattr(callback, "close"):
                    callback.close()
        return self.history

    def _finish(self, wall_time):
        """Builds, saves and returns the result dict, with the final accuracies and the verdict."""
        from gradient_lab import diagnostics

        result = run_result(self.config, self.dir, self.model, self.history, self.status, wall_time)
        if result["status"] == "completed" and self.model is not None:
            result["train_accuracy"] = accuracy(self.model, *self.train_data)
            result["test_accuracy"] = accuracy(self.model, *self.test_data)
            if self.snapshots is not None and self.config.epochs not in self.snapshots.snapshots:
                self.snapshots.take(self.config.epochs)
        if self.born_dead is not None and result["epochs_completed"]:
            result["born_dead"] = self.born_dead
            result["dead_at_end"] = diagnostics.model_constant_output(self.model, self.train_data[0])
        if self.config.diagnostics:
            result["init_diagnostics"] = self.init_diagnostics
            result["verdict"] = diagnostics.verdict(result) if result["epochs_completed"] else []
        save_result(self.dir, result)
        write_hparams(self.config, self.dir, result)
        return result

    def start_seeds(self, seeds):
        """Starts training seeds 0 .. seeds-1 of this run's model now, in a second thread (see `train_seeds`).

        They do not depend on seed 0's run, so they train in a second thread, on the second
        core, while seed 0 trains here; `train_seeds` then waits for them instead of training them.
        """
        from gradient_lab.tf_speed import stacked

        if seeds >= 2:
            # Their verdicts read only the last epoch's diagnostics; so they take only those.
            self.seeds_job = stacked.TrainingThread(
                self.config, list(range(seeds)), callbacks=[stop_check()], final_diagnostics_only=True
            )

    def train_seeds(self, seeds, seed_logs=False):
        """Trains seeds 0 .. seeds-1 of this run's model at once, as one stacked computation, and records them.

        Seed 0's run stays the story; its result gains `seeds`, one entry per seed (status,
        final accuracies, verdict, and per epoch the loss, accuracies and each layer's mean
        and max gradient norm), saved in the same `result.json`. With `seed_logs`, each seed's
        numbers also go to TensorBoard, as the run `<run>/seeds/seed-<k>`. If `start_seeds`
        started them, this waits for them; if seed 0's run did not complete, it stops them.
        """

        from gradient_lab import diagnostics

        if seeds >= 2 and self.seeds_job is None and self.result["status"] == "completed":
            self.start_seeds(seeds)  # Not started with the run: start them now, and wait.
        job, self.seeds_job = self.seeds_job, None
        if job is None:
            return
        if self.result["status"] != "completed":
            job.cancel()
            return
        try:
            members = job.result()
        except KeyboardInterrupt as stop:
            job.cancel()
            self.stop_status = getattr(stop, "exit_status", self.INTERRUPTED)
            return
        kept = ("loss", "accuracy", "val_loss", "val_accuracy")
        for member in members:
            member["verdict"] = diagnostics.verdict(member) if self.config.diagnostics else []
            member["history"] = {
                key: values
                for key, values in member["history"].items()
                if key in kept or key.endswith(("/mean", "/max")) and key.startswith("grad_norm/")
            }
            if seed_logs:
                write_seed_events(self.dir / "seeds" / f"seed-{member['seed']}", member["history"])
        self.result["seeds"] = members
        save_result(self.dir, self.result)

    def save_figures(self, figure_dir):
        """Draws the run's figures as `<figure_dir>/<run name>_<kind>.png` (nothing if no epoch completed)."""
        from gradient_lab.figures import training as training_figures

        result = self.result
        if figure_dir is None or not result["epochs_completed"]:
            return
        prefix = Path(figure_dir) / self.dir.name
        training_figures.save_learning_curves(result, f"{prefix}_learning_curves.png")
        if result["layer_keys"]:
            training_figures.save_gradient_norms(result, f"{prefix}_grad_norms.png")
            training_figures.save_gradient_heatmap(result, f"{prefix}_grad_heatmap.png")
        if self.snapshots is not None:
            training_figures.save_decision_boundaries(
                self.snapshots, *self.test_data, result, f"{prefix}_decision_boundary.png"
            )
            training_figures.save_backward_signal(result, f"{prefix}_init_jacobians.png")

    def report(self):
        """Prints the result line, the verdict and the seeds' distribution; returns the exit status.

        The status is 0, 1 after a NaN loss, 130 after Ctrl-C or 143 after SIGTERM.
        """
        print(summary_line(self.result), flush=True)
        for sentence in self.result.get("verdict", []):
            print(f"  - {sentence}")
        if self.result.get("seeds"):
            from gradient_lab.sweeps import intervals

            members = self.result["seeds"]
            accuracies = [member["test_accuracy"] for member in members if member["status"] == "completed"]
            print(f"  {intervals.distribution_line(accuracies, len(members))}", flush=True)
        if self.result["status"] == "interrupted":
            print(f"interrupted: partial result saved in {self.dir}")
            return self.stop_status
        if self.stop_status is not None:
            print(f"interrupted while training the other seeds: seed 0's result is saved in {self.dir}")
            return self.stop_status
        if self.result["status"] == "nan_loss":
            print(
                f"error: loss became NaN or Inf at epoch {self.result['epochs_completed']}; "
                f"logs up to then are in {self.dir}"
            )
            return self.NAN_LOSS
        return 0


def stop_check():
    """A callback that stops training at an epoch's end after a stop signal whose exception TensorFlow swallowed."""
    import keras

    return keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: cli.raise_if_stopped())


def write_seed_events(run_dir, history):
    """Writes one seed's per-epoch numbers as a TensorBoard run: `train/` and `validation/`, as a script's run."""
    from gradient_lab.tf_speed.tensorboard_events import EpochMetricsLogger

    writer = EpochMetricsLogger(run_dir, keep_gradients=True)
    writer.on_train_begin()
    for epoch in range(len(history["loss"])):
        writer.on_epoch_end(epoch, {key: values[epoch] for key, values in history.items()})
    writer.close()


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


def run_result(config, run_dir, model, history, status, wall_time):
    """Returns the result dict of a run, without the final accuracies."""
    import grad_logging

    history = {key: [float(value) for value in values] for key, values in history.history.items()}
    if history.get("loss") and not math.isfinite(history["loss"][-1]):
        status = "nan_loss"
    layer_keys = grad_logging.layer_keys(model) if model is not None and "grad_norm" in "".join(history) else []
    return {
        "run_name": run_dir.name,
        "status": status,
        "config": dataclasses.asdict(config),
        "seed": config.seed,
        "layer_keys": layer_keys,
        "epochs_completed": len(history.get("loss", [])),
        "wall_time_seconds": wall_time,
        "versions": library_versions(),
        "history": history,
    }


def accuracy(model, x, y):
    """Returns the fraction of points classified right (probability above 0.5 means class 1)."""
    import keras

    # One eager forward pass: `model.evaluate` would first trace a test function (~0.1 s).
    return float(keras.ops.mean(keras.metrics.binary_accuracy(y.reshape(-1, 1), model(x, training=False))))


def write_hparams(config, run_dir, result):
    """Records a finished run for TensorBoard's HParams dashboard: its hyperparameters and final accuracies."""
    from gradient_lab.tf_speed import tensorboard_events

    hparams = {name: value for name, value in dataclasses.asdict(config).items() if name in HPARAMS}
    final_metrics = {name: result[name] for name in FINAL_METRICS if name in result}
    tensorboard_events.write_hparams(run_dir, hparams, final_metrics)


def summary_line(result):
    """Returns e.g. `deep_relu     Train: 0.836, Test: 0.840  (3.1 s)` for a result dict."""
    name = result["config"]["model"]
    seconds = result["wall_time_seconds"]
    if result["status"] != "completed":
        return f"{name:<13s} {result['status']} after {result['epochs_completed']} epochs  ({seconds:.1f} s)"
    return f"{name:<13s} Train: {result['train_accuracy']:.3f}, Test: {result['test_accuracy']:.3f}  ({seconds:.1f} s)"


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
