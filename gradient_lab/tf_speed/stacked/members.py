"""Each member from its seed's initial weights, trained through `fit`, and its result as a single run's."""

import numpy as np
import tensorflow as tf

import data
from gradient_lab import models
from gradient_lab.diagnostics import DEAD_CHECKED_ACTIVATIONS, constant_output
from gradient_lab.records.members import member_histories, member_results, mlp_layer_keys
from gradient_lab.tf_speed.stacked.model import StackedMLP, member_layer_statistics


def constant_outputs(model, config, x):
    """`diagnostics.constant_output` of every member now, for the ReLU nets it applies to; else None."""

    if config.activation not in DEAD_CHECKED_ACTIVATIONS:
        return None
    views = [view.numpy() for view in model.weight_views()[:-2]]  # The hidden layers'.
    return constant_output(views[0::2], views[1::2], x, config.activation)


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
    pieces = [
        weights.reshape(len(seeds), -1)
        for weights in models.seeds_initial_weights(
            config.num_hidden_layers, config.width, config.initializer, config.output_initializer, seeds
        )
    ]
    model.weights_flat.assign(np.concatenate(pieces, axis=1))
    model.initial_weights = tf.constant(model.weights_flat.numpy())
    model.born_dead = constant_outputs(model, config, train_data[0])
    model.compile(optimizer=models.make_optimizer(config.optimizer, config.learning_rate, config.momentum))
    model.optimizer.build(model.trainable_variables)  # Now, so that the epoch's function is traced once.
    return model


def train_stacked(config, seeds, callbacks=None, final_diagnostics_only=False):
    """Trains the seeds of `config` as one stacked model on the two circles; returns one result dict per seed.

    Each result has `seed`, `status` (`completed` or `nan_loss`), `epochs_completed`,
    `history` (cut at the member's NaN epoch, which it includes, as a single run's does),
    `layer_keys` and, when completed, `train_accuracy` and `test_accuracy`. With
    `final_diagnostics_only`, each diagnostics series holds only the last epoch's value
    (what a verdict reads), which saves a forward pass over the training set every epoch.
    """

    train_data, validation_data = data.load_circles(config.num_samples, config.noise, config.data_seed)
    model = stacked_mlp(config, seeds, train_data, validation_data, final_diagnostics_only)
    return fit_members(model, config, seeds, train_data, validation_data, callbacks)


def fit_members(model, config, seeds, train_data, validation_data, callbacks=None):
    """Trains a `stacked_mlp` for `config.epochs` and returns its members' results (see `train_stacked`)."""
    whole_training_set = tf.data.Dataset.from_tensors(tuple(tf.constant(array) for array in train_data)).repeat()
    history = model.fit(
        whole_training_set, epochs=config.epochs, steps_per_epoch=1, shuffle=False, verbose=0, callbacks=callbacks
    ).history
    keys = mlp_layer_keys(config.num_hidden_layers)
    if model.diagnostics_data is not None and not model.diagnostics_every_epoch:
        # The last epoch's diagnostics, as the series' last values: each series has one value.
        history["layer_statistics"] = [member_layer_statistics(model).numpy()]
    histories = member_histories(
        history, keys, model.activation_names, config.learning_rate, config.diagnostics, config.weight_logging
    )
    train_accuracy, test_accuracy = (member_accuracies(model, *split) for split in (train_data, validation_data))
    dead_at_end = constant_outputs(model, config, train_data[0])
    step_norms = np.asarray(history["step_norms"]) if "step_norms" in history else None
    born_dead = getattr(model, "born_dead", None)
    return member_results(seeds, histories, keys, train_accuracy, test_accuracy, step_norms, born_dead, dead_at_end)


def member_accuracies(model, x, y):
    """Each member's fraction of points classified right (probability above 0.5 means class 1)."""
    probabilities = model(tf.broadcast_to(x, [model.members, *x.shape])).numpy()[..., 0]
    return np.mean((probabilities > 0.5) == (y[None] > 0.5), axis=1).tolist()
