"""The plain, copyable grad_logging.py: against GradientTape, on any model, copied alone, against the fast logger."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers
from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator

import data
import grad_logging
from gradient_lab import experiment, models
from gradient_lab.tf_speed import gradient_logger
from gradient_lab.tf_speed import whole_epochs
from gradient_reference import logged_norms, tape_layer_norms


def read_tensors(run_dir):
    """TensorBoard's own reader over a run directory written with tf.summary: tag -> [(step, array)]."""
    events = EventAccumulator(str(run_dir), size_guidance={"tensors": 0}).Reload()
    return {
        tag: [(event.step, tf.make_ndarray(event.tensor_proto)) for event in events.Tensors(tag)]
        for tag in events.Tags()["tensors"]
    }


def test_mean_and_max_over_steps_and_last_step_histograms(tmp_path):
    (x, y), _ = data.load_circles(num_samples=96)  # 48 training points: 3 batches of 16.
    model = models.compile_mlp(models.build_mlp(2, 5, "relu", "he_uniform", seed=4), learning_rate=0.0, momentum=0.0)
    logger = grad_logging.GradientNormLogger(tmp_path)
    history = model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[logger]).history
    per_batch = np.array(
        [tape_layer_norms(model, x[start : start + 16], y[start : start + 16])[0] for start in (0, 16, 32)]
    )
    keys = grad_logging.layer_keys(model)
    np.testing.assert_allclose(logged_norms(history, keys, 0, "mean"), per_batch.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(logged_norms(history, keys, 0, "max"), per_batch.max(axis=0), rtol=1e-5)

    tensors = read_tensors(tmp_path / "train")
    assert tensors[grad_logging.history_key(keys[0])][0][1] == pytest.approx(history["grad_norm/01_hidden_1/mean"][0])
    _, last_grads = tape_layer_norms(model, x[32:], y[32:])
    for key, layer in zip(keys, grad_logging.trainable_layers(model)):
        ((step, buckets),) = tensors[f"gradients/{key}"]  # [bucket, (left edge, right edge, count)].
        expected = np.concatenate([np.ravel(last_grads[variable.path]) for variable in layer.trainable_weights])
        assert step == 0 and buckets[:, 2].sum() == expected.size
        assert buckets[0, 0] == pytest.approx(expected.min(), abs=1e-7)
        assert buckets[-1, 1] == pytest.approx(expected.max(), abs=1e-7)


@pytest.mark.parametrize("logger_class", [grad_logging.GradientNormLogger, gradient_logger.FastGradientNormLogger])
def test_any_keras_model_functional_nested_and_without_bias(logger_class):
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
    history = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0, callbacks=[logger_class()])
    keys = grad_logging.layer_keys(model)
    assert keys == ["01_first", "02_norm", "03_inner_a", "04_inner_no_bias", "05_last"]
    np.testing.assert_allclose(logged_norms(history.history, keys, 0), expected, rtol=1e-5, atol=1e-9)
    assert history.history["grad_norm/04_inner_no_bias/bias_mean"] == [0.0]
    assert history.history["grad_norm/02_norm/mean"][0] > 0  # BatchNorm's gamma and beta count in the total.


def test_per_step_norms(tmp_path):
    (x, y), _ = data.load_circles(num_samples=128)  # 64 training points, 4 batches.
    model = models.compile_mlp(models.build_mlp(2, 5, "tanh", "glorot_uniform", seed=6))
    history = model.fit(
        x, y, batch_size=16, epochs=2, verbose=0, callbacks=[grad_logging.GradientNormLogger(tmp_path, per_step=True)]
    ).history
    tensors = read_tensors(tmp_path / "train")
    for key in grad_logging.layer_keys(model):
        steps = tensors[f"grad_norm_step/{key}"]
        assert [step for step, _ in steps] == list(range(1, 9))  # 2 epochs x 4 batches.
        for epoch in range(2):
            epoch_mean = np.mean([float(value) for _, value in steps[epoch * 4 : (epoch + 1) * 4]])
            np.testing.assert_allclose(epoch_mean, history[f"grad_norm/{key}/mean"][epoch], rtol=1e-6)
    # Several optimizer steps per Keras batch (whole-epoch training) cannot give per-step numbers.
    with pytest.raises(ValueError, match="one optimizer step per batch"):
        whole_epochs.fit_whole_epochs(
            model,
            x,
            y,
            epochs=1,
            batch_size=16,
            callbacks=[grad_logging.GradientNormLogger(tmp_path / "again", per_step=True)],
        )


def test_with_clipnorm_the_norms_are_those_before_clipping():
    (x, y), _ = data.load_circles(num_samples=64)
    model = models.build_mlp(3, 5, "tanh", "uniform_0_1", "uniform_0_1", seed=9)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, clipnorm=1e-3), loss="binary_crossentropy")
    expected, _ = tape_layer_norms(model, x, y)
    history = model.fit(
        x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0, callbacks=[grad_logging.GradientNormLogger()]
    ).history
    logged = logged_norms(history, grad_logging.layer_keys(model), 0)
    np.testing.assert_allclose(logged, expected, rtol=1e-5)
    assert logged[:, 0].max() > 10 * 1e-3  # Far above the clipped norm the step applied.


@pytest.mark.parametrize("name", ["shallow_tanh", "deep_tanh", "deep_relu"])
def test_plain_and_fast_loggers_give_the_same_numbers_on_the_reference_models(name):
    config = experiment.config_for(name)
    (x, y), validation = data.load_circles()

    def history(logger, epochs, epoch_calls):
        keras.utils.set_random_seed(0)
        model = experiment.compiled_model(config)
        if epoch_calls:
            return whole_epochs.fit_whole_epochs(
                model, x, y, epochs=epochs, batch_size=32, callbacks=[logger], validation_data=validation
            ).history
        return model.fit(x, y, batch_size=32, epochs=epochs, shuffle=False, verbose=0, callbacks=[logger]).history

    for epochs, epoch_calls in ((20, True), (2, False)):  # whole_epochs's epoch calls, and plain fit's steps.
        plain = history(grad_logging.GradientNormLogger(), epochs, epoch_calls)
        fast = history(gradient_logger.FastGradientNormLogger(max_steps_per_epoch=16), epochs, epoch_calls)
        keys = [key for key in plain if key.startswith("grad_norm/")]
        assert len(keys) == 6 * (config.num_hidden_layers + 1) and set(keys) == {k for k in fast if "grad_norm" in k}
        for key in keys:
            np.testing.assert_allclose(fast[key], plain[key], rtol=1e-6, atol=0, err_msg=key)


def test_a_sequential_model_without_an_input_gets_its_layers_at_the_first_step():
    keras.utils.set_random_seed(10)
    model = keras.Sequential([layers.Dense(4, activation="tanh", name="first"), layers.Dense(1, name="last")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse")  # Frozen: one gradient all along.
    (x, y), _ = data.load_circles(num_samples=64)
    history = model.fit(
        x, y, batch_size=len(x), epochs=2, shuffle=False, verbose=0, callbacks=[grad_logging.GradientNormLogger()]
    ).history
    with tf.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError()(y.reshape(-1, 1), model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    expected = [np.sqrt(sum(np.sum(g.numpy() ** 2) for g in grads[index : index + 2])) for index in (0, 2)]
    for key, norm in zip(["01_first", "02_last"], expected):
        np.testing.assert_allclose(history[f"grad_norm/{key}/mean"], [norm, norm], rtol=1e-5)
