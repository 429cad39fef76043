"""Model structure: layer count, activations, initializers and their ranges."""

import keras
import numpy as np
import pytest

from gradient_lab import experiment
from gradient_lab import models


def build(name):
    config = experiment.config_for(name)
    keras.utils.set_random_seed(0)
    return models.build_mlp(
        config.num_hidden_layers, config.width, config.activation, config.initializer, config.output_initializer
    )


@pytest.mark.parametrize("name, hidden", [("shallow_tanh", 1), ("deep_tanh", 5), ("deep_relu", 5)])
def test_layer_count_names_and_widths(name, hidden):
    model = build(name)
    assert [layer.name for layer in model.layers] == [f"hidden_{i}" for i in range(1, hidden + 1)] + ["output"]
    assert [layer.units for layer in model.layers] == [5] * hidden + [1]
    assert model.layers[0].kernel.shape == (2, 5)
    assert model.output_shape == (None, 1)


@pytest.mark.parametrize("name, activation", [("shallow_tanh", "tanh"), ("deep_tanh", "tanh"), ("deep_relu", "relu")])
def test_activations(name, activation):
    model = build(name)
    assert all(layer.activation.__name__ == activation for layer in model.layers[:-1])
    assert model.layers[-1].activation.__name__ == "sigmoid"


@pytest.mark.parametrize("name", ["shallow_tanh", "deep_tanh"])
def test_tanh_models_use_uniform_zero_one_everywhere(name):
    model = build(name)
    for layer in model.layers:
        initializer = layer.kernel_initializer
        assert isinstance(initializer, keras.initializers.RandomUniform)
        assert (initializer.minval, initializer.maxval) == (0.0, 1.0)
        kernel = layer.kernel.numpy()
        assert kernel.min() >= 0.0 and kernel.max() <= 1.0
        np.testing.assert_array_equal(layer.bias.numpy(), 0.0)


def test_relu_model_uses_he_uniform_and_default_output():
    model = build("deep_relu")
    for layer in model.layers[:-1]:
        assert isinstance(layer.kernel_initializer, keras.initializers.HeUniform)
        fan_in = layer.kernel.shape[0]
        limit = np.sqrt(6.0 / fan_in)
        assert np.abs(layer.kernel.numpy()).max() <= limit
        assert layer.kernel.numpy().min() < 0  # Symmetric around zero, unlike U(0, 1).
    assert isinstance(model.layers[-1].kernel_initializer, keras.initializers.GlorotUniform)


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="unknown activation"):
        models.build_mlp(2, 5, "tanhh", "uniform_0_1")
    with pytest.raises(ValueError, match="unknown initializer"):
        models.get_initializer("he_uniformm")
