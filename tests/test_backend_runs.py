"""The scripts, the diagnostics and the stacked seeds on JAX and PyTorch, each in a fresh interpreter.

`backend_checks.py` runs on each installed backend (Keras reads its backend once, at import):
the init diagnostics and layer statistics of fixed weights, which must equal TensorFlow's
(this process's) to float precision; a stacked run with one member's weights made infinite;
and `mlp_relu_deep.py` itself, whose run, seeds, TensorBoard events and figures are read back.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import ROOT

BACKENDS = ("jax", "torch")
pytestmark = pytest.mark.xdist_group("backends")  # One worker runs the fresh interpreters, one after the other.


@pytest.fixture(scope="module")
def checks(tmp_path_factory):
    """`{backend: (its checks.json, its output directory)}` for every installed backend."""
    results = {}
    for backend in BACKENDS:
        if importlib.util.find_spec(backend) is None:
            continue
        out = tmp_path_factory.mktemp(backend)
        environment = {**os.environ, "KERAS_BACKEND": backend}
        process = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "backend_checks.py"), str(out)],
            capture_output=True,
            text=True,
            timeout=600,
            env=environment,
        )
        assert process.returncode == 0, process.stderr[-3000:]
        results[backend] = (json.loads((out / "checks.json").read_text()), out)
    return results


def of(checks, backend):
    if backend not in checks:
        pytest.skip(f"{backend} is not installed (pip install -r requirements-backends.txt)")
    return checks[backend]


@pytest.mark.parametrize("backend", BACKENDS)
def test_init_diagnostics_and_layer_statistics_equal_tensorflows(backend, checks):
    import backend_checks  # On TensorFlow, in this process: the same fixed weights.

    ours = of(checks, backend)[0]
    assert ours["backend"] == backend
    for activation, tensorflow in backend_checks.diagnostics_of_fixed_weights().items():
        measured = ours["fixed"][activation]
        for key in ("jacobian_product", "backward_signal", "gradient_norm"):
            np.testing.assert_allclose(measured["init"][key], tensorflow["init"][key], rtol=1e-5, err_msg=key)
        np.testing.assert_allclose(
            measured["layer_statistics"], np.asarray(tensorflow["layer_statistics"]), rtol=1e-5, atol=1e-6
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stacked_member_whose_loss_becomes_nan_is_frozen_and_the_others_go_on(backend, checks):
    nan = of(checks, backend)[0]["nan"]
    members = nan["members"]
    assert [member["status"] for member in members] == ["completed", "nan_loss", "completed"]
    assert members[1]["epochs_completed"] == 1 and len(members[1]["history"]["loss"]) == 1
    assert not np.isfinite(members[1]["history"]["loss"][0])
    alone = nan["member_2_alone"]  # Seed 2 in a stack of its own: the frozen member changed nothing.
    for key in ("loss", "val_accuracy", "grad_norm/01_hidden_1/mean"):
        np.testing.assert_allclose(members[2]["history"][key], alone["history"][key], rtol=1e-5, err_msg=key)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_deep_relu_script_runs_with_its_seeds_events_and_figures(backend, checks):
    ours, out = of(checks, backend)
    assert ours["script_status"] == 0
    result = json.loads((out / "logs" / "deep_relu" / "result.json").read_text())
    assert result["backend"] == backend and result["status"] == "completed" and result["epochs_completed"] == 6
    keys = result["layer_keys"]
    assert keys == [f"0{i}_hidden_{i}" for i in range(1, 6)] + ["06_output"]
    history = result["history"]
    for key in keys:
        assert len(history[f"grad_norm/{key}/mean"]) == 6 and history[f"update_ratio/{key}"][0] > 0
    assert "dead_units/01_hidden_1" in history and result["verdict"] and result["init_diagnostics"]
    # Member 0 of the seeds is seed 0's run: the same weights, batches and steps.
    seeds = result["seeds"]
    assert [seed["seed"] for seed in seeds] == [0, 1, 2]
    for key in ("loss", "val_loss", "accuracy", "grad_norm/01_hidden_1/mean", "grad_norm/06_output/max"):
        np.testing.assert_allclose(seeds[0]["history"][key], history[key], rtol=1e-5, atol=1e-7, err_msg=key)
    assert seeds[0]["test_accuracy"] == pytest.approx(result["test_accuracy"], abs=1e-6)
    assert seeds[0]["verdict"] == result["verdict"]
    # TensorBoard's own reader: the gradient norms and histograms, and the epoch metrics.
    train = EventAccumulator(str(out / "logs" / "deep_relu" / "train"), size_guidance={"scalars": 0, "histograms": 0})
    train.Reload()
    np.testing.assert_allclose(
        [event.value for event in train.Scalars("grad_norm/01_hidden_1/mean")],
        history["grad_norm/01_hidden_1/mean"],
        rtol=1e-6,
    )
    assert [event.step for event in train.Histograms("gradients/06_output")] == list(range(6))
    assert {"epoch_loss", "epoch_accuracy", "dead_units/01_hidden_1"} <= set(train.Tags()["scalars"])
    np.testing.assert_allclose([event.value for event in train.Scalars("epoch_loss")], history["loss"], rtol=1e-6)
    validation = EventAccumulator(str(out / "logs" / "deep_relu" / "validation"), size_guidance={"scalars": 0})
    np.testing.assert_allclose(
        [event.value for event in validation.Reload().Scalars("epoch_accuracy")], history["val_accuracy"], rtol=1e-6
    )
    figures = sorted(path.name for path in (out / "figures").glob("deep_relu_*"))
    assert figures == [
        f"deep_relu_{kind}.png"
        for kind in ("decision_boundary", "grad_heatmap", "grad_norms", "init_jacobians", "learning_curves")
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_nan_loss_stops_the_script_with_status_1_and_keeps_its_logs(backend, checks):
    ours, out = of(checks, backend)
    assert ours["nan_script_status"] == 1
    result = json.loads((out / "logs" / "nan" / "result.json").read_text())
    assert result["status"] == "nan_loss" and result["epochs_completed"] == 1
    assert not np.isfinite(result["history"]["loss"][-1]) and len(result["history"]["accuracy"]) == 1


@pytest.mark.parametrize("script", ["multiseed.py", "studies.py"])
def test_the_sweeps_say_they_run_on_tensorflow_only(script, tmp_path, monkeypatch):
    from conftest import run_in_this_process

    monkeypatch.setenv("KERAS_BACKEND", "jax")
    extra = ["depth"] if script == "studies.py" else []
    status, _, stderr = run_in_this_process(script, *extra, "--log-dir", tmp_path / "logs", "--epochs", "1")
    assert status == 2
    assert stderr.strip().splitlines() == [
        "error: the sweeps train on TensorFlow only, not on jax: unset KERAS_BACKEND or use --backend tensorflow "
        "(the scripts, mlp_tanh.py and mlp_relu_deep.py, run on every backend)"
    ]
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize(
    "flag, message",
    [
        (["--backend", "mxnet"], "error: unknown backend 'mxnet': choose one of tensorflow, jax, torch"),
        (["--backend=jax"], "error: Keras is already running on tensorflow; cannot switch to jax"),
    ],
)
def test_a_bad_backend_is_one_line_and_exit_2(flag, message, tmp_path):
    from conftest import run_in_this_process

    status, _, stderr = run_in_this_process("mlp_tanh.py", *flag, "--log-dir", tmp_path / "logs")
    assert status == 2
    assert stderr.strip().splitlines()[0].startswith(message) and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "logs").exists()


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_headline_holds_on_every_backend(backend, tmp_path):
    # The conclusions, not seed 0's numbers: each backend draws its own weights from the same seeds.
    from test_headline import AT_LEAST, AT_MOST

    from gradient_lab.thresholds import SUCCESS_ACCURACY

    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install -r requirements-backends.txt)")
    process = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "backend_checks.py"), str(tmp_path), "--headline"],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "KERAS_BACKEND": backend},
    )
    assert process.returncode == 0, process.stderr[-3000:]
    accuracies = json.loads((tmp_path / "headline.json").read_text())["accuracies"]
    learned = {model: sum(value >= SUCCESS_ACCURACY for value in values) for model, values in accuracies.items()}
    assert learned["shallow_tanh"] >= AT_LEAST and learned["deep_relu"] >= AT_LEAST, learned
    assert learned["deep_tanh"] <= AT_MOST, learned
