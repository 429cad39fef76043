"""The sweep runner, multi-seed statistics and studies: resume, atomic results, Dask, HParams, bad input."""

import dataclasses
import json

import pandas as pd
import pytest

from gradient_lab import experiment
from gradient_lab.sweeps import intervals
from gradient_lab.sweeps import runner


def tiny_cells(names=("relu_a", "relu_b"), seeds=(0, 1), epochs=2):
    config = experiment.config_for("deep_relu", epochs=epochs, histogram_freq=0)
    return [runner.Cell(name, config, tuple(seeds)) for name in names]


def test_finished_cells_are_skipped_and_partial_ones_redone(tmp_path):
    results = runner.run_sweep(tiny_cells(), tmp_path, jobs=1, progress=False)  # Worker processes: the Dask test.
    assert [result["run_name"] for result in results] == [
        "relu_a-seed0",
        "relu_a-seed1",
        "relu_b-seed0",
        "relu_b-seed1",
    ]
    finished = tmp_path / "relu_a" / "cell.json"
    before = finished.stat().st_mtime_ns
    # A cell killed midway: a directory without its cell.json, plus a stray file inside it.
    (tmp_path / "relu_b" / "cell.json").unlink()
    (tmp_path / "relu_b" / "stray.txt").write_text("left over")
    again = runner.run_sweep(tiny_cells(), tmp_path, jobs=1, progress=False)
    assert finished.stat().st_mtime_ns == before  # Not retrained.
    assert again[:2] == results[:2]
    assert [result["history"] for result in again[2:]] == [result["history"] for result in results[2:]]
    assert not (tmp_path / "relu_b" / "stray.txt").exists()


def test_a_cell_seed_is_that_seed_alone(tmp_path):
    result = runner.run_sweep(tiny_cells(("relu",), seeds=(3,), epochs=3), tmp_path / "cells", jobs=1, progress=False)[
        0
    ]
    alone = experiment.train_and_evaluate(
        experiment.config_for("deep_relu", seed=3, epochs=3, histogram_freq=0), tmp_path / "alone", figure_dir=None
    )
    assert result["config"] == alone["config"] and result["seed"] == 3
    for key, values in result["history"].items():
        assert values == pytest.approx(alone["history"][key], rel=1e-5), key
    assert result["verdict"] == alone["verdict"]


def test_a_saved_cell_with_another_config_or_seeds_is_trained_again(tmp_path):
    runner.run_sweep(tiny_cells(("relu",), seeds=(0,)), tmp_path, jobs=1, progress=False)
    longer = [
        dataclasses.replace(cell, config=dataclasses.replace(cell.config, epochs=3))
        for cell in tiny_cells(("relu",), seeds=(0,))
    ]
    assert runner.run_sweep(longer, tmp_path, jobs=1, progress=False)[0]["epochs_completed"] == 3
    more = runner.run_sweep(tiny_cells(("relu",), seeds=(0, 1), epochs=3), tmp_path, jobs=1, progress=False)
    assert [result["seed"] for result in more] == [0, 1]


def test_a_cell_saved_in_an_older_format_is_trained_again(tmp_path):
    runner.run_sweep(tiny_cells(("relu",), seeds=(0,)), tmp_path, jobs=1, progress=False)
    path = tmp_path / "relu" / "cell.json"
    record = json.loads(path.read_text())
    assert record["format"] == runner.CELL_FORMAT and "born_dead" in record["members"][0]
    del record["format"], record["members"][0]["born_dead"]  # As a cell saved before the check existed.
    path.write_text(json.dumps(record))
    again = runner.run_sweep(tiny_cells(("relu",), seeds=(0,)), tmp_path, jobs=1, progress=False)
    assert "born_dead" in again[0] and json.loads(path.read_text())["format"] == runner.CELL_FORMAT


def test_the_table_counts_born_dead_and_died_in_training_relu_seeds():
    from gradient_lab.sweeps import tables as seed_tables

    def run(group, accuracy, **dead):
        history = {"grad_norm/01_hidden_1/mean": [1.0, 1.0], "grad_norm/02_output/mean": [2.0, 2.0]}
        result = {"status": "completed", "test_accuracy": accuracy, "layer_keys": ["01_hidden_1", "02_output"]}
        return {**result, "history": history, "group": group, **dead}

    relu = [
        run("relu", 0.5, born_dead=True, dead_at_end=True),
        run("relu", 0.5, born_dead=False, dead_at_end=True),
        run("relu", 0.5, born_dead=False, dead_at_end=True),
        run("relu", 0.8, born_dead=False, dead_at_end=False),
    ]
    table = seed_tables.summary_table([*relu, run("tanh", 0.8)], lambda result: result["group"])
    assert table["born_dead"].tolist()[0] == 0.25 and table["died_in_training"].tolist()[0] == 0.5
    assert table[["born_dead", "died_in_training"]].iloc[1].isna().all()  # tanh: not checked.


def test_empty_grid_exits_2(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        runner.run_sweep([], tmp_path)
    assert exit_info.value.code == 2


def test_sweep_on_a_local_dask_cluster(tmp_path):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        results = runner.run_sweep(tiny_cells(), tmp_path, scheduler=cluster.scheduler_address, progress=False)
    assert [result["status"] for result in results] == ["completed"] * 4
    local = runner.train_cell(tiny_cells()[0], tmp_path / "local")["members"]
    assert [result["history"] for result in results[:2]] == [result["history"] for result in local]  # Same numbers.


def test_every_seed_is_in_the_hparams_dashboard(tmp_path):
    from tensorboard.backend.event_processing import plugin_event_multiplexer

    runner.run_sweep(tiny_cells(("relu",)), tmp_path, jobs=1, progress=False)
    multiplexer = plugin_event_multiplexer.EventMultiplexer().AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    hparams_runs = multiplexer.PluginRunToTagToContent("hparams")
    assert set(hparams_runs) == {"relu/seed-0", "relu/seed-1"}
    assert "hparams/test_accuracy" in multiplexer.PluginRunToTagToContent("scalars")["relu/seed-0"]


def test_accuracy_summary_reference_values():
    summary = intervals.accuracy_summary([0.5, 0.8, 0.9, 0.7])
    assert summary["mean"] == pytest.approx(0.725)
    assert summary["std"] == pytest.approx(0.170782512765993)
    # t(0.975, 3) = 3.182446305284263; half width = t * std / sqrt(n).
    assert summary["ci95_high"] - summary["mean"] == pytest.approx(3.182446305284263 * 0.170782512765993 / 2)
    assert summary["median"] == pytest.approx(0.75) and summary["success_rate"] == 0.5


def test_multiseed_script_writes_table_and_figure(tmp_path, run_main):
    # In this process: multiseed.py's true subprocess run is test_script_contracts.py's bad-flag one.
    status, _, err = run_main(
        "multiseed",
        "--seeds",
        2,
        "--epochs",
        3,
        "--jobs",
        1,  # In this process: cells on worker processes are tested above (Dask).
        "--log-dir",
        tmp_path / "logs",
        "--figure-dir",
        tmp_path / "figures",
        "--table-dir",
        tmp_path / "results",
    )
    assert status == 0, err
    table = pd.read_csv(tmp_path / "results" / "multiseed.csv")
    assert list(table["model"]) == ["shallow_tanh", "deep_tanh", "deep_relu"]
    assert list(table["runs"]) == [2, 2, 2]
    assert {
        "mean",
        "std",
        "ci95_low",
        "ci95_high",
        "median",
        "success_rate",
        "grad_ratio_epoch1",
        "grad_ratio_final",
    } <= set(table.columns)
    assert (tmp_path / "results" / "multiseed.md").read_text().startswith("| model")
    from matplotlib.image import imread  # A real PNG of plausible size; test_figures.py checks what it shows.

    height, width = imread(tmp_path / "figures" / "multiseed.png").shape[:2]
    assert height > 200 and width > 200
    other, run = json.loads((tmp_path / "logs" / "deep_tanh" / "cell.json").read_text())["members"]
    expected = run["history"]["grad_norm/01_hidden_1/mean"][0] / run["history"]["grad_norm/06_output/mean"][0]
    other_ratio = other["history"]["grad_norm/01_hidden_1/mean"][0] / other["history"]["grad_norm/06_output/mean"][0]
    assert table.loc[1, "grad_ratio_epoch1"] == pytest.approx((expected + other_ratio) / 2)  # Median of two.


def test_study_script_runs_a_small_grid(tmp_path, run_main):
    # In this process: studies.py's true subprocess run is test_script_contracts.py's bad-name one.
    args = [
        "--seeds",
        1,
        "--epochs",
        2,
        "--depths",
        1,
        2,
        "--log-dir",
        tmp_path / "logs",
        "--figure-dir",
        tmp_path / "figures",
        "--table-dir",
        tmp_path / "results",
        "--no-progress",
        "--jobs",
        1,
    ]
    status, _, err = run_main("studies", "weights", *args)
    assert status == 0, err
    assert (tmp_path / "figures" / "study_weights.png").exists()
    cell = json.loads((tmp_path / "logs" / "weights" / "relu_he-depth2" / "cell.json").read_text())
    run = cell["members"][0]
    assert len(run["history"]["weight_change_l1/01_hidden_1"]) == 2
    assert run["history"]["weight_change_l1/01_hidden_1"][0] > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["studies.py", "depthh"], "unknown study 'depthh'"),
        (["multiseed.py", "--seeds", "0"], "--seeds: must be >= 1"),
        (["multiseed.py", "--seeds", "100000000"], "would need about"),
        (["multiseed.py", "--epochs", "99999999999999999999"], "--epochs: must be <= 10000 (20 times the reference"),
        (["studies.py", "depth", "--epochs", "10001"], "--epochs: must be <= 10000"),
        (["studies.py", "depth", "--depths", "100000"], "more than this lab builds"),
        (["studies.py", "depth", "--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler"),
        (["multiseed.py", "--scheduler", "not an address"], "cannot reach the Dask scheduler"),
        (["studies.py", "depth", "--theory", "tests"], "--theory tests: cannot read it"),  # A folder, not JSON.
    ],
)
def test_bad_sweep_input_exits_2_and_keeps_results(tmp_path, args, message, run_main, monkeypatch):
    monkeypatch.setattr(runner, "SCHEDULER_TIMEOUT", 1)  # Not 5 s: nothing listens on port 9.
    # Results where each command would write its first run: multiseed's and the depth study's.
    logs = tmp_path / "logs"
    finished = [
        logs / "shallow_tanh" / "cell.json",
        logs / "depth" / "tanh_uniform01-depth1" / "cell.json",
    ]
    for path in finished:
        path.parent.mkdir(parents=True)
        path.write_text('{"status": "completed"}')
    script, *flags = args
    status, _, stderr = run_main(
        script.removesuffix(".py"),
        *flags,
        *("--log-dir", logs, "--figure-dir", tmp_path / "figures", "--table-dir", tmp_path / "results"),
    )
    assert status == 2, stderr
    assert stderr.startswith("error: ") and message in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert all(path.read_text() == '{"status": "completed"}' for path in finished)
    assert sorted(path.name for path in logs.rglob("*")) == sorted(
        ["shallow_tanh", "depth", "tanh_uniform01-depth1", "cell.json", "cell.json"]
    )


def test_success_interval_is_the_wilson_score_interval():
    # Wilson (1927): (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), written out here for 2 of 5.
    z, n, p = 1.959963984540054, 5, 0.4
    centre, half = p + z**2 / (2 * n), z * (p * (1 - p) / n + z**2 / (4 * n**2)) ** 0.5
    interval = intervals.success_interval(2, 5)
    assert interval["success_ci95_low"] == pytest.approx((centre - half) / (1 + z**2 / n))
    assert interval["success_ci95_high"] == pytest.approx((centre + half) / (1 + z**2 / n))


def test_distribution_line_counts_nan_runs_as_not_learned():
    line = intervals.distribution_line([0.5, 0.8, 0.9, 0.7], runs=5)
    assert line == "over 5 seeds: test 0.725 ± 0.171 (95% CI 0.453-0.997), 2/5 learned, 1 with a NaN loss"
