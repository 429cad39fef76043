"""A run's records: its directory and status, the result JSON and HParams, the seeds beside seed 0, the report.

May import Keras and the other sub-packages; TensorFlow itself only through `tf_speed`.
"""
