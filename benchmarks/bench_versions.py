"""Benchmark: the training as the scripts run it, in an earlier revision of this repo against the working tree.

For each model (shallow_tanh, deep_tanh, deep_relu), it times `experiment.train_and_evaluate`
(gradient norms and histograms, diagnostics, TensorBoard events and the result JSON; figures
off) of the revision `--base` ("old") and of the working tree ("new"), in one process, from
model build to result, tracing included. The two alternate, old new / new old, round by
round, so that the drift of a shared machine's speed favours neither, and each round's
ratio new / old compares two runs made back to back.

Both versions load into one process although their module names clash (both have a
top-level `data` and `grad_logging`; the old one also a top-level `experiment`, `cli`, ...):
`git archive REV` is unpacked into a temporary directory as the package `old_version`, and
its imports of its own modules are rewritten to import from that package
(`import experiment` -> `from old_version import experiment`). The new version is imported
from the repo root as usual.

Before timing, it trains each model once in each version with seed 0 and checks that the
two give the same final test accuracy and loss history (the refactor kept the numbers);
it stops with an error if they differ.

It prints, per model, the median seconds of each version and the median over rounds of
the ratio new / old, with a bootstrap 95% confidence interval, and ends with
`new vs old: +X.X% (worst model), 95% CI a% to b%`.

Run:  python benchmarks/bench_versions.py --base a97df6b --rounds 10 --model all
"""

import ast
import importlib
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_training import paired_overhead, time_interleaved  # noqa: E402
from gradient_lab import cli  # noqa: E402
from gradient_lab.tf_speed import runtime  # noqa: E402
from gradient_lab import experiment  # noqa: E402

OLD, NEW = "old", "new"
OLD_PACKAGE = "old_version"


def local_module_names(tree):
    """The names a module of `tree` imports its siblings by: top-level `.py` files and packages."""
    modules = {path.stem for path in tree.glob("*.py")}
    return modules | {path.parent.name for path in tree.glob("*/__init__.py")}


def rewrite_imports(source, package, local_names):
    """Returns `source` with its imports of `local_names` made imports from `package`; nothing else changes.

    `import a` becomes `from package import a`, `import a as b` becomes
    `from package import a as b` and `from a.x import y` becomes `from package.a.x import y`.
    The statements are found with `ast`, so text in strings and comments stays as it is.
    """
    lines = source.split("\n")  # Not splitlines(): a form feed would shift ast's line numbers.
    nodes = [node for node in ast.walk(ast.parse(source)) if isinstance(node, (ast.Import, ast.ImportFrom))]
    for node in sorted(nodes, key=lambda node: (node.lineno, node.col_offset), reverse=True):
        statement = _rewritten_import(node, package, local_names)
        if statement is not None:
            start, end = node.lineno - 1, node.end_lineno - 1
            # ast's column offsets count UTF-8 bytes.
            head, tail = lines[start].encode()[: node.col_offset], lines[end].encode()[node.end_col_offset :]
            lines[start : end + 1] = [head.decode() + statement + tail.decode()]
    return "\n".join(lines)


def _rewritten_import(node, package, local_names):
    """The statement that replaces one import node, or None to keep it."""
    if isinstance(node, ast.ImportFrom):
        if node.level or node.module.split(".")[0] not in local_names:
            return None
        names = ", ".join(_alias(name) for name in node.names)
        return f"from {package}.{node.module} import {names}"
    if not any(name.name.split(".")[0] in local_names for name in node.names):
        return None
    statements = []
    for name in node.names:
        if name.name.split(".")[0] not in local_names:
            statements.append(f"import {_alias(name)}")
        elif "." in name.name and name.asname is None:
            raise ValueError(f"cannot rewrite `import {name.name}` (line {node.lineno}) to bind {name.name!r}")
        else:
            parent, _, module = f"{package}.{name.name}".rpartition(".")
            statements.append(f"from {parent} import {module}" + (f" as {name.asname}" if name.asname else ""))
    return "; ".join(statements)


def _alias(name):
    """`name` or `name as other`, as the import alias `name` was written."""
    return name.name if name.asname is None else f"{name.name} as {name.asname}"


def make_package(tree, package):
    """Turns the source tree `tree` (a directory named `package`) into an importable package, in place."""
    local_names = local_module_names(tree)
    (tree / "__init__.py").write_text(f'"""A copy of this repo as the package {package}."""\n')
    packages = [tree / name for name in local_names if (tree / name / "__init__.py").exists()]
    for path in [*tree.glob("*.py"), *(path for directory in packages for path in directory.rglob("*.py"))]:
        path.write_text(rewrite_imports(path.read_text(), package, local_names))


def extract_revision(revision, tree):
    """Unpacks the files of `revision` of this repo into the directory `tree` (`git archive | tar -x`)."""
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True)
    if archive.returncode:
        cli.fail(f"git archive {revision}: {archive.stderr.decode().strip()}")
    tree.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")


def load_old_experiment(revision, parent):
    """Imports the `experiment` module of `revision`, unpacked under `parent` as the package `old_version`."""
    tree = parent / OLD_PACKAGE
    extract_revision(revision, tree)
    make_package(tree, OLD_PACKAGE)
    sys.path.insert(0, str(parent))
    inside = "gradient_lab.experiment" if (tree / "gradient_lab" / "experiment.py").exists() else "experiment"
    return importlib.import_module(f"{OLD_PACKAGE}.{inside}")


def train(version, model, epochs, seed, log_root):
    """One run of `version.train_and_evaluate` as the scripts run it, figures off; returns its result dict."""
    config = version.config_for(model, epochs=epochs, seed=seed)
    return version.train_and_evaluate(config, tempfile.mkdtemp(dir=log_root), figure_dir=None)


def check_same_numbers(versions, model, epochs, log_root):
    """Trains `model` with seed 0 in each version; prints the numbers and exits with status 1 unless they match."""
    results = {name: train(version, model, epochs, 0, log_root) for name, version in versions.items()}
    for name, result in results.items():
        loss = result["history"]["loss"]
        print(
            f"  {name}: test accuracy {result['test_accuracy']!r}, {len(loss)} losses, "
            f"first {loss[0]!r}, last {loss[-1]!r}"
        )
    old, new = results[OLD], results[NEW]
    if (old["test_accuracy"], old["history"]["loss"]) != (new["test_accuracy"], new["history"]["loss"]):
        print(f"error: {model}: the two versions give different numbers for seed 0", file=sys.stderr)
        sys.exit(1)
    shared = sorted(old["history"].keys() & new["history"].keys())
    same = sum(old["history"][key] == new["history"][key] for key in shared)
    print(f"  same final test accuracy and loss history; {same} of {len(shared)} shared history series identical")


def time_versions(versions, model, epochs, rounds, log_root):
    """Seconds of each version's runs, `{name: [seconds]}`, in old new / new old order round by round."""
    runs = {
        name: (lambda version=version: train(version, model, epochs, 0, log_root)) for name, version in versions.items()
    }
    times, _ = time_interleaved(runs, repeats=0, ours_repeats=rounds)
    return times


def parse_args(argv):
    """The benchmark's flags, parsed."""
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="a97df6b", help="the old revision (default: %(default)s)")
    parser.add_argument(
        "--rounds", type=cli.positive_int(), default=10, help="timed runs of each version (default: %(default)s)"
    )
    parser.add_argument(
        "--model",
        choices=sorted(experiment.MODELS) + ["all"],
        default="all",
        help="model to benchmark (default: %(default)s)",
    )
    parser.add_argument(
        "--epochs", type=experiment.epochs_flag, default=500, help="every run's, the check's too (default: %(default)s)"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    runtime.start_tensorflow()  # Both versions run with the same TensorFlow threading: one thread.
    models = sorted(experiment.MODELS) if args.model == "all" else [args.model]
    overheads = {}
    with tempfile.TemporaryDirectory() as scratch:
        log_root = Path(scratch) / "logs"
        log_root.mkdir()
        versions = {OLD: load_old_experiment(args.base, Path(scratch)), NEW: experiment}
        print(f"old: {args.base} ({versions[OLD].__file__}), new: the working tree ({experiment.__file__})")
        for model in models:
            print(f"\n{model}, {args.epochs} epochs, seed 0: the numbers of both versions")
            check_same_numbers(versions, model, args.epochs, log_root)
        print(f"\n{args.epochs} epochs, seed 0, {args.rounds} rounds, old new / new old")
        print(f"{'model':<13s} {'old median s':>12s} {'new median s':>12s}  paired new / old (median, 95% CI)")
        for model in models:
            times = time_versions(versions, model, args.epochs, args.rounds, log_root)
            overheads[model] = paired_overhead(times[NEW], times[OLD])
            overhead, interval = overheads[model]
            print(
                f"{model:<13s} {statistics.median(times[OLD]):12.2f} {statistics.median(times[NEW]):12.2f}  "
                f"{1 + overhead:.3f} ({overhead:+.1%}), 95% CI {interval}"
            )
    worst = max(overheads, key=lambda model: overheads[model][0])
    print(f"new vs old: {overheads[worst][0]:+.1%} (worst model), 95% CI {overheads[worst][1]}")


if __name__ == "__main__":
    main()
