"""N seeds of one MLP trained at once on JAX or PyTorch, as the members of one Keras model in `keras.ops`.

TensorFlow has its own, faster version (`tf_speed/stacked/`, whose docstring explains why the
seeds train stacked). This one is written with Keras's public API only, so it runs on every
backend: every layer's kernel `[members, in, units]` and bias `[members, 1, units]` take one
batched matmul for all members, and Keras's own `train_step` trains them.

Member k is seed k's single run on the same backend:
- its initial weights are drawn by the same initializers with the same seeds
  (`models.seeds_initial_weights`);
- it takes its mini-batches in seed k's order (`batches.MemberBatches`), as seed k's run
  does (`batches.ShuffledBatches`);
- the loss is the sum of the live members' losses (`StackedMLP.compute_loss`), whose
  gradient is each member's own (the members share no weight), and SGD and Adam update every
  weight on its own;
- its loss, accuracy and validation numbers are per-member metrics (`MemberMetric`), and its
  per-layer gradient norms are `grad_logging`'s, per member (`MemberGradientNorms`);
- a member whose loss becomes NaN or Inf is frozen at the end of that epoch (`FreezeOnNaN`):
  its loss no longer counts and its numbers stop there.
"""

import keras
import numpy as np
from keras import ops

import data
import grad_logging
from gradient_lab import backends, models
from gradient_lab.batches import MemberBatches
from gradient_lab.diagnostics import DEAD_CHECKED_ACTIVATIONS, constant_output
from gradient_lab.layer_statistics import UnitStatistics
from gradient_lab.records.members import member_histories, member_results, mlp_layer_keys


class StackedDense(keras.layers.Layer):
    """`members` independent Dense layers: inputs `[members, batch, in]` -> outputs `[members, batch, units]`."""

    def __init__(self, members, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.members, self.units, self.activation = members, units, keras.activations.get(activation)

    def build(self, input_shape):
        self.kernel = self.add_weight((self.members, input_shape[-1], self.units), initializer="zeros", name="kernel")
        self.bias = self.add_weight((self.members, 1, self.units), initializer="zeros", name="bias")

    def call(self, x):
        return self.activation(ops.matmul(x, self.kernel) + self.bias)


class StackedMLP(keras.Model):
    """The MLP of `models.build_mlp`, `members` times over, trained by Keras's own `train_step`."""

    def __init__(self, members, num_hidden_layers, width, activation, **kwargs):
        super().__init__(**kwargs)
        self.members = members
        self.activation_names = [activation] * num_hidden_layers + ["sigmoid"]
        self.hidden = [
            StackedDense(members, width, activation, name=f"hidden_{i}") for i in range(1, num_hidden_layers + 1)
        ]
        self.out = StackedDense(members, 1, "sigmoid", name="output")
        self.alive = self.add_weight((members,), initializer="ones", trainable=False, name="alive")

    def call(self, x):
        for layer in [*self.hidden, self.out]:
            x = layer(x)
        return x

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # A frozen member's loss does not count: the sum's gradient is the live members' own.
        losses = member_losses(y, y_pred)
        return ops.sum(ops.where(self.alive > 0.5, losses, ops.zeros_like(losses)))


def member_losses(y, probabilities):
    """Each member's mean binary cross-entropy, `[members]`, from `[members, batch, 1]` targets and outputs.

    Keras's formula, written out: PyTorch's own binary cross-entropy raises on a NaN output,
    and a frozen member's outputs are NaN.
    """
    p = ops.clip(probabilities, keras.config.epsilon(), 1.0 - keras.config.epsilon())
    return -ops.mean(y * ops.log(p) + (1.0 - y) * ops.log(1.0 - p), axis=(1, 2))


class MemberMetric(keras.metrics.Metric):
    """Each member's mean loss (`kind="loss"`) or accuracy over the epoch's points, as a single run's `fit` logs it."""

    def __init__(self, members, kind, **kwargs):
        super().__init__(**kwargs)
        self.kind = kind
        self.total = self.add_variable((members,), initializer="zeros", name="total")
        self.count = self.add_variable((), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.kind == "loss":
            values = member_losses(y_true, y_pred)
        else:
            correct = ops.cast(ops.equal(ops.cast(y_pred > 0.5, "float32"), y_true), "float32")
            values = ops.mean(correct, axis=(1, 2))
        size = ops.cast(ops.shape(y_true)[1], "float32")
        self.total.assign_add(values * size)
        self.count.assign_add(size)

    def result(self):
        return self.total / self.count


class MemberGradientNorms(grad_logging.GradientNormLogger):
    """`grad_logging`'s per-layer gradient norms, per member: `gradient_statistics` `[members, layers, 6]`."""

    def __init__(self):
        super().__init__(log_dir=None, histogram_freq=0)

    def norms_shape(self):
        return (len(self.layers), len(grad_logging.PARTS), self.model.members)

    def norms(self, grads_by_path):
        rows = []
        for layer in self.layers:
            kernel, bias = (
                ops.sum(ops.square(grads_by_path[weight.path]), axis=(1, 2)) for weight in (layer.kernel, layer.bias)
            )
            rows.append(ops.sqrt(ops.stack([kernel, bias, kernel + bias])))
        return ops.stack(rows)  # [layers, 3, members]

    def on_epoch_end(self, epoch, logs=None):
        table = self.epoch_statistics()  # [layers, 6, members]
        if table is not None:
            logs["gradient_statistics"] = np.transpose(table, (2, 0, 1))


class MemberLogs(keras.callbacks.Callback):
    """Renames the member metrics as a single run's logs (`loss`, ..., `val_accuracy`); freezes NaN members."""

    def on_epoch_end(self, epoch, logs=None):
        for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
            logs[name] = np.asarray(
                logs.pop(name.replace("loss", "member_loss").replace("accuracy", "member_accuracy"))
            )
        alive = ops.convert_to_numpy(self.model.alive) * np.isfinite(logs["loss"])
        self.model.alive.assign(alive.astype(np.float32))


def stacked_mlp(config, seeds, x):
    """Returns the compiled `StackedMLP` of `config` whose member k starts from seed `seeds[k]`'s initial weights."""
    model = StackedMLP(len(seeds), config.num_hidden_layers, config.width, config.activation)
    model(np.zeros([len(seeds), 1, x.shape[-1]], np.float32))  # Builds the weights.
    initial = models.seeds_initial_weights(
        config.num_hidden_layers, config.width, config.initializer, config.output_initializer, seeds
    )
    for weight, value in zip([w for layer in [*model.hidden, model.out] for w in (layer.kernel, layer.bias)], initial):
        weight.assign(value)
    model.initial_weights = initial
    model.compile(
        optimizer=models.make_optimizer(config.optimizer, config.learning_rate, config.momentum),
        metrics=[
            MemberMetric(len(seeds), "loss", name="member_loss"),
            MemberMetric(len(seeds), "accuracy", name="member_accuracy"),
        ],
    )
    return model


def member_layer_statistics(model, x):
    """Per member and layer: saturated and dead fractions, activation mean and std, weight norm, the
    weights' L1 norm and L1 distance from their initial values, `[members, layers, 7]` (as `tf_speed.stacked`)."""
    layers = [*model.hidden, model.out]
    unit_statistics = UnitStatistics([layer.units for layer in layers], model.activation_names)
    current, outputs, weight_rows = ops.convert_to_tensor(np.broadcast_to(x, [model.members, *x.shape])), [], []
    for index, layer in enumerate(layers):
        current = layer(current)
        outputs.append(current)
        kernel, bias = (ops.convert_to_numpy(weight) for weight in (layer.kernel, layer.bias))
        initial_kernel, initial_bias = model.initial_weights[2 * index : 2 * index + 2]
        weight_rows.append(
            np.stack(
                [
                    np.sqrt(np.sum(kernel**2, axis=(1, 2)) + np.sum(bias**2, axis=(1, 2))),
                    np.sum(np.abs(kernel), axis=(1, 2)) + np.sum(np.abs(bias), axis=(1, 2)),
                    np.sum(np.abs(kernel - initial_kernel), axis=(1, 2))
                    + np.sum(np.abs(bias - initial_bias), axis=(1, 2)),
                ],
                axis=1,
            )
        )
    units = [ops.convert_to_numpy(value) for value in unit_statistics(ops.concatenate(outputs, axis=-1))]
    return np.concatenate([np.stack(units, axis=-1), np.stack(weight_rows, axis=1)], axis=-1)


def constant_outputs(model, config, x):
    """`diagnostics.constant_output` of every member now, for the ReLU nets it applies to; else None."""
    if config.activation not in DEAD_CHECKED_ACTIVATIONS:
        return None
    kernels = [ops.convert_to_numpy(layer.kernel) for layer in model.hidden]
    biases = [ops.convert_to_numpy(layer.bias) for layer in model.hidden]
    return constant_output(kernels, biases, x, config.activation)


def train_stacked(config, seeds, callbacks=None, final_diagnostics_only=True):
    """Trains the seeds of `config` stacked, on JAX or PyTorch; returns one result dict per seed.

    The results are those of `tf_speed.stacked.train_stacked`; the diagnostics are the last
    epoch's only (what a verdict reads), and per-step norms are not kept.
    """
    train_data, validation_data = data.load_circles(config.num_samples, config.noise, config.data_seed)
    model = stacked_mlp(config, seeds, train_data[0])
    return fit_members(model, config, seeds, train_data, validation_data, callbacks)


def fit_members(model, config, seeds, train_data, validation_data, callbacks=None):
    """Trains a `stacked_mlp` for `config.epochs` and returns its members' results (see `train_stacked`)."""
    (x, y), (x_val, y_val) = train_data, validation_data
    born_dead = constant_outputs(model, config, x)
    members = len(seeds)
    batches = MemberBatches(x, y.reshape(-1, 1), config.batch_size, seeds)
    validation = (
        np.broadcast_to(x_val, [members, *x_val.shape]),
        np.broadcast_to(y_val.reshape(1, -1, 1), [members, len(y_val), 1]),
    )
    callbacks = [MemberGradientNorms(), MemberLogs(), *(callbacks or [])]
    if backends.current() == "torch":
        from gradient_lab import torch_speed

        history = torch_speed.fit_whole_epochs(
            model, batches, epochs=config.epochs, validation_data=validation, callbacks=callbacks
        )
    else:
        model.steps_per_execution = len(batches)
        history = model.fit(
            batches,
            epochs=config.epochs,
            validation_data=validation,
            validation_batch_size=members,
            shuffle=False,
            callbacks=callbacks,
            verbose=0,
        )
    history = history.history
    keys = mlp_layer_keys(config.num_hidden_layers)
    if config.diagnostics or config.weight_logging:
        history["layer_statistics"] = [member_layer_statistics(model, x)]
    histories = member_histories(
        history, keys, model.activation_names, config.learning_rate, config.diagnostics, config.weight_logging
    )
    train_accuracy, test_accuracy = (member_accuracies(model, *split) for split in ((x, y), (x_val, y_val)))
    dead_at_end = constant_outputs(model, config, x)
    return member_results(seeds, histories, keys, train_accuracy, test_accuracy, None, born_dead, dead_at_end)


def member_accuracies(model, x, y):
    """Each member's fraction of points classified right (probability above 0.5 means class 1)."""
    probabilities = ops.convert_to_numpy(model(np.broadcast_to(x, [model.members, *x.shape])))[..., 0]
    return np.mean((probabilities > 0.5) == (y[None] > 0.5), axis=1).tolist()
