"""Whole-epoch training: Keras's metric reset for everyone but fit's own loop, and a clear stop without the hook."""

import keras
import pytest

import data
from gradient_lab import experiment
from gradient_lab.tf_speed import whole_epochs
from gradient_lab import keras_internals


def reference_model(name="deep_relu"):
    keras.utils.set_random_seed(0)
    return experiment.compiled_model(experiment.config_for(name))


class EvaluateEveryEpoch(keras.callbacks.Callback):
    """Evaluates the model on the training set at the end of every epoch, as a user's callback might."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y, self.results = x, y, []

    def on_epoch_end(self, epoch, logs=None):
        self.results.append(self.model.evaluate(self.x, self.y, verbose=0, return_dict=True))


def test_a_callback_that_evaluates_gets_keras_own_numbers_and_changes_nothing():
    (x, y), validation = data.load_circles()
    plain = whole_epochs.fit_whole_epochs(
        reference_model(), x, y, epochs=10, batch_size=32, validation_data=validation
    ).history
    model = reference_model()
    callback = EvaluateEveryEpoch(x, y)
    history = whole_epochs.fit_whole_epochs(
        model, x, y, epochs=10, batch_size=32, validation_data=validation, callbacks=[callback]
    ).history
    assert history == plain  # Evaluating in between does not touch the training or its logs.
    after = model.evaluate(x, y, verbose=0, return_dict=True)
    assert callback.results[-1] == pytest.approx(after, rel=1e-6)  # The same weights, the same numbers.
    # The epoch's own training-set metrics are of the epoch's steps, before its last update: not the evaluation's.
    assert history["accuracy"][-1] != pytest.approx(after["accuracy"], abs=1e-9)


def test_without_the_private_hook_fast_training_stops_with_the_keras_version(monkeypatch):
    # As a Keras would be that renamed or dropped the private method.
    monkeypatch.setattr(keras_internals, "PRIVATE_METRICS_READ", "_a_method_this_keras_does_not_have")
    (x, y), _ = data.load_circles(num_samples=64)
    with pytest.raises(keras_internals.MissingKerasHook, match=f"Keras {keras.__version__} .*--plain-fit"):
        whole_epochs.fit_whole_epochs(reference_model(), x, y, epochs=1, batch_size=32)
