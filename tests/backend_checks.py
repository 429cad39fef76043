"""What tests/test_backend_runs.py measures on one backend, in a fresh interpreter: python backend_checks.py OUT_DIR.

With `--headline`, instead: each reference model's 20 seeds, 500 epochs, stacked, as the headline
test trains them on TensorFlow; writes OUT_DIR/headline.json, each seed's test accuracy per model.

KERAS_BACKEND names the backend. Writes OUT_DIR/checks.json: the init diagnostics and layer
statistics of fixed weights, a stacked run with one member's weights made infinite, and
runs mlp_relu_deep.py (through its `main`, as the shell would) into OUT_DIR/logs and OUT_DIR/figures.
"""

import dataclasses
import json
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradient_lab import backends  # noqa: E402

backends.start(argv=[])

import keras  # noqa: E402
import numpy as np  # noqa: E402

import data  # noqa: E402
from gradient_lab import experiment, layer_statistics, models, portable_stacked, stacked_seeds  # noqa: E402


def fixed_mlp(activation):
    """A 3-hidden-layer MLP whose weights come from NumPy, so every backend holds the same ones."""
    model = models.compile_mlp(models.build_mlp(3, 5, activation, "glorot_uniform", seed=0), 0.01, 0.9)
    rng = np.random.default_rng(7)
    model.set_weights([rng.normal(scale=0.8, size=w.shape).astype("float32") for w in model.get_weights()])
    return model


def diagnostics_of_fixed_weights():
    (x, y), _ = data.load_circles(200, 0.1, 1)
    results = {}
    for activation in ("tanh", "relu"):
        model = fixed_mlp(activation)
        statistics = layer_statistics.LayerDiagnostics(x)
        statistics.set_model(model)
        statistics.on_train_begin()
        table = keras.ops.convert_to_numpy(statistics.epoch_graph_statistics()["_layer_statistics"])
        results[activation] = {
            "init": layer_statistics.backward_signal_at_init(model, x, y),
            "layer_statistics": table.tolist(),
        }
    return results


def stacked_with_a_nan_member():
    config = experiment.config_for("deep_tanh", epochs=3)
    (x, y), validation = data.load_circles(config.num_samples, config.noise, config.data_seed)
    model = portable_stacked.stacked_mlp(config, [0, 1, 2], x)
    kernel = keras.ops.convert_to_numpy(model.hidden[0].kernel).copy()
    kernel[1] = np.inf  # Member 1's first kernel: its loss is NaN from the first step.
    model.hidden[0].kernel.assign(kernel)
    members = portable_stacked.fit_members(model, config, [0, 1, 2], (x, y), validation)
    alone = stacked_seeds.train_stacked(dataclasses.replace(config), [2])[0]  # Member 2 alone.
    return {"members": members, "member_2_alone": alone}


def headline(out):
    accuracies = {}
    for model in ("shallow_tanh", "deep_tanh", "deep_relu"):
        members = stacked_seeds.train_stacked(experiment.config_for(model, histogram_freq=0), list(range(20)))
        accuracies[model] = [member.get("test_accuracy", 0.0) for member in members]  # A NaN loss did not learn.
    (out / "headline.json").write_text(json.dumps({"backend": backends.current(), "accuracies": accuracies}))


def main():
    out = Path(sys.argv[1])
    if sys.argv[2:] == ["--headline"]:
        return headline(out)
    checks = {"backend": backends.current(), "fixed": diagnostics_of_fixed_weights()}
    checks["nan"] = stacked_with_a_nan_member()
    script = runpy.run_path(str(ROOT / "mlp_relu_deep.py"), run_name="backend_checks")
    flags = ["--epochs", "6", "--seeds", "3", "--log-dir", str(out / "logs"), "--figure-dir", str(out / "figures")]
    checks["script_status"] = script["main"](flags)
    # A learning rate that overflows the weights: the loss becomes NaN (on PyTorch, Keras's loss raises instead).
    nan_flags = ["--learning-rate", "1e30", "--seed", "1", "--seeds", "1", "--run-name", "nan", "--epochs", "5"]
    checks["nan_script_status"] = script["main"]([*nan_flags, *flags[4:]])
    (out / "checks.json").write_text(json.dumps(checks))


if __name__ == "__main__":
    main()
