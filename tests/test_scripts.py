"""Smoke runs of the real scripts in a temporary directory: exit status, output, figures, JSON, events."""

import json
import re

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import run_audited, run_script
from gradient_lab import experiment

RESULT_LINE = re.compile(r"^(\w+)\s+Train: (0\.\d{3}|1\.000), Test: (0\.\d{3}|1\.000)  \((\d+\.\d) s\)$", re.M)
EPOCHS = 4
# One test worker runs this whole file, so that each smoke run's fixture runs once.
pytestmark = pytest.mark.xdist_group("script_smoke_runs")


def read_events(run_dir):
    """Loads a TensorBoard run directory with TensorBoard's own event reader."""
    return EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "histograms": 0}).Reload()


def smoke_run(tmp_path_factory, script):
    """Runs the script for a few epochs in a temporary directory; returns the directory and the process."""
    workdir = tmp_path_factory.mktemp(script.removesuffix(".py"))
    outcome, process = run_audited(
        script, "--epochs", EPOCHS, "--log-dir", workdir / "logs", "--figure-dir", workdir / "figures"
    )
    assert outcome["status"] == 0, process.stderr
    assert outcome["heavy"] == []  # No module of ours that training loads imports pandas or dask.
    return workdir, process


@pytest.fixture(scope="module")
def tanh_run(tmp_path_factory):
    return smoke_run(tmp_path_factory, "mlp_tanh.py")


@pytest.fixture(scope="module")
def relu_run(tmp_path_factory):
    return smoke_run(tmp_path_factory, "mlp_relu_deep.py")


def test_tanh_script_prints_one_line_per_model(tanh_run):
    _, process = tanh_run
    assert [match[0] for match in RESULT_LINE.findall(process.stdout)] == ["shallow_tanh", "deep_tanh"]
    assert "of the output layer's gradient at epoch 1" in process.stdout  # The verdict.
    assert "Traceback" not in process.stderr


def test_relu_script_prints_its_line(relu_run):
    _, process = relu_run
    assert [match[0] for match in RESULT_LINE.findall(process.stdout)] == ["deep_relu"]


@pytest.mark.parametrize("model", ["shallow_tanh", "deep_tanh"])
def test_figures_written(tanh_run, model):
    from matplotlib.image import imread  # A real PNG of plausible size; test_figures.py checks what it shows.

    workdir, _ = tanh_run
    for kind in ("learning_curves", "grad_norms", "grad_heatmap", "decision_boundary", "init_jacobians"):
        height, width = imread(workdir / "figures" / f"{model}_{kind}.png").shape[:2]
        assert height > 200 and width > 200, kind


def test_result_json(tanh_run):
    workdir, process = tanh_run
    result = json.loads((workdir / "logs" / "deep_tanh" / "result.json").read_text())
    assert result["status"] == "completed"
    assert result["config"]["num_hidden_layers"] == 5 and result["config"]["epochs"] == EPOCHS
    assert result["seed"] == 0 and result["epochs_completed"] == EPOCHS
    assert result["layer_keys"] == [f"0{i}_hidden_{i}" for i in range(1, 6)] + ["06_output"]
    history = result["history"]
    for key in [
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "grad_norm/01_hidden_1/mean",
        "grad_norm/06_output/max",
        "grad_norm/03_hidden_3/kernel_mean",
        "grad_norm/03_hidden_3/bias_max",
    ]:
        assert len(history[key]) == EPOCHS, key
    assert history["val_accuracy"][-1] == pytest.approx(result["test_accuracy"], abs=1e-6)
    assert result["wall_time_seconds"] > 0
    assert result["versions"]["tensorflow"].startswith("2.")
    assert len(history["saturation/01_hidden_1"]) == EPOCHS and len(history["update_ratio/06_output"]) == EPOCHS
    assert len(result["init_diagnostics"]["gradient_norm"]) == 6 and result["verdict"]
    printed = dict((name, float(test)) for name, _, test, _ in RESULT_LINE.findall(process.stdout))
    assert printed["deep_tanh"] == pytest.approx(result["test_accuracy"], abs=5e-4)


def test_the_script_and_the_sweeps_train_the_same_model(tanh_run, tmp_path):
    workdir, _ = tanh_run
    script = json.loads((workdir / "logs" / "deep_tanh" / "result.json").read_text())
    config = experiment.config_for("deep_tanh", epochs=EPOCHS)
    sweep = experiment.train_and_evaluate(config, tmp_path / "sweep", figure_dir=None)
    assert script["config"] == sweep["config"]
    assert script["history"] == sweep["history"]  # Losses, accuracies, every gradient norm and diagnostic.
    assert script["init_diagnostics"] == sweep["init_diagnostics"]


def test_tensorboard_scalars_and_histograms(relu_run):
    workdir, _ = relu_run
    run_dir = workdir / "logs" / "deep_relu"
    train = read_events(run_dir / "train")
    tags = train.Tags()
    keys = [f"0{i}_hidden_{i}" for i in range(1, 6)] + ["06_output"]
    for key in keys:
        for stat in ("mean", "max", "kernel_mean", "bias_mean"):
            scalars = train.Scalars(f"grad_norm/{key}/{stat}")
            assert [event.step for event in scalars] == list(range(EPOCHS))
            assert all(event.value > 0 for event in scalars)
        histograms = train.Histograms(f"gradients/{key}")
        assert len(histograms) == EPOCHS
        assert histograms[0].histogram_value.num == (
            2 * 5 + 5 if key.startswith("01") else 5 * 5 + 5 if key != "06_output" else 5 + 1
        )  # Kernel and bias.
    assert "epoch_loss" in tags["scalars"] and "epoch_accuracy" in tags["scalars"]
    for group in ("dead_units", "activation_mean", "activation_std", "update_ratio"):
        assert len(train.Scalars(f"{group}/01_hidden_1")) == EPOCHS
    validation = read_events(run_dir / "validation")
    assert len(validation.Scalars("epoch_accuracy")) == EPOCHS
    # The History and TensorBoard hold the same numbers.
    result = json.loads((run_dir / "result.json").read_text())
    logged = [event.value for event in train.Scalars("grad_norm/01_hidden_1/mean")]
    assert logged == pytest.approx(result["history"]["grad_norm/01_hidden_1/mean"], rel=1e-6)


def test_runs_never_overwrite_each_other(tmp_path):
    config = experiment.config_for("shallow_tanh", epochs=1, diagnostics=False)
    for _ in range(2):
        experiment.train_and_evaluate(config, tmp_path / "logs", tmp_path / "figures")
    assert sorted(path.name for path in (tmp_path / "logs").iterdir()) == ["shallow_tanh", "shallow_tanh-2"]
    first = (tmp_path / "logs" / "shallow_tanh" / "result.json").read_text()
    experiment.train_and_evaluate(config, tmp_path / "logs", tmp_path / "figures", overwrite=True)
    assert sorted(path.name for path in (tmp_path / "logs").iterdir()) == ["shallow_tanh", "shallow_tanh-2"]
    assert (tmp_path / "logs" / "shallow_tanh" / "result.json").read_text() != first  # A new wall time at least.
    figures = sorted(path.name for path in (tmp_path / "figures").iterdir())
    assert figures == sorted(
        f"{run}_{kind}.png"
        for run in ("shallow_tanh", "shallow_tanh-2")
        for kind in ("learning_curves", "grad_norms", "grad_heatmap")
    )


def test_compare_reads_saved_results(tanh_run, relu_run, tmp_path):
    # Gather both smoke runs in one log directory, as after `python run_all.py`.
    import shutil

    for workdir, _ in (tanh_run, relu_run):
        for run_dir in (workdir / "logs").iterdir():
            shutil.copytree(run_dir, tmp_path / "logs" / run_dir.name)
    # A later run killed (SIGKILL) while its model was being built: a folder without a result.
    (tmp_path / "logs" / "deep_relu-2" / "train").mkdir(parents=True)
    process = run_script("compare.py", "--log-dir", tmp_path / "logs", "--figure-dir", tmp_path / "figures")
    assert process.returncode == 0, process.stderr
    assert {line.split()[0] for line in process.stdout.splitlines()[:3]} == {"shallow_tanh", "deep_tanh", "deep_relu"}
    assert "(run deep_relu, seed 0)" in process.stdout  # The killed run's folder is skipped.
    from matplotlib.image import imread  # A real PNG of plausible size; test_figures.py checks what it shows.

    height, width = imread(tmp_path / "figures" / "comparison.png").shape[:2]
    assert height > 200 and width > 200


def test_compare_without_runs_fails_cleanly(tmp_path):
    process = run_script("compare.py", "--log-dir", tmp_path / "nothing", "--figure-dir", tmp_path / "figures")
    assert process.returncode == 2
    assert process.stderr.startswith("error: no completed runs") and len(process.stderr.splitlines()) == 1
