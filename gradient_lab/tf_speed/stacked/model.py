"""`StackedMLP`: `members` MLPs as one Keras model, whose `train_step` trains them all for one epoch."""

import keras
import tensorflow as tf

from gradient_lab.tf_speed import whole_epochs
from gradient_lab.layer_statistics import UnitStatistics
from gradient_lab.tf_speed.stacked.layers import PARTS, FlatLayout, StackedDense


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
            training (`member_layer_statistics`), which is all a verdict reads.
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
        self.layout = FlatLayout(num_inputs, width, num_hidden_layers)
        self.weights_flat = self.add_weight(shape=(members, self.layout.size), initializer="zeros", name="weights")
        self.ring = tf.Variable(tf.zeros([self.num_batches, members, self.layout.size]), trainable=False)
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
        return self.layout.views(self.weights_flat if weights is None else weights)

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
        return member_epoch_logs(self)

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


def member_layer_statistics(model):
    """Per member and layer: saturated and dead fractions, activation mean and std, weight norm (as
    `layer_statistics.LayerDiagnostics` takes them), and the weights' L1 norm and L1 distance from their
    initial values (as `diagnostics.WeightNormLogger`), `[members, layers, 7]`."""
    x = tf.broadcast_to(model.diagnostics_data, [model.members, *model.diagnostics_data.shape])
    views, initial_views = model.weight_views(), model.weight_views(model.initial_weights)
    outputs, weight_rows = [], []
    for index, layer in enumerate([*model.hidden, model.out]):
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
    units = model.unit_statistics(tf.concat(outputs, axis=-1))  # The single run's definitions.
    return tf.concat([tf.stack(units, axis=-1), tf.stack(weight_rows, axis=1)], axis=-1)


def member_epoch_logs(model):
    """The epoch's per-member numbers; freezes the members whose loss became NaN or Inf."""
    loss_sum, correct, count = tf.unstack(model.sums)
    x_val, y_val = model.validation_data
    val_x = tf.broadcast_to(x_val, [model.members, *x_val.shape])
    val_y = tf.broadcast_to(tf.reshape(y_val, [1, -1, 1]), [model.members, y_val.shape[0], 1])
    val_losses, val_probabilities = model.member_losses(val_x, val_y)
    val_correct = tf.cast(tf.equal(tf.cast(val_probabilities > 0.5, tf.float32), val_y), tf.float32)
    # Per step, member and layer: the kernel, bias and total norms, `[steps, members, layers, 3]`.
    norms = tf.sqrt(tf.square(model.ring) @ model.layout.to_layer_parts)
    norms = tf.reshape(norms, [model.num_batches, model.members, -1, len(PARTS)])
    statistics = tf.concat([tf.reduce_mean(norms, axis=0), tf.reduce_max(norms, axis=0)], axis=2)
    loss = loss_sum / count
    model.alive.assign(tf.logical_and(model.alive, tf.math.is_finite(loss)))
    logs = {
        "loss": loss,
        "accuracy": correct / count,
        "val_loss": val_losses,
        "val_accuracy": tf.reduce_mean(val_correct, axis=[1, 2]),
        "gradient_statistics": statistics,
    }
    if model.diagnostics_data is not None and model.diagnostics_every_epoch:
        logs["layer_statistics"] = member_layer_statistics(model)
    if model.per_step:
        logs["step_norms"] = tf.transpose(norms[..., PARTS.index("total")], [1, 0, 2])  # [members, steps, layers]
    return logs
