"""The epoch logs (loss, accuracy, diagnostics) to TensorBoard, as Keras's `TensorBoard` callback lays them out."""

from pathlib import Path

import keras

from gradient_lab.records.tensorboard_events import EventWriter


class EpochMetricsLogger(keras.callbacks.Callback):
    """Writes the epoch logs (loss, accuracy, ...) like Keras's TensorBoard callback, but cheaply.

    Tags are `epoch_<name>` in `<log_dir>/train` and, for `val_<name>`, in
    `<log_dir>/validation`, the layout Keras users know. Per-layer keys such as
    `saturation/01_hidden_1` keep their name; gradient keys are left to the
    gradient-norm logger (`grad_logging.GradientNormLogger` or `FastGradientNormLogger`).
    """

    def __init__(self, log_dir, keep_gradients=False):
        super().__init__()
        self.log_dir = Path(log_dir)
        self.keep_gradients = keep_gradients  # Also write `grad_norm/...` keys (a stacked seed's, say).
        self.writers = None

    def on_train_begin(self, logs=None):
        if self.writers is None:
            self.writers = {
                "train": EventWriter(self.log_dir / "train"),
                "validation": EventWriter(self.log_dir / "validation"),
            }

    def on_epoch_end(self, epoch, logs=None):
        train, validation = {}, {}
        for key, value in (logs or {}).items():
            if key.startswith("grad_norm") and not self.keep_gradients:
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
