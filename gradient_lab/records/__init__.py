"""A run's records: `run` (the `Run` the scripts use), its directory and status (`run_dir`), the
result JSON and HParams (`result`), its diagnostics (`diagnosis`), the seeds beside seed 0 (`seeds`),
the report (`report`), and the TensorBoard event files (`tensorboard_events`, without TensorFlow,
and `epoch_metrics`). A run trains through `tf_speed`; `result` and `tensorboard_events` need no Keras.
"""
