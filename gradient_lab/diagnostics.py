"""Why a network fails: saturation, dead units, update sizes, the backward signal at init, a verdict.

Callbacks add numbers to the epoch logs (so to the History, the result JSON and TensorBoard)
or keep decision-boundary snapshots; `verdict` turns a finished run into a few plain sentences.
The per-layer statistics of every epoch (saturation, dead units, update ratios) and the
backward signal at init (by the backend's own autodiff) are in `gradient_lab/layer_statistics.py`.

The thresholds behind the verdict's words are in `gradient_lab/thresholds.py`.
"""

import keras
import numpy as np

import grad_logging
from gradient_lab.thresholds import (
    EXPLODING_RATIO,
    MOSTLY,
    SMALL_UPDATES,
    SUCCESS_ACCURACY,
    VANISHING_RATIO,
)


def activation_name(layer):
    """The Keras name of `layer`'s activation, e.g. `tanh`; `linear` without one."""
    return getattr(getattr(layer, "activation", None), "__name__", "linear")


class DecisionBoundarySnapshots(keras.callbacks.Callback):
    """Keeps the model's predicted probability on a grid over the input square at chosen epochs."""

    def __init__(self, epochs=(1, 10, 100, 500), resolution=80, extent=1.2):
        super().__init__()
        self.epochs = set(epochs)
        axis = np.linspace(-extent, extent, resolution, dtype=np.float32)
        self.grid_x, self.grid_y = np.meshgrid(axis, axis)
        self._points = np.stack([self.grid_x.ravel(), self.grid_y.ravel()], axis=1)
        self.snapshots = {}  # epoch (1-based) -> probabilities, shape of the grid

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 in self.epochs:
            self.take(epoch + 1)

    def take(self, epoch):
        """Records the current predictions as the snapshot of `epoch`."""
        # Eager: four calls of a few ms each cost less than tracing a function for them.
        probabilities = keras.ops.convert_to_numpy(self.model(self._points, training=False))
        self.snapshots[epoch] = probabilities.reshape(self.grid_x.shape)


def _fraction(value):
    return f"{value:.0%}"


def _ratio(value):
    if value == 0:
        return "none"
    if value < VANISHING_RATIO:
        return f"1/{1 / value:.0f}"
    return f"{value:.0f}x" if value > EXPLODING_RATIO else f"{value:.2g}x"


# The nets whose results say whether they were born dead and ended dead. A leaky ReLU, ELU or
# tanh unit always passes some gradient, so "constant output" there would mean saturation,
# not dead units.
DEAD_CHECKED_ACTIVATIONS = ("relu",)


def constant_output(kernels, biases, x, activation):
    """Whether each member MLP maps every row of `x` to one output: born dead (at init) or dead (later).

    Lu et al. (2019, "Dying ReLU and initialization") call a ReLU net dead
    when it is a constant function; on the training set, that is what the optimiser sees:
    one output for every point, so no gradient to tell the points apart. It is checked at
    the last hidden layer, whose outputs are then the same for every input.

    Args:
        kernels, biases: the hidden layers' weights, input side first, each with a leading
            member axis: `[members, in, out]` and `[members, 1, out]` (or `[members, out]`).
        x: the inputs, `[samples, features]`.
        activation: the hidden layers' Keras activation name.

    Returns:
        A list of one bool per member.
    """
    function = keras.activations.get(activation)
    outputs = np.broadcast_to(np.asarray(x, np.float32), [len(kernels[0]), *np.shape(x)])
    for kernel, bias in zip(kernels, biases):
        outputs = np.asarray(function(outputs @ kernel + np.reshape(bias, [len(bias), 1, -1])))
    return [bool(np.all(member.max(axis=0) == member.min(axis=0))) for member in outputs]


def model_constant_output(model, x):
    """`constant_output` of a Keras MLP (its Dense layers; the last one is the output)."""
    layers = grad_logging.trainable_layers(model)[:-1]
    if not layers:
        return False
    kernels = [keras.ops.convert_to_numpy(layer.kernel)[None] for layer in layers]
    biases = [keras.ops.convert_to_numpy(layer.bias)[None] for layer in layers]
    return constant_output(kernels, biases, x, activation_name(layers[0]))[0]


def _dead_relu_sentence(result):
    """Born dead or died in training, for a ReLU net whose output is constant at the end; else None."""
    if not result.get("dead_at_end"):  # Only ReLU nets' results have it (`DEAD_CHECKED_ACTIVATIONS`).
        return None
    if result.get("born_dead"):
        return "born dead: at initialisation its output was the same on every training point, so it had no gradient"
    return "died in training: its output varied over the training points at initialisation and is constant at the end"


def verdict(result):
    """Returns a few plain sentences on what happened in a finished run (see the thresholds above)."""
    history, keys = result["history"], result["layer_keys"]
    if not keys:
        return []
    sentences = []
    output = history[grad_logging.history_key(keys[-1])][0]
    if not np.isfinite(output) or output <= 0:
        sentences.append(f"the output layer's gradient at epoch 1 is {output:.3g}: no usable gradient flows")
        ratios = {}
    else:
        ratios = {key: history[grad_logging.history_key(key)][0] / output for key in keys[:-1]}
    if ratios:
        weakest = min(ratios, key=ratios.get)
        strongest = max(ratios, key=ratios.get)
        if ratios[weakest] < VANISHING_RATIO:
            share = "no" if ratios[weakest] == 0 else f"{_ratio(ratios[weakest])} of the output layer's"
            sentences.append(f"layer {weakest} receives {share} gradient at epoch 1: vanishing")
        elif ratios[strongest] > EXPLODING_RATIO:
            sentences.append(
                f"layer {strongest} receives {_ratio(ratios[strongest])} the output layer's gradient "
                f"at epoch 1: exploding"
            )
        elif len(ratios) == 1:
            sentences.append(
                f"the hidden layer receives {_ratio(ratios[weakest])} the output layer's gradient "
                f"at epoch 1: healthy flow"
            )
        else:
            sentences.append(
                f"every hidden layer receives between {_ratio(ratios[weakest])} and "
                f"{_ratio(ratios[strongest])} the output layer's gradient at epoch 1: healthy flow"
            )
    for group, description in (("saturation", "tanh/sigmoid outputs"), ("dead_units", "ReLU units")):
        values = {key: history[f"{group}/{key}"][-1] for key in keys[:-1] if f"{group}/{key}" in history}
        if values:
            worst = max(values, key=values.get)
            if values[worst] > MOSTLY:
                word = "saturated" if group == "saturation" else "dead"
                sentences.append(
                    f"{_fraction(values[worst])} of the {description} in layer {worst} are {word} at the end"
                )
    update_ratios = [history[f"update_ratio/{key}"][-1] for key in keys if f"update_ratio/{key}" in history]
    if update_ratios and np.median(update_ratios) < SMALL_UPDATES:
        sentences.append(
            f"median update-to-weight ratio {np.median(update_ratios):.0e}: updates too small to move the weights"
        )
    dead_relu = _dead_relu_sentence(result)
    if dead_relu:
        sentences.append(dead_relu)
    accuracy = result.get("test_accuracy")
    if accuracy is not None:
        outcome = "learned" if accuracy >= SUCCESS_ACCURACY else "did not learn"
        sentences.append(f"test accuracy {accuracy:.3f}: {outcome}")
    return sentences


class WeightNormLogger(keras.callbacks.Callback):
    """Logs each layer's weight L1 norm and how far it moved from its initial weights.

    Adds `weight_l1/<layer key>` (sum of |w| over the layer's trainable weights) and
    `weight_change_l1/<layer key>` (sum of |w - w at the start of training|).
    """

    def on_train_begin(self, logs=None):
        self.layers = grad_logging.trainable_layers(self.model)
        self.keys = grad_logging.layer_keys(self.model)
        self.initial = [
            [keras.ops.convert_to_numpy(weight).copy() for weight in layer.trainable_weights] for layer in self.layers
        ]

    def on_epoch_end(self, epoch, logs=None):
        for key, layer, initial in zip(self.keys, self.layers, self.initial):
            current = [keras.ops.convert_to_numpy(weight) for weight in layer.trainable_weights]
            logs[f"weight_l1/{key}"] = float(sum(np.abs(weight).sum() for weight in current))
            logs[f"weight_change_l1/{key}"] = float(
                sum(np.abs(now - start).sum() for now, start in zip(current, initial))
            )
