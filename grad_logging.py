"""Per-layer gradient norms for any Keras 3 model on the TensorFlow backend.

TensorFlow 2 removed the `write_grads` option of the TensorBoard callback, so Keras 3
alone cannot show how much gradient each layer receives. This callback brings it back:

    model.compile(optimizer="sgd", loss="binary_crossentropy")
    model.fit(x, y, epochs=10, callbacks=[GradientNormLogger(log_dir="logs/my_run")])

The norms come from the very gradients the optimizer applies (its `apply` method is
wrapped), so there is no second backward pass. Every layer that owns trainable weights
gets a key that orders it from input to output, `01_<name>`, `02_<name>`, ...; for each,
the L2 norm of the kernel gradient, the bias gradient and the whole layer ("total") is
taken at every optimizer step and reported per epoch as the mean and the max over steps:

- in the epoch `logs`, and so in the Keras `History`: `grad_norm/01_hidden_1/mean`,
  `.../max`, `.../kernel_mean`, `.../kernel_max`, `.../bias_mean`, `.../bias_max`;
- as TensorBoard scalars with the same tags, in `<log_dir>/train`;
- as TensorBoard histograms of each layer's gradient (all its weights) at the epoch's
  last step, `gradients/01_hidden_1` (Histograms and Distributions tabs);
- per optimizer step as `grad_norm_step/01_hidden_1`, when `per_step=True`.
"""

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tensorboard_logging import EventWriter

PARTS = ("kernel", "bias", "total")  # Columns of every per-layer norm table.
STAT_NAMES = ("mean", "max", "kernel_mean", "kernel_max", "bias_mean", "bias_max")


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
    layers = trainable_layers(model)
    width = max(2, len(str(len(layers))))
    return [f"{index:0{width}d}_{layer.name}" for index, layer in enumerate(layers, start=1)]


def history_key(layer_key, stat="mean"):
    """Returns the History and TensorBoard tag of one per-layer statistic."""
    return f"grad_norm/{layer_key}/{stat}"


class GradientNormTracker:
    """Records per-layer gradient norms inside the training graph, at every optimizer step.

    Wraps `model.optimizer.apply` so that every step stores the squared norm of each
    variable's gradient in a ring buffer indexed by the optimizer's step counter, and
    keeps the step's gradients for histograms. Reading turns the steps since the last
    read into per-layer norms with NumPy. No step is lost as long as at most `capacity`
    steps pass between two reads (`GradientNormLogger` reads once per epoch).
    """

    def __init__(self, model, capacity=1024):
        if model.optimizer is None:
            raise ValueError("compile the model before tracking its gradients")
        self.keys = layer_keys(model)
        layers = trainable_layers(model)
        self._variables = [variable for layer in layers for variable in layer.trainable_weights]
        self.variable_sizes = [int(np.prod(variable.shape)) for variable in self._variables]
        self.layer_sizes = [sum(int(np.prod(variable.shape)) for variable in layer.trainable_weights)
                            for layer in layers]
        # Each variable's squared norm adds to its layer's "kernel" or "bias" column and to
        # "total" (other variables, such as BatchNorm's gamma, only to "total").
        self._to_layer_parts = np.zeros([len(self._variables), len(layers), len(PARTS)])
        column = 0
        for layer_index, layer in enumerate(layers):
            for variable in layer.trainable_weights:
                if variable.name in ("kernel", "bias"):
                    self._to_layer_parts[column, layer_index, PARTS.index(variable.name)] = 1.0
                self._to_layer_parts[column, layer_index, 2] = 1.0
                column += 1
        # Segment ids map each entry of the flattened gradient to its variable.
        self._segment_ids = tf.constant(np.repeat(np.arange(len(self._variables)), self.variable_sizes))
        self.capacity = capacity
        self._squared_norms = tf.Variable(tf.zeros([capacity, len(self._variables)]), trainable=False)
        self._last_gradients = tf.Variable(tf.zeros([sum(self.variable_sizes)]), trainable=False)
        self._iterations = model.optimizer.iterations
        self.steps_read = int(self._iterations.numpy())
        self._install(model)

    def _install(self, model):
        optimizer = model.optimizer
        # A tracker replacing an earlier one (say, with more capacity) wraps the original
        # `apply`, not the earlier wrapper, so each step is recorded once.
        previous = getattr(optimizer, "_gradient_norm_tracker", None)
        apply_gradients = previous.original_apply if previous is not None else optimizer.apply
        self.original_apply = apply_gradients

        def apply_and_record(grads, trainable_variables=None):
            variables = trainable_variables if trainable_variables is not None else optimizer._trainable_variables
            self._record(grads, variables)
            return apply_gradients(grads, trainable_variables)

        optimizer.apply = apply_and_record
        optimizer._gradient_norm_tracker = self
        # A train function traced before the hook existed would bypass it.
        model.train_function = None

    def _record(self, grads, variables):
        # Runs inside the training graph at every step, so it is a handful of ops:
        # flatten all gradients into one vector, sum its squares per variable, store.
        by_path = {variable.path: grad for grad, variable in zip(grads, variables) if grad is not None}
        # A variable the loss does not depend on has no gradient: count it as zero.
        flat = tf.concat([tf.reshape(by_path.get(variable.path, tf.zeros_like(variable)), [-1])
                          for variable in self._variables], axis=0)
        row = tf.math.floormod(tf.convert_to_tensor(self._iterations), self.capacity)
        self._squared_norms.scatter_nd_update([[row]], [tf.math.segment_sum(tf.square(flat), self._segment_ids)])
        self._last_gradients.assign(flat)

    def state(self):
        """Traceable: the tracker's variables, for `read_steps` (see `fast_fit`)."""
        return {"_gradient_steps": tf.convert_to_tensor(self._iterations),
                "_gradient_squared_norms": tf.identity(self._squared_norms),
                "_gradient_last": tf.identity(self._last_gradients)}

    def read_steps(self, state=None):
        """Returns the per-layer norms of every step since the last call.

        Args:
            state: the output of `state()` computed in the training graph; None reads
                the variables now.

        Returns:
            An array of shape `[steps, layers, 3]`; the last axis is kernel, bias, total.
        """
        if state is None:
            state = {name: value.numpy() for name, value in self.state().items()}
        self._last = state["_gradient_last"]
        iterations = int(state["_gradient_steps"])
        num_steps = iterations - self.steps_read
        if num_steps > self.capacity:
            raise RuntimeError(f"{num_steps} optimizer steps between two reads, more than the capacity "
                               f"{self.capacity}; pass a larger max_steps_per_epoch")
        rows = np.arange(self.steps_read, iterations) % self.capacity
        self.steps_read = iterations
        squared = np.asarray(state["_gradient_squared_norms"])[rows].astype(np.float64)
        return np.sqrt(np.einsum("sv,vlp->slp", squared, self._to_layer_parts))

    def last_gradients(self):
        """Returns the gradients of the last step read, one flat array per layer (kernel, then bias)."""
        return np.split(np.asarray(self._last), np.cumsum(self.layer_sizes)[:-1])


def epoch_statistics(keys, step_norms):
    """Returns `{history_key: value}`: mean and max over an epoch's steps of `[steps, layers, 3]` norms."""
    mean, maximum = step_norms.mean(axis=0), step_norms.max(axis=0)
    logs = {}
    for layer_index, key in enumerate(keys):
        values = (mean[layer_index, 2], maximum[layer_index, 2], mean[layer_index, 0], maximum[layer_index, 0],
                  mean[layer_index, 1], maximum[layer_index, 1])
        for stat, value in zip(STAT_NAMES, values):
            logs[history_key(key, stat)] = float(value)
    return logs


class GradientNormLogger(keras.callbacks.Callback):
    """Keras callback: per-layer gradient norms into `logs`, History and TensorBoard.

    Args:
        log_dir: TensorBoard run directory; events go to `<log_dir>/train`. `None`
            keeps the numbers in the History only.
        per_step: also log every optimizer step's per-layer norm.
        histogram_freq: write gradient histograms every this many epochs (0: never).
        max_steps_per_epoch: optimizer steps the in-graph buffer holds between reads.
    """

    def __init__(self, log_dir=None, per_step=False, histogram_freq=1, max_steps_per_epoch=1024):
        super().__init__()
        self.log_dir = log_dir
        self.per_step = per_step
        self.histogram_freq = histogram_freq
        self.max_steps_per_epoch = max_steps_per_epoch
        self.tracker = None
        self.writer = None

    def set_model(self, model):
        # Called by `fit` before it builds the train function, so the hook is traced in.
        super().set_model(model)
        self.tracker = getattr(model.optimizer, "_gradient_norm_tracker", None)
        if self.tracker is None or self.tracker.capacity < self.max_steps_per_epoch:
            self.tracker = GradientNormTracker(model, capacity=self.max_steps_per_epoch)

    def on_train_begin(self, logs=None):
        steps = self.params.get("steps") if self.params else None
        if steps and steps > self.tracker.capacity:
            raise ValueError(f"{steps} steps per epoch; pass GradientNormLogger(max_steps_per_epoch={steps})")
        if self.log_dir is not None and self.writer is None:
            self.writer = EventWriter(Path(self.log_dir) / "train")
        self.tracker.read_steps()  # Forget steps taken before this fit.

    def epoch_graph_statistics(self):
        """Traceable: lets `fast_fit` read the tracker inside the epoch's own call."""
        return self.tracker.state()

    def on_epoch_end(self, epoch, logs=None):
        state = {name: logs.pop(name) for name in list(logs or {}) if name.startswith("_gradient_")}
        step_norms = self.tracker.read_steps(state or None)
        if not len(step_norms):
            return
        scalars = epoch_statistics(self.tracker.keys, step_norms)
        if logs is not None:
            logs.update(scalars)
        if self.writer is None:
            return
        histograms = {}
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            histograms = {f"gradients/{key}": gradient
                          for key, gradient in zip(self.tracker.keys, self.tracker.last_gradients())}
        self.writer.write(epoch, scalars, histograms)
        if self.per_step:
            first_step = self.tracker.steps_read - len(step_norms) + 1
            for step, norms in enumerate(step_norms, start=first_step):
                self.writer.write(step, {f"grad_norm_step/{key}": float(norm)
                                         for key, norm in zip(self.tracker.keys, norms[:, 2])})

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        """Flushes and closes the TensorBoard file; safe to call twice."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
