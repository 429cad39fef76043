"""Per-layer diagnostics beyond gradient norms, as Keras callbacks that add to the epoch logs."""

import keras
import numpy as np

import grad_logging


class WeightNormLogger(keras.callbacks.Callback):
    """Logs each layer's weight L1 norm and how far it moved from its initial weights.

    Adds `weight_l1/<layer key>` (sum of |w| over the layer's trainable weights) and
    `weight_change_l1/<layer key>` (sum of |w - w at the start of training|) to the
    epoch logs, and so to the History.
    """

    def on_train_begin(self, logs=None):
        self.layers = grad_logging.trainable_layers(self.model)
        self.keys = grad_logging.layer_keys(self.model)
        self.initial = [[weight.numpy().copy() for weight in layer.trainable_weights] for layer in self.layers]

    def on_epoch_end(self, epoch, logs=None):
        for key, layer, initial in zip(self.keys, self.layers, self.initial):
            current = [weight.numpy() for weight in layer.trainable_weights]
            logs[f"weight_l1/{key}"] = float(sum(np.abs(weight).sum() for weight in current))
            logs[f"weight_change_l1/{key}"] = float(sum(np.abs(now - start).sum()
                                                        for now, start in zip(current, initial)))
