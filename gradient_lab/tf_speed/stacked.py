"""N seeds of one MLP trained at once, as one computation: every layer's weights get a leading seed axis.

At this size a run is almost all per-op overhead: 20 width-5 MLPs still do microseconds of
arithmetic per step. So the seeds of one configuration train as the members of one Keras
model, `StackedMLP`, whose `StackedDense` layers each do one batched matmul for all members.

Member k is seed k's single run, exactly:
- its initial weights are copied from the single model built with seed k (`stacked_mlp`);
- it shuffles the training set every epoch with its own `SeedGenerator(k)`, as
  `whole_epochs` does for the single run;
- the gradient of the sum of the members' losses is each member's own gradient (the members
  share no weight), and SGD with momentum and Adam update every weight on its own, so each
  member takes the steps it would take alone;
- it has its own loss, accuracy, validation numbers and per-layer gradient norms (mean and
  max over the epoch's steps, as `grad_logging.GradientNormLogger` reports them);
- a member whose loss becomes NaN or Inf is frozen (its loss no longer counts, its numbers
  stop at that epoch) and marked `nan_loss`; the others go on.

It trains through `model.fit`: `train_step` is overridden to run one whole epoch (the
training set is one "batch"), and `metrics` is overridden to be empty, so that `fit`'s own
metric reset and read between epochs cost nothing; the per-member numbers are the logs.
"""

import threading

import keras
import numpy as np
import tensorflow as tf

import grad_logging
from gradient_lab.tf_speed import whole_epochs
from gradient_lab.tf_speed.layer_statistics import UnitStatistics

PARTS = grad_logging.PARTS


class StackedDense(keras.layers.Layer):
    """`members` independent Dense layers: inputs `[members, batch, in]` -> outputs `[members, batch, units]`.

    Its kernel `[members, in, units]` and bias `[members, 1, units]` are views of the model's one
    weight variable (`StackedMLP.weights_flat`), passed in.
    """

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.activation = units, keras.activations.get(activation)

    def call(self, x, kernel, bias):
        return self.activation(tf.matmul(x, kernel) + bias)


def _entries_to_layer_parts(sizes):
    """The matrix that sums each entry of a flat gradient (kernel, bias, kernel, ...) into its layer's parts."""
    to_parts = np.zeros([sum(sizes), len(sizes) // 2 * len(PARTS)], np.float32)
    start = 0
    for index, size in enumerate(sizes):
        layer, part = divmod(index, 2)
        to_parts[start : start + size, layer * len(PARTS) + part] = 1.0
        to_parts[start : start + size, layer * len(PARTS) + 2] = 1.0  # The layer's total.
        start += size
    return to_parts


class StackedMLP(keras.Model):
    """The MLP of `models.build_mlp`, `members` times over; `fit` trains one whole epoch per call.

    Args:
        members: how many independent copies (seeds).
        num_hidden_layers, width, activation: as for `models.build_mlp`.
        seeds: the members' shuffling seeds, one each.
        batch_size: the mini-batch size of every member.
        validation_data: `(x, y)` every member is evaluated on after every epoch.
        num_samples: the training set's size.
        num_inputs: input features.
        diagnostics_data: inputs on which every epoch's layer diagnostics are taken (None: none).
        per_step: also return every step's total gradient norm per member and layer.
        diagnostics_every_epoch: False to take the layer diagnostics only when asked, after
            training (`_layer_statistics()`), which is all a verdict reads.
    """

    def __init__(
        self,
        members,
        num_hidden_layers,
        width,
        activation,
        seeds,
        batch_size,
        validation_data,
        num_samples,
        num_inputs=2,
        diagnostics_data=None,
        per_step=False,
        diagnostics_every_epoch=True,
    ):
        super().__init__()
        self.per_step, self.diagnostics_every_epoch = per_step, diagnostics_every_epoch
        self.activation_names = [activation] * num_hidden_layers + ["sigmoid"]
        self.unit_statistics = UnitStatistics([width] * num_hidden_layers + [1], self.activation_names)
        self.diagnostics_data = None if diagnostics_data is None else tf.constant(diagnostics_data)
        self.hidden = [StackedDense(width, activation, name=f"hidden_{i}") for i in range(1, num_hidden_layers + 1)]
        self.out = StackedDense(1, "sigmoid", name="output")
        self.members, self.batch_size = members, batch_size
        self.seed_generators = [keras.random.SeedGenerator(seed) for seed in seeds]
        self.validation_data = tuple(tf.constant(array) for array in validation_data)
        self.alive = tf.Variable(tf.ones([members], tf.bool), trainable=False)
        self.num_batches = -(-num_samples // batch_size)  # The last batch holds the remainder.
        # All members' weights are one variable, `[members, weights]`: kernel, bias, kernel, ... So
        # the optimizer updates one variable per step, not two per layer, and each step's gradient
        # is already the flat row the ring stores.
        fans = [num_inputs] + [width] * num_hidden_layers + [1]
        self.weight_shapes = [
            shape for fan_in, fan_out in zip(fans, fans[1:]) for shape in ((fan_in, fan_out), (1, fan_out))
        ]
        sizes = [int(np.prod(shape)) for shape in self.weight_shapes]
        self.weight_sizes = sizes
        self.weights_flat = self.add_weight(shape=(members, sum(sizes)), initializer="zeros", name="weights")
        self.ring = tf.Variable(tf.zeros([self.num_batches, members, sum(sizes)]), trainable=False)
        self.to_parts = tf.constant(_entries_to_layer_parts(sizes))
        self.sums = tf.Variable(tf.zeros([3, members]), trainable=False)  # Loss x size, correct, count.

    @property
    def metrics(self):
        return []  # The per-member numbers are the logs (see the module docstring).

    def call(self, x):
        views = self.weight_views()
        for index, layer in enumerate([*self.hidden, self.out]):
            x = layer(x, *views[2 * index : 2 * index + 2])
        return x

    def member_losses(self, x, y):
        """Each member's mean binary cross-entropy on `x` `[members, batch, 2]`, `y` `[members, batch, 1]`."""
        probabilities = self(x)
        return tf.reduce_mean(keras.losses.binary_crossentropy(y, probabilities), axis=1), probabilities

    def member_orders(self, num_samples):
        """Traceable: this epoch's order of the training points for every member, `[members, samples]`."""
        return tf.stack([whole_epochs.epoch_order(num_samples, generator) for generator in self.seed_generators])

    def weight_views(self, weights=None):
        """Traceable: every layer's kernel and bias, input side first, as views of `weights` (default: the model's)."""
        weights = self.weights_flat if weights is None else weights
        pieces = tf.split(weights, self.weight_sizes, axis=1)
        return [tf.reshape(piece, [self.members, *shape]) for piece, shape in zip(pieces, self.weight_shapes)]

    def train_step(self, data):
        x, y = data
        num_samples = x.shape[0]
        orders = self.member_orders(num_samples)
        xs, ys = tf.gather(x, orders), tf.gather(tf.reshape(y, [-1, 1]), orders)  # [members, samples, ...]
        self.sums.assign(tf.zeros_like(self.sums))

        def train_batch(batch):
            start = batch * self.batch_size
            self._train_on(batch, xs[:, start : start + self.batch_size], ys[:, start : start + self.batch_size])
            return (batch + 1,)

        tf.while_loop(lambda batch: batch < self.num_batches, train_batch, (tf.constant(0),))
        return self._epoch_logs()

    def _train_on(self, batch, x, y):
        """One optimizer step of every member on its mini-batch; stores the gradients in ring row `batch`."""
        with tf.GradientTape() as tape:
            losses, probabilities = self.member_losses(x, y)
            # A frozen member's loss does not count: the sum's gradient is the live members' own.
            total = tf.reduce_sum(tf.where(self.alive, losses, 0.0))
        grad = tape.gradient(total, self.weights_flat)
        self.optimizer.apply([grad], [self.weights_flat])
        tf.raw_ops.ResourceScatterUpdate(resource=self.ring.handle, indices=batch, updates=grad)
        size = tf.cast(tf.shape(x)[1], tf.float32)
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.cast(probabilities > 0.5, tf.float32), y), tf.float32), [1, 2])
        self.sums.assign_add(tf.stack([losses * size, correct, tf.fill([self.members], size)]))

    def _epoch_logs(self):
        """The epoch's per-member numbers; freezes the members whose loss became NaN or Inf."""
        loss_sum, correct, count = tf.unstack(self.sums)
        x_val, y_val = self.validation_data
        val_x = tf.broadcast_to(x_val, [self.members, *x_val.shape])
        val_y = tf.broadcast_to(tf.reshape(y_val, [1, -1, 1]), [self.members, y_val.shape[0], 1])
        val_losses, val_probabilities = self.member_losses(val_x, val_y)
        val_correct = tf.cast(tf.equal(tf.cast(val_probabilities > 0.5, tf.float32), val_y), tf.float32)
        # Per step, member and layer: the kernel, bias and total norms, `[steps, members, layers, 3]`.
        norms = tf.sqrt(tf.square(self.ring) @ self.to_parts)
        norms = tf.reshape(norms, [self.num_batches, self.members, -1, len(PARTS)])
        statistics = tf.concat([tf.reduce_mean(norms, axis=0), tf.reduce_max(norms, axis=0)], axis=2)
        loss = loss_sum / count
        self.alive.assign(tf.logical_and(self.alive, tf.math.is_finite(loss)))
        logs = {
            "loss": loss,
            "accuracy": correct / count,
            "val_loss": val_losses,
            "val_accuracy": tf.reduce_mean(val_correct, axis=[1, 2]),
            "gradient_statistics": statistics,
        }
        if self.diagnostics_data is not None and self.diagnostics_every_epoch:
            logs["layer_statistics"] = self._layer_statistics()
        if self.per_step:
            logs["step_norms"] = tf.transpose(norms[..., PARTS.index("total")], [1, 0, 2])  # [members, steps, layers]
        return logs

    def _layer_statistics(self):
        """Per member and layer: saturated and dead fractions, activation mean and std, weight norm (as
        `layer_statistics.LayerDiagnostics` takes them), and the weights' L1 norm and L1 distance from their
        initial values (as `diagnostics.WeightNormLogger`), `[members, layers, 7]`."""
        x = tf.broadcast_to(self.diagnostics_data, [self.members, *self.diagnostics_data.shape])
        views, initial_views = self.weight_views(), self.weight_views(self.initial_weights)
        outputs, weight_rows = [], []
        for index, layer in enumerate([*self.hidden, self.out]):
            kernel, bias = views[2 * index : 2 * index + 2]
            initial_kernel, initial_bias = initial_views[2 * index : 2 * index + 2]
            x = layer(x, kernel, bias)  # [members, inputs, units]
            outputs.append(x)
            weight_norm = tf.sqrt(tf.reduce_sum(tf.square(kernel), [1, 2]) + tf.reduce_sum(tf.square(bias), [1, 2]))
            weight_l1 = tf.reduce_sum(tf.abs(kernel), axis=[1, 2]) + tf.reduce_sum(tf.abs(bias), [1, 2])
            change_l1 = tf.reduce_sum(tf.abs(kernel - initial_kernel), axis=[1, 2]) + tf.reduce_sum(
                tf.abs(bias - initial_bias), axis=[1, 2]
            )
            weight_rows.append(tf.stack([weight_norm, weight_l1, change_l1], axis=1))
        units = self.unit_statistics(tf.concat(outputs, axis=-1))  # The single run's definitions.
        return tf.concat([tf.stack(units, axis=-1), tf.stack(weight_rows, axis=1)], axis=-1)


def constant_outputs(model, config, x):
    """`diagnostics.constant_output` of every member now, for the ReLU nets it applies to; else None."""
    from gradient_lab import diagnostics

    if config.activation not in diagnostics.DEAD_CHECKED_ACTIVATIONS:
        return None
    views = [view.numpy() for view in model.weight_views()[:-2]]  # The hidden layers'.
    return diagnostics.constant_output(views[0::2], views[1::2], x, config.activation)


def stacked_mlp(config, seeds, train_data, validation_data, final_diagnostics_only=False):
    """Returns the compiled `StackedMLP` of `config` whose member k starts from seed `seeds[k]`'s initial weights.

    With `config.diagnostics` (or `weight_logging`), every epoch's layer diagnostics are
    taken on the training inputs; with `final_diagnostics_only`, only the last epoch's.

    Args:
        config: an `experiment.Config`; its `seed` is ignored for `seeds`.
        seeds: one seed per member.
        train_data: `(x, y)`, the training set.
        validation_data: `(x, y)` evaluated after every epoch.
    """
    from gradient_lab import models

    model = StackedMLP(
        len(seeds),
        config.num_hidden_layers,
        config.width,
        config.activation,
        seeds,
        config.batch_size,
        validation_data,
        len(train_data[0]),
        diagnostics_data=train_data[0] if config.diagnostics or config.weight_logging else None,
        per_step=config.per_step,
        diagnostics_every_epoch=not final_diagnostics_only,
    )
    num_layers = config.num_hidden_layers + 1
    pieces = []
    for index, shape in enumerate(model.weight_shapes):
        layer, is_bias = divmod(index, 2)
        if is_bias:  # Zero biases, as Dense's default.
            pieces.append(np.zeros([len(seeds), int(np.prod(shape))], np.float32))
            continue
        # `models.build_mlp` seeds hidden layer i with seed * 1000 + i and the output layer with seed * 1000.
        name = config.initializer if layer < num_layers - 1 else config.output_initializer
        layer_seed = (layer + 1) % num_layers
        pieces.append(
            np.stack([np.ravel(models.get_initializer(name, seed * 1000 + layer_seed)(shape)) for seed in seeds])
        )
    model.weights_flat.assign(np.concatenate(pieces, axis=1))
    model.initial_weights = tf.constant(model.weights_flat.numpy())
    model.born_dead = constant_outputs(model, config, train_data[0])
    model.compile(optimizer=models.make_optimizer(config.optimizer, config.learning_rate, config.momentum))
    model.optimizer.build(model.trainable_variables)  # Now, so that the epoch's function is traced once.
    return model


def mlp_layer_keys(num_hidden_layers):
    """The keys `grad_logging.layer_keys` gives the single model's layers."""
    return grad_logging.numbered_keys([f"hidden_{i}" for i in range(1, num_hidden_layers + 1)] + ["output"])


def member_histories(history, keys, activations, learning_rate, diagnostics=True, weight_logging=False):
    """Splits the stacked `History.history` into one history dict per member, as a single run records it.

    Args:
        history: the stacked model's `History.history`.
        keys: the layers' keys, input side first.
        activations: each layer's activation name (for which diagnostics apply).
        learning_rate: for the update-to-weight ratio, as `layer_statistics.LayerDiagnostics` defines it.
        diagnostics, weight_logging: which series to give, as the `Config` fields of these names.
    """
    columns = {name: np.asarray(history[name]) for name in ("loss", "accuracy", "val_loss", "val_accuracy")}
    statistics = np.asarray(history["gradient_statistics"])  # [epochs, members, layers, 6]
    layers = np.asarray(history["layer_statistics"]) if "layer_statistics" in history else None
    histories = []
    for member in range(statistics.shape[1]):
        member_history = {name: values[:, member].tolist() for name, values in columns.items()}
        for layer, key in enumerate(keys):
            for column, stat in enumerate(grad_logging.STAT_NAMES):
                member_history[grad_logging.history_key(key, stat)] = statistics[:, member, layer, column].tolist()
        if layers is not None:
            series = _diagnostics_history(
                layers[:, member], statistics[:, member], keys, activations, learning_rate, weight_logging
            )
            member_history.update(
                {key: values for key, values in series.items() if diagnostics or key.startswith("weight_")}
            )
        histories.append(member_history)
    return histories


def _diagnostics_history(layers, gradient_statistics, keys, activations, learning_rate, weight_logging):
    """One member's diagnostics series, keyed as `LayerDiagnostics` (and `WeightNormLogger`) key them."""
    series = {}
    total_mean = grad_logging.STAT_NAMES.index("mean")
    for index, (key, kind) in enumerate(zip(keys, activations)):
        saturated, dead, mean, std, weight_norm, weight_l1, change_l1 = layers[:, index].T
        if weight_logging:
            series[f"weight_l1/{key}"] = weight_l1.tolist()
            series[f"weight_change_l1/{key}"] = change_l1.tolist()
        if kind in ("tanh", "sigmoid"):
            series[f"saturation/{key}"] = saturated.tolist()
        if kind == "relu":
            series[f"dead_units/{key}"] = dead.tolist()
        series[f"activation_mean/{key}"] = mean.tolist()
        series[f"activation_std/{key}"] = std.tolist()
        # The last len(weight_norm) epochs': all of them, or the last one (final diagnostics only).
        gradient_means = gradient_statistics[-len(weight_norm) :, index, total_mean]
        ratio = learning_rate * gradient_means / np.maximum(weight_norm, 1e-12)
        series[f"update_ratio/{key}"] = ratio.tolist()
    return series


def train_stacked(config, seeds, callbacks=None, final_diagnostics_only=False):
    """Trains the seeds of `config` as one stacked model on the two circles; returns one result dict per seed.

    Each result has `seed`, `status` (`completed` or `nan_loss`), `epochs_completed`,
    `history` (cut at the member's NaN epoch, which it includes, as a single run's does),
    `layer_keys` and, when completed, `train_accuracy` and `test_accuracy`. With
    `final_diagnostics_only`, each diagnostics series holds only the last epoch's value
    (what a verdict reads), which saves a forward pass over the training set every epoch.
    """
    import data

    train_data, validation_data = data.load_circles(config.num_samples, config.noise, config.data_seed)
    model = stacked_mlp(config, seeds, train_data, validation_data, final_diagnostics_only)
    return fit_members(model, config, seeds, train_data, validation_data, callbacks)


class TrainingThread:
    """`train_stacked(config, seeds, callbacks)` in a second thread, started at once: `result()` waits for it.

    TensorFlow runs its ops without holding Python's lock, so the members train on the second
    core while the script trains seed 0 on the first, if TensorFlow may run two ops at a time
    (`runtime.start_tensorflow(ops_at_a_time=2)`, as the scripts start it). `cancel()` stops them
    at the end of their current epoch.
    """

    def __init__(self, config, seeds, callbacks=(), **options):
        self.stopping, self.outcome = threading.Event(), {}
        stop_when_cancelled = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: self._stop_if_cancelled())
        arguments = (config, seeds, [*callbacks, stop_when_cancelled], options)
        self.thread = threading.Thread(target=self._train, args=arguments)
        self.thread.daemon = True  # An error that ends the script does not wait for the seeds.
        self.thread.start()

    def _train(self, config, seeds, callbacks, options):
        try:
            self.outcome["members"] = train_stacked(config, seeds, callbacks, **options)
        except BaseException as error:  # Handed to result(), in the caller's thread.
            self.outcome["error"] = error

    def _stop_if_cancelled(self):
        if self.stopping.is_set():
            raise Cancelled()

    def result(self):
        """Waits for the members and returns their results (see `train_stacked`); re-raises their error."""
        self.thread.join()
        if "error" in self.outcome:
            raise self.outcome["error"]
        return self.outcome["members"]

    def cancel(self):
        """Stops the members at the end of their current epoch and waits for that."""
        self.stopping.set()
        self.thread.join()


class Cancelled(Exception):
    """Raised in a `TrainingThread` that was cancelled."""


def fit_members(model, config, seeds, train_data, validation_data, callbacks=None):
    """Trains a `stacked_mlp` for `config.epochs` and returns its members' results (see `train_stacked`)."""
    whole_training_set = tf.data.Dataset.from_tensors(tuple(tf.constant(array) for array in train_data)).repeat()
    history = model.fit(
        whole_training_set, epochs=config.epochs, steps_per_epoch=1, shuffle=False, verbose=0, callbacks=callbacks
    ).history
    keys = mlp_layer_keys(config.num_hidden_layers)
    if model.diagnostics_data is not None and not model.diagnostics_every_epoch:
        # The last epoch's diagnostics, as the series' last values: each series has one value.
        history["layer_statistics"] = [model._layer_statistics().numpy()]
    histories = member_histories(
        history, keys, model.activation_names, config.learning_rate, config.diagnostics, config.weight_logging
    )
    train_accuracy, test_accuracy = (member_accuracies(model, *split) for split in (train_data, validation_data))
    dead_at_end = constant_outputs(model, config, train_data[0])
    results = []
    for member, (seed, member_history) in enumerate(zip(seeds, histories)):
        finite = np.isfinite(member_history["loss"])
        epochs = len(finite) if finite.all() else int(np.argmin(finite)) + 1
        result = {
            "seed": seed,
            "status": "completed" if finite.all() else "nan_loss",
            "epochs_completed": epochs,
            "layer_keys": keys,
            "history": {name: values[:epochs] for name, values in member_history.items()},
        }
        if "step_norms" in history:  # [epochs][members, steps, layers] -> each layer's norm at every step.
            steps = np.asarray(history["step_norms"])[:epochs, member]
            result["step_norms"] = {key: steps[:, :, layer].ravel().tolist() for layer, key in enumerate(keys)}
        if finite.all():
            result.update(train_accuracy=train_accuracy[member], test_accuracy=test_accuracy[member])
        if getattr(model, "born_dead", None) is not None:
            result.update(born_dead=model.born_dead[member], dead_at_end=dead_at_end[member])
        results.append(result)
    return results


def member_accuracies(model, x, y):
    """Each member's fraction of points classified right (probability above 0.5 means class 1)."""
    probabilities = model(tf.broadcast_to(x, [model.members, *x.shape])).numpy()[..., 0]
    return np.mean((probabilities > 0.5) == (y[None] > 0.5), axis=1).tolist()
