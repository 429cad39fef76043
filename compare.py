"""Compare saved runs: the three models side by side on shared axes.

Reads every `logs/*/result.json`, takes the latest completed run of each model, and
draws `figures/comparison.png`: the mean gradient norm of every layer per epoch (top)
and test accuracy per epoch (bottom). It trains nothing, so it can be run at any time
on earlier runs; `python run_all.py` trains the three models first, then calls it.

Run:  python compare.py [--log-dir logs] [--figure-dir figures]
"""

from gradient_lab import cli
from gradient_lab.records.result import latest_per_model, load_results


def main(argv=None):
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-dir", default="logs", help="where the runs are (default: %(default)s)")
    parser.add_argument("--figure-dir", default="figures", help="where comparison.png goes (default: %(default)s)")
    args = parser.parse_args(argv)
    latest = latest_per_model(load_results(args.log_dir))
    if not latest:
        cli.fail(f"no completed runs under {args.log_dir!r}; run `python run_all.py` first")
    figure_dir = cli.writable_dir(args.figure_dir)

    # Imported after the checks: matplotlib is slow to import.
    from gradient_lab.figures import training as training_figures

    for name, result in latest.items():
        accuracy = f"Train: {result['train_accuracy']:.3f}, Test: {result['test_accuracy']:.3f}"
        print(f"{name:<13s} {accuracy}  (run {result['run_name']}, seed {result['seed']})")
    print(f"wrote {training_figures.save_comparison(latest, figure_dir / 'comparison.png')}")


if __name__ == "__main__":
    main()
