"""Seed determinism, bad input (exit status 2, one line), NaN loss and Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from gradient_lab import experiment
from conftest import ROOT, run_script


def short_run(tmp_path, seed, name):
    config = experiment.config_for("deep_tanh", epochs=3, seed=seed)
    return experiment.train_and_evaluate(config, tmp_path / "logs", figure_dir=None, run_name=name)


def test_same_seed_gives_identical_numbers(tmp_path):
    first, second = short_run(tmp_path, 7, "a"), short_run(tmp_path, 7, "b")
    assert first["history"] == second["history"]  # Accuracies, losses and every gradient norm.
    assert first["test_accuracy"] == second["test_accuracy"]
    other = short_run(tmp_path, 8, "c")
    assert other["history"]["grad_norm/01_hidden_1/mean"] != first["history"]["grad_norm/01_hidden_1/mean"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "--epochs: must be >= 1"),
        (["--batch-size", "-3"], "--batch-size: must be >= 1"),
        (["--width", "0"], "--width: must be >= 1"),
        (["--depth", "zero"], "--depth: expected an integer"),
        (["--learning-rate", "nan"], "--learning-rate: expected a finite number"),
        (["--momentum", "1.5"], "--momentum: must be < 1"),
        (["--model", "medium"], "--model: invalid choice"),
        (["--activation", "tanhh"], "unknown activation 'tanhh'"),
        (["--initializer", "he_uniformm"], "unknown initializer 'he_uniformm'"),
        (["--run-name", "../elsewhere", "--model", "deep"], "--run-name must be a plain directory name"),
        (["--run-name", "mine"], "--run-name names one run"),
        (["--seeds", "100000000"], "seeds of 5 layers x 5 units would need about"),
        (["--depth", "100000"], "100000 hidden layers is more than this lab builds"),
        (["--epochs", "99999999999999999999"], "--epochs: must be <= 10000 (20 times the reference 500"),
        (["--epochs", "10001"], "--epochs: must be <= 10000"),
    ],
)
def test_bad_flags_exit_2_with_one_line(tmp_path, capsys, args, message):
    import mlp_tanh  # In this process: the same main() as `python mlp_tanh.py`, without a TensorFlow start each.

    with pytest.raises(SystemExit) as stop:
        mlp_tanh.main([*args, "--log-dir", str(tmp_path / "logs"), "--figure-dir", str(tmp_path / "figures")])
    stderr = capsys.readouterr().err
    assert stop.value.code == 2
    assert stderr.startswith("error: ") and message in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert not (tmp_path / "logs").exists() and not (tmp_path / "figures").exists()


def test_a_bad_flag_is_the_whole_of_stderr(tmp_path, run_main):
    # As from the shell: the script's own `__main__` path (in this process, as the Ctrl-C tests below).
    status, _, stderr = run_main("mlp_tanh", "--momentum", "1.5", "--log-dir", tmp_path / "logs")
    assert status == 2
    assert stderr.strip().splitlines() == ["error: mlp_tanh.py: argument --momentum: must be < 1, got 1.5"]
    assert not (tmp_path / "logs").exists()


def test_unwritable_log_dir_exit_2(tmp_path, run_main):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    status, _, stderr = run_main("mlp_relu_deep", "--log-dir", blocker / "logs", "--figure-dir", tmp_path / "figures")
    assert status == 2
    expected = f"error: cannot write to directory {str(blocker / 'logs')!r}: Not a directory"
    assert stderr.strip().splitlines() == [expected]
    assert blocker.read_text() == "not a directory"


def test_nan_loss_stops_with_message_and_keeps_logs(tmp_path):
    process = run_script(
        "mlp_relu_deep.py",
        "--epochs",
        "50",
        "--learning-rate",
        "1e9",
        "--seeds",
        "1",  # Seed 0 alone: the NaN is seed 0's.
        "--log-dir",
        tmp_path / "logs",
        "--figure-dir",
        tmp_path / "figures",
    )
    assert process.returncode == 1
    assert "loss became NaN or Inf" in process.stdout and "Traceback" not in process.stderr
    result = json.loads((tmp_path / "logs" / "deep_relu" / "result.json").read_text())
    assert result["status"] == "nan_loss" and 1 <= result["epochs_completed"] < 50
    assert np.isnan(result["history"]["loss"][-1])
    events = EventAccumulator(str(tmp_path / "logs" / "deep_relu" / "train")).Reload()
    assert "epoch_loss" in events.Tags()["scalars"]


def stop_when_ready(run_dir, when):
    """Waits until the deep tanh run in `run_dir` is at the moment `when`; at most 180 s."""

    def ready():
        if when == "at once":  # As soon as the run directory exists: during set-up or tracing.
            return run_dir.exists()
        # Events are written in batches of 100 epochs: a grown file means 100 epochs are done.
        return sum(path.stat().st_size for path in run_dir.glob("train/events*")) > 2000

    deadline = time.time() + 180
    while not ready() and time.time() < deadline:
        time.sleep(0.05)


def assert_partial_result(run_dir, when, stdout, stderr):
    """The stopped run said so, without a traceback, and left a readable result and events."""
    assert "interrupted" in stdout and "Traceback" not in stderr, (stdout[-2000:], stderr[-4000:])
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "interrupted"
    if when == "after 100 epochs":
        # The flush happens inside the 100th epoch's callbacks, before the History records it.
        assert result["epochs_completed"] >= 99
        assert len(result["history"]["grad_norm/01_hidden_1/mean"]) == result["epochs_completed"]
        events = EventAccumulator(str(run_dir / "train"), size_guidance={"scalars": 0}).Reload()
        assert len(events.Scalars("grad_norm/01_hidden_1/mean")) >= 99


def deep_tanh_flags(tmp_path, seeds=20):
    epochs = experiment.MAX_EPOCHS  # Far more than the test waits for.
    outputs = ["--log-dir", tmp_path / "logs", "--figure-dir", tmp_path / "figures"]
    return ["--model", "deep", "--epochs", epochs, "--seeds", seeds, *outputs]


def test_sigterm_from_outside_leaves_readable_partial_result(tmp_path):
    # SIGTERM is what kill, timeout and batch schedulers send: a fresh interpreter, stopped from outside
    # as soon as it starts (after 100 epochs: in this process, below).
    when = "at once"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "mlp_tanh.py"), *map(str, deep_tanh_flags(tmp_path))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stop_when_ready(tmp_path / "logs" / "deep_tanh", when)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()  # Never left running, whatever failed.
    assert process.returncode == 143, stderr
    assert_partial_result(tmp_path / "logs" / "deep_tanh", when, stdout, stderr)


@pytest.mark.parametrize(
    "when, stop, status",
    [
        ("at once", signal.SIGINT, 130),
        ("after 100 epochs", signal.SIGINT, 130),
        ("after 100 epochs", signal.SIGTERM, 143),
    ],
)
def test_ctrl_c_or_sigterm_leaves_readable_partial_result(tmp_path, when, stop, status, run_main):
    # Ctrl-C sends SIGINT to the script's process, kill SIGTERM: here, to this one, in which main() runs as
    # the script's would.
    run_dir, finished = tmp_path / "logs" / "deep_tanh", threading.Event()

    def send_signal():
        stop_when_ready(run_dir, when)  # The run directory exists only once main() handles the signals itself.
        if not finished.is_set():  # Never into pytest itself.
            os.kill(os.getpid(), stop)

    threading.Thread(target=send_signal, daemon=True).start()
    try:
        # After 100 epochs, seed 0 alone: the seeds' thread, stopped at once above, would only add work here.
        seeds = 20 if when == "at once" else 1
        returned, stdout, stderr = run_main("mlp_tanh", *deep_tanh_flags(tmp_path, seeds))
    finally:
        finished.set()
    assert returned == status, stderr
    assert_partial_result(run_dir, when, stdout, stderr)


def test_an_unwritable_figure_dir_leaves_no_log_dir_behind(tmp_path, capsys):
    import mlp_relu_deep

    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(SystemExit) as stop:
        mlp_relu_deep.main(["--log-dir", str(tmp_path / "new" / "logs"), "--figure-dir", str(blocker / "figures")])
    assert stop.value.code == 2 and capsys.readouterr().err.startswith("error: cannot write to directory")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a_file"]  # logs/ and new/ removed again.


def test_a_stop_signal_whose_exception_was_lost_still_stops_the_run_at_the_epoch_end(tmp_path, monkeypatch):
    import keras

    import data
    from gradient_lab import cli
    from gradient_lab.records.run import Run

    class LoseTheStop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:  # As if SIGTERM's exception had been raised and swallowed inside TensorFlow.
                monkeypatch.setattr(cli, "_stop_requested", cli.Terminated())

    config = experiment.config_for("shallow_tanh", epochs=50, diagnostics=False)
    run = Run(config, tmp_path / "logs")
    with run.recorded():
        (x, y), test_data = data.load_circles()
        model = experiment.compiled_model(config)
        run.fit(model, x, y, epochs=50, batch_size=32, validation_data=test_data, callbacks=[LoseTheStop()])
    assert run.result["status"] == "interrupted" and run.stop_status == 143
    assert run.result["epochs_completed"] == 3  # Stopped at the end of the next epoch, before History recorded it.
