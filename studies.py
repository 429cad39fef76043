"""The follow-up studies the 2019 write-up left to the reader, each a named sweep with a figure and a table.

- depth:       1 to 30 hidden layers; tanh + U(0, 1), tanh + Glorot (Xavier), tanh + orthogonal
               (the control: Glorot's critical point without its finite-width drift), ReLU + He.
               Success rate per depth (a trainability map) and first-layer gradient
               norm against depth, at epoch 1 and at the end of training.
- width:       5, 10 and 25 units per layer across depth, tanh + U(0, 1) and ReLU + He; success
               rate against Hanin's beta = depth / width.
- tanh_width:  tanh + Glorot at widths 5, 10, 25 and 100 from 15 to 30 layers; success rate
               against the finite-width drift that theory.py predicts.
- optimizer:   Adam against SGD for the deep tanh and deep ReLU models.
- weights:     per-layer L1 norm of the weights per epoch and how far each layer moved
               from its initial weights, tanh against ReLU.
- activations: sigmoid, tanh, ReLU, leaky ReLU, ELU, SELU, GELU and swish, each with its
               conventional initializer, at depth 5 and 15.

The depth study's figure draws the theory's predictions beside the measurements, from
results/predictions.json (`python theory.py` computes it).

Run:  python studies.py depth [--seeds 20] [--jobs 2] [--scheduler tcp://host:8786]
Writes: logs/studies/<study>/<cell>/cell.json, results/<study>.{csv,md}, figures/study_<study>.png.
Each cell's seeds train at once, stacked; finished cells are skipped when a study is run again.
"""

import dataclasses
from dataclasses import dataclass

from gradient_lab import cli
from gradient_lab import experiment
from gradient_lab.sweeps import tables as seed_tables
from gradient_lab.sweeps import runner

# name -> (activation, hidden initializer, output initializer). The conventional pairings:
# Glorot for sigmoid and tanh, He for the ReLU family (GELU and swish included), LeCun
# normal for SELU (its self-normalising fixed point assumes it).
CONFIGURATIONS = {
    "tanh_uniform01": ("tanh", "uniform_0_1", "uniform_0_1"),
    "tanh_glorot": ("tanh", "glorot_uniform", "glorot_uniform"),
    # The control for tanh + Glorot: the same critical point of mean-field theory (gain 1, zero
    # biases), but an orthogonal layer keeps a vector's length exactly, so the finite-width
    # drift of the typical net's length is gone (Saxe et al. 2014).
    "tanh_orthogonal": ("tanh", "orthogonal", "orthogonal"),
    "relu_he": ("relu", "he_uniform", "glorot_uniform"),
    "sigmoid_glorot": ("sigmoid", "glorot_uniform", "glorot_uniform"),
    "leaky_relu_he": ("leaky_relu", "he_uniform", "glorot_uniform"),
    "elu_he": ("elu", "he_uniform", "glorot_uniform"),
    "selu_lecun": ("selu", "lecun_normal", "lecun_normal"),
    "gelu_he": ("gelu", "he_uniform", "glorot_uniform"),
    "swish_he": ("swish", "he_uniform", "glorot_uniform"),
}


def cell_config(configuration, depth, seed, epochs, **overrides):
    """Returns the `Config` of one grid cell."""
    activation, initializer, output_initializer = CONFIGURATIONS[configuration]
    return experiment.Config(
        model=configuration,
        num_hidden_layers=depth,
        activation=activation,
        initializer=initializer,
        output_initializer=output_initializer,
        seed=seed,
        epochs=epochs,
        histogram_freq=0,
        **overrides,
    )


@dataclass
class Study:
    """A named grid: the axes it varies and the figure that answers its question."""

    name: str
    configurations: tuple
    depths: tuple
    default_seeds: int
    extra: dict = None  # Extra axes, name -> {label: Config overrides}.

    def cells(self, seeds, epochs):
        """Returns the study's grid as `runner.Cell`s, each one configuration's `seeds` seeds."""
        variants = [(label, overrides) for axis in (self.extra or {}).values() for label, overrides in axis.items()]
        variants = variants or [("", {})]
        return [
            runner.Cell(
                f"{configuration}{'-' + label if label else ''}-depth{depth}",
                cell_config(configuration, depth, 0, epochs, **overrides),
                range(seeds),
            )
            for configuration in self.configurations
            for depth in self.depths
            for label, overrides in variants
        ]


SEEDS = 20  # Per cell, by default: at 5 seeds a success rate's 95% interval spans about 60 points.
STUDIES = {
    # He et al. (2015) report that a 30-layer ReLU net trains with He initialisation.
    "depth": Study(
        "depth",
        ("tanh_uniform01", "tanh_glorot", "tanh_orthogonal", "relu_he"),
        (1, 2, 3, 5, 7, 10, 15, 20, 25, 30),
        SEEDS,
    ),
    "width": Study(
        "width",
        ("tanh_uniform01", "relu_he"),
        (1, 3, 5, 10, 15, 20),
        SEEDS,
        # Width 10 overlaps width 5 in beta = depth / width (Hanin 2018) where width 5 starts to fail.
        {"width": {"width5": {"width": 5}, "width10": {"width": 10}, "width25": {"width": 25}}},
    ),
    # Does width rescue tanh + Glorot where width 5 fails? Widths 5 to 100 from 15 to 30 layers.
    "tanh_width": Study(
        "tanh_width",
        ("tanh_glorot",),
        (15, 20, 25, 30),
        SEEDS,
        {"width": {f"width{width}": {"width": width} for width in (100, 25, 10, 5)}},
    ),
    "optimizer": Study(
        "optimizer",
        ("tanh_uniform01", "relu_he"),
        (5,),
        SEEDS,
        {
            "optimizer": {
                "sgd": {"optimizer": "sgd", "learning_rate": 0.01},
                "adam": {"optimizer": "adam", "learning_rate": 0.001},
            }
        },
    ),
    "weights": Study(
        "weights", ("tanh_uniform01", "relu_he"), (5,), SEEDS, {"weights": {"": {"weight_logging": True}}}
    ),
    "activations": Study(
        "activations",
        ("sigmoid_glorot", "tanh_glorot", "relu_he", "leaky_relu_he", "elu_he", "selu_lecun", "gelu_he", "swish_he"),
        (5, 15),
        SEEDS,
    ),
}


def group_label(result):
    """`configuration[-variant]-depthN` of a run, its name without the seed."""
    return result["run_name"].rsplit("-seed", 1)[0]


def read_theory(path):
    """`predictions.load_theory(path)`; None if there is no such file, one error line and exit 2 if unreadable."""
    from gradient_lab.theory import predictions

    try:
        return predictions.load_theory(path)
    except (OSError, ValueError) as error:  # ValueError: not JSON.
        cli.fail(f"--theory {path}: cannot read it ({error})")


def main(argv=None):
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", help=f"one of: {', '.join(STUDIES)}")
    parser.add_argument("--seeds", type=cli.positive_int(), help="seeds per grid cell (default: the study's)")
    parser.add_argument("--depths", type=cli.positive_int(), nargs="+", help="override the study's depths")
    runner.add_sweep_flags(parser, "logs/studies")
    parser.add_argument(
        "--theory", default="results/predictions.json", help="theory.py's results (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.study not in STUDIES:
        cli.fail(f"unknown study {args.study!r}; choose from {', '.join(STUDIES)}")
    study = STUDIES[args.study]
    if args.depths:
        study = dataclasses.replace(study, depths=tuple(args.depths))
    cells = study.cells(args.seeds or study.default_seeds, args.epochs)
    log_dir = f"{args.log_dir}/{study.name}"
    runner.check_backend(args)
    runner.check_cells_fit(cells)  # Before anything is written: exit 2 if too big.
    runner.check_output_dirs(args)
    predictions = read_theory(args.theory)  # What `python theory.py` computed, drawn beside the measurements.
    run_results = runner.run_sweep(cells, log_dir, args.jobs, args.scheduler, args.progress)

    seed_tables.report(run_results, group_label, "cell", f"{args.table_dir}/{study.name}")

    from gradient_lab.figures import many_seeds as many_seeds_figures

    if predictions is None and study.name == "depth":
        print(f"no {args.theory}: run `python theory.py` to draw the theory's curves beside the measurements")
    path = many_seeds_figures.save_study(
        study.name, run_results, f"{args.figure_dir}/study_{study.name}.png", predictions
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
