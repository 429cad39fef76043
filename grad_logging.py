"""Per-layer gradient norms for any Keras 3 model, on TensorFlow, JAX or PyTorch: one file to copy.

TensorFlow 2 removed the TensorBoard callback's `write_grads`, so Keras 3 alone cannot show
how much gradient each layer receives. Copy this file into your project and add the callback:

    from grad_logging import GradientNormLogger

    model.fit(x, y, epochs=10, callbacks=[GradientNormLogger(log_dir="logs/my_run")])

What it measures
- Every layer that owns trainable weights gets a key that orders it from input to output:
  `01_<name>`, `02_<name>`, ... (a nested model is opened up into its layers).
- At every optimizer step, the L2 norm of the layer's kernel gradient, of its bias gradient,
  and of all its weights' gradients together ("total"; BatchNorm's gamma and beta count here).
- Per epoch, the mean and the max of those norms over the epoch's steps, as
  `grad_norm/01_hidden_1/mean`, `.../max`, `.../kernel_mean`, `.../kernel_max`,
  `.../bias_mean`, `.../bias_max`: in the epoch `logs` (so in the `History`) and as
  TensorBoard scalars in `<log_dir>/train`.
- TensorBoard histograms of each layer's gradient at the epoch's last step,
  `gradients/01_hidden_1` (Histograms and Distributions tabs); with `per_step=True`, every
  step's total norm as `grad_norm_step/01_hidden_1`.

It needs Keras 3, NumPy and, for TensorBoard, `tensorboardX` (no TensorFlow on JAX or PyTorch).
The norms are taken with `keras.ops` and summed in Keras variables that the optimizer owns
(`optimizer.add_variable`), so JAX's jitted, stateless train step carries them like its own.

Where the gradients are taken: Keras's `train_step` computes the gradients of the loss and
hands them to the optimizer's public `apply(grads, trainable_variables)`. This callback wraps
that method, so it sees exactly what `train_step` hands over, with no second backward pass.
The optimizer may still change them inside `apply`, and then the logged gradients are not
the applied ones:
- `clipnorm`, `clipvalue`, `global_clipnorm`: Keras clips inside `apply`, after this callback
  has looked, so the logged norms are those before clipping. With `SGD(clipnorm=1e-3)` a
  logged norm of 0.05 means a step along a gradient of norm 1e-3.
- `LossScaleOptimizer` (mixed precision): it scales the loss, then unscales the gradients and
  hands them to its inner optimizer's `apply`, unless one is Inf or NaN (then it skips the step
  and lowers the scale). This callback wraps the inner optimizer's `apply`: it logs the unscaled
  gradients of the steps that were applied, and the skipped steps not at all. (On JAX the inner
  optimizer is the only one whose `apply` runs.)
- A loss scaled in the model (a `loss_weights` factor, say) scales the gradients with it:
  they are the gradients of the loss as compiled.
"""

from pathlib import Path

import keras
import numpy as np
from keras import ops

PARTS = ("kernel", "bias", "total")  # The three norms of every layer.
STAT_NAMES = ("kernel_mean", "bias_mean", "mean", "kernel_max", "bias_max", "max")


def trainable_layers(model):
    """Returns the layers that own trainable weights, ordered from input to output.

    Nested models (a Sequential inside a functional model, say) are opened up; any other
    layer with sublayers counts as one layer.
    """
    layers = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            layers.extend(trainable_layers(layer))
        elif layer.trainable_weights:
            layers.append(layer)
    return layers


def layer_keys(model):
    """Returns `01_<name>`, `02_<name>`, ... for the model's trainable layers, input side first."""
    return numbered_keys([layer.name for layer in trainable_layers(model)])


def numbered_keys(names):
    """Returns `01_<name>`, `02_<name>`, ...: layer names numbered input side first, so they sort in layer order."""
    width = max(2, len(str(len(names))))
    return [f"{index:0{width}d}_{name}" for index, name in enumerate(names, start=1)]


def history_key(layer_key, stat="mean"):
    """Returns the History and TensorBoard tag of one per-layer statistic, e.g. `grad_norm/01_hidden_1/mean`."""
    return f"grad_norm/{layer_key}/{stat}"


def layer_norms(layers, grads_by_path, to_layer_parts=None):
    """Traceable: the `[layers, 3]` L2 norms (kernel, bias, total) of each layer's gradients.

    Args:
        layers: the layers, as `trainable_layers` returns them.
        grads_by_path: each trainable variable's gradient, keyed by `variable.path`; a
            variable without one (the loss does not depend on it) counts as zero.
        to_layer_parts: `layer_parts_matrix(layers)`, if computed already.
    """
    variables = [variable for layer in layers for variable in layer.trainable_weights]
    squares = [
        ops.sum(ops.square(ops.cast(grads_by_path[variable.path], "float32")))
        if variable.path in grads_by_path
        else ops.zeros(())
        for variable in variables
    ]
    # One matrix product adds each variable's squared norm into its layer's parts: few ops a step.
    to_layer_parts = layer_parts_matrix(layers) if to_layer_parts is None else to_layer_parts
    return ops.reshape(ops.sqrt(ops.matmul(ops.stack(squares), to_layer_parts)), (len(layers), len(PARTS)))


def layer_parts_matrix(layers):
    """The `[variables, layers * 3]` 0/1 matrix: a kernel counts in its layer's "kernel" and "total", a bias in
    "bias" and "total", any other variable (BatchNorm's gamma, say) in "total" only."""
    variables = [(index, variable) for index, layer in enumerate(layers) for variable in layer.trainable_weights]
    matrix = np.zeros([len(variables), len(layers), len(PARTS)], "float32")
    for row, (layer, variable) in enumerate(variables):
        if variable.name in ("kernel", "bias"):
            matrix[row, layer, PARTS.index(variable.name)] = 1.0
        matrix[row, layer, PARTS.index("total")] = 1.0
    return matrix.reshape(len(variables), -1)


def measured_optimizer(optimizer):
    """The optimizer whose `apply` gets the gradients to log: a `LossScaleOptimizer`'s inner one, else itself."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.inner_optimizer
    return optimizer


class GradientNormLogger(keras.callbacks.Callback):
    """Keras callback: per-layer gradient norms into the epoch `logs`, the History and TensorBoard.

    Args:
        log_dir: TensorBoard run directory; events go to `<log_dir>/train`. `None` keeps the
            numbers in the History only.
        histogram_freq: write gradient histograms every this many epochs (0: never).
        per_step: also write every optimizer step's total norm per layer (needs one optimizer
            step per Keras batch, as plain `model.fit` takes them).
        writer: a `SummaryWriter` to write to instead of opening one in `<log_dir>/train`
            (tensorboardX's, or `torch.utils.tensorboard`'s); closed at the end of training.
    """

    def __init__(self, log_dir=None, histogram_freq=1, per_step=False, writer=None):
        super().__init__()
        self.log_dir, self.histogram_freq, self.per_step = log_dir, histogram_freq, per_step
        self.writer = writer
        self._steps = None

    def set_model(self, model):
        # `fit` calls this before it traces its train function, so the wrapper is traced in.
        super().set_model(model)
        if model.optimizer is None:
            raise ValueError("compile the model before fitting it with a GradientNormLogger")
        self._wrap_apply(model)

    def _create_state(self):
        """The layers, their keys, and what the steps of the current epoch add up.

        The sums live in variables of the optimizer, which every backend's train step updates:
        the sum, the max and the last step's norms side by side, the step count, and the last
        step's gradients end to end. Three variables, not one per weight: JAX passes every one
        in and out of each step's call.
        """
        self.layers, self.keys = trainable_layers(self.model), layer_keys(self.model)
        self._to_layer_parts = ops.convert_to_tensor(layer_parts_matrix(self.layers))
        optimizer = measured_optimizer(self.model.optimizer)
        self._norms = optimizer.add_variable((3, *self.norms_shape()), initializer="zeros", name="grad_norms")
        self._steps = optimizer.add_variable((), initializer="zeros", name="grad_norm_steps")
        self._steps_at_batch = 0
        self._variables = [variable for layer in self.layers for variable in layer.trainable_weights]
        self._sizes = [int(np.prod(variable.shape)) for variable in self._variables]
        self._last_grads = optimizer.add_variable((sum(self._sizes),), initializer="zeros", name="last_gradients")

    def _wrap_apply(self, model):
        optimizer = measured_optimizer(model.optimizer)
        original_apply = getattr(optimizer.apply, "original_apply", optimizer.apply)  # Wrap once, not twice.

        def apply(grads, trainable_variables=None):
            variables = trainable_variables if trainable_variables is not None else model.trainable_variables
            if self._steps is None:  # A model without an `Input` gets its weights when `fit` first calls it.
                self._create_state_at_first_step()
            self._record({variable.path: grad for grad, variable in zip(grads, variables) if grad is not None})
            return original_apply(grads, trainable_variables)

        apply.original_apply = original_apply
        optimizer.apply = apply
        model.train_function = None  # A train function traced before the wrapper would bypass it.

    def _create_state_at_first_step(self):
        backend = keras.backend.backend()
        if backend == "jax":  # Its train step is jitted and stateless: no new variables inside it.
            raise ValueError("on JAX, give the model an Input (or build it) before fitting with a GradientNormLogger")
        if backend == "tensorflow":
            import tensorflow as tf

            with tf.init_scope():  # Outside the graph being traced, as Keras creates weights.
                self._create_state()
        else:
            self._create_state()

    def norms(self, grads_by_path):
        """Traceable: one step's norms, `[layers, 3]` (kernel, bias, total). A subclass may measure others."""
        return layer_norms(self.layers, grads_by_path, self._to_layer_parts)

    def norms_shape(self):
        """The shape of what `norms` returns."""
        return (len(self.layers), len(PARTS))

    def _record(self, grads_by_path):
        """Traceable, once per optimizer step: adds the step's norms to the epoch's."""
        norms, epoch = self.norms(grads_by_path), self._norms.value
        self._norms.assign(ops.stack([epoch[0] + norms, ops.maximum(epoch[1], norms), norms]))  # Sum, max, last.
        self._steps.assign_add(1.0)
        grads = [
            ops.reshape(ops.cast(grads_by_path[variable.path], "float32"), [-1])
            if variable.path in grads_by_path
            else ops.zeros([size])
            for variable, size in zip(self._variables, self._sizes)
        ]
        self._last_grads.assign(ops.concatenate(grads))

    def on_train_begin(self, logs=None):
        if self._steps is None and self.model.built and self.model.trainable_weights:
            self._create_state()
        if self.log_dir is not None and self.writer is None:
            from tensorboardX import SummaryWriter  # Only with a log_dir: the History alone needs no writer.

            self.writer = SummaryWriter(str(Path(self.log_dir) / "train"))
        self._reset()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()

    def _reset(self):
        if self._steps is None:
            return
        self._norms.assign(ops.zeros(self._norms.shape))
        self._steps.assign(0.0)
        self._steps_at_batch = 0

    def on_train_batch_end(self, batch, logs=None):
        if not (self.per_step and self.writer is not None):
            return
        steps = int(self._steps.numpy())
        if steps - self._steps_at_batch != 1:
            raise ValueError("per_step=True needs one optimizer step per batch, as plain model.fit takes them")
        self._steps_at_batch = steps
        step = int(np.asarray(self.model.optimizer.iterations.numpy()))
        for key, norm in zip(self.keys, self._norms.numpy()[2][:, PARTS.index("total")]):
            self.writer.add_scalar(f"grad_norm_step/{key}", float(norm), step)

    def epoch_statistics(self):
        """The epoch's mean and max of every norm, `[layers, 6]` (columns: `STAT_NAMES`); None before a step."""
        steps = int(self._steps.numpy()) if self._steps is not None else 0
        if not steps:
            return None
        norms = self._norms.numpy()
        return np.concatenate([norms[0] / steps, norms[1]], axis=1)

    def on_epoch_end(self, epoch, logs=None):
        table = self.epoch_statistics()
        if table is None:
            return
        scalars = {
            history_key(key, stat): float(value)
            for key, row in zip(self.keys, table)
            for stat, value in zip(STAT_NAMES, row)
        }
        if logs is not None:
            logs.update(scalars)
        if self.writer is not None:
            self._write(epoch, scalars)

    def _write(self, epoch, scalars):
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, value, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            grads = self._last_grads.numpy()  # Layer after layer: each layer's weights are neighbours.
            layer_sizes = [
                sum(int(np.prod(weight.shape)) for weight in layer.trainable_weights) for layer in self.layers
            ]
            for key, end, size in zip(self.keys, np.cumsum(layer_sizes), layer_sizes):
                self.writer.add_histogram(f"gradients/{key}", grads[end - size : end], epoch)
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        """Flushes and closes the TensorBoard file; safe to call twice."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
