"""The fast gradient-norm logger: the numbers of `grad_logging.GradientNormLogger`, at a fraction of the cost.

`grad_logging.py` at the top level is the plain version, and the one to read first: it
wraps the optimizer's `apply`, and at every step adds each layer's norms to per-epoch sums
and maxima. This module gives the same numbers (a test checks them to 1e-6) with less work at
each step, which matters when a step of a width-5 MLP is almost no arithmetic:

- a step stores its whole gradient, flat, as one row of a ring buffer, instead of
  computing norms; inside a `whole_epochs` epoch call the row is the batch loop's own
  counter (`whole_epochs.traced_epoch()`), else the optimizer's step counter modulo the
  ring's size;
- at the end of the epoch one matrix product turns the rows into per-layer norms, and their
  means and maxima come back from the epoch's own call as one vector (the epoch-graph
  protocol of `whole_epochs`), with the last step's gradients for the histograms;
- TensorBoard events are written in batches by `tensorboard_events.EventWriter`.

A model whose ring of whole gradients would exceed `MAX_RING_VALUES` numbers stores each
variable's squared norm per step instead. docs/speed.md has the measurements.
"""

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from gradient_lab.tf_speed import whole_epochs
from gradient_lab.records.tensorboard_events import EventWriter
from grad_logging import PARTS, STAT_NAMES, history_key, layer_keys, layer_parts_matrix, trainable_layers

# Up to this many numbers (16 MB) in its buffers, the tracker keeps every step's whole
# gradient; beyond, only each variable's squared norm.
MAX_RING_VALUES = 1 << 22
DEFAULT_STEPS_PER_EPOCH = 1024  # The ring's rows when nobody says how many steps an epoch takes.


def flat_positions(variables):
    """Returns, for each variable, the positions of its entries in one flat vector of all of them.

    `tf.dynamic_stitch(flat_positions(variables), values)` then builds that vector (of
    the variables, or of their gradients) in a single op.
    """
    sizes = [int(np.prod(variable.shape)) for variable in variables]
    return [
        np.arange(end - size, end).reshape(variable.shape)
        for variable, size, end in zip(variables, sizes, np.cumsum(sizes))
    ]


def layer_sizes(layers):
    """Returns the number of trainable values in each layer: its share of such a flat vector."""
    return [sum(int(np.prod(variable.shape)) for variable in layer.trainable_weights) for layer in layers]


def wrap_optimizer_apply(model, record, tracker):
    """Wraps `model.optimizer.apply` on the instance so that `record(grads, variables)` sees every step.

    A tracker replacing an earlier one (say, with more capacity), or a plain `grad_logging`
    logger, wraps the original `apply`, not the earlier wrapper, so each step is recorded once:
    one gradient logger per model at a time. Returns the original `apply`.
    """
    optimizer = model.optimizer
    apply_gradients = getattr(optimizer.apply, "original_apply", optimizer.apply)

    def apply_and_record(grads, trainable_variables=None):
        # Keras's train_step passes the variables; without them, apply uses those it was built for.
        variables = trainable_variables if trainable_variables is not None else model.trainable_variables
        record(grads, variables)
        return apply_gradients(grads, trainable_variables)

    apply_and_record.original_apply, apply_and_record.tracker = apply_gradients, tracker
    optimizer.apply = apply_and_record
    model.train_function = None  # A train function traced before the wrapper would bypass it.
    return apply_gradients


class GradientNormTracker:
    """Records every optimizer step's gradients inside the training graph, for per-layer norms.

    Wraps `model.optimizer.apply` so that every step stores its gradients, flat, in a row
    of a ring buffer (for a model whose `capacity` steps would take more than
    `MAX_RING_VALUES` numbers: the squared norm of each variable's gradient, and the last
    step's gradients apart). The row is the optimizer's step counter modulo `capacity`,
    or, inside a `whole_epochs` epoch call, the batch loop's counter: that spares reading the
    step counter at every step, and `unread_steps` traced into the same call reads them
    (`GradientNormLogger` does). `step_norms` turns rows into per-layer norms.
    No step is lost as long as at most `capacity` steps pass between two reads.
    """

    def __init__(self, model, capacity=1024):
        if model.optimizer is None:
            raise ValueError("compile the model before tracking its gradients")
        self.keys = layer_keys(model)
        layers = trainable_layers(model)
        self._variables = [variable for layer in layers for variable in layer.trainable_weights]
        variable_sizes = [int(np.prod(variable.shape)) for variable in self._variables]
        to_layer_parts = layer_parts_matrix(layers)
        # Where each variable's gradient goes in one flat vector of all gradients, which
        # variable each entry of that vector belongs to, and which part is each layer's.
        self._flat_positions = flat_positions(self._variables)
        variable_of_entry = np.repeat(np.arange(len(self._variables)), variable_sizes)
        sizes = layer_sizes(layers)
        self.layer_slices = [slice(end - size, end) for size, end in zip(sizes, np.cumsum(sizes))]
        self.capacity = capacity
        # Whole gradients are the least work per step, squared norms the least memory. Counted:
        # the ring and the matrix that sums each entry into its layer's parts.
        self.keeps_gradients = (capacity + to_layer_parts.shape[1]) * sum(variable_sizes) <= MAX_RING_VALUES
        if self.keeps_gradients:
            self._row_to_layer_parts = tf.constant(to_layer_parts[variable_of_entry])  # Entry -> parts.
        else:
            self._row_to_layer_parts = tf.constant(to_layer_parts)  # Variable -> parts.
            self._variable_of_entry = tf.constant(variable_of_entry)
            self._last_gradients = tf.Variable(tf.zeros([sum(variable_sizes)]), trainable=False)
        self._ring = tf.Variable(tf.zeros([capacity, self._row_to_layer_parts.shape[0]]), trainable=False)
        self._iterations = model.optimizer.iterations
        self._steps_read = tf.Variable(tf.convert_to_tensor(self._iterations), trainable=False)
        self.original_apply = wrap_optimizer_apply(model, self._record, tracker=self)

    def _epoch_rows(self):
        """The `whole_epochs` epoch being traced, if its steps fit the ring as rows 0, 1, ..., else None."""
        epoch = whole_epochs.traced_epoch()
        return epoch if epoch is not None and epoch.num_batches <= self.capacity else None

    def _record(self, grads, variables):
        # Runs inside the training graph at every step, so it does as little as it can:
        # gather all gradients into one vector and store it (or its squared sum per variable).
        by_path = {variable.path: grad for grad, variable in zip(grads, variables) if grad is not None}
        # A variable the loss does not depend on has no gradient: count it as zero.
        flat = tf.dynamic_stitch(
            self._flat_positions,
            [
                by_path[variable.path] if variable.path in by_path else tf.zeros_like(variable)
                for variable in self._variables
            ],
        )
        epoch = self._epoch_rows()
        if epoch is not None:
            row = epoch.batch
        else:
            row = tf.math.floormod(tf.convert_to_tensor(self._iterations), self.capacity)
        if self.keeps_gradients:
            tf.raw_ops.ResourceScatterUpdate(resource=self._ring.handle, indices=row, updates=flat)
        else:
            squared_norms = tf.math.segment_sum(tf.square(flat), self._variable_of_entry)
            tf.raw_ops.ResourceScatterUpdate(resource=self._ring.handle, indices=row, updates=squared_norms)
            self._last_gradients.assign(flat)

    def forget_steps(self):
        """Makes the next `unread_steps` start from the optimizer's current step."""
        self._steps_read.assign(tf.convert_to_tensor(self._iterations))

    def unread_steps(self):
        """Traceable: what the steps since the last call stored.

        Returns:
            The number of steps (an integer scalar; more than `capacity` means some were
            overwritten) and their rows, oldest first, `[min(steps, capacity), ...]`:
            for `step_norms`.
        """
        iterations = tf.convert_to_tensor(self._iterations)
        epoch = self._epoch_rows()
        if epoch is not None:  # This epoch call's steps, in rows 0, 1, ... (see `_record`).
            self._steps_read.assign(iterations)
            return tf.constant(epoch.num_batches, iterations.dtype), self._ring[: epoch.num_batches]
        steps = iterations - self._steps_read
        first = tf.maximum(self._steps_read, iterations - self.capacity)
        rows = tf.math.floormod(tf.range(first, iterations), self.capacity)
        self._steps_read.assign(iterations)
        return steps, tf.gather(self._ring, rows)

    def step_norms(self, rows):
        """Traceable: the per-layer norms of stored rows (`unread_steps`), `[steps, layers, 3]`: kernel, bias, total."""
        squared = (tf.square(rows) if self.keeps_gradients else rows) @ self._row_to_layer_parts
        return tf.reshape(tf.sqrt(squared), [-1, len(self.keys), len(PARTS)])

    def last_gradients(self, rows):
        """Traceable: the last step's gradients, flat (`layer_slices` splits them by layer), given its rows."""
        return rows[-1] if self.keeps_gradients else tf.identity(self._last_gradients)


def epoch_statistics(step_norms):
    """Traceable: the mean and max over steps of `[steps, layers, 3]` norms, as `[layers, 6]` (`STAT_NAMES`)."""
    return tf.concat([tf.reduce_mean(step_norms, axis=0), tf.reduce_max(step_norms, axis=0)], axis=1)


class FastGradientNormLogger(keras.callbacks.Callback):
    """Keras callback: the numbers and tags of `grad_logging.GradientNormLogger`, computed in the epoch's graph.

    Args:
        log_dir: TensorBoard run directory; events go to `<log_dir>/train`. `None`
            keeps the numbers in the History only.
        histogram_freq: write gradient histograms every this many epochs (0: never).
        per_step: also log every optimizer step's per-layer norm.
        max_steps_per_epoch: optimizer steps the in-graph buffer holds between reads; by default
            an epoch's steps under `whole_epochs.fit_whole_epochs` (which says how many), else 1024.
    """

    def __init__(self, log_dir=None, histogram_freq=1, per_step=False, max_steps_per_epoch=None):
        super().__init__()
        self.log_dir = log_dir
        self.per_step = per_step
        self.histogram_freq = histogram_freq
        self.max_steps_per_epoch = max_steps_per_epoch
        self.planned_steps_per_epoch = None
        self.tracker = None
        self.writer = None

    def plan_steps_per_epoch(self, steps):
        """Called by `whole_epochs.fit_whole_epochs` before it fits: each epoch takes `steps` optimizer steps."""
        self.planned_steps_per_epoch = steps

    def set_model(self, model):
        # Called by `fit` before it builds the train function, so the hook is traced in.
        super().set_model(model)
        capacity = self.max_steps_per_epoch or self.planned_steps_per_epoch or DEFAULT_STEPS_PER_EPOCH
        self.tracker = getattr(model.optimizer.apply, "tracker", None)  # One already installed by this callback.
        if self.tracker is None or self.tracker.capacity < capacity:
            self.tracker = GradientNormTracker(model, capacity=capacity)

    def on_train_begin(self, logs=None):
        steps = self.params.get("steps") if self.params else None
        if steps and steps > self.tracker.capacity:
            raise ValueError(f"{steps} steps per epoch; pass FastGradientNormLogger(max_steps_per_epoch={steps})")
        if self.log_dir is not None and self.writer is None:
            self.writer = EventWriter(Path(self.log_dir) / "train")
        self.tracker.forget_steps()  # Steps taken before this fit are not this fit's.
        keys = self.tracker.keys
        self._history_keys = [history_key(key, stat) for key in keys for stat in STAT_NAMES]
        self._histogram_tags = [f"gradients/{key}" for key in keys]
        self._step_tags = [f"grad_norm_step/{key}" for key in keys]
        # `whole_epochs` computes the statistics inside each epoch's call; plain `fit` calls this.
        self._graph_statistics = tf.function(self.epoch_graph_statistics)
        self._statistics_names = ["_gradient_epoch"]
        if self.log_dir is not None and self.per_step:
            self._statistics_names += ["_gradient_step_norms", "_gradient_last_step"]

    def epoch_graph_statistics(self):
        """Traceable: the epoch's numbers, computed in the training graph (see `whole_epochs`)."""
        steps, rows = self.tracker.unread_steps()
        step_norms = self.tracker.step_norms(rows)
        # One vector, [steps, statistics..., last step's gradients...]: Keras unpacks each
        # tensor an epoch's call returns, one by one, in Python. The statistics are taken
        # here, in the graph, rather than in NumPy between two calls (docs/speed.md).
        parts = [tf.cast(tf.reshape(steps, [1]), tf.float32), tf.reshape(epoch_statistics(step_norms), [-1])]
        if self.log_dir is not None and self.histogram_freq:
            parts.append(self.tracker.last_gradients(rows))
        statistics = {"_gradient_epoch": tf.concat(parts, axis=0)}
        if self.log_dir is not None and self.per_step:
            statistics["_gradient_step_norms"] = step_norms[:, :, PARTS.index("total")]
            statistics["_gradient_last_step"] = tf.convert_to_tensor(self.model.optimizer.iterations)
        return statistics

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if "_gradient_epoch" in logs:  # Computed in the epoch's call, by whole_epochs.
            statistics = {name: logs.pop(name) for name in self._statistics_names}
        else:
            statistics = self._graph_statistics()
        epoch_vector = np.asarray(statistics["_gradient_epoch"])
        steps = int(epoch_vector[0])
        if steps > self.tracker.capacity:
            raise RuntimeError(
                f"{steps} optimizer steps in one epoch, more than the capacity "
                f"{self.tracker.capacity}; pass a larger max_steps_per_epoch"
            )
        if not steps:
            return
        num_statistics = len(self._history_keys)
        scalars = dict(zip(self._history_keys, epoch_vector[1 : 1 + num_statistics].tolist()))
        logs.update(scalars)
        if self.writer is None:
            return
        histograms = {}
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            gradients = epoch_vector[1 + num_statistics :]
            histograms = {tag: gradients[part] for tag, part in zip(self._histogram_tags, self.tracker.layer_slices)}
        self.writer.write(epoch, scalars, histograms)
        if self.per_step:
            first_step = int(statistics["_gradient_last_step"]) - steps + 1
            for step, norms in enumerate(np.asarray(statistics["_gradient_step_norms"]).tolist(), start=first_step):
                self.writer.write(step, dict(zip(self._step_tags, norms)))

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        """Flushes and closes the TensorBoard file; safe to call twice."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
