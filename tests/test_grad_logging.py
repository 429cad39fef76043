"""Reference checks: logged gradient norms equal norms computed independently with GradientTape."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

import data
from gradient_lab import fast_training
import grad_logging
from gradient_lab import models

LEARNING_RATE, MOMENTUM = 0.01, 0.9


def tape_layer_norms(model, x, y):
    """Per-layer (kernel, bias, total) gradient norms of the mean BCE loss, from a fresh GradientTape, and the
    gradients themselves by variable path."""
    with tf.GradientTape() as tape:
        loss = keras.losses.BinaryCrossentropy()(y.reshape(-1, 1), model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    by_path = {variable.path: grad.numpy() for variable, grad in zip(model.trainable_variables, grads)}
    norms = []
    for layer in grad_logging.trainable_layers(model):
        parts = {variable.name: by_path[variable.path] for variable in layer.trainable_weights}
        total = np.sqrt(sum(np.sum(grad.astype(np.float64) ** 2) for grad in parts.values()))
        kernel = np.linalg.norm(parts["kernel"]) if "kernel" in parts else 0.0
        bias = np.linalg.norm(parts["bias"]) if "bias" in parts else 0.0
        norms.append((kernel, bias, total))
    return np.array(norms), by_path


def logged_norms(history, keys, epoch, stat="mean"):
    """The History's (kernel, bias, total) norms of every layer at one epoch."""
    columns = (f"kernel_{stat}", f"bias_{stat}", stat)
    return np.array([[history[grad_logging.history_key(key, column)][epoch] for column in columns] for key in keys])


def assert_histogram_of(histogram, layer, grads):
    """Asserts that a TensorBoard histogram is of the layer's gradient; `grads` maps each variable's path to it."""
    layer_grads = np.concatenate([np.ravel(grads[variable.path]) for variable in layer.trainable_weights])
    assert histogram.num == layer_grads.size
    np.testing.assert_allclose(
        [histogram.min, histogram.max, histogram.sum],
        [layer_grads.min(), layer_grads.max(), layer_grads.sum()],
        rtol=1e-5,
        atol=1e-8,
    )


def sgd_momentum_step(weights, velocities, grads):
    """Keras SGD with momentum: v = m * v - lr * g; w = w + v."""
    for index, grad in enumerate(grads):
        velocities[index] = MOMENTUM * velocities[index] - LEARNING_RATE * grad
        weights[index] = weights[index] + velocities[index]


def test_fast_fit_norms_match_tape_over_two_epochs():
    (x, y), _ = data.load_circles(num_samples=128)
    keras.utils.set_random_seed(3)
    model = models.compile_mlp(models.build_mlp(5, 5, "tanh", "uniform_0_1", "uniform_0_1"), LEARNING_RATE, MOMENTUM)
    reference = keras.models.clone_model(model)
    reference.set_weights(model.get_weights())
    logger = grad_logging.GradientNormLogger()
    # One full batch per epoch: shuffling the order does not change the gradient.
    history = fast_training.fit_whole_epochs(model, x, y, epochs=2, batch_size=len(x), callbacks=[logger]).history
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
        monkeypatch.setattr(grad_logging, "MAX_RING_VALUES", 0)
    (x, y), _ = data.load_circles(num_samples=96)
    keras.utils.set_random_seed(4)
    model = models.compile_mlp(models.build_mlp(2, 5, "relu", "he_uniform"), learning_rate=0.0, momentum=0.0)
    model.optimizer.learning_rate.assign(0.0)  # Frozen weights: every step's gradient is known in advance.
    logger = grad_logging.GradientNormLogger(tmp_path)
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


def test_any_keras_model_functional_nested_and_without_bias():
    keras.utils.set_random_seed(5)
    block = keras.Sequential(
        [layers.Dense(4, activation="tanh", name="inner_a"), layers.Dense(3, use_bias=False, name="inner_no_bias")],
        name="block",
    )
    inputs = keras.Input((2,))
    hidden = layers.BatchNormalization(name="norm")(layers.Dense(6, activation="relu", name="first")(inputs))
    outputs = layers.Dense(1, activation="sigmoid", name="last")(block(hidden))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="binary_crossentropy")
    (x, y), _ = data.load_circles(num_samples=64)
    expected, _ = tape_layer_norms(model, x, y)
    history = model.fit(
        x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0, callbacks=[grad_logging.GradientNormLogger()]
    ).history
    keys = grad_logging.layer_keys(model)
    assert keys == ["01_first", "02_norm", "03_inner_a", "04_inner_no_bias", "05_last"]
    np.testing.assert_allclose(logged_norms(history, keys, 0), expected, rtol=1e-5, atol=1e-9)
    assert history["grad_norm/04_inner_no_bias/bias_mean"] == [0.0]
    assert history["grad_norm/02_norm/mean"][0] > 0  # BatchNorm's gamma and beta count in the total.


def test_per_step_norms_reach_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (x, y), _ = data.load_circles(num_samples=128)  # 64 training points, 4 batches
    keras.utils.set_random_seed(6)
    model = models.compile_mlp(models.build_mlp(2, 5, "tanh", "glorot_uniform"))
    logger = grad_logging.GradientNormLogger(tmp_path, per_step=True)
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
    first = grad_logging.GradientNormTracker(model, capacity=8)
    second = grad_logging.GradientNormTracker(model, capacity=64)
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
    logger = grad_logging.GradientNormLogger(tmp_path, max_steps_per_epoch=1)
    history = fast_training.fit_whole_epochs(model, x, y, epochs=3, batch_size=len(x), callbacks=[logger]).history
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
    logger = grad_logging.GradientNormLogger(tmp_path, per_step=True, max_steps_per_epoch=5)  # Not a multiple of 4.
    history = fast_training.fit_whole_epochs(model, x, y, epochs=2, batch_size=16, callbacks=[logger], seed=3).history
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
    tracker = grad_logging.GradientNormTracker(model, capacity=2)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    steps, rows = tracker.unread_steps()
    assert int(steps) == 4 and rows.shape[0] == 2  # Only the last two are left.
    # fast_fit shows Keras one step per epoch, so only the epoch's end can tell.
    logger = grad_logging.GradientNormLogger(max_steps_per_epoch=2)
    with pytest.raises(RuntimeError, match="4 optimizer steps in one epoch, more than the capacity 2"):
        fast_training.fit_whole_epochs(model, x, y, epochs=1, batch_size=16, callbacks=[logger])
