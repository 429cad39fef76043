"""One training run's records, kept around the script's story; each part lives in its own module:

run = Run(config, log_dir="logs", num_seeds=20)  # run.dir: logs/<model>/, numbered if taken (run_dir)
with run.recorded():                             # Ctrl-C: the epochs so far are still saved (result)
    ...build and compile the model...
    callbacks = [logger, *run.diagnostics(model, x_train, y_train)]  # Measured at init too (diagnosis)
    run.fit(model, x_train, y_train, epochs=..., batch_size=..., validation_data=..., callbacks=callbacks)
run.train_seeds()                                # waits for seeds 0 .. 19, started by fit (seeds)
run.save_figures("figures")                      # gradient_lab/figures/training.py
status = run.report()                            # the result line, the verdict, the exit status (report)
"""

import contextlib

import keras

import grad_logging
from gradient_lab import backends
from gradient_lab.batches import ShuffledBatches
from gradient_lab.figures import training as training_figures
from gradient_lab.records import report
from gradient_lab.records.diagnosis import Diagnosis
from gradient_lab.records.result import run_result, save_result, write_hparams
from gradient_lab.records.run_dir import INTERRUPTED, NAN_LOSS, TERMINATED, RunStatus, new_run_dir, stop_check
from gradient_lab.records.seeds import SeedsBeside


class Run:
    """One training run: its directory, History, diagnostics, result, seeds, figures and report.

    Args:
        config: the run's `experiment.Config`, saved with the result.
        log_dir: parent of the run directory.
        run_name: the directory's name; defaults to `config.model`, numbered (`-2`, ...) if taken.
        overwrite: replace a run directory of that name instead of numbering.
        num_seeds: seeds 0 .. num_seeds-1 of the same model train beside seed 0 (`train_seeds`); 1: none.
    """

    INTERRUPTED, TERMINATED, NAN_LOSS = INTERRUPTED, TERMINATED, NAN_LOSS  # Exit statuses.

    def __init__(self, config, log_dir="logs", run_name=None, overwrite=False, num_seeds=1):
        self.config = config
        self.dir = new_run_dir(log_dir, run_name or config.model, overwrite)
        self.status = RunStatus()
        self.history = keras.callbacks.History()  # Ours, so that it exists even if Ctrl-C comes early.
        self.diagnosis = Diagnosis(config)
        self.seeds = SeedsBeside(config, num_seeds)
        self.model = self.train_data = self.test_data = self.result = None

    @property
    def stop_status(self):
        """The exit status of a stop signal during the run or its seeds (130, 143), else None."""
        return self.status.stop_status

    @contextlib.contextmanager
    def recorded(self):
        """Times the `with` block and saves the result after it, also when Ctrl-C ends it."""
        with self.status.timed():
            yield self
        self.result = self._finish()

    def diagnostics(self, model, x, y):
        """Measures the backward signal at init; returns the diagnostics' callbacks (`Diagnosis.callbacks`)."""
        return self.diagnosis.callbacks(model, x, y)

    def fit(self, model, x, y, *, epochs, batch_size, validation_data, callbacks):
        """Trains like `model.fit(x, y, batch_size, epochs, validation_data=..., callbacks=...)`.

        The other seeds start now, beside it (`train_seeds` waits for them). A NaN or Inf loss
        stops training; Ctrl-C stops it after flushing the logs.
        """
        self.model, self.train_data, self.test_data = model, (x, y), validation_data
        self.seeds.start()
        callbacks = [stop_check(), keras.callbacks.TerminateOnNaN(), *callbacks, self.history]
        try:
            fit(
                model,
                x,
                y,
                epochs,
                batch_size,
                validation_data,
                callbacks,
                self.config.plain_fit,
                self.config.seed,
                self.config.per_step,
            )
        finally:
            for callback in callbacks:  # Flush what was logged, even after Ctrl-C.
                if hasattr(callback, "close"):
                    callback.close()
        return self.history

    def _finish(self):
        """Builds, saves and returns the result dict, with the final accuracies and the diagnostics."""
        history = self.history.history
        logged_norms = self.model is not None and "grad_norm" in "".join(history)
        keys = grad_logging.layer_keys(self.model) if logged_norms else []
        result = run_result(
            self.config, self.dir, keys, history, self.status.status, self.status.wall_time, backends.current()
        )
        if result["status"] == "completed" and self.model is not None:
            result["train_accuracy"] = accuracy(self.model, *self.train_data)
            result["test_accuracy"] = accuracy(self.model, *self.test_data)
        self.diagnosis.add_to(result, self.model, self.train_data[0] if self.train_data else None)
        save_result(self.dir, result)
        write_hparams(self.config, self.dir, result)
        return result

    def train_seeds(self, seed_logs=False):
        """Waits for the seeds beside seed 0 and saves them in its `result.json` (`SeedsBeside.add_to`).

        If seed 0's run did not complete, it stops them instead.
        """
        if self.result["status"] != "completed":
            self.seeds.cancel()
            return
        try:
            self.seeds.add_to(self.result, self.dir, seed_logs)
        except KeyboardInterrupt as stop:
            self.status.stopped(stop)
            return
        if "seeds" in self.result:
            save_result(self.dir, self.result)

    def save_figures(self, figure_dir):
        """Draws the run's figures as `<figure_dir>/<run name>_<kind>.png` (nothing if no epoch completed)."""
        training_figures.save_run_figures(self.result, figure_dir, self.diagnosis.snapshots, self.test_data)

    def report(self):
        """Prints the result line, the verdict and the seeds' distribution; returns the exit status."""
        return report.report(self.result, self.dir, self.status.stop_status)


def fit(model, x, y, epochs, batch_size, validation_data, callbacks, plain_fit, seed, per_step=False):
    """Trains as `model.fit(x, y, batch_size, epochs, shuffle=True, validation_data)`, the backend's fastest way.

    - TensorFlow: each epoch in one TensorFlow call (`tf_speed.whole_epochs`); `plain_fit`: `model.fit`.
    - JAX: `model.fit`, which Keras jits.
    - PyTorch: each epoch in one `train_step` call (`torch_speed`); `plain_fit`: `model.fit`.

    Mini-batches of `batch_size` are reshuffled every epoch, each with its own shuffle drawn from `seed`.
    `per_step`: a callback logs every optimizer step, so each needs its own callback round.
    """
    backend = backends.current()
    if backend == "tensorflow" and not plain_fit:
        from gradient_lab.tf_speed import whole_epochs

        whole_epochs.fit_whole_epochs(
            model,
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=validation_data,
            callbacks=callbacks,
            seed=seed,
        )
    elif backend == "tensorflow":
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
    elif backend == "torch" and not plain_fit:
        from gradient_lab import torch_speed

        batches = ShuffledBatches(x, y, batch_size, seed)
        torch_speed.fit_whole_epochs(
            model, batches, epochs=epochs, validation_data=validation_data, callbacks=callbacks
        )
    else:  # JAX, or PyTorch's plain fit.
        batches = ShuffledBatches(x, y, batch_size, seed)
        compiled_steps = model.steps_per_execution
        if backend == "jax" and not per_step:
            # The epoch's steps in one call of the train function (compile's `steps_per_execution`):
            # fewer callback rounds. `per_step` logging needs a callback round after every step.
            model.steps_per_execution = len(batches)
        try:
            model.fit(
                batches,
                epochs=epochs,
                validation_data=validation_data,
                validation_batch_size=None if validation_data is None else len(validation_data[0]),  # One batch.
                shuffle=False,  # ShuffledBatches shuffles the points; this would shuffle the batches.
                callbacks=callbacks,
                verbose=0,
            )
        finally:
            model.steps_per_execution = compiled_steps


def accuracy(model, x, y):
    """Returns the fraction of points classified right (probability above 0.5 means class 1)."""
    # One eager forward pass: `model.evaluate` would first trace a test function.
    return float(keras.ops.mean(keras.metrics.binary_accuracy(y.reshape(-1, 1), model(x, training=False))))
