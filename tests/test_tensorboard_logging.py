"""The event writer's histograms against np.histogram, and its events read back by TensorBoard."""

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from gradient_lab import tensorboard_events


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
