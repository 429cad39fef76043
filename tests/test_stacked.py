"""Stacked seeds against single runs: member k is seed k (weights, shuffle, loss, gradient norms); NaN freezes one."""

import dataclasses

import keras
import numpy as np
import pytest

import data
from gradient_lab import diagnostics, experiment, stacked_seeds
from gradient_lab.tf_speed import whole_epochs
from gradient_lab.tf_speed import stacked

SEEDS = [0, 1, 2]
EPOCHS = 20


def single_run(name, seed, tmp_path, **overrides):
    config = experiment.config_for(name, epochs=EPOCHS, seed=seed, histogram_freq=0, **overrides)
    return experiment.train_and_evaluate(config, tmp_path / "logs", figure_dir=None)


_trained = {}


def stacked_members(name):
    """`train_stacked` of the model's seeds `SEEDS` for `EPOCHS` epochs, trained once per test worker."""
    if name not in _trained:
        _trained[name] = stacked.train_stacked(experiment.config_for(name, epochs=EPOCHS), SEEDS)
    return _trained[name]


# The tests that read `stacked_members` run on one test worker, so that each model trains once.
shares_training = pytest.mark.xdist_group("stacked_members")


@shares_training
@pytest.mark.parametrize("name", ["shallow_tanh", "deep_tanh", "deep_relu"])
def test_member_k_trains_as_seed_k_alone(name, tmp_path):
    config = experiment.config_for(name, epochs=EPOCHS)
    train, validation = data.load_circles()
    x = train[0]
    model = stacked.stacked_mlp(config, SEEDS, train, validation)
    for member, seed in enumerate(SEEDS):
        single = experiment.compiled_model(experiment.config_for(name, seed=seed))
        views = [view.numpy() for view in model.weight_views()]  # Kernel, bias, kernel, ...
        for index, single_layer in enumerate(single.layers):  # Bit for bit.
            np.testing.assert_array_equal(views[2 * index][member], single_layer.kernel.numpy())
            np.testing.assert_array_equal(views[2 * index + 1][member, 0], single_layer.bias.numpy())
    generators = [keras.random.SeedGenerator(seed) for seed in SEEDS]  # The single runs' shuffles, replayed.
    for _ in range(3):
        expected = [whole_epochs.epoch_order(len(x), generator).numpy() for generator in generators]
        np.testing.assert_array_equal(model.member_orders(len(x)).numpy(), expected)

    members = stacked_members(name)
    for seed, member in zip(SEEDS, members):
        alone = single_run(name, seed, tmp_path)
        assert member["status"] == "completed" and member["epochs_completed"] == EPOCHS
        assert member["layer_keys"] == alone["layer_keys"]
        # Loss, accuracies, every gradient norm, and the diagnostics: saturation or dead units, activations, updates.
        assert set(member["history"]) == set(alone["history"])
        assert len(member["history"]) == 4 + 6 * len(alone["layer_keys"]) + 4 * len(alone["layer_keys"])
        for key, values in alone["history"].items():
            np.testing.assert_allclose(member["history"][key], values, rtol=1e-5, atol=1e-7, err_msg=f"{seed}, {key}")
        assert member["test_accuracy"] == pytest.approx(alone["test_accuracy"], abs=1e-6)
        assert diagnostics.verdict(member) == alone["verdict"]


def test_a_member_whose_loss_becomes_nan_is_frozen_and_the_others_go_on(tmp_path):
    config = experiment.config_for("deep_relu", epochs=5)
    (x_train, y_train), validation = data.load_circles()
    model = stacked.stacked_mlp(config, SEEDS, (x_train, y_train), validation)
    weights = model.weights_flat.numpy()
    weights[1, :10] = np.inf  # Member 1's first kernel (2 x 5): its loss is NaN from the first step.
    model.weights_flat.assign(weights)
    members = stacked.fit_members(model, config, SEEDS, (x_train, y_train), validation)
    assert [member["status"] for member in members] == ["completed", "nan_loss", "completed"]
    assert members[1]["epochs_completed"] == 1 and not np.isfinite(members[1]["history"]["loss"][0])
    for seed in (0, 2):
        alone = experiment.train_and_evaluate(
            experiment.config_for("deep_relu", epochs=5, seed=seed, diagnostics=False, histogram_freq=0),
            tmp_path / "logs",
            figure_dir=None,
        )["history"]
        np.testing.assert_allclose(members[seed]["history"]["loss"], alone["loss"], rtol=1e-5)
        np.testing.assert_allclose(
            members[seed]["history"]["grad_norm/01_hidden_1/mean"], alone["grad_norm/01_hidden_1/mean"], rtol=1e-5
        )


def test_weight_logging_as_the_single_run_logs_it(tmp_path):
    config = experiment.config_for("deep_tanh", epochs=3, weight_logging=True, diagnostics=False)
    member = stacked.train_stacked(config, [4])[0]
    alone = experiment.train_and_evaluate(
        dataclasses.replace(config, seed=4, histogram_freq=0), tmp_path / "logs", figure_dir=None
    )
    keys = [key for key in alone["history"] if key.startswith("weight_")]
    assert len(keys) == 2 * 6 and not any(key.startswith("saturation/") for key in member["history"])
    for key in keys:
        np.testing.assert_allclose(member["history"][key], alone["history"][key], rtol=1e-5, err_msg=key)


def test_per_step_norms_on_request_are_those_the_epoch_averages(tmp_path):
    config = experiment.config_for("deep_tanh", epochs=2, per_step=True, diagnostics=False)
    member = stacked.train_stacked(config, [5])[0]
    steps_per_epoch = 16  # 500 training points in batches of 32.
    for key in member["layer_keys"]:
        steps = np.reshape(member["step_norms"][key], [2, steps_per_epoch])
        np.testing.assert_allclose(steps.mean(axis=1), member["history"][f"grad_norm/{key}/mean"], rtol=1e-6)
        np.testing.assert_allclose(steps.max(axis=1), member["history"][f"grad_norm/{key}/max"], rtol=1e-6)
    alone = experiment.train_and_evaluate(dataclasses.replace(config, seed=5), tmp_path / "logs", figure_dir=None)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "logs" / "deep_tanh" / "train"), size_guidance={"scalars": 0}).Reload()
    logged = [event.value for event in events.Scalars("grad_norm_step/01_hidden_1")]  # The single run's, per step.
    np.testing.assert_allclose(member["step_norms"]["01_hidden_1"], logged, rtol=1e-5, atol=1e-7)
    assert alone["epochs_completed"] == 2


@shares_training
def test_seeds_in_a_second_thread_beside_a_single_run_give_the_same_numbers(tmp_path):
    config = experiment.config_for("deep_relu", epochs=EPOCHS)
    expected = stacked_members("deep_relu")
    alone = single_run("deep_relu", 0, tmp_path / "alone")
    thread = stacked_seeds.TrainingThread(config, SEEDS)
    beside = single_run("deep_relu", 0, tmp_path / "beside")  # Seed 0's story, while the seeds train.
    members = thread.result()
    assert beside["history"] == alone["history"]
    assert [member["history"] for member in members] == [member["history"] for member in expected]
    assert [member["test_accuracy"] for member in members] == [member["test_accuracy"] for member in expected]


def test_with_adam_member_k_trains_as_seed_k_alone(tmp_path):
    # Adam keeps per-weight moments: one shared weight variable must still update each member on its own.
    config = experiment.config_for("deep_relu", epochs=EPOCHS, optimizer="adam", learning_rate=0.005)
    members = stacked.train_stacked(dataclasses.replace(config, diagnostics=False), SEEDS[:2])
    for seed, member in zip(SEEDS[:2], members):
        alone = experiment.train_and_evaluate(
            dataclasses.replace(config, seed=seed, histogram_freq=0, diagnostics=False), tmp_path / "logs", None
        )
        assert alone["config"]["optimizer"] == "adam" and member["epochs_completed"] == EPOCHS
        for key in ("loss", "val_accuracy", "grad_norm/01_hidden_1/mean", "grad_norm/06_output/max"):
            np.testing.assert_allclose(member["history"][key], alone["history"][key], rtol=1e-5, atol=1e-7, err_msg=key)
        assert member["test_accuracy"] == pytest.approx(alone["test_accuracy"], abs=1e-6)
    sgd = stacked.train_stacked(dataclasses.replace(config, optimizer="sgd", diagnostics=False), SEEDS[:1])[0]
    assert sgd["history"]["loss"][-1] != members[0]["history"]["loss"][-1]  # Adam did take other steps.


def test_an_error_in_the_seeds_thread_is_raised_again_by_result():
    def fail_at_the_second_epoch(epoch, logs):
        if epoch == 1:
            raise ValueError("a seed's callback failed")

    thread = stacked_seeds.TrainingThread(
        experiment.config_for("deep_relu", epochs=5, diagnostics=False),
        SEEDS,
        callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=fail_at_the_second_epoch)],
    )
    with pytest.raises(ValueError, match="a seed's callback failed"):
        thread.result()
    assert not thread.thread.is_alive()


def test_a_cancelled_training_thread_stops_at_the_end_of_an_epoch():
    epochs_seen = []
    counter = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epochs_seen.append(epoch))
    thread = stacked_seeds.TrainingThread(
        experiment.config_for("deep_relu", epochs=100_000), SEEDS, callbacks=[counter]
    )
    while not epochs_seen:  # Until its first epoch ends: tracing done, training under way.
        thread.thread.join(0.05)
    thread.cancel()
    assert not thread.thread.is_alive() and len(epochs_seen) < 100_000
    with pytest.raises(stacked_seeds.Cancelled):
        thread.result()


@shares_training
@pytest.mark.parametrize("name", ["deep_tanh", "deep_relu"])
def test_final_diagnostics_only_gives_the_last_epochs_values_and_the_same_verdict(name):
    config = experiment.config_for(name, epochs=EPOCHS)
    every_epoch = stacked_members(name)
    final_only = stacked.train_stacked(config, SEEDS, final_diagnostics_only=True)
    for full, last in zip(every_epoch, final_only):
        diagnostics_keys = [
            key
            for key in full["history"]
            if key.split("/")[0] in ("saturation", "dead_units", "activation_mean", "activation_std", "update_ratio")
        ]
        assert diagnostics_keys and set(full["history"]) == set(last["history"])
        for key in diagnostics_keys:
            np.testing.assert_allclose(last["history"][key], full["history"][key][-1:], rtol=1e-6, err_msg=key)
        for key in ("loss", "val_accuracy", "grad_norm/01_hidden_1/mean"):
            assert last["history"][key] == full["history"][key]
        assert diagnostics.verdict(last) == diagnostics.verdict(full)
