"""Per-layer statistics inside TensorFlow's epoch call, and the backward signal at init by TensorFlow's autodiff.

`LayerDiagnostics` adds saturation, dead units, activation statistics and update ratios per layer
to the epoch logs; `backward_signal_at_init` compares theory and measurement before training.
The verdict that reads them is `gradient_lab.diagnostics.verdict`.
"""

import keras
import numpy as np
import tensorflow as tf

import grad_logging
from gradient_lab.diagnostics import activation_name
from gradient_lab.tf_speed import gradient_logger
from gradient_lab.thresholds import SIGMOID_SATURATION, TANH_SATURATION


class UnitStatistics:
    """Per layer: the saturated fraction, the dead fraction, the mean and the std of its units' outputs.

    The single run (`LayerDiagnostics`) and the stacked seeds (`stacked`) both take them from one
    table of every layer's unit outputs side by side, `[inputs, units]` (or `[members, inputs, units]`),
    so that they share one definition: saturated is a tanh output within `TANH_SATURATION` of +-1 (a
    sigmoid's within `SIGMOID_SATURATION` of 0 or 1); dead is a unit never positive on the inputs; the
    mean and std are over the layer's inputs and units together.

    Args:
        units: each layer's number of units, input side first.
        kinds: each layer's activation name.
    """

    def __init__(self, units, kinds):
        layer_of_unit = np.repeat(np.arange(len(units)), units)
        # Multiplying per-unit numbers by this [units, layers] matrix averages them per layer.
        self._layer_average = tf.constant(
            np.eye(len(units), dtype=np.float32)[layer_of_unit] / np.float32(units)[layer_of_unit, None]
        )
        self._layer_of_unit = tf.constant(layer_of_unit)
        centre = {"tanh": 0.0, "sigmoid": 0.5}
        threshold = {"tanh": TANH_SATURATION, "sigmoid": 0.5 - SIGMOID_SATURATION}
        self._centre = tf.constant([centre.get(kinds[layer], 0.0) for layer in layer_of_unit], tf.float32)
        # Saturated when (a - centre)^2 > threshold^2, that is |a - centre| > threshold.
        self._squared_threshold = tf.constant(
            [threshold.get(kinds[layer], np.inf) ** 2 for layer in layer_of_unit], tf.float32
        )

    def __call__(self, outputs):
        """Traceable: `(saturated, dead, mean, std)`, each `[layers]` (or `[members, layers]`)."""
        saturated = tf.math.squared_difference(outputs, self._centre) > self._squared_threshold
        unit_mean = tf.reduce_mean(outputs, axis=-2)
        layer_mean = tf.linalg.matvec(self._layer_average, unit_mean, transpose_a=True)
        layer_mean_of_unit = tf.gather(layer_mean, self._layer_of_unit, axis=-1)
        squared_deviation = tf.math.squared_difference(outputs, tf.expand_dims(layer_mean_of_unit, -2))
        per_unit = tf.stack(
            [
                tf.reduce_mean(tf.cast(saturated, tf.float32), axis=-2),
                tf.cast(tf.reduce_max(outputs, axis=-2) <= 0.0, tf.float32),
                unit_mean,
                tf.reduce_mean(squared_deviation, axis=-2),
            ]
        )
        saturated, dead, mean, variance = tf.unstack(per_unit @ self._layer_average)
        return saturated, dead, mean, tf.sqrt(variance)


class LayerDiagnostics(keras.callbacks.Callback):
    """Per layer and epoch: saturation, dead units, activation mean and std, update-to-weight ratio.

    For models of layers with outputs `[batch, units]`, such as MLPs. One forward pass
    over `x` per epoch, inside the epoch's own call under `whole_epochs`, computes
    everything for all layers at once, on one `[inputs, units]` table of every unit's
    outputs. The update ratio needs a gradient-norm logger earlier in the callback list.
    Keys: `saturation/<layer key>` (tanh and sigmoid layers), `dead_units/<layer key>`
    (ReLU layers), `activation_mean/...`, `activation_std/...`, `update_ratio/...`.
    """

    def __init__(self, x):
        super().__init__()
        self.x = tf.constant(x)

    def on_train_begin(self, logs=None):
        self.layers = grad_logging.trainable_layers(self.model)
        self.keys = grad_logging.layer_keys(self.model)
        self.kinds = [activation_name(layer) for layer in self.layers]
        self.learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self._prepare_tables()
        # `whole_epochs` computes the statistics inside each epoch's call; plain `fit` calls this.
        self._graph_statistics = tf.function(self.epoch_graph_statistics)

    def _prepare_tables(self):
        units = [int(layer.output.shape[-1]) for layer in self.layers]
        self._unit_statistics = UnitStatistics(units, self.kinds)
        weights = [weight for layer in self.layers for weight in layer.trainable_weights]
        self._weight_positions = gradient_logger.flat_positions(weights)
        self._layer_of_weight = tf.constant(np.repeat(np.arange(len(units)), gradient_logger.layer_sizes(self.layers)))

    def epoch_graph_statistics(self):
        """Traceable: one row per layer of saturated, dead, mean, std and weight norm."""
        activations = tf.concat(_layer_outputs(self.model, self.layers, self.x), axis=1)  # [inputs, units]
        saturated, dead, mean, std = self._unit_statistics(activations)
        weights = tf.dynamic_stitch(
            self._weight_positions, [weight for layer in self.layers for weight in layer.trainable_weights]
        )
        weight_norm = tf.sqrt(tf.math.segment_sum(tf.square(weights), self._layer_of_weight))
        return {"_layer_statistics": tf.stack([saturated, dead, mean, std, weight_norm], axis=1)}

    def on_epoch_end(self, epoch, logs=None):
        # `whole_epochs` computes the table inside the epoch's own call; plain `fit` does not.
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
