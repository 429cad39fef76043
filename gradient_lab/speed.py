"""The gradient-norm logger a run uses: the fastest one for its backend, with `grad_logging`'s numbers."""

from pathlib import Path

import keras

import grad_logging
from gradient_lab.records.tensorboard_events import BatchedSummaryWriter


def gradient_norm_logger(log_dir, histogram_freq=1, per_step=False):
    """Returns the callback that logs each layer's gradient norms, as `grad_logging.GradientNormLogger(...)`.

    On TensorFlow it is `tf_speed.gradient_logger.FastGradientNormLogger`, which gives the same
    numbers (a test checks them to 1e-6) inside the epoch's own TensorFlow call; on JAX and
    PyTorch it is `grad_logging.GradientNormLogger` itself, the file to read and copy.
    """
    if keras.backend.backend() == "tensorflow":
        from gradient_lab.tf_speed.gradient_logger import FastGradientNormLogger

        return FastGradientNormLogger(log_dir, histogram_freq=histogram_freq, per_step=per_step)
    writer = None if log_dir is None else BatchedSummaryWriter(Path(log_dir) / "train")
    return grad_logging.GradientNormLogger(histogram_freq=histogram_freq, per_step=per_step, writer=writer)
