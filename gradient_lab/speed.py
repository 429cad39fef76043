"""The gradient-norm logger a run uses: the fastest one for its backend, with `grad_logging`'s numbers."""

import keras

import grad_logging


def gradient_norm_logger(log_dir, histogram_freq=1, per_step=False):
    """Returns the callback that logs each layer's gradient norms, as `grad_logging.GradientNormLogger(...)`.

    On TensorFlow it is `tf_speed.gradient_logger.FastGradientNormLogger`, which gives the same
    numbers (a test checks them to 1e-6) inside the epoch's own TensorFlow call; on JAX and
    PyTorch it is `grad_logging.GradientNormLogger` itself, the file to read and copy.
    """
    if keras.backend.backend() == "tensorflow":
        from gradient_lab.tf_speed.gradient_logger import FastGradientNormLogger

        return FastGradientNormLogger(log_dir, histogram_freq=histogram_freq, per_step=per_step)
    return grad_logging.GradientNormLogger(log_dir, histogram_freq=histogram_freq, per_step=per_step)
