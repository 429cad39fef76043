"""One run of the vanishing-gradient experiment: config, training, logs, result JSON, figures.

The scripts `mlp_tanh.py` and `mlp_relu_deep.py` differ only in which of the `MODELS`
presets they run; everything they share lives here.
"""

import dataclasses
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from gradient_lab import cli
import data
from gradient_lab import recording

# The three models of the reference experiment. Flags override any field.
MODELS = {
    "shallow_tanh": dict(
        num_hidden_layers=1, activation="tanh", initializer="uniform_0_1", output_initializer="uniform_0_1"
    ),
    "deep_tanh": dict(
        num_hidden_layers=5, activation="tanh", initializer="uniform_0_1", output_initializer="uniform_0_1"
    ),
    # He initialisation keeps ReLU activations' variance constant from layer to layer;
    # the output layer keeps the Keras default, as in the reference.
    "deep_relu": dict(
        num_hidden_layers=5, activation="relu", initializer="he_uniform", output_initializer="glorot_uniform"
    ),
}


@dataclass
class Config:
    """Everything that defines a run; saved beside its results."""

    model: str = "deep_tanh"  # Preset name; also the default run name.
    num_hidden_layers: int = 5
    width: int = 5  # Units per hidden layer.
    activation: str = "tanh"
    initializer: str = "uniform_0_1"  # Kernel initializer of the hidden layers.
    output_initializer: str = "uniform_0_1"
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9  # Used by SGD only.
    epochs: int = 500
    batch_size: int = 32
    seed: int = 0  # Seeds weights and shuffling; the data has its own seed.
    num_samples: int = 1000
    noise: float = 0.1
    data_seed: int = 1
    grad_logging: bool = True
    per_step: bool = False  # Also log every optimizer step's gradient norms.
    histogram_freq: int = 1  # Gradient histograms every N epochs; 0 turns them off.
    weight_logging: bool = False  # Also log each layer's weight L1 norm and change per epoch.
    diagnostics: bool = True  # Saturation, dead units, update ratios, decision boundaries, init Jacobians.


# What TensorBoard's HParams dashboard shows of every run, to filter and compare sweeps.
HPARAMS = (
    "model",
    "num_hidden_layers",
    "width",
    "activation",
    "initializer",
    "optimizer",
    "learning_rate",
    "batch_size",
    "epochs",
    "seed",
)
FINAL_METRICS = ("train_accuracy", "test_accuracy")


def config_for(model, **overrides):
    """Returns the `Config` of a preset in `MODELS` with some fields replaced."""
    return Config(model=model, **{**MODELS[model], **overrides})


def add_experiment_flags(parser):
    """Adds the flags that override `Config` fields; each defaults to the preset's value."""
    defaults = Config()
    add = parser.add_argument
    add("--epochs", type=cli.positive_int(), default=defaults.epochs, help="default: %(default)s")
    add("--batch-size", type=cli.positive_int(), default=defaults.batch_size, help="default: %(default)s")
    add("--learning-rate", type=cli.positive_float, default=defaults.learning_rate, help="default: %(default)s")
    add("--momentum", type=cli.fraction, default=defaults.momentum, help="SGD momentum (default: %(default)s)")
    add("--optimizer", choices=["sgd", "adam"], default=defaults.optimizer, help="default: %(default)s")
    add("--seed", type=cli.non_negative_int, default=defaults.seed, help="default: %(default)s")
    add("--depth", dest="num_hidden_layers", type=cli.positive_int(), help="hidden layers (default: the model's)")
    add(
        "--width", type=cli.positive_int(), default=defaults.width, help="units per hidden layer (default: %(default)s)"
    )
    add("--activation", help="hidden activation, e.g. tanh, relu (default: the model's)")
    add("--initializer", help="hidden kernel initializer, e.g. uniform_0_1, he_uniform (default: the model's)")
    add("--output-initializer", help="output kernel initializer (default: the model's)")
    data.add_data_flags(parser)
    add("--no-grad-logging", dest="grad_logging", action="store_false", help="train without gradient norms")
    add(
        "--no-diagnostics",
        dest="diagnostics",
        action="store_false",
        help="skip saturation, dead-unit, update-ratio and decision-boundary diagnostics",
    )
    add("--per-step", action="store_true", help="also log gradient norms at every optimizer step")
    add(
        "--histogram-freq",
        type=cli.non_negative_int,
        default=defaults.histogram_freq,
        help="gradient histograms every N epochs, 0 for none (default: %(default)s)",
    )
    add("--weight-logging", action="store_true", help="also log each layer's weight L1 norm and change per epoch")
    add("--log-dir", default="logs", help="TensorBoard logs and result JSON (default: %(default)s)")
    add("--figure-dir", default="figures", help="where figures go (default: %(default)s)")
    add("--run-name", help="name of the run directory (default: the model name, numbered if taken)")
    add("--overwrite", action="store_true", help="replace an existing run of the same name")


def configs_from_args(args, model_names):
    """Builds one validated `Config` per model name from parsed flags; exits 2 on bad values."""
    overrides = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(Config)
        if field.name != "model" and getattr(args, field.name, None) is not None
    }
    configs = [config_for(model, **overrides) for model in model_names]
    cli.start_tensorflow()  # Late: TensorFlow's import is slow and not needed for --help.
    from gradient_lab import models

    for config in configs:
        try:
            models.check_activation(config.activation)
            models.get_initializer(config.initializer)
            models.get_initializer(config.output_initializer)
        except ValueError as error:
            cli.fail(str(error))
    return configs


def new_run_dir(log_dir, name, overwrite=False):
    """Returns a fresh `log_dir/name`, numbering the name (`name-2`, ...) unless `overwrite`."""
    log_dir = Path(log_dir)
    run_dir = log_dir / name
    if overwrite and run_dir.exists():
        shutil.rmtree(run_dir)
    number = 1
    while run_dir.exists():
        number += 1
        run_dir = log_dir / f"{name}-{number}"
    run_dir.mkdir(parents=True)
    return run_dir


def train_and_evaluate(config, log_dir="logs", figure_dir="figures", run_name=None, overwrite=False):
    """Trains one model, writes its TensorBoard logs, result JSON and figures.

    Args:
        config: the run's `Config`.
        log_dir: parent of the run directory `log_dir/<run name>/`.
        figure_dir: where the run's figures go, named after the run directory; None for none.
        run_name: run directory name; defaults to the model name.
        overwrite: replace an existing run directory of that name instead of numbering.

    Returns:
        The result dict that was saved as `<run dir>/result.json`; its `status` is
        `completed`, `nan_loss` or `interrupted`.
    """
    cli.start_tensorflow()
    import keras

    from gradient_lab import diagnostics
    from gradient_lab import fast_training
    from gradient_lab import models

    run_dir = new_run_dir(log_dir, run_name or config.model, overwrite)
    history = keras.callbacks.History()  # Our own, so it exists even if Ctrl-C comes early.
    model, snapshots, init_diagnostics = None, None, None
    status, start = "completed", time.perf_counter()
    try:
        keras.utils.set_random_seed(config.seed)
        (x_train, y_train), (x_test, y_test) = data.load_circles(config.num_samples, config.noise, config.data_seed)
        model = models.build_mlp(
            config.num_hidden_layers,
            config.width,
            config.activation,
            config.initializer,
            config.output_initializer,
            seed=config.seed,
        )
        models.compile_mlp(model, config.learning_rate, config.momentum, config.optimizer)
        if config.diagnostics:
            init_diagnostics = diagnostics.backward_signal_at_init(model, x_train, y_train)
        callbacks, snapshots = _callbacks(config, run_dir, x_train, history)
        try:
            fast_training.fit_whole_epochs(
                model,
                x_train,
                y_train,
                epochs=config.epochs,
                batch_size=config.batch_size,
                validation_data=(x_test, y_test),
                callbacks=callbacks,
                seed=config.seed,
            )
        finally:
            for callback in callbacks:  # Flush what was logged, even after Ctrl-C.
                if hasattr(callback, "close"):
                    callback.close()
    except KeyboardInterrupt:
        status = "interrupted"
    wall_time = time.perf_counter() - start

    result = _result(config, run_dir, model, history, status, wall_time)
    if result["status"] == "completed":
        result["train_accuracy"] = _accuracy(model, x_train, y_train)
        result["test_accuracy"] = _accuracy(model, x_test, y_test)
        if snapshots is not None and config.epochs not in snapshots.snapshots:
            snapshots.take(config.epochs)
    if config.diagnostics:
        result["init_diagnostics"] = init_diagnostics
        result["verdict"] = diagnostics.verdict(result) if result["epochs_completed"] else []
    recording.save_result(run_dir, result)
    _write_hparams(config, run_dir, result)
    if result["epochs_completed"] and figure_dir is not None:
        _save_figures(config, result, snapshots, (x_test, y_test), Path(figure_dir) / run_dir.name)
    return result


def _callbacks(config, run_dir, x_train, history):
    """The run's callbacks, and the decision-boundary snapshots (or None)."""
    import keras

    from gradient_lab import diagnostics, fast_gradients, tensorboard_events

    callbacks, snapshots = [keras.callbacks.TerminateOnNaN()], None
    if config.grad_logging:
        steps_per_epoch = math.ceil(len(x_train) / config.batch_size)
        callbacks.append(
            fast_gradients.FastGradientNormLogger(
                run_dir,
                histogram_freq=config.histogram_freq,
                per_step=config.per_step,
                max_steps_per_epoch=steps_per_epoch,
            )
        )
    if config.diagnostics:
        snapshots = diagnostics.DecisionBoundarySnapshots(epochs=(1, 10, 100, config.epochs))
        callbacks += [diagnostics.LayerDiagnostics(x_train), snapshots]
    if config.weight_logging:
        callbacks.append(diagnostics.WeightNormLogger())
    # Last, so that they see every key the callbacks before them added to the logs.
    callbacks += [tensorboard_events.EpochMetricsLogger(run_dir), history]
    return callbacks, snapshots


def _result(config, run_dir, model, history, status, wall_time):
    """The result dict of a run, without the final accuracies."""
    import grad_logging

    history = {key: [float(value) for value in values] for key, values in history.history.items()}
    if history.get("loss") and not math.isfinite(history["loss"][-1]):
        status = "nan_loss"
    return {
        "run_name": run_dir.name,
        "status": status,
        "config": dataclasses.asdict(config),
        "seed": config.seed,
        "layer_keys": grad_logging.layer_keys(model) if config.grad_logging and model is not None else [],
        "epochs_completed": len(history.get("loss", [])),
        "wall_time_seconds": wall_time,
        "versions": recording.library_versions(),
        "history": history,
    }


def _write_hparams(config, run_dir, result):
    from gradient_lab import tensorboard_events

    hparams = {name: value for name, value in dataclasses.asdict(config).items() if name in HPARAMS}
    final_metrics = {name: result[name] for name in FINAL_METRICS if name in result}
    tensorboard_events.write_hparams(run_dir, hparams, final_metrics)


def _save_figures(config, result, snapshots, test_data, prefix):
    from gradient_lab import plots

    plots.save_learning_curves(result, f"{prefix}_learning_curves.png")
    if config.grad_logging:
        plots.save_gradient_norms(result, f"{prefix}_grad_norms.png")
        plots.save_gradient_heatmap(result, f"{prefix}_grad_heatmap.png")
    if config.diagnostics and snapshots is not None:
        plots.save_decision_boundaries(snapshots, *test_data, result, f"{prefix}_decision_boundary.png")
        plots.save_backward_signal(result, f"{prefix}_init_jacobians.png")


def _accuracy(model, x, y):
    """The fraction of points classified right (probability above 0.5 means class 1)."""
    import keras

    # One eager forward pass: `model.evaluate` would first trace a test function (~0.1 s).
    return float(keras.ops.mean(keras.metrics.binary_accuracy(y.reshape(-1, 1), model(x, training=False))))


def summary_line(result):
    """Returns e.g. `deep_relu     Train: 0.836, Test: 0.840  (3.1 s)` for a result dict."""
    name = result["config"]["model"]
    seconds = result["wall_time_seconds"]
    if result["status"] != "completed":
        return f"{name:<13s} {result['status']} after {result['epochs_completed']} epochs  ({seconds:.1f} s)"
    return f"{name:<13s} Train: {result['train_accuracy']:.3f}, Test: {result['test_accuracy']:.3f}  ({seconds:.1f} s)"


def run_models(args, model_names):
    """Runs each model with the flags in `args`, printing one line per model.

    Returns:
        The exit status: 0 when every run completed, 1 after a NaN loss, 130 on Ctrl-C.
    """
    if args.run_name is not None:
        if len(model_names) > 1:
            cli.fail("--run-name names one run; pick one model (or use --log-dir to keep runs apart)")
        if Path(args.run_name).name != args.run_name or args.run_name in ("", ".", ".."):
            cli.fail(f"--run-name must be a plain directory name, got {args.run_name!r}")
    configs = configs_from_args(args, model_names)
    cli.writable_dir(args.log_dir)
    cli.writable_dir(args.figure_dir)
    exit_status = 0
    for config in configs:
        result = train_and_evaluate(config, args.log_dir, args.figure_dir, args.run_name, args.overwrite)
        print(summary_line(result), flush=True)
        for sentence in result.get("verdict", []):
            print(f"  - {sentence}")
        if result["status"] == "interrupted":
            print(f"interrupted: partial result saved in {Path(args.log_dir) / result['run_name']}")
            return 130
        if result["status"] == "nan_loss":
            print(
                f"error: loss became NaN or Inf at epoch {result['epochs_completed']}; "
                f"logs up to then are in {Path(args.log_dir) / result['run_name']}"
            )
            exit_status = 1
    return exit_status
