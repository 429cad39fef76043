"""The full reference experiment, 500 epochs per model (about 15 s each): `pytest -m slow`."""

import pytest

from gradient_lab import experiment


@pytest.mark.slow
def test_shallow_tanh_and_deep_relu_learn_deep_tanh_does_not(tmp_path):
    accuracy = {}
    for model in ("shallow_tanh", "deep_tanh", "deep_relu"):
        result = experiment.train_and_evaluate(experiment.config_for(model), tmp_path / "logs", tmp_path / "figures")
        assert result["status"] == "completed" and result["epochs_completed"] == 500
        accuracy[model] = result["test_accuracy"]
    assert accuracy["shallow_tanh"] >= 0.75, accuracy
    assert accuracy["deep_relu"] >= 0.75, accuracy
    assert accuracy["deep_tanh"] <= 0.65, accuracy
