"""The fast gradient logger against GradientTape: epochs, several steps, histograms, the ring buffer and its limits."""

import keras
import numpy as np
import pytest

import data
from gradient_lab.tf_speed import gradient_logger
from gradient_lab.tf_speed import whole_epochs
import grad_logging
from gradient_lab import models
from gradient_reference import (
    LEARNING_RATE,
    MOMENTUM,
    assert_histogram_of,
    logged_norms,
    sgd_momentum_step,
    tape_layer_norms,
)


def test_fast_fit_norms_match_tape_over_two_epochs():
    (x, y), _ = data.load_circles(num_samples=128)
    keras.utils.set_random_seed(3)
    model = models.compile_mlp(models.build_mlp(5, 5, "tanh", "uniform_0_1", "uniform_0_1"), LEARNING_RATE, MOMENTUM)
    reference = keras.models.clone_model(model)
    reference.set_weights(model.get_weights())
    logger = gradient_logger.FastGradientNormLogger()
    # One full batch per epoch: shuffling the order does not change the gradient.
    history = whole_epochs.fit_whole_epochs(model, x, y, epochs=2, batch_size=len(x), callbacks=[logger]).history
    keys = grad_logging.layer_keys(model)
    assert keys == ["01_hidden_1", "02_hidden_2", "03_hidden_3", "04_hidden_4", "05_hidden_5", "06_output"]

    weights = [variable.numpy() for variable in reference.trainable_variables]
    velocities = [np.zeros_like(weight) for weight in weights]
    for epoch in range(2):
        for variable, weight in zip(reference.trainable_variables, weights):
            variable.assign(weight)
        expected, grads = tape_layer_norms(reference, x, y)
        for stat in ("mean", "max"):  # One step per epoch: mean and max are that step's norm.
            np.testing.assert_allclose(logged_norms(history, keys, epoch, stat), expected, rtol=1e-5, atol=1e-9)
        sgd_momentum_step(weights, velocities, [grads[variable.path] for variable in reference.trainable_variables])


@pytest.mark.parametrize("keeps_gradients", [True, False], ids=["whole_gradients", "squared_norms"])
def test_mean_and_max_over_several_steps_and_last_step_histograms(tmp_path, monkeypatch, keeps_gradients):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    if not keeps_gradients:  # What a model too large to keep whole gradients gets.
        monkeypatch.setattr(gradient_logger, "MAX_RING_VALUES", 0)
    (x, y), _ = data.load_circles(num_samples=96)
    keras.utils.set_random_seed(4)
    model = models.compile_mlp(models.build_mlp(2, 5, "relu", "he_uniform"), learning_rate=0.0, momentum=0.0)
    model.optimizer.learning_rate.assign(0.0)  # Frozen weights: every step's gradient is known in advance.
    logger = gradient_logger.FastGradientNormLogger(tmp_path)
    history = model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[logger]).history
    assert logger.tracker.keeps_gradients == keeps_gradients
    starts = range(0, len(x), 16)
    per_batch = np.array([tape_layer_norms(model, x[start : start + 16], y[start : start + 16])[0] for start in starts])
    keys = grad_logging.layer_keys(model)
    np.testing.assert_allclose(logged_norms(history, keys, 0, "mean"), per_batch.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(logged_norms(history, keys, 0, "max"), per_batch.max(axis=0), rtol=1e-5)

    # The histograms are of each layer's gradient at the epoch's last step.
    _, last_grads = tape_layer_norms(model, x[starts[-1] :], y[starts[-1] :])
    events = EventAccumulator(str(tmp_path / "train"), size_guidance={"histograms": 0}).Reload()
    for key, layer in zip(keys, grad_logging.trainable_layers(model)):
        assert_histogram_of(events.Histograms(f"gradients/{key}")[0].histogram_value, layer, last_grads)


def test_per_step_norms_reach_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (x, y), _ = data.load_circles(num_samples=128)  # 64 training points, 4 batches
    keras.utils.set_random_seed(6)
    model = models.compile_mlp(models.build_mlp(2, 5, "tanh", "glorot_uniform"))
    logger = gradient_logger.FastGradientNormLogger(tmp_path, per_step=True)
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[logger]).history
    events = EventAccumulator(str(tmp_path / "train"), size_guidance={"scalars": 0}).Reload()
    for key in logger.tracker.keys:
        steps = events.Scalars(f"grad_norm_step/{key}")
        assert [event.step for event in steps] == list(range(1, 9))  # 2 epochs x 4 batches.
        for epoch in range(2):
            epoch_mean = np.mean([event.value for event in steps[epoch * 4 : (epoch + 1) * 4]])
            np.testing.assert_allclose(epoch_mean, history[f"grad_norm/{key}/mean"][epoch], rtol=1e-6)


def test_a_replacing_tracker_wraps_the_optimizer_once():
    (x, y), _ = data.load_circles(num_samples=64)
    model = models.compile_mlp(models.build_mlp(2, 5, "tanh", "glorot_uniform", seed=1))
    first = gradient_logger.GradientNormTracker(model, capacity=8)
    second = gradient_logger.GradientNormTracker(model, capacity=64)
    assert second.original_apply == first.original_apply
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # 2 steps.
    steps, rows = second.unread_steps()
    assert int(steps) == 2 and second.step_norms(rows).shape == (2, 3, 3)  # 2 steps, 3 layers.
    steps, rows = first.unread_steps()  # The replaced tracker records nothing any more.
    assert int(steps) == 2 and not rows.numpy().any()


def test_fast_fit_with_a_ring_of_one_epoch_over_several_epochs(tmp_path):
    # As the scripts run it: the ring holds exactly one epoch's steps, so it wraps every epoch.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (x, y), _ = data.load_circles(num_samples=64)
    keras.utils.set_random_seed(7)
    model = models.compile_mlp(
        models.build_mlp(3, 5, "tanh", "glorot_uniform", seed=7), learning_rate=0.0, momentum=0.0
    )
    expected, grads = tape_layer_norms(model, x, y)  # Frozen weights, one full batch: every epoch alike.
    logger = gradient_logger.FastGradientNormLogger(tmp_path, max_steps_per_epoch=1)
    history = whole_epochs.fit_whole_epochs(model, x, y, epochs=3, batch_size=len(x), callbacks=[logger]).history
    keys = grad_logging.layer_keys(model)
    events = EventAccumulator(str(tmp_path / "train"), size_guidance={"histograms": 0}).Reload()
    for epoch in range(3):
        np.testing.assert_allclose(logged_norms(history, keys, epoch, "max"), expected, rtol=1e-5, atol=1e-9)
    for key, layer in zip(keys, grad_logging.trainable_layers(model)):
        histograms = events.Histograms(f"gradients/{key}")
        assert [event.step for event in histograms] == [0, 1, 2]
        for event in histograms:
            assert_histogram_of(event.histogram_value, layer, grads)


def test_fast_fit_numbers_an_epochs_steps_by_its_batches_remainder_included(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (x, y), _ = data.load_circles(num_samples=100)  # 50 training points: 3 batches of 16 and one of 2.
    keras.utils.set_random_seed(8)
    model = models.compile_mlp(
        models.build_mlp(2, 5, "tanh", "glorot_uniform", seed=8), learning_rate=0.0, momentum=0.0
    )
    logger = gradient_logger.FastGradientNormLogger(
        tmp_path, per_step=True, max_steps_per_epoch=5
    )  # Not a multiple of 4.
    history = whole_epochs.fit_whole_epochs(model, x, y, epochs=2, batch_size=16, callbacks=[logger], seed=3).history
    keys = grad_logging.layer_keys(model)
    events = EventAccumulator(str(tmp_path / "train"), size_guidance={"scalars": 0, "histograms": 0}).Reload()
    seed_generator = keras.random.SeedGenerator(3)  # fast_fit's shuffle, replayed: which points each step saw.
    for epoch in range(2):
        order = np.argsort(keras.random.uniform([len(x)], seed=seed_generator))
        batches = [order[start : start + 16] for start in range(0, len(x), 16)]
        per_batch = [tape_layer_norms(model, x[batch], y[batch]) for batch in batches]
        norms = np.array([batch_norms for batch_norms, _ in per_batch])
        np.testing.assert_allclose(logged_norms(history, keys, epoch, "mean"), norms.mean(axis=0), rtol=1e-5)
        np.testing.assert_allclose(logged_norms(history, keys, epoch, "max"), norms.max(axis=0), rtol=1e-5)
        last_grads = per_batch[-1][1]
        for index, (key, layer) in enumerate(zip(keys, grad_logging.trainable_layers(model))):
            steps = events.Scalars(f"grad_norm_step/{key}")[epoch * 4 : (epoch + 1) * 4]
            assert [event.step for event in steps] == list(range(epoch * 4 + 1, epoch * 4 + 5))
            np.testing.assert_allclose([event.value for event in steps], norms[:, index, 2], rtol=1e-5)
            assert_histogram_of(events.Histograms(f"gradients/{key}")[epoch].histogram_value, layer, last_grads)


def test_more_steps_than_the_ring_holds_is_an_error_not_a_wrong_number():
    (x, y), _ = data.load_circles(num_samples=128)  # 64 training points: 4 batches of 16.
    model = models.compile_mlp(models.build_mlp(2, 5, "tanh", "glorot_uniform", seed=1))
    tracker = gradient_logger.GradientNormTracker(model, capacity=2)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    steps, rows = tracker.unread_steps()
    assert int(steps) == 4 and rows.shape[0] == 2  # Only the last two are left.
    # fast_fit shows Keras one step per epoch, so only the epoch's end can tell.
    logger = gradient_logger.FastGradientNormLogger(max_steps_per_epoch=2)
    with pytest.raises(RuntimeError, match="4 optimizer steps in one epoch, more than the capacity 2"):
        whole_epochs.fit_whole_epochs(model, x, y, epochs=1, batch_size=16, callbacks=[logger])
