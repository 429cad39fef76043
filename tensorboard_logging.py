"""Writing TensorBoard event files cheaply.

Keras's `TensorBoard` callback writes each scalar with an eager TensorFlow op, about
0.1 ms apiece here: more than a whole epoch of our training. `EventWriter` keeps each
epoch's numbers in a list and every `flush_every` events builds the summaries as
protocol buffers and appends them to the event file with TensorFlow's record writer,
the file format TensorBoard reads. (A background thread was tried: it holds the GIL
while the training thread waits for it, which cost more than it saved.)
"""

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
    """Appends scalars and histograms to one TensorBoard run directory, in batches."""

    def __init__(self, log_dir, flush_every=100):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{time.time():010.0f}.{socket.gethostname()}.{os.getpid()}.{next(_file_numbers)}"
        self._records = tf.io.TFRecordWriter(str(self.log_dir / name))
        self._records.write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
        self.flush_every = flush_every
        self._pending = []

    def write(self, step, scalars=None, histograms=None):
        """Queues one event: `scalars` maps tag to float, `histograms` maps tag to a `histogram_table` row."""
        self._pending.append((step, time.time(), scalars or {}, histograms or {}))
        if len(self._pending) >= self.flush_every:
            self.flush()

    def write_summary(self, step, summary):
        """Writes one ready-made `Summary` protocol buffer (HParams, say) at once."""
        self._records.write(event_pb2.Event(wall_time=time.time(), step=step, summary=summary).SerializeToString())

    def _event(self, step, wall_time, scalars, histograms):
        values = [summary_pb2.Summary.Value(tag=tag, simple_value=value) for tag, value in scalars.items()]
        for tag, row in histograms.items():
            histogram = histogram_proto(row)
            if histogram is not None:  # After a NaN loss there may be nothing left to draw.
                values.append(summary_pb2.Summary.Value(tag=tag, histo=histogram))
        return event_pb2.Event(wall_time=wall_time, step=step, summary=summary_pb2.Summary(value=values))

    def flush(self):
        """Writes the queued events and pushes them to disk."""
        for pending in self._pending:
            self._records.write(self._event(*pending).SerializeToString())
        self._pending = []
        self._records.flush()

    def close(self):
        """Writes everything queued and closes the file."""
        self.flush()
        self._records.close()


HISTOGRAM_COLUMNS = ("min", "max", "num", "sum", "sum_squares")  # Then one column per bucket.


def histogram_table(values, segment_ids, num_segments, bucket_count=30):
    """Traceable: an equal-width histogram of each segment of `values`, NaN and inf left out.

    Binning runs in TensorFlow so that a training graph can do it at the end of an epoch
    (see `fast_fit`), instead of NumPy doing it in Python after every epoch.

    Args:
        values: a 1-D tensor holding all segments.
        segment_ids: the segment (0 to num_segments - 1) of each entry of `values`.
        num_segments: number of segments.
        bucket_count: buckets per histogram.

    Returns:
        A float64 tensor `[num_segments, 5 + bucket_count]`: the `HISTOGRAM_COLUMNS`
        of the finite values, then the count in each bucket between min and max.
    """
    values = tf.cast(values, tf.float64)
    finite = tf.math.is_finite(values)
    low = tf.math.unsorted_segment_min(tf.where(finite, values, np.inf), segment_ids, num_segments)
    high = tf.math.unsorted_segment_max(tf.where(finite, values, -np.inf), segment_ids, num_segments)
    width = tf.where(high > low, high - low, 1.0)
    position = (values - tf.gather(low, segment_ids)) * (bucket_count / tf.gather(width, segment_ids))
    bucket = tf.clip_by_value(tf.cast(tf.where(finite, position, 0.0), tf.int32), 0, bucket_count - 1)
    weight = tf.cast(finite, tf.float64)
    counts = tf.math.unsorted_segment_sum(weight, segment_ids * bucket_count + bucket, num_segments * bucket_count)
    finite_values = tf.where(finite, values, 0.0)
    columns = [low, high, tf.math.unsorted_segment_sum(weight, segment_ids, num_segments),
               tf.math.unsorted_segment_sum(finite_values, segment_ids, num_segments),
               tf.math.unsorted_segment_sum(tf.square(finite_values), segment_ids, num_segments)]
    return tf.concat([tf.stack(columns, axis=1), tf.reshape(counts, [num_segments, bucket_count])], axis=1)


def histogram_proto(row):
    """Returns TensorBoard's `HistogramProto` of one `histogram_table` row, None if it counted no value."""
    low, high, number, total, squares = (float(value) for value in row[:len(HISTOGRAM_COLUMNS)])
    if number == 0:
        return None
    counts = row[len(HISTOGRAM_COLUMNS):]
    if high == low:
        limits, bucket = [high], [number]
    else:
        limits = (low + (high - low) * np.arange(1, len(counts) + 1) / len(counts)).tolist()
        bucket = counts.tolist()
    return summary_pb2.HistogramProto(min=low, max=high, num=number, sum=total, sum_squares=squares,
                                      bucket_limit=limits, bucket=bucket)


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
