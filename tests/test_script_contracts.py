"""What the scripts promise beyond their output: the sweeps' numbers, light imports, a missing Keras hook."""

import json
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT

# Runs a script's main() in a fresh interpreter, optionally without the private Keras hook, and
# prints its exit status and every import of pandas, scipy or dask in this repo's modules that
# it loaded. (scikit-learn itself imports scipy, and pandas where it is installed.)
RUNNER = """
    import ast, json, runpy, sys
    sys.path.insert(0, {root!r})
    if {drop_hook}:  # As a Keras would be that renamed or dropped the private method.
        from gradient_lab import cli
        cli.start_tensorflow()
        from gradient_lab import keras_internals
        keras_internals.PRIVATE_METRICS_READ = "_a_method_this_keras_does_not_have"
    sys.argv = [{script!r}, *{args!r}]
    try:
        runpy.run_path({script!r}, run_name="__main__")
        status = 0
    except SystemExit as stop:
        status = stop.code
    heavy = []
    ours = [module.__file__ for module in list(sys.modules.values())
            if (getattr(module, "__file__", None) or "").startswith({root!r})]
    for path in [{script!r}, *ours]:
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [node.module + "." + alias.name for alias in node.names]
            else:
                continue
            heavy += [path + ": " + name for name in names
                      if name.split(".")[0] in ("pandas", "scipy", "dask") or name == "gradient_lab.seed_statistics"]
    print(json.dumps({{"status": status, "heavy": sorted(set(heavy))}}))
"""


def run_main(script, *args, drop_hook=False):
    code = textwrap.dedent(RUNNER).format(
        root=str(ROOT), script=str(ROOT / script), args=[str(a) for a in args], drop_hook=drop_hook
    )
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    outcome = json.loads(process.stdout.strip().splitlines()[-1])
    return outcome, process


def test_the_script_and_the_sweeps_train_the_same_model(tmp_path):
    from gradient_lab import experiment

    outcome, process = run_main(
        "mlp_tanh.py",
        "--model",
        "deep",
        "--epochs",
        3,
        "--log-dir",
        tmp_path / "logs",
        "--figure-dir",
        tmp_path / "figures",
    )
    assert outcome["status"] == 0, process.stderr
    assert outcome["heavy"] == []  # Training imports neither pandas nor scipy (nor dask).
    script = json.loads((tmp_path / "logs" / "deep_tanh" / "result.json").read_text())
    sweep = experiment.train_and_evaluate(
        experiment.config_for("deep_tanh", epochs=3), tmp_path / "sweep", figure_dir=None
    )
    assert script["config"] == sweep["config"]
    assert script["history"] == sweep["history"]  # Losses, accuracies, every gradient norm and diagnostic.
    assert script["init_diagnostics"] == sweep["init_diagnostics"]


def test_the_data_script_imports_neither_pandas_nor_scipy(tmp_path):
    outcome, process = run_main("data.py", "--figure-dir", tmp_path)
    assert outcome == {"status": 0, "heavy": []}, process.stderr


def test_without_the_private_keras_hook_one_line_then_plain_fit_trains(tmp_path):
    import keras

    args = ["--epochs", 2, "--log-dir", tmp_path / "logs", "--figure-dir", tmp_path / "figures"]
    outcome, process = run_main("mlp_relu_deep.py", *args, drop_hook=True)
    assert outcome["status"] == 2
    assert process.stderr.strip().splitlines() == [
        f"error: fast training relies on Keras's private Model._a_method_this_keras_does_not_have, which Keras "
        f"{keras.__version__} does not have or no longer calls from fit; rerun with --plain-fit"
    ]
    assert not (tmp_path / "logs").exists()

    outcome, process = run_main("mlp_relu_deep.py", *args, "--plain-fit", drop_hook=True)
    assert outcome["status"] == 0, process.stderr
    result = json.loads((tmp_path / "logs" / "deep_relu" / "result.json").read_text())
    assert result["config"]["plain_fit"] and result["epochs_completed"] == 2
    assert len(result["history"]["grad_norm/01_hidden_1/mean"]) == 2
    assert result["history"]["val_accuracy"][-1] == pytest.approx(result["test_accuracy"], abs=1e-6)
