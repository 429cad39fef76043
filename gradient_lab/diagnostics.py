"""Why a network fails: saturation, dead units, update sizes, the backward signal at init, a verdict.

Callbacks add per-layer numbers to the epoch logs (so to the History, the result JSON
and TensorBoard); `backward_signal_at_init` compares theory and measurement before
training; `verdict` turns a finished run into a few plain sentences.

The thresholds behind the verdict's words are in `gradient_lab/thresholds.py`.
"""

import keras
import numpy as np
import tensorflow as tf

import grad_logging
from gradient_lab.tf_speed import gradient_logger
from gradient_lab.thresholds import (
    EXPLODING_RATIO,
    MOSTLY,
    SIGMOID_SATURATION,
    SMALL_UPDATES,
    SUCCESS_ACCURACY,
    TANH_SATURATION,
    VANISHING_RATIO,
)


def _activation_name(layer):
    return getattr(getattr(layer, "activation", None), "__name__", "linear")


class LayerDiagnostics(keras.callbacks.Callback):
    """Per layer and epoch: saturation, dead units, activation mean and std, update-to-weight ratio.

    For models of layers with outputs `[batch, units]`, such as MLPs. One forward pass
    over `x` per epoch, inside the epoch's own call under `fast_fit`, computes everything
    for all layers at once, as a handful of ops on one `[inputs, units]` table (each op
    in the epoch's graph costs time every epoch). The update ratio needs
    a gradient-norm logger earlier in the callback list.
    Keys: `saturation/<layer key>` (tanh and sigmoid layers), `dead_units/<layer key>`
    (ReLU layers), `activation_mean/...`, `activation_std/...`, `update_ratio/...`.
    """

    def __init__(self, x):
        super().__init__()
        self.x = tf.constant(x)

    def on_train_begin(self, logs=None):
        self.layers = grad_logging.trainable_layers(self.model)
        self.keys = grad_logging.layer_keys(self.model)
        self.kinds = [_activation_name(layer) for layer in self.layers]
        self.learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self._prepare_tables()
        # `fast_fit` computes the statistics inside each epoch's call; plain `fit` calls this.
        self._graph_statistics = tf.function(self.epoch_graph_statistics)

    def _prepare_tables(self):
        # Every unit of every layer is one column of a [inputs, units] table; these say
        # which layer each column belongs to and where its saturated region starts.
        units = [int(layer.output.shape[-1]) for layer in self.layers]
        layer_of_unit = np.repeat(np.arange(len(units)), units)
        # Multiplying per-unit numbers by this [units, layers] matrix averages them per layer.
        self._layer_average = tf.constant(
            np.eye(len(units), dtype=np.float32)[layer_of_unit] / np.float32(units)[layer_of_unit, None]
        )
        self._layer_of_unit = tf.constant(layer_of_unit)
        centre = {"tanh": 0.0, "sigmoid": 0.5}
        threshold = {"tanh": TANH_SATURATION, "sigmoid": 0.5 - SIGMOID_SATURATION}
        self._centre = tf.constant([centre.get(self.kinds[layer], 0.0) for layer in layer_of_unit], tf.float32)
        # Saturated when (a - centre)^2 > threshold^2, one op fewer than |a - centre| > threshold.
        self._squared_threshold = tf.constant(
            [threshold.get(self.kinds[layer], np.inf) ** 2 for layer in layer_of_unit], tf.float32
        )
        weights = [weight for layer in self.layers for weight in layer.trainable_weights]
        self._weight_positions = gradient_logger.flat_positions(weights)
        self._layer_of_weight = tf.constant(np.repeat(np.arange(len(units)), gradient_logger.layer_sizes(self.layers)))

    def epoch_graph_statistics(self):
        """Traceable: one row per layer of saturated, dead, mean, std and weight norm."""
        activations = tf.concat(_layer_outputs(self.model, self.layers, self.x), axis=1)  # [inputs, units]
        saturated = tf.math.squared_difference(activations, self._centre) > self._squared_threshold
        unit_mean = tf.reduce_mean(activations, axis=0)
        layer_mean = tf.linalg.matvec(self._layer_average, unit_mean, transpose_a=True)
        squared_deviation = tf.math.squared_difference(activations, tf.gather(layer_mean, self._layer_of_unit))
        per_unit = tf.stack(
            [
                tf.reduce_mean(tf.cast(saturated, tf.float32), axis=0),
                tf.cast(tf.reduce_max(activations, axis=0) <= 0.0, tf.float32),
                unit_mean,
                tf.reduce_mean(squared_deviation, axis=0),
            ]
        )
        saturated, dead, mean, variance = tf.unstack(per_unit @ self._layer_average)
        weights = tf.dynamic_stitch(
            self._weight_positions, [weight for layer in self.layers for weight in layer.trainable_weights]
        )
        weight_norm = tf.sqrt(tf.math.segment_sum(tf.square(weights), self._layer_of_weight))
        return {"_layer_statistics": tf.stack([saturated, dead, mean, tf.sqrt(variance), weight_norm], axis=1)}

    def on_epoch_end(self, epoch, logs=None):
        # `fast_fit` computes the table inside the epoch's own call; plain `fit` does not.
        table = logs.pop("_layer_statistics", None)
        if table is None:
            table = self._graph_statistics()["_layer_statistics"]
        for key, kind, (saturated, dead, mean, std, weight_norm) in zip(
            self.keys, self.kinds, np.asarray(table).tolist()
        ):
            if kind in ("tanh", "sigmoid"):
                logs[f"saturation/{key}"] = saturated
            if kind == "relu":
                logs[f"dead_units/{key}"] = dead
            logs[f"activation_mean/{key}"] = mean
            logs[f"activation_std/{key}"] = std
            gradient_norm = logs.get(grad_logging.history_key(key))
            if gradient_norm is not None:
                logs[f"update_ratio/{key}"] = self.learning_rate * gradient_norm / max(weight_norm, 1e-12)


def _layer_outputs(model, layers, x):
    """Traceable: the outputs of `layers` (the model's trainable layers) on `x`, in one forward pass."""
    if isinstance(model, keras.Sequential) and all(layer in layers for layer in model.layers):
        outputs, current = [], x
        for layer in model.layers:
            current = layer(current, training=False)
            outputs.append(current)
        return outputs
    # Any other model: a functional model whose outputs are the layers' outputs. It is
    # slower for Sequential models, whose layer outputs it recomputes from the input.
    probe = keras.Model(model.inputs, [layer.output for layer in layers])
    return probe(x, training=False)


class DecisionBoundarySnapshots(keras.callbacks.Callback):
    """Keeps the model's predicted probability on a grid over the input square at chosen epochs."""

    def __init__(self, epochs=(1, 10, 100, 500), resolution=80, extent=1.2):
        super().__init__()
        self.epochs = set(epochs)
        axis = np.linspace(-extent, extent, resolution, dtype=np.float32)
        self.grid_x, self.grid_y = np.meshgrid(axis, axis)
        self._points = tf.constant(np.stack([self.grid_x.ravel(), self.grid_y.ravel()], axis=1))
        self.snapshots = {}  # epoch (1-based) -> probabilities, shape of the grid

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 in self.epochs:
            self.take(epoch + 1)

    def take(self, epoch):
        """Records the current predictions as the snapshot of `epoch`."""
        # Eager: four calls of a few ms each cost less than tracing a function for them.
        self.snapshots[epoch] = self.model(self._points, training=False).numpy().reshape(self.grid_x.shape)


def backward_signal_at_init(model, x, y):
    """Theory against measurement at initialisation, per Dense layer of an MLP (input side first).

    Returns:
        A dict of lists, one value per layer:
        `jacobian_product`: for each input, the product over the layers above of the
        spectral norms of their input-output Jacobians diag(f'(z)) W^T, averaged over the
        inputs: the bound the theory gives for the backward signal below;
        `backward_signal`: mean over inputs of ||d output / d layer output||, the exact
        backward signal reaching the layer;
        `gradient_norm`: the measured L2 norm of the layer's loss gradient on `x`.
    """
    layers = grad_logging.trainable_layers(model)
    with tf.GradientTape(persistent=True) as tape:
        # The layers' own computation, unrolled so the pre-activations z are visible.
        pre_activations, activations, current = [], [], tf.constant(x)
        for layer in layers:
            pre_activations.append(tf.matmul(current, layer.kernel) + (layer.bias if layer.use_bias else 0.0))
            current = layer.activation(pre_activations[-1])
            activations.append(current)
        loss = keras.losses.BinaryCrossentropy()(tf.reshape(tf.constant(y), [-1, 1]), current)
    # One output unit, and inputs that do not interact: the gradient of the summed output
    # holds each input's own d output / d activations.
    backward = [
        float(np.mean(np.linalg.norm(signal.numpy(), axis=1))) for signal in tape.gradient(current, activations)
    ]
    gradients = tape.gradient(loss, [layer.trainable_weights for layer in layers])
    del tape
    # Elementwise activations: d a / d z is diagonal, and its diagonal f'(z) of every layer
    # comes from one pass over copies of the z's that nothing downstream depends on.
    pre_activations = [tf.identity(z) for z in pre_activations]
    with tf.GradientTape() as tape:
        tape.watch(pre_activations)
        outputs = [layer.activation(z) for layer, z in zip(layers, pre_activations)]
    spectral = []
    for layer, slopes in zip(layers, tape.gradient(outputs, pre_activations)):
        jacobians = slopes.numpy()[:, :, None] * layer.kernel.numpy().T[None]  # [inputs, out, in]
        spectral.append(np.linalg.norm(jacobians, ord=2, axis=(1, 2)))  # One norm per input.
    measured = [
        float(np.sqrt(sum(np.sum(g.numpy().astype(np.float64) ** 2) for g in layer_grads))) for layer_grads in gradients
    ]
    ones = np.ones(len(x))
    products = [float(np.mean(np.prod([ones, *spectral[index + 1 :]], axis=0))) for index in range(len(layers))]
    return {
        "layer_keys": grad_logging.layer_keys(model),
        "jacobian_product": products,
        "backward_signal": backward,
        "gradient_norm": measured,
    }


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
    kernels = [layer.kernel.numpy()[None] for layer in layers]
    biases = [layer.bias.numpy()[None] for layer in layers]
    return constant_output(kernels, biases, x, _activation_name(layers[0]))[0]


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
        self.initial = [[weight.numpy().copy() for weight in layer.trainable_weights] for layer in self.layers]

    def on_epoch_end(self, epoch, logs=None):
        for key, layer, initial in zip(self.keys, self.layers, self.initial):
            current = [weight.numpy() for weight in layer.trainable_weights]
            logs[f"weight_l1/{key}"] = float(sum(np.abs(weight).sum() for weight in current))
            logs[f"weight_change_l1/{key}"] = float(
                sum(np.abs(now - start).sum() for now, start in zip(current, initial))
            )
