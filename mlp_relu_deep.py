"""Deep ReLU MLP with He initialisation on two circles: the fix for vanishing gradients.

Same depth as the deep tanh net (five hidden layers of five units), but a ReLU unit passes
the gradient back unchanged where it is active, and He initialisation keeps the signal's
scale from layer to layer, so every layer learns: about 0.84 test accuracy.

Run:    python mlp_relu_deep.py
        python mlp_relu_deep.py --backend jax   (or torch, or KERAS_BACKEND=jax)
Writes: logs/deep_relu/ (TensorBoard events, result.json) and figures/deep_relu_*.png
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
DEPTH = 5  # Hidden layers.
WIDTH = 5  # Units per hidden layer.
ACTIVATION = "relu"
INITIALIZER = "he_uniform"  # U(-sqrt(6 / fan_in), sqrt(6 / fan_in)): keeps the ReLU signal's variance.
OUTPUT_INITIALIZER = "glorot_uniform"  # The Keras default, as in the reference.
LEARNING_RATE, MOMENTUM = 0.01, 0.9  # SGD.
EPOCHS, BATCH_SIZE = 500, 32
SEED = 0  # Seeds the weights and the shuffling; the data has its own --data-seed.


def kernel_initializer(name, seed):
    """The Keras initializer of a layer's kernel, with its own seed: He or Glorot uniform, or one a flag names."""
    if name == "he_uniform":
        return keras.initializers.HeUniform(seed=seed)
    if name == "glorot_uniform":
        return keras.initializers.GlorotUniform(seed=seed)
    return get_initializer(name, seed)  # Any Keras initializer by name: he_normal, orthogonal, ...


def parse_flags(argv):
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=cli.positive_int(), default=DEPTH, help="hidden layers (default: %(default)s)")
    parser.add_argument("--width", type=cli.positive_int(), default=WIDTH, help="default: %(default)s")
    parser.add_argument("--activation", default=ACTIVATION, help="hidden layers' activation (default: %(default)s)")
    parser.add_argument("--initializer", default=INITIALIZER, help="hidden kernels' initializer (default: %(default)s)")
    parser.add_argument("--output-initializer", default=OUTPUT_INITIALIZER, help="default: %(default)s")
    experiment.add_training_flags(parser, LEARNING_RATE, MOMENTUM, EPOCHS, BATCH_SIZE, SEED)
    experiment.add_run_flags(parser)  # Data, diagnostics, outputs, --plain-fit.
    return parser.parse_args(argv)


def train(args):
    """Trains and records the deep ReLU MLP; returns its `Run`."""
    config = experiment.config_from_flags(args, "deep_relu", num_hidden_layers=args.depth)
    run = Run(config, args.log_dir, args.run_name, args.overwrite, num_seeds=args.seeds)  # logs/deep_relu/
    with run.recorded():  # Saves result.json at the end, also after Ctrl-C.
        keras.utils.set_random_seed(args.seed)

        # 2. The data: two noisy concentric circles, 500 points to train on and 500 to test.
        (x_train, y_train), (x_test, y_test) = data.load_circles(args.num_samples, args.noise, args.data_seed)

        # 3. The model: `depth` Dense ReLU layers of 5 units with He initialisation, then one
        #    sigmoid unit. Every initializer gets its own seed, so the weights depend on --seed alone.
        model = keras.Sequential([keras.Input(shape=(2,))], name="deep_relu")
        for i in range(1, args.depth + 1):
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
                kernel_initializer=kernel_initializer(args.output_initializer, seed=args.seed * 1000),
            )
        )

        # 4. Compile: SGD with momentum on the binary cross-entropy.
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=args.learning_rate, momentum=args.momentum),
            loss="binary_crossentropy",
            metrics=["accuracy"],
        )

        # 5. Fit, logging each layer's gradient norm every epoch (see mlp_tanh.py for the callbacks).
        callbacks = [
            gradient_norm_logger(run.dir, histogram_freq=args.histogram_freq, per_step=args.per_step),
            *run.diagnostics(model, x_train, y_train),  # Dead units, ... (--no-diagnostics: none).
            EpochMetricsLogger(run.dir),  # Loss, accuracy and the diagnostics to TensorBoard.
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
    experiment.check_flags(args, [args.depth])  # One error line and exit status 2 on a bad name, size or path.
    return train(args).report()


if __name__ == "__main__":
    raise SystemExit(main())
