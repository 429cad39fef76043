"""The three reference models over many seeds: how often does each one learn?

One run per model proves little: a deep ReLU net can die and sit at 50%, a deep tanh
net occasionally learns. This script trains each model with seeds 0..N-1 (the data
stays the same) and reports per model the test accuracy's mean, std, 95% confidence
interval and median, the success rate (test accuracy >= 0.75), and the median ratio of
the first hidden layer's gradient norm to the output layer's, at epoch 1 and at the end.

Run:  python multiseed.py [--seeds 20] [--jobs 2] [--scheduler tcp://host:8786]
Writes: logs/multiseed/<model>-seed<k>/ per run, results/multiseed.{csv,md},
        figures/multiseed.png. Finished runs are skipped when run again.
"""

import cli
import experiment
import summaries
import sweep

MODELS = ("shallow_tanh", "deep_tanh", "deep_relu")


def add_sweep_flags(parser, log_dir):
    """Adds the flags every sweep script shares."""
    parser.add_argument("--jobs", type=cli.positive_int(), default=2,
                        help="local worker processes (default: %(default)s)")
    parser.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://127.0.0.1:8786 (default: run locally)")
    parser.add_argument("--epochs", type=cli.positive_int(), default=500, help="default: %(default)s")
    parser.add_argument("--log-dir", default=log_dir, help="default: %(default)s")
    parser.add_argument("--figure-dir", default="figures", help="default: %(default)s")
    parser.add_argument("--table-dir", default="results", help="CSV and Markdown tables (default: %(default)s)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")


def check_output_dirs(args):
    """Checks every output directory is writable before any run starts (exit 2 if not)."""
    for directory in (args.log_dir, args.figure_dir, args.table_dir):
        cli.writable_dir(directory)


def main(argv=None):
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=cli.positive_int(), default=20, help="seeds per model (default: %(default)s)")
    add_sweep_flags(parser, "logs/multiseed")
    args = parser.parse_args(argv)
    check_output_dirs(args)

    runs = [sweep.Run(f"{model}-seed{seed}", experiment.config_for(model, seed=seed, epochs=args.epochs,
                                                                  histogram_freq=0))
            for model in MODELS for seed in range(args.seeds)]
    run_results = sweep.run_sweep(runs, args.log_dir, args.jobs, args.scheduler, args.progress)

    table = summaries.summary_table(run_results, lambda result: result["config"]["model"])
    table = table.rename(columns={"group": "model"})
    print(table.to_string(index=False, float_format=lambda value: f"{value:.3f}"))
    for path in summaries.save_table(table, f"{args.table_dir}/multiseed"):
        print(f"wrote {path}")

    import plots

    print(f"wrote {plots.save_multiseed(run_results, f'{args.figure_dir}/multiseed.png')}")


if __name__ == "__main__":
    main()
