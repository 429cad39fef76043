"""The experiment's config, the three reference models, the flags they share, and one run end to end.

`mlp_tanh.py` and `mlp_relu_deep.py` tell the run in plain Keras. The sweeps (`multiseed.py`,
`studies.py`) and the benchmark run the same experiment from a `Config` through
`train_and_evaluate`; a test checks that both give the same numbers.
"""

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import data
from gradient_lab import backends, cli

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
    num_hidden_layers: int = 5  # The depth (the scripts' --depth).
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
    plain_fit: bool = False  # Plain `model.fit` instead of one TensorFlow call per epoch.


def config_for(model, **overrides):
    """Returns the `Config` of a preset in `MODELS` with some fields replaced."""
    return Config(model=model, **{**MODELS[model], **overrides})


# Twenty times the reference 500. Every epoch's numbers of every seed are kept in memory and in
# result.json, and a model trains about 150 epochs a second here.
MAX_EPOCHS = 10_000
epochs_flag = cli.positive_int(
    maximum=MAX_EPOCHS,
    why=" (20 times the reference 500: every epoch's numbers are kept, and 10000 take over a minute a model)",
)


def add_training_flags(parser, learning_rate, momentum, epochs, batch_size, seed):
    """Adds the flags of the training config, with these defaults."""
    add = parser.add_argument
    add("--learning-rate", type=cli.positive_float(), default=learning_rate, help="default: %(default)s")
    add("--momentum", type=cli.fraction(), default=momentum, help="SGD momentum (default: %(default)s)")
    add("--epochs", type=epochs_flag, default=epochs, help=f"at most {MAX_EPOCHS} (default: %(default)s)")
    add("--batch-size", type=cli.positive_int(), default=batch_size, help="default: %(default)s")
    add("--seed", type=cli.non_negative_int(), default=seed, help="weights and shuffling (default: %(default)s)")


def add_run_flags(parser):
    """Adds the flags every training script shares beyond the model: data, logging, outputs, --plain-fit."""
    defaults = Config()
    add = parser.add_argument
    data.add_data_flags(parser)
    backends.add_flag(parser)
    add(
        "--seeds",
        type=cli.positive_int(),
        default=20,
        help="seeds 0..N-1 trained at once beside seed 0's run, for the distribution (default: %(default)s)",
    )
    add("--seed-logs", action="store_true", help="also write every seed's numbers to TensorBoard")
    add(
        "--no-diagnostics",
        dest="diagnostics",
        action="store_false",
        help="skip saturation, dead-unit, update-ratio and decision-boundary diagnostics",
    )
    add("--per-step", action="store_true", help="also log gradient norms at every optimizer step")
    add(
        "--histogram-freq",
        type=cli.non_negative_int(),
        default=defaults.histogram_freq,
        help="gradient histograms every N epochs, 0 for none (default: %(default)s)",
    )
    add("--weight-logging", action="store_true", help="also log each layer's weight L1 norm and change per epoch")
    add(
        "--plain-fit",
        action="store_true",
        help="train with plain model.fit, one call per batch (slower on TensorFlow and PyTorch; compare the two)",
    )
    add("--log-dir", default="logs", help="TensorBoard logs and result JSON (default: %(default)s)")
    add("--figure-dir", default="figures", help="where figures go (default: %(default)s)")
    add("--run-name", help="name of the run directory (default: the model name, numbered if taken)")
    add("--overwrite", action="store_true", help="replace an existing run of the same name")


def config_from_flags(args, model, **fields):
    """Returns the `Config` of one run: `fields`, then every flag in `args` that names a `Config` field."""
    from_flags = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(Config)
        if field.name != "model" and getattr(args, field.name, None) is not None
    }
    return Config(model=model, **{**from_flags, **fields})


MAX_HIDDEN_LAYERS = 200  # Building and tracing takes about 0.1 s a layer alone and up to 0.8 s stacked, here.


def estimated_bytes(num_hidden_layers, width, seeds, num_samples, batch_size, num_inputs=2):
    """Returns about how many bytes training `seeds` stacked seeds of this MLP takes at its peak.

    It counts float32 numbers: per seed, the weights with their gradients, optimizer slots and
    initial copy (5 copies), one ring row of gradients per step of an epoch, and every layer's
    activations on the training and test points, forward and backward (4 copies).
    """
    fans = [num_inputs] + [width] * num_hidden_layers + [1]
    weights = sum(fan_in * fan_out + fan_out for fan_in, fan_out in zip(fans, fans[1:]))
    steps = -(-(num_samples // 2) // batch_size)
    activations = num_samples * sum(fans[1:])
    return 4 * seeds * (weights * (5 + steps) + 4 * activations)


def check_size(num_hidden_layers, width, seeds, num_samples, batch_size):
    """Exits with status 2 and one line if the run would not fit the machine's memory or take too long to build."""
    if num_hidden_layers > MAX_HIDDEN_LAYERS:
        cli.fail(
            f"{num_hidden_layers} hidden layers is more than this lab builds: at most {MAX_HIDDEN_LAYERS} "
            f"(each takes up to 0.8 s to build and trace)"
        )
    needed = estimated_bytes(num_hidden_layers, width, seeds, num_samples, batch_size)
    available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if needed > available / 2:
        cli.fail(
            f"{seeds} seeds of {num_hidden_layers} layers x {width} units would need about "
            f"{needed / 2**30:.1f} GiB, more than half of this machine's {available / 2**30:.1f} GiB; "
            f"use fewer seeds or a smaller net"
        )


def check_flags(args, depths):
    """Exits with status 2 and one line unless the run name, the layers' names, the size and the outputs work.

    Args:
        args: the parsed flags.
        depths: the hidden layers of each model the script will train.
    """
    if args.run_name is not None:
        if len(depths) > 1:
            cli.fail("--run-name names one run; pick one model (or use --log-dir to keep runs apart)")
        if Path(args.run_name).name != args.run_name or args.run_name in ("", ".", ".."):
            cli.fail(f"--run-name must be a plain directory name, got {args.run_name!r}")
    backends.start()  # Late: Keras's import is slow and not needed for --help.
    from gradient_lab import models
    from gradient_lab import keras_internals

    try:
        models.check_activation(args.activation)
        for initializer in (args.initializer, getattr(args, "output_initializer", args.initializer)):
            models.get_initializer(initializer)
    except ValueError as error:
        cli.fail(str(error))
    if not args.plain_fit and backends.current() != "jax":  # The fast paths of TensorFlow and PyTorch.
        try:
            keras_internals.check()
        except keras_internals.MissingKerasHook as error:
            cli.fail(str(error))
    check_size(max(depths), args.width, args.seeds, args.num_samples, args.batch_size)
    cli.writable_dirs(args.log_dir, args.figure_dir)
    cli.stop_on_signals()  # From here on, SIGTERM stops a run as Ctrl-C does: the epochs so far are saved.


def compiled_model(config):
    """Returns the compiled MLP of `config`, its weights seeded by `config.seed` alone (as the scripts build it)."""
    from gradient_lab import models

    model = models.build_mlp(
        config.num_hidden_layers,
        config.width,
        config.activation,
        config.initializer,
        config.output_initializer,
        seed=config.seed,
    )
    return models.compile_mlp(model, config.learning_rate, config.momentum, config.optimizer)


def train_and_evaluate(config, log_dir="logs", figure_dir="figures", run_name=None, overwrite=False):
    """Trains one model from its `Config`, as the scripts do, and writes its logs, result JSON and figures.

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
    backends.start(argv=[])  # KERAS_BACKEND, or TensorFlow.
    import keras

    from gradient_lab.speed import gradient_norm_logger
    from gradient_lab.records.run import Run
    from gradient_lab.records.epoch_metrics import EpochMetricsLogger

    run = Run(config, log_dir, run_name, overwrite)
    with run.recorded():
        keras.utils.set_random_seed(config.seed)
        (x_train, y_train), test_data = data.load_circles(config.num_samples, config.noise, config.data_seed)
        model = compiled_model(config)
        callbacks = []
        if config.grad_logging:
            callbacks.append(
                gradient_norm_logger(run.dir, histogram_freq=config.histogram_freq, per_step=config.per_step)
            )
        callbacks += run.diagnostics(model, x_train, y_train)
        callbacks.append(EpochMetricsLogger(run.dir))  # Last: it logs what the others added.
        run.fit(
            model,
            x_train,
            y_train,
            epochs=config.epochs,
            batch_size=config.batch_size,
            validation_data=test_data,
            callbacks=callbacks,
        )
    run.save_figures(figure_dir)
    return run.result
