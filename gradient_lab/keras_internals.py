"""The one place where this project reaches past Keras's documented API, for speed.

`whole_epochs` runs a whole epoch inside one train-function call, and that call also resets
and reads the metrics, in the graph. Keras's `fit` loop would do both again, eagerly, around
every call: a `reset_metrics()` before each epoch and a re-read of every metric after it.
For a 5-unit MLP those two cost more than the epoch's arithmetic (docs/speed.md has the
measurement: each adds about 8-9% to a run). So, during a fast fit only:

- the model's `train_step` is the epoch function (an instance attribute: Keras documents
  overriding `train_step` in a subclass, and the scripts build plain `keras.Sequential`s);
- the fit loop's own `reset_metrics()` before an epoch is skipped, and its re-read of the
  metrics after the epoch's call, the private `Model._get_metrics_result_or_logs`, returns
  the epoch function's logs as they are. Every other call of either (a callback that runs
  `model.evaluate()`, say) goes to Keras as usual.

`check()` runs at start-up: if this Keras has no `_get_metrics_result_or_logs`, or its `fit`
no longer calls it (or its source cannot be read to tell), the scripts stop with one line
naming the Keras version, and `--plain-fit` (plain `model.fit`) is the fallback.
"""

import contextlib
import inspect

import keras

PRIVATE_METRICS_READ = "_get_metrics_result_or_logs"


class MissingKerasHook(RuntimeError):
    """This Keras lacks the private hook that fast training relies on."""


def check():
    """Raises `MissingKerasHook` unless `keras.Model.fit` reads the metrics through the hook `fit_hooks` replaces."""
    try:
        fit_source = inspect.getsource(keras.Model.fit)
    except (OSError, TypeError) as error:  # An install without the .py files, say.
        raise MissingKerasHook(
            f"fast training relies on Keras's private Model.{PRIVATE_METRICS_READ}, and the source of Keras "
            f"{keras.__version__}'s Model.fit, which should call it, cannot be read ({error}); rerun with --plain-fit"
        ) from None
    if not hasattr(keras.Model, PRIVATE_METRICS_READ) or f"self.{PRIVATE_METRICS_READ}(" not in fit_source:
        raise MissingKerasHook(
            f"fast training relies on Keras's private Model.{PRIVATE_METRICS_READ}, which Keras "
            f"{keras.__version__} does not have or no longer calls from fit; rerun with --plain-fit"
        )


class _FitLoopCalls(keras.callbacks.Callback):
    """Marks the moments when the next `reset_metrics` or metrics read comes from `fit`'s own loop.

    Last in the callback list, so that calls made by the callbacks before it go to Keras.
    """

    def __init__(self):
        super().__init__()
        self.skip_reset = self.skip_read = False

    def on_train_begin(self, logs=None):
        self.skip_reset = True  # fit resets the metrics before the first epoch.

    def on_train_batch_end(self, batch, logs=None):
        self.skip_read = True  # fit re-reads them after the epoch's one call.

    def on_epoch_end(self, epoch, logs=None):
        self.skip_reset = True  # ... and resets them again before the next epoch.


@contextlib.contextmanager
def fit_hooks(model, train_step, callbacks):
    """During the `with`: `model.train_step` is `train_step`, and `fit`'s own metric reset and re-read are skipped.

    Args:
        model: a compiled Keras model.
        train_step: the function that replaces `model.train_step`.
        callbacks: the callbacks that `fit` will get.

    Yields:
        The callback list to pass to `fit`: `callbacks` and the one that marks `fit`'s calls.
    """
    check()
    marker = _FitLoopCalls()
    keras_reset, keras_read = model.reset_metrics, getattr(model, PRIVATE_METRICS_READ)

    def reset_metrics():
        if marker.skip_reset:
            marker.skip_reset = False
        else:
            keras_reset()

    def read_metrics(logs):
        if marker.skip_read:
            marker.skip_read = False
            return logs
        return keras_read(logs)

    model.train_step, model.reset_metrics = train_step, reset_metrics
    setattr(model, PRIVATE_METRICS_READ, read_metrics)
    model.train_function = None
    try:
        yield [*(callbacks or []), marker]
    finally:
        del model.train_step, model.reset_metrics  # Back to the class's.
        delattr(model, PRIVATE_METRICS_READ)
        model.train_function = None
