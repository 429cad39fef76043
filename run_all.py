"""Run the whole experiment: shallow tanh, deep tanh and deep ReLU, then the comparison figure.

Run:  python run_all.py [--seed 0] [--epochs 500] [--log-dir logs] [--figure-dir figures] [--plain-fit]
Each model gets its own run directory under logs/, so `tensorboard --logdir logs` shows
all three side by side; figures/comparison.png puts them on shared axes. Every flag is
passed on to mlp_tanh.py and mlp_relu_deep.py.
"""

import compare
import mlp_relu_deep
import mlp_tanh
from gradient_lab import cli, experiment
from gradient_lab.records.run import Run


def main(argv=None):
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    experiment.add_training_flags(
        parser, mlp_tanh.LEARNING_RATE, mlp_tanh.MOMENTUM, mlp_tanh.EPOCHS, mlp_tanh.BATCH_SIZE, mlp_tanh.SEED
    )
    experiment.add_run_flags(parser)
    args = parser.parse_args(argv)
    if args.run_name:
        cli.fail("--run-name names one run; run_all.py trains three (use --log-dir to keep them apart)")
    status = mlp_tanh.main(argv)
    if status in (Run.INTERRUPTED, Run.TERMINATED):
        return status
    status = max(status, mlp_relu_deep.main(argv))
    if status in (Run.INTERRUPTED, Run.TERMINATED):
        return status
    compare.main(["--log-dir", args.log_dir, "--figure-dir", args.figure_dir])
    return status


if __name__ == "__main__":
    raise SystemExit(main())
