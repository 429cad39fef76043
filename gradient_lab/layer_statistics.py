"""Per-layer statistics of a training MLP, on every Keras backend, and the backward signal at init.

`LayerDiagnostics` adds saturation, dead units, activation statistics and update ratios per layer
to the epoch logs; `backward_signal_at_init` compares theory and measurement before training.
The verdict that reads them is `gradient_lab.diagnostics.verdict`. Both are written in
`keras.ops`; the gradients at init come from the backend's own autodiff (`native.gradient`).
"""

import keras
import numpy as np
from keras import ops

import grad_logging
from gradient_lab import native
from gradient_lab.diagnostics import activation_name
from gradient_lab.thresholds import SIGMOID_SATURATION, TANH_SATURATION


class UnitStatistics:
    """Per layer: the saturated fraction, the dead fraction, the mean and the std of its units' outputs.

    The single run (`LayerDiagnostics`) and the stacked seeds both take them from one table of
    every layer's unit outputs side by side, `[inputs, units]` (or `[members, inputs, units]`),
    so that they share one definition: saturated is a tanh output within `TANH_SATURATION` of +-1
    (a sigmoid's within `SIGMOID_SATURATION` of 0 or 1); dead is a unit never positive on the
    inputs; the mean and std are over the layer's inputs and units together.

    Args:
        units: each layer's number of units, input side first.
        kinds: each layer's activation name.
    """

    def __init__(self, units, kinds):
        layer_of_unit = np.repeat(np.arange(len(units)), units)
        # Multiplying per-unit numbers by this [units, layers] matrix averages them per layer.
        self._layer_average = ops.convert_to_tensor(
            np.eye(len(units), dtype=np.float32)[layer_of_unit] / np.float32(units)[layer_of_unit, None]
        )
        self._layer_of_unit = ops.convert_to_tensor(layer_of_unit)
        centre = {"tanh": 0.0, "sigmoid": 0.5}
        threshold = {"tanh": TANH_SATURATION, "sigmoid": 0.5 - SIGMOID_SATURATION}
        self._centre = ops.convert_to_tensor(np.float32([centre.get(kinds[layer], 0.0) for layer in layer_of_unit]))
        # Saturated when (a - centre)^2 > threshold^2, that is |a - centre| > threshold.
        self._squared_threshold = ops.convert_to_tensor(
            np.float32([threshold.get(kinds[layer], np.inf) ** 2 for layer in layer_of_unit])
        )

    def __call__(self, outputs):
        """Traceable: `(saturated, dead, mean, std)`, each `[layers]` (or `[members, layers]`)."""
        saturated = ops.square(outputs - self._centre) > self._squared_threshold
        unit_mean = ops.mean(outputs, axis=-2)
        layer_mean = ops.matmul(unit_mean, self._layer_average)
        layer_mean_of_unit = ops.take(layer_mean, self._layer_of_unit, axis=-1)
        squared_deviation = ops.square(outputs - ops.expand_dims(layer_mean_of_unit, -2))
        per_unit = ops.stack(
            [
                ops.mean(ops.cast(saturated, "float32"), axis=-2),
                ops.cast(ops.max(outputs, axis=-2) <= 0.0, "float32"),
                unit_mean,
                ops.mean(squared_deviation, axis=-2),
            ]
        )
        per_layer = ops.matmul(per_unit, self._layer_average)
        return per_layer[0], per_layer[1], per_layer[2], ops.sqrt(per_layer[3])


class LayerDiagnostics(keras.callbacks.Callback):
    """Per layer and epoch: saturation, dead units, activation mean and std, update-to-weight ratio.

    For models of layers with outputs `[batch, units]`, such as MLPs. One forward pass
    over `x` per epoch computes everything for all layers at once, on one `[inputs, units]`
    table of every unit's outputs (on TensorFlow, inside the epoch's own call under
    `whole_epochs`). The update ratio needs a gradient-norm logger earlier in the callback
    list. Keys: `saturation/<layer key>` (tanh and sigmoid layers), `dead_units/<layer key>`
    (ReLU layers), `activation_mean/...`, `activation_std/...`, `update_ratio/...`.
    """

    def __init__(self, x):
        super().__init__()
        self.x = np.asarray(x)

    def on_train_begin(self, logs=None):
        self.layers = grad_logging.trainable_layers(self.model)
        self.keys = grad_logging.layer_keys(self.model)
        self.kinds = [activation_name(layer) for layer in self.layers]
        self.learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self._unit_statistics = UnitStatistics([int(layer.output.shape[-1]) for layer in self.layers], self.kinds)
        self._x = ops.convert_to_tensor(self.x)
        # `whole_epochs` computes the statistics inside each epoch's call; plain `fit` calls this.
        self._compiled_statistics = native.compiled(self.epoch_graph_statistics, self.model.variables)

    def epoch_graph_statistics(self):
        """Traceable: one row per layer of saturated, dead, mean, std and weight norm."""
        activations = ops.concatenate(_layer_outputs(self.model, self.layers, self._x), axis=1)  # [inputs, units]
        saturated, dead, mean, std = self._unit_statistics(activations)
        weight_norm = ops.sqrt(
            ops.stack([sum(ops.sum(ops.square(weight)) for weight in layer.trainable_weights) for layer in self.layers])
        )
        return {"_layer_statistics": ops.stack([saturated, dead, mean, std, weight_norm], axis=1)}

    def on_epoch_end(self, epoch, logs=None):
        # `whole_epochs` computes the table inside the epoch's own call; plain `fit` does not.
        table = logs.pop("_layer_statistics", None)
        if table is None:
            table = self._compiled_statistics()["_layer_statistics"]
        for key, kind, (saturated, dead, mean, std, weight_norm) in zip(
            self.keys, self.kinds, ops.convert_to_numpy(table).tolist()
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
    x, y = ops.convert_to_tensor(np.asarray(x)), ops.reshape(ops.convert_to_tensor(np.asarray(y)), [-1, 1])
    weights = [
        [ops.convert_to_tensor(layer.kernel)] + ([ops.convert_to_tensor(layer.bias)] if layer.use_bias else [])
        for layer in layers
    ]

    def forward(layer_weights, nudges=None):
        """The layers' own computation, unrolled: their pre-activations z, outputs and the net's output."""
        pre_activations, current = [], x
        for index, (layer, (kernel, *bias)) in enumerate(zip(layers, layer_weights)):
            pre_activations.append(ops.matmul(current, kernel) + (bias[0] if bias else 0.0))
            current = layer.activation(pre_activations[-1])
            if nudges is not None:  # Zero: the output's gradient with respect to them is d output / d layer output.
                current = current + nudges[index]
        return pre_activations, current

    loss = keras.losses.BinaryCrossentropy()
    sizes = [len(layer_weights) for layer_weights in weights]

    def unflatten(flat_weights):
        starts = np.cumsum([0, *sizes])
        return [flat_weights[start:end] for start, end in zip(starts, starts[1:])]

    def measure(flat_weights):
        """The backward signals, the loss's gradients and the activations' slopes, by the backend's autodiff."""
        layer_weights = unflatten(flat_weights)
        pre_activations, _ = forward(layer_weights)
        # One output unit, and inputs that do not interact: the gradient of the summed output
        # holds each input's own d output / d activations.
        nudges = [ops.zeros_like(z) for z in pre_activations]
        signals = native.gradient(lambda nudges: ops.sum(forward(layer_weights, nudges)[1]), nudges)
        gradients = native.gradient(lambda flat: loss(y, forward(unflatten(flat))[1]), flat_weights)
        # Elementwise activations: d a / d z is diagonal, and its diagonal f'(z) of every layer
        # is the gradient of the sum of all their outputs with respect to the z's.
        slopes = native.gradient(
            lambda zs: sum(ops.sum(layer.activation(z)) for layer, z in zip(layers, zs)), pre_activations
        )
        return signals, gradients, slopes

    signals, gradients, slopes = native.jitted(measure)(
        [weight for layer_weights in weights for weight in layer_weights]
    )
    backward = [float(np.mean(np.linalg.norm(ops.convert_to_numpy(signal), axis=1))) for signal in signals]
    spectral = []
    for layer_weights, slope in zip(weights, slopes):
        kernel = ops.convert_to_numpy(layer_weights[0])
        jacobians = ops.convert_to_numpy(slope)[:, :, None] * kernel.T[None]  # [inputs, out, in]
        spectral.append(np.linalg.norm(jacobians, ord=2, axis=(1, 2)))  # One norm per input.
    gradients = iter(gradients)
    measured = [
        float(np.sqrt(sum(np.sum(ops.convert_to_numpy(next(gradients)).astype(np.float64) ** 2) for _ in range(size))))
        for size in sizes
    ]
    ones = np.ones(len(ops.convert_to_numpy(x)))
    products = [float(np.mean(np.prod([ones, *spectral[index + 1 :]], axis=0))) for index in range(len(layers))]
    return {
        "layer_keys": grad_logging.layer_keys(model),
        "jacobian_product": products,
        "backward_signal": backward,
        "gradient_norm": measured,
    }
