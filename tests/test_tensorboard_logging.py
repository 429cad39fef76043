"""The event writer's histograms against np.histogram, and its events read back by TensorBoard."""

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from gradient_lab.tf_speed import tensorboard_events


def test_histograms_match_numpy():
    rng = np.random.default_rng(0)
    arrays = [
        rng.normal(size=10),
        np.array([2.0, 2.0]),
        np.array([np.nan, 1.0, 3.0]),
        np.array([np.inf]),
        rng.normal(size=(5, 5)),
    ]
    protos = tensorboard_events.histogram_protos(arrays)
    for array, proto in zip(arrays, protos):
        finite = np.ravel(array)[np.isfinite(np.ravel(array))]
        if not finite.size:
            assert proto is None
            continue
        assert (proto.num, proto.min, proto.max) == (finite.size, finite.min(), finite.max())
        assert proto.sum == np.float64(finite.sum()) or abs(proto.sum - finite.sum()) < 1e-12
        if finite.min() == finite.max():
            assert list(proto.bucket) == [finite.size]
        else:
            counts, edges = np.histogram(finite, bins=30)
            assert list(proto.bucket) == counts.tolist()
            np.testing.assert_allclose(proto.bucket_limit, edges[1:])


def test_events_read_back(tmp_path):
    writer = tensorboard_events.EventWriter(tmp_path, flush_every=2)
    for step in range(5):
        writer.write(step, {"loss": 1.0 / (step + 1)}, {"weights": np.arange(step + 2.0)})
    writer.close()
    events = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0, "histograms": 0}).Reload()
    assert [event.value for event in events.Scalars("loss")] == [np.float32(1.0 / (s + 1)) for s in range(5)]
    assert [event.histogram_value.num for event in events.Histograms("weights")] == [2, 3, 4, 5, 6]


def test_a_seeds_events_read_back_as_a_scripts_run(tmp_path):
    from gradient_lab.records.seeds import write_seed_events

    history = {
        "loss": [0.7, 0.6],
        "accuracy": [0.5, 0.6],
        "val_loss": [0.71, 0.65],
        "val_accuracy": [0.48, 0.55],
        "grad_norm/01_hidden_1/mean": [0.01, 0.02],
    }
    write_seed_events(tmp_path / "seed-3", history)
    train = EventAccumulator(str(tmp_path / "seed-3" / "train"), size_guidance={"scalars": 0}).Reload()
    validation = EventAccumulator(str(tmp_path / "seed-3" / "validation"), size_guidance={"scalars": 0}).Reload()
    assert [event.value for event in train.Scalars("epoch_loss")] == [np.float32(0.7), np.float32(0.6)]
    assert [event.value for event in train.Scalars("grad_norm/01_hidden_1/mean")] == [
        np.float32(0.01),
        np.float32(0.02),
    ]
    assert [event.step for event in validation.Scalars("epoch_accuracy")] == [0, 1]
    assert [event.value for event in validation.Scalars("epoch_accuracy")] == [np.float32(0.48), np.float32(0.55)]
