"""The three reference models over many seeds: how often does each one learn?

One run per model proves little: a deep ReLU net can die and sit at 50%, a deep tanh
net occasionally learns. This script trains each model with seeds 0..N-1 (the data
stays the same) and reports per model the test accuracy's mean, std, 95% confidence
interval and median, the success rate (test accuracy >= 0.75), and the median ratio of
the first hidden layer's gradient norm to the output layer's, at epoch 1 and at the end.

Run:  python multiseed.py [--seeds 20] [--jobs 2] [--scheduler tcp://host:8786]
Writes: logs/multiseed/<model>/cell.json (every seed's result), results/multiseed.{csv,md},
        figures/multiseed.png. The 20 seeds of a model train at once, stacked; a finished model is
        skipped when run again.
"""

from gradient_lab import cli
from gradient_lab import experiment
from gradient_lab.sweeps import tables as seed_tables
from gradient_lab.sweeps import runner

MODELS = ("shallow_tanh", "deep_tanh", "deep_relu")


def main(argv=None):
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=cli.positive_int(), default=20, help="seeds per model (default: %(default)s)")
    runner.add_sweep_flags(parser, "logs/multiseed")
    args = parser.parse_args(argv)
    cells = [
        runner.Cell(model, experiment.config_for(model, epochs=args.epochs, histogram_freq=0), range(args.seeds))
        for model in MODELS
    ]
    runner.check_backend(args)
    runner.check_cells_fit(cells)  # Before anything is written: exit 2 if too big.
    runner.check_output_dirs(args)
    run_results = runner.run_sweep(cells, args.log_dir, args.jobs, args.scheduler, args.progress)

    seed_tables.report(run_results, lambda result: result["config"]["model"], "model", f"{args.table_dir}/multiseed")

    from gradient_lab.figures import many_seeds as many_seeds_figures

    print(f"wrote {many_seeds_figures.save_multiseed(run_results, f'{args.figure_dir}/multiseed.png')}")


if __name__ == "__main__":
    main()
