"""Starting TensorFlow as this lab runs it: quiet, one thread per op, a chosen number of ops at a time."""

import os
import sys


def start_tensorflow(ops_at_a_time=1):
    """Imports TensorFlow and Keras and starts the runtime with one thread per op, with stderr muted.

    One thread per op: for these tiny models, splitting an op between threads costs more
    than it saves, and parallel sweeps run one process per core. One op at a time is the
    fastest for one model (two cost a single run about 15%); the scripts ask for two, so
    that their other seeds, training in a second thread, run beside seed 0 on the second
    core (`stacked.TrainingThread`). Muted stderr hides the C++ start-up chatter (CUDA not
    found, oneDNN notes) that TensorFlow prints before it reads TF_CPP_MIN_LOG_LEVEL. A
    failed import still raises with its traceback. Only the first call counts.

    Args:
        ops_at_a_time: TensorFlow's inter-op threads.
    """
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(ops_at_a_time)
        tf.config.list_logical_devices()  # Starts the runtime now, while stderr is muted.
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
