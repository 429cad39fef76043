"""Smoke runs of the real scripts in a temporary directory: exit status, output, figures, JSON, events.

One `python run_all.py` (mlp_tanh.py's two models, mlp_relu_deep.py's, then compare.py, each
with its seeds), run as `__main__` in this process, feeds most tests here; mlp_tanh.py and
mlp_relu_deep.py also run in a fresh interpreter in test_robustness.py (SIGTERM, a NaN loss).
"""

import collections
import json
import re
import shutil

import numpy as np
import pytest
from scipy import stats
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import assert_png_shows, run_in_this_process
from gradient_lab import experiment
from gradient_lab.figures import training as training_figures
from gradient_lab.records.result import latest_per_model, load_results

RESULT_LINE = re.compile(r"^(\w+)\s+Train: (\d\.\d{3}), Test: (\d\.\d{3})  \((\d+\.\d) s\)$", re.M)
SEEDS_LINE = re.compile(r"^  over (\d+) seeds: test (.*)$", re.M)
EPOCHS, SEEDS = 4, 5
MODELS = ["shallow_tanh", "deep_tanh", "deep_relu"]
Output = collections.namedtuple("Output", "stdout stderr")
# One test worker runs this whole file, so that the smoke run's fixture runs once.
pytestmark = pytest.mark.xdist_group("script_smoke_runs")


def read_events(run_dir):
    """Loads a TensorBoard run directory with TensorBoard's own event reader."""
    return EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "histograms": 0}).Reload()


@pytest.fixture(scope="module")
def run_all(tmp_path_factory):
    """`python run_all.py` for a few epochs with its seeds' TensorBoard logs; returns the directory and output."""
    workdir = tmp_path_factory.mktemp("run_all")
    status, stdout, stderr = run_in_this_process(
        "run_all.py",
        *("--epochs", EPOCHS, "--seeds", SEEDS, "--seed-logs"),
        *("--log-dir", workdir / "logs", "--figure-dir", workdir / "figures"),
    )
    assert status == 0, stderr
    return workdir, Output(stdout, stderr)


def saved_result(workdir, model):
    return json.loads((workdir / "logs" / model / "result.json").read_text())


def test_one_line_per_model_with_the_saved_accuracies_then_the_comparison(run_all):
    workdir, process = run_all
    printed = RESULT_LINE.findall(process.stdout)
    assert [name for name, *_ in printed] == MODELS
    for name, train, test, seconds in printed:
        result = saved_result(workdir, name)
        assert float(train) == pytest.approx(result["train_accuracy"], abs=5e-4), name
        assert float(test) == pytest.approx(result["test_accuracy"], abs=5e-4), name
        assert float(seconds) == pytest.approx(result["wall_time_seconds"], abs=0.051), name
        assert 0.0 <= result["train_accuracy"] <= 1.0 and result["epochs_completed"] == EPOCHS
    assert "of the output layer's gradient at epoch 1" in process.stdout  # The verdict.
    assert "(run deep_relu, seed 0)" in process.stdout  # compare.py's line.
    assert f"wrote {workdir / 'figures' / 'comparison.png'}" in process.stdout
    assert "Traceback" not in process.stderr


def test_result_json(run_all):
    workdir, process = run_all
    result = saved_result(workdir, "deep_tanh")
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


@pytest.mark.parametrize("model", MODELS)
def test_every_seed_is_saved_and_the_seeds_line_sums_them_up(run_all, model):
    workdir, process = run_all
    result = saved_result(workdir, model)
    seeds = result["seeds"]
    assert [member["seed"] for member in seeds] == list(range(SEEDS))
    assert all(member["status"] == "completed" and member["epochs_completed"] == EPOCHS for member in seeds)
    # Seed 0 of the stacked seeds is the script's own run of seed 0.
    for key in ("loss", "val_accuracy", "grad_norm/01_hidden_1/mean", f"grad_norm/{result['layer_keys'][-1]}/max"):
        np.testing.assert_allclose(seeds[0]["history"][key], result["history"][key], rtol=1e-5, err_msg=key)
    assert seeds[0]["test_accuracy"] == pytest.approx(result["test_accuracy"], abs=1e-6)
    # The line under the model's, worked out here from the saved accuracies.
    accuracies = np.array([member["test_accuracy"] for member in seeds])
    mean, std = accuracies.mean(), accuracies.std(ddof=1)
    half = stats.t.ppf(0.975, SEEDS - 1) * std / np.sqrt(SEEDS) if std > 0 else 0.0
    learned = int((accuracies >= 0.75).sum())
    expected = f"{mean:.3f} ± {std:.3f} (95% CI {mean - half:.3f}-{mean + half:.3f}), {learned}/{SEEDS} learned"
    after_model = process.stdout.split(f"\n{model} ", 1)[-1] if model != "shallow_tanh" else process.stdout
    assert SEEDS_LINE.search(after_model).groups() == (str(SEEDS), expected)


def test_with_seed_logs_every_seed_reads_back_from_tensorboard(run_all):
    workdir, _ = run_all
    result = saved_result(workdir, "deep_relu")
    for member in result["seeds"]:
        run_dir = workdir / "logs" / "deep_relu" / "seeds" / f"seed-{member['seed']}"
        train, validation = read_events(run_dir / "train"), read_events(run_dir / "validation")
        loss = [event.value for event in train.Scalars("epoch_loss")]
        np.testing.assert_allclose(loss, member["history"]["loss"], rtol=1e-6)
        accuracy = [event.value for event in validation.Scalars("epoch_accuracy")]
        np.testing.assert_allclose(accuracy, member["history"]["val_accuracy"], rtol=1e-6)
        norms = [event.value for event in train.Scalars("grad_norm/01_hidden_1/mean")]
        np.testing.assert_allclose(norms, member["history"]["grad_norm/01_hidden_1/mean"], rtol=1e-6)
    assert sorted(path.name for path in (workdir / "logs" / "deep_relu" / "seeds").iterdir()) == [
        f"seed-{seed}" for seed in range(SEEDS)
    ]


FIGURES = {
    "learning_curves": training_figures.save_learning_curves,
    "grad_norms": training_figures.save_gradient_norms,
    "grad_heatmap": training_figures.save_gradient_heatmap,
    "init_jacobians": training_figures.save_backward_signal,
}


@pytest.mark.parametrize(
    "model, kinds", [("deep_tanh", list(FIGURES)), ("shallow_tanh", ["grad_norms"]), ("deep_relu", ["grad_norms"])]
)
def test_each_figure_is_the_figure_of_the_saved_result(run_all, model, kinds, tmp_path):
    # Every kind for one model; one for the others, to show that each model's figure is its own.
    workdir, _ = run_all
    result = saved_result(workdir, model)
    for kind in kinds:
        assert_png_shows(workdir / "figures" / f"{model}_{kind}.png", tmp_path, FIGURES[kind], result)
    assert {path.name for path in (workdir / "figures").glob(f"{model}_*.png")} == {
        f"{model}_{kind}.png" for kind in [*FIGURES, "decision_boundary"]
    }


@pytest.mark.parametrize("model", ["deep_tanh", "deep_relu"])
def test_the_script_and_the_sweeps_train_the_same_model(run_all, tmp_path, model):
    # The Dense layers the script builds inline against `models.build_mlp`'s (the sweeps' and the seeds'):
    # the same initial weights (the same gradients at init, bit for bit) and the same training.
    workdir, _ = run_all
    script = saved_result(workdir, model)
    config = experiment.config_for(model, epochs=EPOCHS)
    sweep = experiment.train_and_evaluate(config, tmp_path / "sweep", figure_dir=tmp_path / "figures")
    assert script["config"] == sweep["config"]
    assert script["history"] == sweep["history"]  # Losses, accuracies, every gradient norm and diagnostic.
    assert script["init_diagnostics"] == sweep["init_diagnostics"]
    # The decision boundaries at epochs 1 and 4 (drawn from the trained model, not saved): the same picture.
    figure = f"{model}_decision_boundary.png"
    assert_png_shows(workdir / "figures" / figure, tmp_path, shutil.copy, tmp_path / "figures" / figure)


def test_tensorboard_scalars_and_histograms(run_all):
    workdir, _ = run_all
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


def test_compare_reads_saved_results(run_all, tmp_path):
    workdir, _ = run_all
    shutil.copytree(workdir / "logs", tmp_path / "logs")
    # A later run killed (SIGKILL) while its model was being built: a folder without a result.
    (tmp_path / "logs" / "deep_relu-2" / "train").mkdir(parents=True)
    status, stdout, stderr = run_in_this_process(
        "compare.py", "--log-dir", tmp_path / "logs", "--figure-dir", tmp_path / "figures"
    )
    assert status == 0, stderr
    for line, model in zip(stdout.splitlines(), MODELS):
        result = saved_result(workdir, model)
        accuracies = f"Train: {result['train_accuracy']:.3f}, Test: {result['test_accuracy']:.3f}"
        assert line == f"{model:<13s} {accuracies}  (run {model}, seed 0)"  # The killed run's folder is skipped.
    latest = latest_per_model(load_results(tmp_path / "logs"))
    assert list(latest) == MODELS
    assert_png_shows(tmp_path / "figures" / "comparison.png", tmp_path, training_figures.save_comparison, latest)
    assert_png_shows(
        workdir / "figures" / "comparison.png", tmp_path, training_figures.save_comparison, latest
    )  # run_all's.


def test_compare_without_runs_fails_cleanly(tmp_path, run_main):
    status, _, stderr = run_main("compare", "--log-dir", tmp_path / "nothing", "--figure-dir", tmp_path / "figures")
    assert status == 2
    assert stderr.startswith("error: no completed runs") and len(stderr.splitlines()) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--run-name", "mine"], "--run-name names one run; run_all.py trains three"),
        (["--epochs", "10001"], "--epochs: must be <= 10000"),
        (["--seeds", "0"], "--seeds: must be >= 1"),
    ],
)
def test_run_all_bad_flags_exit_2_with_one_line(tmp_path, run_main, args, message):
    status, _, stderr = run_main("run_all", *args, "--log-dir", tmp_path / "logs", "--figure-dir", tmp_path / "f")
    assert status == 2
    assert stderr.startswith("error: ") and message in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert not (tmp_path / "logs").exists()
