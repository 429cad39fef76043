"""The event writer's histograms against np.histogram, its events read back by TensorBoard, without TensorFlow."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboardX.record_writer import RecordWriter

from conftest import ROOT
from gradient_lab import cli
from gradient_lab.records import tensorboard_events


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


def test_a_stop_signal_while_events_are_written_waits_until_every_record_is_whole(tmp_path, monkeypatch):
    # SIGTERM arrives between two records of a flush, as it can after 100 epochs of a run: with the
    # scripts' handlers, the flush ends first and the file reads back whole; then the stop is raised.
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    original_write, written = RecordWriter.write, []

    def write_then_signal(self, data):
        original_write(self, data)
        written.append(data)
        if len(written) == 2:  # After the first two of five events: mid-flush.
            os.kill(os.getpid(), signal.SIGTERM)

    try:
        cli.stop_on_signals()
        writer = tensorboard_events.EventWriter(tmp_path, flush_every=1000)
        for epoch in range(5):
            writer.write(epoch, {"epoch_loss": float(epoch)}, {"gradients/01_hidden_1": np.arange(epoch + 2.0)})
        monkeypatch.setattr(RecordWriter, "write", write_then_signal)
        with pytest.raises(cli.Terminated):
            writer.close()
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
        cli._stop_requested = None
    assert len(written) == 5  # All five events, the last three after the signal came.
    events = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0, "histograms": 0}).Reload()
    assert [event.value for event in events.Scalars("epoch_loss")] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert len(events.Histograms("gradients/01_hidden_1")) == 5


def test_events_are_written_without_tensorflow(tmp_path):
    # As on JAX or PyTorch without TensorFlow installed: here importing TensorFlow (or Keras) fails.
    code = textwrap.dedent(
        f"""
        import importlib.abc, sys
        class NoTensorFlow(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("tensorflow", "keras"):
                    raise ImportError(f"{{name}} is not installed here")
        sys.meta_path.insert(0, NoTensorFlow())
        sys.path.insert(0, {str(ROOT)!r})
        import numpy as np
        from gradient_lab.records import tensorboard_events
        writer = tensorboard_events.EventWriter({str(tmp_path)!r})
        writer.write(0, {{"epoch_loss": 0.5}}, {{"gradients/01_hidden_1": np.arange(4.0)}})
        writer.close()
        tensorboard_events.write_hparams({str(tmp_path / "run")!r}, {{"width": 5}}, {{"test_accuracy": 0.8}})
        print("written")
        """
    )
    process = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0 and process.stdout.strip().endswith("written"), process.stderr
    events = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0, "histograms": 0}).Reload()
    assert [event.value for event in events.Scalars("epoch_loss")] == [0.5]
    assert events.Histograms("gradients/01_hidden_1")[0].histogram_value.num == 4
    hparams = EventAccumulator(str(tmp_path / "run"), size_guidance={"scalars": 0}).Reload()
    assert [event.value for event in hparams.Scalars("hparams/test_accuracy")] == [pytest.approx(0.8)]
