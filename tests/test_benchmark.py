"""The speed benchmarks: the short run prints the numbers it measured; their statistics; bench_versions's imports."""

import ast
import importlib
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys

import pytest
from conftest import ROOT

# A row of the benchmark's table: variant, min s, median s, speedup by min and by median, test accuracy.
TABLE_ROW = re.compile(r"((?:port|ours)\b.*?)\s+(\d+\.\d\d)\s+(\d+\.\d\d)\s+(\d+\.\d)x\s+(\d+\.\d)x\s+(\d\.\d{3})")


def test_benchmark_smoke_prints_the_numbers_it_measured(tmp_path, capsys):
    # In this process: the benchmarks' true subprocess runs are test_script_contracts.py's bad-flag ones.
    bench = load_benchmark()
    bench.main(
        [
            *("--model", "shallow_tanh", "--epochs", "2", "--repeats", "1", "--ours-repeats", "1"),
            *("--json", str(tmp_path / "measured.json")),
        ]
    )
    lines = capsys.readouterr().out.strip().splitlines()
    rows = {match[1]: match.groups()[1:] for match in map(TABLE_ROW.fullmatch, lines) if match}
    measured = json.loads((tmp_path / "measured.json").read_text())["shallow_tanh"]
    seconds, accuracies = measured["seconds"], measured["test_accuracy"]
    assert list(rows) == list(seconds) == [bench.PORT, bench.OURS, bench.NO_DIAGNOSTICS, bench.NO_GRAD_LOGGING]
    assert_table_shows(rows, seconds, accuracies, bench.PORT)
    grad_logging = statistics.median(ratios(seconds, bench.NO_DIAGNOSTICS, bench.NO_GRAD_LOGGING)) - 1
    diagnostics = statistics.median(ratios(seconds, bench.OURS, bench.NO_DIAGNOSTICS)) - 1
    assert lines[-2:] == [
        f"diagnostics overhead: {diagnostics:.0%}",
        f"speedup: {rows[bench.OURS][3]}x, grad-logging overhead: {grad_logging:.0%}",
    ]
    assert_real_test_accuracies(accuracies, bench, tmp_path / "logs")


def assert_table_shows(rows, seconds, accuracies, port):
    """Each row's min and median seconds, speedups over `port` and accuracy are the measured ones, rounded."""
    median = {name: statistics.median(times) for name, times in seconds.items()}
    for name, (fastest, middle, speedup_by_min, speedup, accuracy) in rows.items():
        assert float(fastest) == pytest.approx(min(seconds[name]), abs=0.0051), name
        assert float(middle) == pytest.approx(median[name], abs=0.0051), name
        assert float(speedup_by_min) == pytest.approx(min(seconds[port]) / min(seconds[name]), abs=0.051), name
        assert float(speedup) == pytest.approx(median[port] / median[name], abs=0.051), name
        assert accuracy == f"{accuracies[name]:.3f}", name


def ratios(seconds, slower, faster):
    """The per-round ratios of two variants' seconds."""
    return [a / b for a, b in zip(seconds[slower], seconds[faster])]


def assert_real_test_accuracies(accuracies, bench, log_dir):
    """Each accuracy counts right answers on the test set; ours is what `train_and_evaluate` gives for its config."""
    import data
    from gradient_lab import experiment

    (_, _), (x_test, _) = data.load_circles()
    for name, accuracy in accuracies.items():
        assert 0 <= accuracy <= 1, name
        assert accuracy * len(x_test) == pytest.approx(round(accuracy * len(x_test)), abs=1e-3), name
    config = experiment.config_for("shallow_tanh", epochs=2, seed=0)
    result = experiment.train_and_evaluate(config, log_dir, figure_dir=None)
    assert accuracies[bench.OURS] == result["history"]["val_accuracy"][-1]
    assert accuracies[bench.OURS] == pytest.approx(result["test_accuracy"], abs=1e-6)


def load_benchmark(name="bench_training"):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_compared_runs_run_back_to_back_in_alternating_order():
    bench = load_benchmark()
    calls = []
    variants = {name: (lambda name=name: calls.append(name) or 0.5) for name in (bench.PORT, "a", "b", "c")}
    times, accuracies = bench.time_interleaved(variants, repeats=1, ours_repeats=3)
    assert calls == [bench.PORT, "a", "b", "c", "c", "b", "a", "a", "b", "c"]
    assert [len(times[name]) for name in variants] == [1, 3, 3, 3]
    assert accuracies == dict.fromkeys(variants, 0.5)


def test_paired_overhead_is_the_median_ratio_of_runs_in_the_same_round():
    bench = load_benchmark()
    # Round ratios 1.1, 1.1, 1.1 and 1.25: machine drift between rounds (1.0 to 4.0 s) cancels.
    overhead, interval = bench.paired_overhead([2.2, 3.3, 1.1, 5.0], [2.0, 3.0, 1.0, 4.0])
    assert overhead == pytest.approx(0.1)
    assert interval.startswith("10.0% to ")
    assert bench.paired_overhead([1.5], [1.0]) == (pytest.approx(0.5), "n/a (fewer than 3 rounds)")


def load_bench_versions():
    spec = importlib.util.spec_from_file_location("bench_versions", ROOT / "benchmarks" / "bench_versions.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


TINY_TREE = {
    "tiny_helper.py": "VALUE = 41\n",
    "tiny_pkg/__init__.py": "",
    "tiny_pkg/sub.py": "from tiny_helper import VALUE\n\nNAME = f'sub of {VALUE}'\n",
    "tiny_main.py": (
        '"""Its docstring says `import tiny_helper`, and keeps saying it."""\n'
        "import os, tiny_helper as aliased\n"
        "import tiny_helper\n"
        "from tiny_helper import VALUE  # noqa: F401\n"
        "from tiny_pkg.sub import (\n    NAME,\n)\n\n\n"
        "def lazy():\n    import tiny_helper\n\n    return tiny_helper.VALUE + 1\n"
    ),
}


@pytest.fixture
def tiny_tree(tmp_path, monkeypatch):
    """A two-module tree with a sub-package under `tmp_path/tiny_old`, and a clashing `tiny_helper` on sys.path."""
    for name, text in TINY_TREE.items():
        (tmp_path / "tiny_old" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "tiny_old" / name).write_text(text)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "tiny_helper.py").write_text("VALUE = 'the other tiny_helper'\n")
    monkeypatch.syspath_prepend(str(tmp_path / "elsewhere"))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path / "tiny_old"
    for name in [name for name in sys.modules if name.startswith(("tiny_old", "tiny_helper"))]:
        del sys.modules[name]


def test_rewritten_tree_imports_its_own_modules_as_a_package(tiny_tree):
    bench = load_bench_versions()
    assert bench.local_module_names(tiny_tree) == {"tiny_helper", "tiny_pkg", "tiny_main"}
    bench.make_package(tiny_tree, "tiny_old")
    main = importlib.import_module("tiny_old.tiny_main")
    own_helper = sys.modules["tiny_old.tiny_helper"]
    assert main.tiny_helper is main.aliased is own_helper and main.VALUE == 41
    assert main.lazy() == 42 and main.NAME == "sub of 41" and main.os is os
    assert "tiny_helper" not in sys.modules  # The clashing top-level module was never imported.
    assert main.__doc__ == "Its docstring says `import tiny_helper`, and keeps saying it."
    with pytest.raises(ValueError, match="cannot rewrite `import tiny_pkg.sub`"):
        bench.rewrite_imports("import tiny_pkg.sub\n", "tiny_old", {"tiny_pkg"})


def test_default_base_revision_becomes_a_package_that_imports_only_from_itself(tmp_path):
    bench = load_bench_versions()
    revision = bench.parse_args([]).base
    if subprocess.run(["git", "cat-file", "-e", f"{revision}^{{commit}}"], cwd=ROOT, capture_output=True).returncode:
        pytest.skip(f"this clone lacks {revision}")
    tree = tmp_path / "old_version"
    bench.extract_revision(revision, tree)
    local_names = bench.local_module_names(tree)
    bench.make_package(tree, "old_version")
    assert {"experiment", "data", "grad_logging", "cli"} <= local_names
    for path in tree.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            imported = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            imported += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            assert not {name.split(".")[0] for name in imported} & local_names, (path.name, imported)


def test_seeds_benchmark_prints_what_it_measured(capsys):
    load_benchmark("bench_seeds").main(["--seeds", "3", "--rounds", "1", "--epochs", "3"])
    lines = capsys.readouterr().out.strip().splitlines()
    one, stacked = (
        re.match(r"(one seed|stacked seeds) +median (\d+\.\d+) s.*accuracy (\d\.\d{3})$", line).groups()
        for line in lines[:2]
    )
    assert one[2] == stacked[2]  # Stacked seed 0 is seed 0's run: the same test accuracy.
    ratio = float(re.search(r"paired per round: (\d+\.\d+)x", lines[2]).group(1))
    assert ratio == pytest.approx(float(stacked[1]) / float(one[1]), abs=0.02)  # One round: the ratio of the two.
    seconds, last_ratio = re.fullmatch(
        r"seeds in parallel: 3 seeds in (\d+\.\d) s, (\d+\.\d)x one seed", lines[-1]
    ).groups()
    assert float(seconds) == pytest.approx(float(stacked[1]), abs=0.051) and float(last_ratio) == round(ratio, 1)
