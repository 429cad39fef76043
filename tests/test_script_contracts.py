"""What the scripts promise beyond their output: light imports, and a missing or unreadable Keras hook."""

import json

import pytest

from conftest import ROOT, heavy_imports, our_files_imported_by, run_audited, run_script


def test_the_data_script_imports_neither_pandas_nor_scipy(tmp_path):
    outcome, process = run_audited("data.py", "--figure-dir", tmp_path)
    assert outcome["status"] == 0 and outcome["heavy"] == [], process.stderr
    ours = [name for name in outcome["modules"] if not name.startswith("__")]  # The script runs as __main__.
    assert ours == [
        "gradient_lab",
        "gradient_lab.cli",
        "gradient_lab.figures",
        "gradient_lab.figures.saving",
        "gradient_lab.figures.training",
        "gradient_lab.thresholds",
    ]


def test_what_the_training_scripts_can_import_imports_neither_pandas_nor_dask():
    # Read, not run: every file of ours that run_all.py (the three models, their seeds, compare.py) can
    # import, at its top or inside a function. The sweeps' files do import them: the check is not blind.
    files = our_files_imported_by("run_all.py")
    stacked_model = ROOT / "gradient_lab" / "tf_speed" / "stacked" / "model.py"
    assert {ROOT / "mlp_tanh.py", stacked_model, ROOT / "compare.py"} <= set(files)
    assert heavy_imports(files) == []
    assert "gradient_lab/sweeps/runner.py: dask.distributed" in heavy_imports(our_files_imported_by("studies.py"))


def test_without_the_private_keras_hook_one_line_then_plain_fit_trains(tmp_path, monkeypatch, run_main):
    import keras

    from gradient_lab import keras_internals

    # As a Keras would be that renamed or dropped the private method.
    monkeypatch.setattr(keras_internals, "PRIVATE_METRICS_READ", "_a_method_this_keras_does_not_have")
    args = ["--epochs", 2, "--seeds", 1, "--log-dir", tmp_path / "logs", "--figure-dir", tmp_path / "figures"]
    status, _, stderr = run_main("mlp_relu_deep", *args)
    assert status == 2
    assert stderr.strip().splitlines() == [
        f"error: fast training relies on Keras's private Model._a_method_this_keras_does_not_have, which Keras "
        f"{keras.__version__} does not have or no longer calls from fit; rerun with --plain-fit"
    ]
    assert not (tmp_path / "logs").exists()

    status, _, stderr = run_main("mlp_relu_deep", *args, "--plain-fit")
    assert status == 0, stderr
    result = json.loads((tmp_path / "logs" / "deep_relu" / "result.json").read_text())
    assert result["config"]["plain_fit"] and result["epochs_completed"] == 2
    assert len(result["history"]["grad_norm/01_hidden_1/mean"]) == 2
    assert result["history"]["val_accuracy"][-1] == pytest.approx(result["test_accuracy"], abs=1e-6)


def test_when_the_keras_source_cannot_be_read_one_line_not_a_traceback(tmp_path, monkeypatch, run_main):
    import inspect

    import keras

    from gradient_lab import keras_internals

    def no_source(function):
        raise OSError("could not get source code")  # What inspect raises for an install without .py files.

    monkeypatch.setattr(inspect, "getsource", no_source)
    with pytest.raises(keras_internals.MissingKerasHook, match="cannot be read"):
        keras_internals.check()
    status, _, stderr = run_main("mlp_tanh", "--epochs", 1, "--log-dir", tmp_path / "logs")
    assert status == 2
    assert stderr.strip().splitlines() == [
        f"error: fast training relies on Keras's private Model._get_metrics_result_or_logs, and the source of "
        f"Keras {keras.__version__}'s Model.fit, which should call it, cannot be read (could not get source code); "
        f"rerun with --plain-fit"
    ]
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize(
    "command, message",
    [
        (["studies.py", "depthh", "--log-dir", "logs"], "error: unknown study 'depthh'; choose from depth, "),
        (["multiseed.py", "--seeds", "0", "--log-dir", "logs"], "error: multiseed.py: argument --seeds: must be >= 1"),
        (
            ["benchmarks/bench_training.py", "--epochs", "10001"],
            "error: bench_training.py: argument --epochs: must be <= 10000",
        ),
        (["benchmarks/bench_seeds.py", "--seeds", "1"], "error: bench_seeds.py: argument --seeds: must be >= 2, got 1"),
    ],
)
def test_a_bad_flag_from_the_shell_is_one_line_and_nothing_written(tmp_path, command, message):
    # The true subprocess runs of these commands (their other tests run them in this process).
    process = run_script(*command, cwd=tmp_path)
    assert process.returncode == 2
    assert len(process.stderr.splitlines()) == 1 and process.stderr.startswith(message), process.stderr
    assert list(tmp_path.iterdir()) == []
