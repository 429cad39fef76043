"""The stacked seeds on any backend (`train_stacked`), and in a second thread beside the script's seed 0."""

import threading

import keras


def train_stacked(config, seeds, callbacks=None, final_diagnostics_only=False):
    """Trains the seeds of `config` as one stacked model; returns one result dict per seed.

    On TensorFlow `tf_speed.stacked.train_stacked` (its docstring lists the results); on JAX and
    PyTorch `portable_stacked.train_stacked`, whose diagnostics are always the last epoch's only.
    """
    return backend_trainer()(config, seeds, callbacks, final_diagnostics_only)


def backend_trainer():
    """The backend's `train_stacked(config, seeds, callbacks, final_diagnostics_only)`, imported now."""
    if keras.backend.backend() == "tensorflow":
        from gradient_lab.tf_speed import stacked

        return stacked.train_stacked
    from gradient_lab import portable_stacked

    return lambda config, seeds, callbacks, final_diagnostics_only: portable_stacked.train_stacked(
        config, seeds, callbacks
    )


class TrainingThread:
    """`train_stacked(config, seeds, callbacks)` in a second thread, started at once: `result()` waits for it.

    TensorFlow runs its ops without holding Python's lock, so the members train on the second
    core while the script trains seed 0 on the first, if TensorFlow may run two ops at a time
    (`backends.start(ops_at_a_time=2)`, as the scripts start it). JAX and PyTorch release it
    too, but spend more of a step in Python, which holds it. `cancel()` stops them at the end of
    their current epoch. The trainer's modules are imported before the thread starts, in the
    caller's thread: a stop signal during an import shared by two threads could leave one of them
    a half-imported module.
    """

    def __init__(self, config, seeds, callbacks=(), final_diagnostics_only=False):
        self.stopping, self.outcome = threading.Event(), {}
        stop_when_cancelled = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: self._stop_if_cancelled())
        arguments = (backend_trainer(), config, seeds, [*callbacks, stop_when_cancelled], final_diagnostics_only)
        self.thread = threading.Thread(target=self._train, args=arguments)
        self.thread.daemon = True  # An error that ends the script does not wait for the seeds.
        self.thread.start()

    def _train(self, train, config, seeds, callbacks, final_diagnostics_only):
        try:
            self.outcome["members"] = train(config, seeds, callbacks, final_diagnostics_only)
        except BaseException as error:  # Handed to result(), in the caller's thread.
            self.outcome["error"] = error

    def _stop_if_cancelled(self):
        if self.stopping.is_set():
            raise Cancelled()

    def result(self):
        """Waits for the members and returns their results (see `train_stacked`); re-raises their error."""
        self.thread.join()
        if "error" in self.outcome:
            raise self.outcome["error"]
        return self.outcome["members"]

    def cancel(self):
        """Stops the members at the end of their current epoch and waits for that."""
        self.stopping.set()
        self.thread.join()


class Cancelled(Exception):
    """Raised in a `TrainingThread` that was cancelled."""
