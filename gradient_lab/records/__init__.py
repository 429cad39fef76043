"""A run's records: its directory and status, the result JSON and HParams, the seeds beside seed 0,
the report, and the TensorBoard event files (`tensorboard_events`, written without TensorFlow).

May import Keras and the other sub-packages; TensorFlow itself only through `tf_speed`.
"""
