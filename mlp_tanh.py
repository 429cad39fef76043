"""Shallow and deep tanh MLPs on two circles: the deep one's gradients vanish.

Both models draw every kernel from U(0, 1) (biases start at zero). With one hidden layer the
network learns the circles (about 0.82 test accuracy). With five, the middle layers receive
gradients tens of times smaller than the output layer's (1/24 at epoch 1 for seed 0), and the
network stays near chance (about 0.55).

Run:    python mlp_tanh.py               (both models; --model shallow or --model deep for one)
        python mlp_tanh.py --backend jax   (or torch, or KERAS_BACKEND=jax)
Writes: logs/<model>/ (TensorBoard events, result.json) and figures/<model>_*.png
Then:   tensorboard --logdir logs
"""

from gradient_lab import backends, cli

# Keras on TensorFlow, JAX or PyTorch (--backend or KERAS_BACKEND), chosen before Keras is
# imported. TensorFlow starts quiet, one thread per op (faster for these tiny nets) and two ops
# at a time: seed 0 trains beside the other seeds (step 6).
backends.start(ops_at_a_time=2)

import keras
from keras import layers

import data
from gradient_lab import experiment
from gradient_lab.speed import gradient_norm_logger
from gradient_lab.models import get_initializer
from gradient_lab.records.run import Run
from gradient_lab.records.epoch_metrics import EpochMetricsLogger

# 1. The config: the reference experiment's values. Each one is a flag (see --help). Change them
#    here or with flags, not in the code below: the run's records are made from them.
DEPTHS = {"shallow": 1, "deep": 5}  # Hidden layers of each model.
WIDTH = 5  # Units per hidden layer.
ACTIVATION = "tanh"
INITIALIZER = "uniform_0_1"  # RandomUniform(0, 1) for every kernel: all weights positive.
LEARNING_RATE, MOMENTUM = 0.01, 0.9  # SGD.
EPOCHS, BATCH_SIZE = 500, 32
SEED = 0  # Seeds the weights and the shuffling; the data has its own --data-seed.


def kernel_initializer(name, seed):
    """The Keras initializer of a layer's kernel, with its own seed: U(0, 1), unless --initializer names another."""
    if name == "uniform_0_1":
        return keras.initializers.RandomUniform(minval=0.0, maxval=1.0, seed=seed)
    return get_initializer(name, seed)  # Any Keras initializer by name: glorot_uniform, orthogonal, ...


def parse_flags(argv):
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["shallow", "deep", "both"], default="both", help="default: %(default)s")
    parser.add_argument("--depth", type=cli.positive_int(), help=f"hidden layers (default: {DEPTHS})")
    parser.add_argument("--width", type=cli.positive_int(), default=WIDTH, help="default: %(default)s")
    parser.add_argument("--activation", default=ACTIVATION, help="hidden layers' activation (default: %(default)s)")
    parser.add_argument("--initializer", default=INITIALIZER, help="every kernel's initializer (default: %(default)s)")
    experiment.add_training_flags(parser, LEARNING_RATE, MOMENTUM, EPOCHS, BATCH_SIZE, SEED)
    experiment.add_run_flags(parser)  # Data, diagnostics, outputs, --plain-fit.
    return parser.parse_args(argv)


def train(name, depth, args):
    """Trains and records one tanh MLP with `depth` hidden layers; returns its `Run`."""
    config = experiment.config_from_flags(args, name, num_hidden_layers=depth, output_initializer=args.initializer)
    run = Run(config, args.log_dir, args.run_name, args.overwrite, num_seeds=args.seeds)  # logs/<name>/
    with run.recorded():  # Saves result.json at the end, also after Ctrl-C.
        keras.utils.set_random_seed(args.seed)

        # 2. The data: two noisy concentric circles, 500 points to train on and 500 to test.
        (x_train, y_train), (x_test, y_test) = data.load_circles(args.num_samples, args.noise, args.data_seed)

        # 3. The model: `depth` Dense tanh layers of 5 units, then one sigmoid unit, every kernel
        #    drawn from U(0, 1) (`kernel_initializer`, above). Every initializer gets its own seed,
        #    so the weights depend on --seed alone.
        model = keras.Sequential([keras.Input(shape=(2,))], name=name)
        for i in range(1, depth + 1):
            model.add(
                layers.Dense(
                    args.width,
                    activation=args.activation,
                    name=f"hidden_{i}",
                    kernel_initializer=kernel_initializer(args.initializer, seed=args.seed * 1000 + i),
                )
            )
        model.add(
            layers.Dense(
                1,
                activation="sigmoid",
                name="output",
                kernel_initializer=kernel_initializer(args.initializer, seed=args.seed * 1000),
            )
        )

        # 4. Compile: SGD with momentum on the binary cross-entropy.
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=args.learning_rate, momentum=args.momentum),
            loss="binary_crossentropy",
            metrics=["accuracy"],
        )

        # 5. Fit, logging each layer's gradient norm every epoch: grad_logging.GradientNormLogger
        #    (the plain version, to read and copy), or on TensorFlow a faster one with its numbers.
        callbacks = [
            gradient_norm_logger(run.dir, histogram_freq=args.histogram_freq, per_step=args.per_step),
            *run.diagnostics(model, x_train, y_train),  # Saturation, dead units, ... (--no-diagnostics: none).
            EpochMetricsLogger(run.dir),  # Loss, accuracy and the diagnostics to TensorBoard, as keras's TensorBoard.
        ]
        # As model.fit(x_train, y_train, batch_size, epochs, validation_data, callbacks), with each epoch
        # in one call on TensorFlow and PyTorch (tf_speed/, torch_speed.py); --plain-fit calls model.fit.
        run.fit(
            model,
            x_train,
            y_train,
            epochs=args.epochs,
            batch_size=args.batch_size,
            validation_data=(x_test, y_test),
            callbacks=callbacks,
        )

    # 6. Seed 0 is one draw of many: seeds 0 .. N-1 of the same model train at once, as one
    #    stacked computation (gradient_lab/tf_speed/stacked/ on TensorFlow, portable_stacked.py on
    #    JAX and PyTorch), for the distribution beside it.
    #    run.fit started them, in a second thread on the second core, so this mostly waits for them.
    run.train_seeds(args.seed_logs)

    # 7. The figures: learning curves, gradient norm per layer (the other seeds faint behind
    #    seed 0), and the diagnostics'.
    run.save_figures(args.figure_dir)
    return run


def main(argv=None):
    args = parse_flags(argv)
    kinds = ["shallow", "deep"] if args.model == "both" else [args.model]
    depths = {kind: args.depth or DEPTHS[kind] for kind in kinds}
    experiment.check_flags(args, list(depths.values()))  # One error line and exit 2 on a bad name, size or path.
    exit_status = 0
    for kind, depth in depths.items():
        exit_status = max(exit_status, train(f"{kind}_tanh", depth, args).report())
        if exit_status in (Run.INTERRUPTED, Run.TERMINATED):
            break
    return exit_status


if __name__ == "__main__":
    raise SystemExit(main())
