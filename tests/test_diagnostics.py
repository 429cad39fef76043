"""Diagnostics: reference checks of saturation, dead units and update ratios; the verdict's thresholds."""

import keras
import numpy as np
import pytest

import data
from gradient_lab import diagnostics
from gradient_lab import experiment
from gradient_lab import layer_statistics
from gradient_lab.tf_speed import gradient_logger
from gradient_lab.tf_speed import whole_epochs
import grad_logging
from gradient_lab import models
from gradient_reference import tape_layer_norms

LEARNING_RATE = 1e-9  # Small enough that the weights do not move within the test's one epoch.


def one_epoch_logs(model, x, y):
    models.compile_mlp(model, learning_rate=LEARNING_RATE, momentum=0.0)
    callbacks = [gradient_logger.FastGradientNormLogger(), layer_statistics.LayerDiagnostics(x)]
    history = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0, callbacks=callbacks).history
    return {key: values[0] for key, values in history.items()}


def numpy_forward(model, x):
    activations, current = [], x
    for layer in model.layers:
        kernel, bias = (weight.numpy() for weight in layer.trainable_weights)
        pre_activation = current @ kernel + bias
        current = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0), "sigmoid": lambda z: 1 / (1 + np.exp(-z))}[
            layer.activation.__name__
        ](pre_activation)
        activations.append(current)
    return activations


@pytest.mark.parametrize("activation, initializer", [("tanh", "uniform_0_1"), ("relu", "he_uniform")])
def test_layer_statistics_match_numpy(activation, initializer):
    (x, y), _ = data.load_circles(num_samples=200)
    model = models.build_mlp(4, 5, activation, initializer, seed=11)
    logs = one_epoch_logs(model, x, y)
    keys = grad_logging.layer_keys(model)
    gradient_norms, _ = tape_layer_norms(model, x, y)
    for key, layer, values, gradient in zip(keys, model.layers, numpy_forward(model, x), gradient_norms):
        kind = layer.activation.__name__
        if kind == "tanh":
            assert logs[f"saturation/{key}"] == pytest.approx(np.mean(np.abs(values) > 0.97))
        if kind == "sigmoid":
            assert logs[f"saturation/{key}"] == pytest.approx(np.mean((values < 0.03) | (values > 0.97)))
        if kind == "relu":
            assert logs[f"dead_units/{key}"] == pytest.approx(np.mean(values.max(axis=0) <= 0))
        assert logs[f"activation_mean/{key}"] == pytest.approx(values.mean(), rel=1e-4, abs=1e-6)
        assert logs[f"activation_std/{key}"] == pytest.approx(values.std(), rel=1e-4, abs=1e-6)
        weight_norm = np.sqrt(sum(np.sum(w.numpy() ** 2) for w in layer.trainable_weights))
        assert logs[f"update_ratio/{key}"] == pytest.approx(LEARNING_RATE * gradient[2] / weight_norm, rel=1e-4)


def test_same_statistics_in_the_epoch_graph_and_for_a_functional_model():
    (x, y), _ = data.load_circles(num_samples=200)
    sequential = models.build_mlp(3, 5, "sigmoid", "glorot_uniform", seed=12)
    expected = one_epoch_logs(sequential, x, y)  # Plain `fit`: the callback's own call.
    # The same model as a functional model: its layer outputs come from a probe model.
    inputs = keras.Input((2,))
    outputs = inputs
    for layer in sequential.layers:
        outputs = keras.layers.Dense.from_config(layer.get_config())(outputs)
    functional = keras.Model(inputs, outputs)
    functional.set_weights(sequential.get_weights())
    models.compile_mlp(functional, learning_rate=LEARNING_RATE, momentum=0.0)
    for model in (sequential, functional):
        # `fast_fit`: computed inside the epoch's own call. One full batch, so shuffling changes nothing.
        history = whole_epochs.fit_whole_epochs(
            model,
            x,
            y,
            epochs=1,
            batch_size=len(x),
            callbacks=[gradient_logger.FastGradientNormLogger(), layer_statistics.LayerDiagnostics(x)],
        ).history
        for key, value in expected.items():
            if key.split("/")[0] in ("saturation", "activation_mean", "activation_std", "update_ratio"):
                assert history[key][0] == pytest.approx(value, rel=1e-4, abs=1e-7), key


def test_uniform_weights_saturate_tanh_units_glorot_does_not():
    (x, y), _ = data.load_circles(num_samples=200)
    uniform = one_epoch_logs(models.build_mlp(5, 5, "tanh", "uniform_0_1", "uniform_0_1", seed=0), x, y)
    glorot = one_epoch_logs(models.build_mlp(5, 5, "tanh", "glorot_uniform", seed=0), x, y)
    # All-positive weights add up: most deep units sit on tanh's flat tails.
    assert uniform["saturation/05_hidden_5"] > 0.5
    assert glorot["saturation/05_hidden_5"] < 0.1


def test_backward_signal_at_init_matches_tape():
    (x, y), _ = data.load_circles(num_samples=200)
    model = models.build_mlp(3, 5, "tanh", "glorot_uniform", seed=2)
    init = layer_statistics.backward_signal_at_init(model, x, y)
    expected, _ = tape_layer_norms(model, x, y)
    np.testing.assert_allclose(init["gradient_norm"], expected[:, 2], rtol=1e-5)
    assert init["backward_signal"][-1] == pytest.approx(1.0)  # d output / d output.
    # Per input, the product of the spectral norms above a layer bounds its backward signal.
    assert all(bound >= signal * (1 - 1e-5) for bound, signal in zip(init["jacobian_product"], init["backward_signal"]))


def fake_result(ratios, saturation=None, dead=None, update_ratio=1e-3, accuracy=0.8):
    keys = [f"0{index + 1}_hidden_{index + 1}" for index in range(len(ratios))] + [f"0{len(ratios) + 1}_output"]
    history = {f"grad_norm/{key}/mean": [ratio] for key, ratio in zip(keys, [*ratios, 1.0])}
    for key in keys:
        history[f"update_ratio/{key}"] = [update_ratio]
        if saturation is not None:
            history[f"saturation/{key}"] = [saturation]
        if dead is not None:
            history[f"dead_units/{key}"] = [dead]
    return {"layer_keys": keys, "history": history, "test_accuracy": accuracy}


def test_verdict_thresholds():
    assert diagnostics.verdict(fake_result([0.5, 0.0029]))[0] == (
        "layer 02_hidden_2 receives 1/345 of the output layer's gradient at epoch 1: vanishing"
    )
    assert diagnostics.verdict(fake_result([0.5, 0.11]))[0].endswith("healthy flow")
    assert diagnostics.verdict(fake_result([0.5, 12.0]))[0].endswith("exploding")
    saturated = diagnostics.verdict(fake_result([0.5], saturation=0.92, accuracy=0.47))
    assert "92% of the tanh/sigmoid outputs in layer 01_hidden_1 are saturated at the end" in saturated
    assert saturated[-1] == "test accuracy 0.470: did not learn"
    assert not any("saturated" in s for s in diagnostics.verdict(fake_result([0.5], saturation=0.4)))
    assert any("ReLU units in layer 01_hidden_1 are dead" in s for s in diagnostics.verdict(fake_result([1], dead=0.6)))
    assert any("updates too small" in s for s in diagnostics.verdict(fake_result([1], update_ratio=5e-5)))
    assert not any("updates too small" in s for s in diagnostics.verdict(fake_result([1], update_ratio=2e-4)))
    assert diagnostics.verdict(fake_result([1], accuracy=0.75))[-1].endswith(": learned")
    no_gradient = "layer 02_hidden_2 receives no gradient at epoch 1: vanishing"
    assert diagnostics.verdict(fake_result([0.5, 0.0]))[0] == no_gradient
    assert diagnostics.verdict(fake_result([0.0], accuracy=0.5))[0].startswith("layer 01_hidden_1 receives no gradient")


@pytest.mark.parametrize(
    "activation, initializer, depth, expected",
    [
        ("tanh", "uniform_0_1", 8, "vanishing"),  # Built to vanish.
        ("relu", "he_uniform", 2, "healthy flow"),  # Built not to.
    ],
)
def test_verdict_on_real_runs(tmp_path, activation, initializer, depth, expected):
    config = experiment.Config(
        model="probe",
        num_hidden_layers=depth,
        activation=activation,
        initializer=initializer,
        output_initializer=initializer,
        epochs=3,
        seed=1,
    )
    result = experiment.train_and_evaluate(config, tmp_path / "logs", figure_dir=None)
    assert result["verdict"][0].endswith(expected), result["verdict"]


def test_diagnostics_do_not_change_training(tmp_path):
    runs = [
        experiment.train_and_evaluate(
            experiment.config_for("deep_relu", epochs=3, diagnostics=flag), tmp_path / "logs", figure_dir=None
        )
        for flag in (True, False)
    ]
    assert runs[0]["history"]["loss"] == runs[1]["history"]["loss"]
    assert runs[0]["history"]["grad_norm/01_hidden_1/mean"] == runs[1]["history"]["grad_norm/01_hidden_1/mean"]
    assert "dead_units/01_hidden_1" in runs[0]["history"] and "dead_units/01_hidden_1" not in runs[1]["history"]


def test_constant_output_against_a_forward_pass_by_hand():
    x = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -2.0]], np.float32)
    alive = [np.array([[[1.0, -1.0], [0.0, 1.0]]]), np.array([[[1.0], [1.0]]])]
    # Layer 2 of the second member sends every unit below zero: ReLU outputs 0 for every input.
    dead = [alive[0], np.array([[[-1.0], [-1.0]]])]
    kernels = [np.concatenate(pair) for pair in zip(alive, dead)]
    kernels[0] = np.abs(kernels[0])  # Layer 1's outputs are then non-negative, so layer 2 of member 2 is off.
    biases = [np.zeros([2, 1, 2]), np.zeros([2, 1, 1])]
    assert diagnostics.constant_output(kernels, biases, x, "relu") == [False, True]
    # tanh passes every input through (no unit outputs one value for all three inputs).
    assert diagnostics.constant_output(kernels, biases, x, "tanh") == [False, False]
    # A third layer with a positive bias after the dead one outputs 0.5 for every input: still constant.
    kernels.append(np.ones([2, 1, 1]))
    biases.append(np.full([2, 1, 1], 0.5))
    assert diagnostics.constant_output(kernels, biases, x, "relu") == [False, True]


def test_stacked_members_are_born_dead_as_their_single_nets_are():
    from gradient_lab.tf_speed import stacked

    (x, y), validation = data.load_circles()
    config = experiment.config_for("deep_relu", num_hidden_layers=20)
    seeds = list(range(20))
    model = stacked.stacked_mlp(config, seeds, (x, y), validation)
    # The reference: Keras's own forward pass of each single net gives one output for every training input.
    nets = [experiment.compiled_model(experiment.config_for("deep_relu", num_hidden_layers=20, seed=s)) for s in seeds]
    single = [bool(np.ptp(net(x).numpy()) == 0) for net in nets]
    assert model.born_dead == single and 0 < sum(single) < len(seeds)
    assert [diagnostics.model_constant_output(net, x) for net in nets] == single  # The single run's check.


@pytest.mark.parametrize("born_dead, expected", [(True, "born dead: "), (False, "died in training: ")])
def test_the_verdict_of_a_dead_relu_net_says_born_dead_or_died_in_training(born_dead, expected):
    result = {"history": {"grad_norm/01_hidden_1/mean": [1.0], "grad_norm/02_output/mean": [1.0]}}
    result["layer_keys"] = ["01_hidden_1", "02_output"]
    assert not any(sentence.startswith(("born", "died")) for sentence in diagnostics.verdict(result))
    result.update(born_dead=born_dead, dead_at_end=True)
    assert [s for s in diagnostics.verdict(result) if s.startswith(("born", "died"))][0].startswith(expected)
    result["dead_at_end"] = False  # Alive at the end: neither.
    assert not any(sentence.startswith(("born", "died")) for sentence in diagnostics.verdict(result))


def test_a_single_run_of_a_born_dead_seed_says_so(tmp_path):
    config = experiment.config_for("deep_relu", num_hidden_layers=20, seed=10, epochs=2, histogram_freq=0)
    result = experiment.train_and_evaluate(config, tmp_path, figure_dir=None)
    assert result["born_dead"] and result["dead_at_end"]
    assert any(sentence.startswith("born dead: ") for sentence in result["verdict"])


def test_born_dead_fraction_of_kerass_own_weights_matches_the_theorys_monte_carlo():
    """Two independent draws of one probability: Keras's seeded he_uniform nets against theory.py's numpy nets."""
    from gradient_lab.tf_speed import stacked
    from gradient_lab.theory import predictions

    (x, y), validation = data.load_circles()
    seeds = list(range(300))
    model = stacked.stacked_mlp(experiment.config_for("deep_relu", num_hidden_layers=20), seeds, (x, y), validation)
    fraction = np.mean(model.born_dead)
    p, se = predictions.born_dead_probability(5, 20, x, 4000, seed=0)
    assert abs(fraction - p) < 4 * np.hypot(se, np.sqrt(p * (1 - p) / len(seeds)))
    assert 0.15 < fraction < 0.45  # Far from the one-input closed form's 0.47 and from 0.
