"""Each member from its seed's initial weights, trained through `fit`, and its result as a single run's."""

import numpy as np
import tensorflow as tf

import data
import grad_logging
from gradient_lab import models
from gradient_lab.diagnostics import DEAD_CHECKED_ACTIVATIONS, constant_output
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
    num_layers = config.num_hidden_layers + 1
    pieces = []
    for index, shape in enumerate(model.layout.shapes):
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
