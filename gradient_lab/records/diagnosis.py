"""What a run measures to say why it fails: at init, every epoch (callbacks), and at the end (the verdict)."""

from gradient_lab import diagnostics
from gradient_lab import layer_statistics


class Diagnosis:
    """A run's diagnostics, as its config asks (`diagnostics`, `weight_logging`); see `gradient_lab/diagnostics.py`."""

    def __init__(self, config):
        self.config = config
        self.at_init = self.born_dead = self.snapshots = None

    def callbacks(self, model, x, y):
        """Measures the backward signal (and, for ReLU, born dead) at init; returns the callbacks for `fit`.

        They add saturation, dead units, activation statistics and update ratios per
        layer to the epoch logs, keep decision-boundary snapshots and, with
        `--weight-logging`, each layer's weight norms. None with `--no-diagnostics`.
        """
        callbacks = []
        if self.config.diagnostics:
            self.at_init = layer_statistics.backward_signal_at_init(model, x, y)
            if self.config.activation in diagnostics.DEAD_CHECKED_ACTIVATIONS:
                self.born_dead = diagnostics.model_constant_output(model, x)
            self.snapshots = diagnostics.DecisionBoundarySnapshots(epochs=(1, 10, 100, self.config.epochs))
            callbacks += [layer_statistics.LayerDiagnostics(x), self.snapshots]
        if self.config.weight_logging:
            callbacks.append(diagnostics.WeightNormLogger())
        return callbacks

    def add_to(self, result, model, x_train):
        """Adds the diagnostics to a finished run's `result`: init, born dead and dead at the end, the verdict."""
        if result["status"] == "completed" and self.snapshots is not None:
            if self.config.epochs not in self.snapshots.snapshots:
                self.snapshots.take(self.config.epochs)
        if self.born_dead is not None and result["epochs_completed"]:
            result["born_dead"] = self.born_dead
            result["dead_at_end"] = diagnostics.model_constant_output(model, x_train)
        if self.config.diagnostics:
            result["init_diagnostics"] = self.at_init
            result["verdict"] = diagnostics.verdict(result) if result["epochs_completed"] else []
