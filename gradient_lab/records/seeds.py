"""The seeds beside seed 0: seeds 0 .. N-1 of a run's model, trained at once, and their place in its record."""

from gradient_lab import diagnostics
from gradient_lab.records.run_dir import stop_check
from gradient_lab.stacked_seeds import TrainingThread
from gradient_lab.records.epoch_metrics import EpochMetricsLogger

KEPT = ("loss", "accuracy", "val_loss", "val_accuracy")  # With each layer's mean and max gradient norm.


class SeedsBeside:
    """Seeds 0 .. `num_seeds`-1 of `config`'s model, one stacked computation in a second thread (none below 2).

    They do not depend on seed 0's run, so `start` starts them while seed 0 trains (on the
    second core), and `add_to` waits for them and adds them to seed 0's result.
    """

    def __init__(self, config, num_seeds):
        self.config, self.num_seeds, self.job = config, num_seeds, None

    def start(self):
        """Starts training them now, in a second thread, unless started or fewer than 2."""
        if self.num_seeds >= 2 and self.job is None:
            # Their verdicts read only the last epoch's diagnostics; so they take only those.
            self.job = TrainingThread(
                self.config, list(range(self.num_seeds)), callbacks=[stop_check()], final_diagnostics_only=True
            )

    def cancel(self):
        """Stops them at the end of their current epoch, if they run."""
        if self.job is not None:
            self.job.cancel()
            self.job = None

    def add_to(self, result, run_dir, seed_logs=False):
        """Waits for them and adds them to `result` as `seeds`, one entry per seed; starts them first if needed.

        Each entry keeps the seed's status, final accuracies, verdict, and per epoch the loss,
        accuracies and each layer's mean and max gradient norm. With `seed_logs`, each seed's
        numbers also go to TensorBoard, as the run `<run_dir>/seeds/seed-<k>`.

        Raises:
            KeyboardInterrupt: Ctrl-C or SIGTERM while waiting (they are stopped first).
        """
        self.start()
        if self.job is None:
            return
        try:
            members = self.job.result()
        except KeyboardInterrupt:
            self.cancel()
            raise
        self.job = None
        for member in members:
            member["verdict"] = diagnostics.verdict(member) if self.config.diagnostics else []
            member["history"] = {
                key: values
                for key, values in member["history"].items()
                if key in KEPT or key.endswith(("/mean", "/max")) and key.startswith("grad_norm/")
            }
            if seed_logs:
                write_seed_events(run_dir / "seeds" / f"seed-{member['seed']}", member["history"])
        result["seeds"] = members


def write_seed_events(run_dir, history):
    """Writes one seed's per-epoch numbers as a TensorBoard run: `train/` and `validation/`, as a script's run."""
    writer = EpochMetricsLogger(run_dir, keep_gradients=True)
    writer.on_train_begin()
    for epoch in range(len(history["loss"])):
        writer.on_epoch_end(epoch, {key: values[epoch] for key, values in history.items()})
    writer.close()
