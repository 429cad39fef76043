"""The multilayer perceptron of the experiment, built from one line of sizes.

`build_mlp(num_hidden_layers=5, width=5, activation="tanh", initializer="uniform_0_1")`
gives 2 inputs -> 5 x Dense(5, tanh) -> Dense(1, sigmoid). Layers are named
`hidden_1` ... `hidden_N` and `output`, so "the first hidden layer" means the same
thing in every tag, plot and table.
"""

import keras
import numpy as np
from keras import layers

# The reference experiment initialises tanh nets with U(0, 1): all-positive weights
# push every unit towards saturation, which is what makes the deep tanh net fail.
CUSTOM_INITIALIZERS = {"uniform_0_1": lambda seed: keras.initializers.RandomUniform(minval=0.0, maxval=1.0, seed=seed)}


def get_initializer(name, seed=None):
    """Returns a Keras initializer for `name` (`uniform_0_1` or any Keras initializer name).

    Args:
        name: the initializer's name.
        seed: its own seed. Without one, Keras draws a seed from Python's global random
            generator, which any other thread of the process may also be drawing from.

    Raises:
        ValueError: the name is unknown.
    """
    if name in CUSTOM_INITIALIZERS:
        return CUSTOM_INITIALIZERS[name](seed)
    try:
        initializer = keras.initializers.get(name)
    except (ValueError, TypeError):
        raise ValueError(f"unknown initializer {name!r}; try uniform_0_1, he_uniform, glorot_uniform, ...") from None
    if seed is not None and "seed" in initializer.get_config():
        initializer = initializer.__class__.from_config({**initializer.get_config(), "seed": seed})
    return initializer


def check_activation(name):
    """Raises ValueError unless `name` is a Keras activation."""
    try:
        keras.activations.get(name)
    except (ValueError, TypeError):
        raise ValueError(f"unknown activation {name!r}; try tanh, relu, sigmoid, ...") from None


def build_mlp(
    num_hidden_layers, width, activation, initializer, output_initializer="glorot_uniform", num_inputs=2, seed=None
):
    """Builds the binary classifier MLP.

    Args:
        num_hidden_layers: number of hidden `Dense` layers.
        width: units per hidden layer.
        activation: Keras activation name of the hidden layers.
        initializer: kernel initializer name of the hidden layers.
        output_initializer: kernel initializer name of the sigmoid output layer.
        num_inputs: input features.
        seed: seeds every layer's initializer (layer i gets seed * 1000 + i), so the
            weights depend on this number alone.

    Returns:
        An uncompiled `keras.Sequential`.
    """
    check_activation(activation)

    def layer_seed(index):
        return None if seed is None else seed * 1000 + index

    hidden = [
        layers.Dense(
            width,
            activation=activation,
            name=f"hidden_{index}",
            kernel_initializer=get_initializer(initializer, layer_seed(index)),
        )
        for index in range(1, num_hidden_layers + 1)
    ]
    output = layers.Dense(
        1, activation="sigmoid", name="output", kernel_initializer=get_initializer(output_initializer, layer_seed(0))
    )
    # All layers at once: `Sequential.add` rebuilds the model's graph after each layer (quadratic in depth).
    model = keras.Sequential([keras.Input(shape=(num_inputs,)), *hidden, output], name="mlp")
    return model


def seeds_initial_weights(num_hidden_layers, width, initializer, output_initializer, seeds, num_inputs=2):
    """Every layer's kernel and bias, input side first, for each seed: `[len(seeds), *shape]` each.

    Seed k's are the weights `build_mlp(..., seed=seeds[k])` starts from: the same initializers
    with the same seeds (hidden layer i gets seed * 1000 + i, the output layer seed * 1000), and
    zero biases, as Dense's default.
    """
    fans = [num_inputs] + [width] * num_hidden_layers + [1]
    weights = []
    for layer, (fan_in, fan_out) in enumerate(zip(fans, fans[1:]), start=1):
        name = initializer if layer <= num_hidden_layers else output_initializer
        layer_seed = layer % (num_hidden_layers + 1)
        kernels = [
            keras.ops.convert_to_numpy(get_initializer(name, seed * 1000 + layer_seed)((fan_in, fan_out)))
            for seed in seeds
        ]
        weights += [np.stack(kernels), np.zeros([len(seeds), 1, fan_out], np.float32)]
    return weights


def make_optimizer(optimizer="sgd", learning_rate=0.01, momentum=0.9):
    """Returns `SGD(learning_rate, momentum)` for `sgd`, `Adam(learning_rate)` for `adam`."""
    if optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum)
    if optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    raise ValueError(f"unknown optimizer {optimizer!r}; use sgd or adam")


def compile_mlp(model, learning_rate=0.01, momentum=0.9, optimizer="sgd"):
    """Compiles with binary cross-entropy and accuracy; `optimizer` is `sgd` (with momentum) or `adam`."""
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate, momentum), loss="binary_crossentropy", metrics=["accuracy"]
    )
    return model
