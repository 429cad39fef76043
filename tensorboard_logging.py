"""Writing TensorBoard event files cheaply, off the training thread.

Keras's `TensorBoard` callback writes each scalar with an eager TensorFlow op, about
0.1 ms apiece here: more than a whole epoch of our training. `EventWriter` builds each
epoch's summaries as one protocol buffer in a background thread and appends it to the
event file with TensorFlow's record writer, the same file format TensorBoard reads.
"""

import concurrent.futures
import itertools
import os
import socket
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorboard.compat.proto import event_pb2, summary_pb2

_file_numbers = itertools.count()


class EventWriter:
    """Appends scalars and histograms to one TensorBoard run directory, in a background thread."""

    def __init__(self, log_dir):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{time.time():010.0f}.{socket.gethostname()}.{os.getpid()}.{next(_file_numbers)}"
        self._records = tf.io.TFRecordWriter(str(self.log_dir / name))
        self._records.write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._pending = []

    def write(self, step, scalars=None, histograms=None):
        """Queues one event: `scalars` maps tag to float, `histograms` maps tag to an array."""
        self._pending = [future for future in self._pending if not future.done()]
        self._pending.append(self._pool.submit(self._write, step, time.time(), scalars or {}, histograms or {}))

    def write_summary(self, step, summary):
        """Queues one ready-made `Summary` protocol buffer (HParams, say)."""
        self._pending.append(self._pool.submit(self._write_event, event_pb2.Event(
            wall_time=time.time(), step=step, summary=summary)))

    def _write_event(self, event):
        self._records.write(event.SerializeToString())

    def _write(self, step, wall_time, scalars, histograms):
        values = [summary_pb2.Summary.Value(tag=tag, simple_value=value) for tag, value in scalars.items()]
        for tag, data in histograms.items():
            data = np.asarray(data, dtype=np.float64).ravel()
            data = data[np.isfinite(data)]  # After a NaN loss there may be nothing left to draw.
            if data.size:
                values.append(summary_pb2.Summary.Value(tag=tag, histo=histogram_proto(data)))
        self._write_event(event_pb2.Event(wall_time=wall_time, step=step, summary=summary_pb2.Summary(value=values)))

    def flush(self):
        """Waits for the queued events and pushes them to disk."""
        for future in self._pending:
            future.result()
        self._pending = []
        self._records.flush()

    def close(self):
        """Writes everything queued and closes the file."""
        self.flush()
        self._pool.shutdown(wait=True)
        self._records.close()


def histogram_proto(data, bucket_count=30):
    """Returns a TensorBoard `HistogramProto` of finite, non-empty `data` with equal-width buckets."""
    data = np.asarray(data, dtype=np.float64).ravel()
    low, high = float(data.min()), float(data.max())
    if low == high:
        limits, counts = [high], [data.size]
    else:
        # np.histogram does the same, but takes ~10x longer on a few dozen values.
        index = np.minimum(((data - low) * (bucket_count / (high - low))).astype(np.int64), bucket_count - 1)
        counts = np.bincount(index, minlength=bucket_count).tolist()
        limits = np.linspace(low, high, bucket_count + 1)[1:].tolist()
    return summary_pb2.HistogramProto(min=low, max=high, num=data.size, sum=float(data.sum()),
                                      sum_squares=float(np.dot(data, data)), bucket_limit=limits, bucket=counts)


def write_hparams(run_dir, hparams, metrics):
    """Records a finished run for TensorBoard's HParams dashboard.

    Args:
        run_dir: the run's directory; the session summary goes in its root.
        hparams: `{name: bool, int, float or str}` describing the run.
        metrics: `{name: float}` final metrics, logged as scalars `hparams/<name>`.
    """
    from tensorboard.plugins.hparams import summary_v2 as hparams_summary

    writer = EventWriter(run_dir)
    writer.write_summary(0, hparams_summary.hparams_pb(hparams, trial_id=Path(run_dir).name))
    writer.write(0, {f"hparams/{name}": float(value) for name, value in metrics.items()})
    writer.close()


class EpochMetricsLogger(keras.callbacks.Callback):
    """Writes the epoch logs (loss, accuracy, ...) like Keras's TensorBoard callback, but cheaply.

    Tags are `epoch_<name>` in `<log_dir>/train` and, for `val_<name>`, in
    `<log_dir>/validation`, the layout Keras users know. Per-layer keys such as
    `saturation/01_hidden_1` keep their name; gradient keys are left to
    `grad_logging.GradientNormLogger`.
    """

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = Path(log_dir)
        self.writers = None

    def on_train_begin(self, logs=None):
        if self.writers is None:
            self.writers = {"train": EventWriter(self.log_dir / "train"),
                            "validation": EventWriter(self.log_dir / "validation")}

    def on_epoch_end(self, epoch, logs=None):
        train, validation = {}, {}
        for key, value in (logs or {}).items():
            if key.startswith("grad_norm"):
                continue
            if "/" in key:  # Per-layer diagnostics keep their group/layer tag.
                train[key] = float(value)
            elif key.startswith("val_"):
                validation[f"epoch_{key[4:]}"] = float(value)
            else:
                train[f"epoch_{key}"] = float(value)
        self.writers["train"].write(epoch, train)
        self.writers["validation"].write(epoch, validation)

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        """Writes what is queued and closes the files; safe to call twice."""
        for writer in (self.writers or {}).values():
            writer.close()
        self.writers = None
