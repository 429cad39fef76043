"""Writing TensorBoard event files cheaply, on any Keras backend, without TensorFlow.

Keras's `TensorBoard` callback writes each scalar with an eager TensorFlow op, which for
these tiny nets costs more than the epoch's training, and needs TensorFlow on every backend.
`EventWriter` keeps each epoch's numbers in a list and every `flush_every` events builds the
summaries as TensorBoard's own protocol buffers and appends them to the event file with
tensorboardX's record writer (its checksums in C, from the `crc32c` package): the file
format TensorBoard reads. docs/speed.md has the measurements.
"""

import itertools
import os
import socket
import time
from pathlib import Path

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboardX.record_writer import RecordWriter

from gradient_lab import cli

_file_numbers = itertools.count()


class EventWriter:
    """Appends scalars and histograms to one TensorBoard run directory, in batches."""

    def __init__(self, log_dir, flush_every=100):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{time.time():010.0f}.{socket.gethostname()}.{os.getpid()}.{next(_file_numbers)}"
        self._records = RecordWriter(str(self.log_dir / name))
        self._records.write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
        self.flush_every = flush_every
        self._pending = []
        self._scalar_templates = {}  # Tags -> a Summary holding them, to copy and fill in.

    def write(self, step, scalars=None, histograms=None):
        """Queues one event: `scalars` maps tag to float, `histograms` maps tag to an array."""
        self._pending.append((step, time.time(), scalars or {}, histograms or {}))
        if len(self._pending) >= self.flush_every:
            self.flush()

    def write_summary(self, step, summary):
        """Writes one ready-made `Summary` protocol buffer (HParams, say) at once."""
        with cli.stops_deferred():
            self._records.write(event_pb2.Event(wall_time=time.time(), step=step, summary=summary).SerializeToString())

    def flush(self):
        """Writes the queued events and pushes them to disk; a stop signal waits until they are written."""
        with cli.stops_deferred():
            self._write_pending()

    def _write_pending(self):
        # The histograms of all queued events are binned together, in one NumPy pass.
        histograms = iter(histogram_protos([array for *_, arrays in self._pending for array in arrays.values()]))
        for step, wall_time, scalars, arrays in self._pending:
            event = event_pb2.Event(wall_time=wall_time, step=step)
            # Copying a Summary that has the tags and filling in the numbers costs half as
            # much as adding each tagged value anew.
            event.summary.CopyFrom(self._scalar_template(tuple(scalars)))
            for value, number in zip(event.summary.value, scalars.values()):
                value.simple_value = number
            for tag, histogram in zip(arrays, histograms):
                if histogram is not None:  # After a NaN loss there may be nothing left to draw.
                    event.summary.value.add(tag=tag, histo=histogram)
            self._records.write(event.SerializeToString())
        self._pending = []
        self._records.flush()

    def _scalar_template(self, tags):
        if tags not in self._scalar_templates:
            self._scalar_templates[tags] = summary_pb2.Summary(
                value=[summary_pb2.Summary.Value(tag=tag, simple_value=0.0) for tag in tags]
            )
        return self._scalar_templates[tags]

    def close(self):
        """Writes everything queued and closes the file."""
        try:
            self.flush()
        finally:
            self._records.close()


class BatchedSummaryWriter:
    """The `SummaryWriter` calls `grad_logging` makes (`add_scalar`, `add_histogram`, `flush`, `close`), batched.

    tensorboardX's `SummaryWriter` writes and frames every value as it comes: about 5 ms an epoch
    for a 6-layer MLP's 36 scalars and 6 histograms, as much as the epoch's training on JAX. This
    one gathers each step's values into one event of an `EventWriter`, which writes them every
    `flush_every` events: so `flush()` ends the step's event, and the file catches up within
    `flush_every` events, and at `close()`.
    """

    def __init__(self, log_dir, flush_every=100):
        self.events = EventWriter(log_dir, flush_every)
        self._step, self._scalars, self._histograms = None, {}, {}

    def add_scalar(self, tag, value, step):
        self._at(step)
        self._scalars[tag] = float(value)

    def add_histogram(self, tag, values, step):
        self._at(step)
        self._histograms[tag] = np.asarray(values)

    def _at(self, step):
        if step != self._step:
            self.flush()
            self._step = step

    def flush(self):
        if self._scalars or self._histograms:
            self.events.write(self._step, self._scalars, self._histograms)
        self._scalars, self._histograms = {}, {}

    def close(self):
        self.flush()
        self.events.close()


def histogram_protos(arrays, bucket_count=30):
    """Returns a TensorBoard `HistogramProto` (equal-width buckets) for each array, None if it has no finite value.

    All arrays are binned in one NumPy pass, not one pass per array: `EventWriter` bins a
    whole batch of epochs' histograms at once.
    """
    if not arrays:
        return []
    arrays = [np.ravel(array) for array in arrays]
    sizes = [array.size for array in arrays]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    data = np.concatenate(arrays).astype(np.float64)
    finite = np.isfinite(data)
    data = np.where(finite, data, np.nan)
    low, high = np.fmin.reduceat(data, starts), np.fmax.reduceat(data, starts)
    segment = np.repeat(np.arange(len(arrays)), sizes)
    width = np.where(high > low, high - low, 1.0)
    index = np.nan_to_num((data - low[segment]) * (bucket_count / width[segment])).astype(np.int64)
    index = np.clip(index, 0, bucket_count - 1)
    counts = np.bincount(segment * bucket_count + index, weights=finite, minlength=len(arrays) * bucket_count)
    counts = counts.reshape(len(arrays), bucket_count)
    data = np.where(finite, data, 0.0)
    totals, squares = np.add.reduceat(data, starts), np.add.reduceat(data * data, starts)
    numbers = np.add.reduceat(finite.astype(np.int64), starts)
    limits = low[:, None] + width[:, None] * (np.arange(1, bucket_count + 1) / bucket_count)
    # The per-histogram loop reads Python lists: indexing NumPy arrays costs more per number.
    protos = []
    for lowest, highest, number, total, square, bucket_limit, bucket in zip(
        low.tolist(),
        high.tolist(),
        numbers.tolist(),
        totals.tolist(),
        squares.tolist(),
        limits.tolist(),
        counts.tolist(),
    ):
        if number == 0:
            protos.append(None)
            continue
        if highest == lowest:
            bucket_limit, bucket = [highest], [float(number)]
        protos.append(
            summary_pb2.HistogramProto(
                min=lowest,
                max=highest,
                num=number,
                sum=total,
                sum_squares=square,
                bucket_limit=bucket_limit,
                bucket=bucket,
            )
        )
    return protos


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
