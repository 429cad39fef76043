"""`model.fit` that runs each epoch in one TensorFlow call instead of one call per batch.

A width-5 MLP on 500 points does almost no arithmetic per batch; a plain
`model.fit(x, y, batch_size=32, validation_data=...)` spends its time in Python and in
dispatching each batch's call instead (docs/speed.md has the numbers). `fit_whole_epochs`
keeps `model.fit`, its callbacks and its `History`, but hands Keras one "batch" per epoch:
the whole training set. Inside one traced function the epoch is shuffled, split into
`batch_size` mini-batches, each trained with the model's own `train_step` (same loss,
metrics and optimizer update as plain `fit`), and the validation set is evaluated with
the model's own `test_step`.

Only the granularity of callbacks changes: `on_train_batch_*` run once per epoch.

A callback that needs numbers from the model every epoch can have them computed inside
the same call, sparing a call of its own: it defines
`epoch_graph_statistics()`, a traceable function returning a dict of tensors, and finds
them in the epoch's `logs` (and should pop them there). Code traced into the epoch's
steps can number them with the batch loop's own counter (`traced_epoch()`), sparing ops
of its own at every step. A callback that sizes a buffer by an epoch's optimizer steps
defines `plan_steps_per_epoch(steps)`, and learns them before `fit` starts.
"""

import contextlib
import dataclasses
import functools

import keras
import tensorflow as tf

from gradient_lab import keras_internals


def fit_whole_epochs(model, x, y, *, epochs, batch_size, validation_data=None, callbacks=None, seed=0, verbose=0):
    """Trains like `model.fit(x, y, batch_size, epochs, shuffle=True, validation_data)`, one call per epoch.

    Args:
        model: a compiled Keras model (TensorFlow backend).
        x, y: training inputs and targets (NumPy arrays or tensors).
        epochs: number of passes over the training data.
        batch_size: mini-batch size; the last batch of an epoch holds the remainder.
        validation_data: optional `(x_val, y_val)`, evaluated after every epoch.
        callbacks: Keras callbacks, as for `model.fit`.
        seed: seed of the per-epoch shuffling.
        verbose: passed to `model.fit`.

    Returns:
        The `keras.callbacks.History` of the run.
    """
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    _build_compiled_metrics(model, x[:1], y[:1])
    train_step = functools.partial(
        _train_one_epoch,
        model,
        batch_size=batch_size,
        seed_generator=keras.random.SeedGenerator(seed),
        validation_data=None if validation_data is None else tuple(tf.constant(v) for v in validation_data),
        statistics=[callback for callback in callbacks or [] if hasattr(callback, "epoch_graph_statistics")],
    )
    whole_training_set = tf.data.Dataset.from_tensors((tf.constant(x), tf.constant(y))).repeat()
    for callback in callbacks or []:  # A callback that sizes a buffer by the epoch's steps learns them now.
        if hasattr(callback, "plan_steps_per_epoch"):
            callback.plan_steps_per_epoch(-(-len(x) // batch_size))
    with keras_internals.fit_hooks(model, train_step, callbacks) as callbacks:
        return model.fit(
            whole_training_set, epochs=epochs, steps_per_epoch=1, shuffle=False, callbacks=callbacks, verbose=verbose
        )


def _build_compiled_metrics(model, x, y):
    """Creates the compiled loss's and metrics' variables now, eagerly, on one sample.

    Keras would create them while tracing the train function, and TensorFlow traces a
    function that creates variables twice: this saves one trace of the whole epoch.
    """
    x, y = tf.constant(x), tf.constant(y)
    y_pred = model(x, training=False)
    model.compute_loss(x, y, y_pred)
    model.compute_metrics(x, y, y_pred, sample_weight=None)
    model.reset_metrics()


@dataclasses.dataclass
class TracedEpoch:
    """What code traced into an epoch's call can know of the epoch."""

    num_batches: int  # Mini-batches (optimizer steps) per epoch, the remainder batch included.
    batch: object = None  # While a step is traced: its mini-batch's index, 0, 1, ... (a tensor).


_traced_epoch = None


def traced_epoch():
    """Returns the `TracedEpoch` while an epoch's call is being traced, else None."""
    return _traced_epoch


@contextlib.contextmanager
def _tracing_epoch(num_batches):
    global _traced_epoch
    _traced_epoch = TracedEpoch(num_batches)
    try:
        yield _traced_epoch
    finally:
        _traced_epoch = None


def epoch_order(num_samples, seed_generator):
    """Traceable: a new random order of `num_samples` points, drawn from `seed_generator` (one draw an epoch)."""
    return tf.argsort(keras.random.uniform([num_samples], seed=seed_generator))


def _reset_metrics_in_graph(model):
    for metric in model.metrics:
        metric.reset_state()


def _train_one_epoch(model, data, *, batch_size, seed_generator, validation_data, statistics):
    _reset_metrics_in_graph(model)
    x, y = data
    num_samples = x.shape[0]
    order = epoch_order(num_samples, seed_generator)
    x, y = tf.gather(x, order), tf.gather(y, order)
    keras_train_step = type(model).train_step.__get__(model)
    num_batches = -(-num_samples // batch_size)  # The last batch holds the remainder.

    with _tracing_epoch(num_batches) as epoch:

        def train_batch(batch):
            start = batch * batch_size
            epoch.batch = batch
            keras_train_step((x[start : start + batch_size], y[start : start + batch_size]))
            return (batch + 1,)

        # Keras traces train_step without AutoGraph, so the batch loop is an explicit while_loop.
        tf.while_loop(lambda batch: batch < num_batches, train_batch, (tf.constant(0),))
        epoch.batch = None
        logs = model.get_metrics_result()
        if validation_data is not None:
            _reset_metrics_in_graph(model)
            validation_logs = model.test_step(validation_data)
            logs.update({f"val_{name}": value for name, value in validation_logs.items()})
        for callback in statistics:
            logs.update(callback.epoch_graph_statistics())
    return logs
