"""The stacked seeds' results, split per member as single runs record them (on every backend)."""

import numpy as np

import grad_logging


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
            series = diagnostics_history(
                layers[:, member], statistics[:, member], keys, activations, learning_rate, weight_logging
            )
            member_history.update(
                {key: values for key, values in series.items() if diagnostics or key.startswith("weight_")}
            )
        histories.append(member_history)
    return histories


def diagnostics_history(layers, gradient_statistics, keys, activations, learning_rate, weight_logging):
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


def member_results(
    seeds, histories, keys, train_accuracy, test_accuracy, step_norms=None, born_dead=None, dead_at_end=None
):
    """One result dict per member, as a single run's: cut at its NaN epoch, which it includes.

    Args:
        seeds: each member's seed.
        histories: each member's history (`member_histories`).
        keys: the layers' keys.
        train_accuracy, test_accuracy: each member's final accuracies.
        step_norms: `[epochs, members, steps, layers]` total norms at every step, or None.
        born_dead, dead_at_end: each member's constant-output check, or None.
    """
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
        if step_norms is not None:  # [epochs][members, steps, layers] -> each layer's norm at every step.
            steps = step_norms[:epochs, member]
            result["step_norms"] = {key: steps[:, :, layer].ravel().tolist() for layer, key in enumerate(keys)}
        if finite.all():
            result.update(train_accuracy=train_accuracy[member], test_accuracy=test_accuracy[member])
        if born_dead is not None:
            result.update(born_dead=born_dead[member], dead_at_end=dead_at_end[member])
        results.append(result)
    return results
