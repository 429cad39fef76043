"""Run the whole experiment: shallow tanh, deep tanh and deep ReLU, then the comparison figure.

Run:  python run_all.py [--seed 0] [--epochs 500] [--log-dir logs] [--figure-dir figures]
Each model gets its own run directory under logs/, so `tensorboard --logdir logs`
shows all three side by side; figures/comparison.png puts them on shared axes.
"""

from gradient_lab import cli
import compare
from gradient_lab import experiment


def main(argv=None):
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    experiment.add_experiment_flags(parser)
    args = parser.parse_args(argv)
    if args.run_name:
        cli.fail("--run-name names one run; run_all.py trains three (use --log-dir to keep them apart)")
    status = experiment.run_models(args, ["shallow_tanh", "deep_tanh", "deep_relu"])
    if status == 130:
        return status
    compare.main(["--log-dir", args.log_dir, "--figure-dir", args.figure_dir])
    return status


if __name__ == "__main__":
    raise SystemExit(main())
