"""PyTorch's fast path: `model.fit` with each epoch in one `train_step` call.

Plain `model.fit` on PyTorch spends most of a 5-unit MLP's step in Keras's per-batch loop
(data adapter, callbacks, logs), not in arithmetic. `fit_whole_epochs` keeps `model.fit`, its
callbacks and its `History`, but hands Keras one "batch" per epoch; the epoch's function
trains every mini-batch with the model's own `train_step` (same loss, metrics and optimizer
update as plain `fit`) and evaluates the validation set with the model's own `test_step`.
It is TensorFlow's `tf_speed.whole_epochs` without the graph: PyTorch runs eagerly.

Only the granularity of callbacks changes: `on_train_batch_*` run once per epoch. It uses
the private hook of `keras_internals` (checked at start-up; `--plain-fit` is the fallback).
"""

import numpy as np
import torch

from gradient_lab import keras_internals


def fit_whole_epochs(model, batches, *, epochs, validation_data=None, callbacks=None, verbose=0):
    """Trains like `model.fit(batches, epochs=epochs, validation_data=validation_data)`, one call per epoch.

    Args:
        model: a compiled Keras model (PyTorch backend).
        batches: the epoch's mini-batches, a `keras.utils.PyDataset` (`batches.ShuffledBatches`):
            `batches[i]` for i < `len(batches)`, then `batches.on_epoch_end()`.
        epochs: number of passes over the training data.
        validation_data: optional `(x_val, y_val)`, evaluated in one batch after every epoch.
        callbacks: Keras callbacks, as for `model.fit`.
        verbose: passed to `model.fit`.

    Returns:
        The `keras.callbacks.History` of the run.
    """
    keras_train_step = type(model).train_step.__get__(model)
    if validation_data is not None:
        validation_data = tuple(torch.tensor(np.asarray(array)) for array in validation_data)

    def train_one_epoch(_):
        _reset_metrics(model)
        for index in range(len(batches)):
            batch = tuple(torch.as_tensor(array) for array in batches[index])
            try:
                keras_train_step(batch)
            except RuntimeError:
                # Keras's binary cross-entropy on PyTorch raises on a NaN output, where the other
                # backends give a NaN loss. Then the epoch's loss is NaN, and `TerminateOnNaN`
                # stops the run, as on the other backends.
                with torch.no_grad():
                    if bool(torch.isfinite(model(batch[0])).all()):
                        raise
                nan = torch.tensor(float("nan"))
                logs = {name: nan for name in model.get_metrics_result()}
                return {**logs, **({f"val_{name}": nan for name in logs} if validation_data is not None else {})}
        batches.on_epoch_end()
        logs = model.get_metrics_result()
        if validation_data is not None:
            _reset_metrics(model)
            with torch.no_grad():
                logs.update({f"val_{name}": value for name, value in model.test_step(validation_data).items()})
        return logs

    for callback in callbacks or []:  # A callback that sizes a buffer by the epoch's steps learns them now.
        if hasattr(callback, "plan_steps_per_epoch"):
            callback.plan_steps_per_epoch(len(batches))
    # What `fit` iterates: one "batch" an epoch, which the epoch's function ignores. A real one,
    # because `fit` first builds the compiled metrics on it.
    x, y = batches[0]
    with keras_internals.fit_hooks(model, train_one_epoch, callbacks) as callbacks:
        return model.fit(x, y, batch_size=len(x), epochs=epochs, shuffle=False, callbacks=callbacks, verbose=verbose)


def _reset_metrics(model):
    for metric in model.metrics:
        metric.reset_state()
