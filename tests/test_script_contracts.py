"""What the scripts promise beyond their output: light imports, and a missing Keras hook."""

import json

import pytest

from conftest import run_audited


def test_the_data_script_imports_neither_pandas_nor_scipy(tmp_path):
    outcome, process = run_audited("data.py", "--figure-dir", tmp_path)
    assert outcome["status"] == 0 and outcome["heavy"] == [], process.stderr
    ours = [name for name in outcome["modules"] if not name.startswith("__")]  # The script runs as __main__.
    assert ours == ["gradient_lab", "gradient_lab.cli", "gradient_lab.plots", "gradient_lab.thresholds"]


def test_without_the_private_keras_hook_one_line_then_plain_fit_trains(tmp_path):
    import keras

    args = ["--epochs", 2, "--log-dir", tmp_path / "logs", "--figure-dir", tmp_path / "figures"]
    outcome, process = run_audited("mlp_relu_deep.py", *args, drop_hook=True)
    assert outcome["status"] == 2
    assert process.stderr.strip().splitlines() == [
        f"error: fast training relies on Keras's private Model._a_method_this_keras_does_not_have, which Keras "
        f"{keras.__version__} does not have or no longer calls from fit; rerun with --plain-fit"
    ]
    assert not (tmp_path / "logs").exists()

    outcome, process = run_audited("mlp_relu_deep.py", *args, "--plain-fit", drop_hook=True)
    assert outcome["status"] == 0, process.stderr
    result = json.loads((tmp_path / "logs" / "deep_relu" / "result.json").read_text())
    assert result["config"]["plain_fit"] and result["epochs_completed"] == 2
    assert len(result["history"]["grad_norm/01_hidden_1/mean"]) == 2
    assert result["history"]["val_accuracy"][-1] == pytest.approx(result["test_accuracy"], abs=1e-6)
