"""N seeds of one MLP trained at once, as one computation: every layer's weights get a leading seed axis.

At this size a run is almost all per-op overhead: 20 width-5 MLPs still do microseconds of
arithmetic per step. So the seeds of one configuration train as the members of one Keras
model, `StackedMLP`, whose `StackedDense` layers each do one batched matmul for all members.

Member k is seed k's single run, exactly:
- its initial weights are drawn as the single model of seed k draws them, by the same
  initializers with the same seeds (`stacked_mlp`);
- it shuffles the training set every epoch with its own `SeedGenerator(k)`, as
  `whole_epochs` does for the single run;
- the gradient of the sum of the members' losses is each member's own gradient (the members
  share no weight), and SGD with momentum and Adam update every weight on its own, so each
  member takes the steps it would take alone;
- it has its own loss, accuracy, validation numbers and per-layer gradient norms (mean and
  max over the epoch's steps, as `grad_logging.GradientNormLogger` reports them);
- a member whose loss becomes NaN or Inf is frozen (its loss no longer counts, its numbers
  stop at that epoch) and marked `nan_loss`; the others go on.

It trains through `model.fit`: `train_step` is overridden to run one whole epoch (the
training set is one "batch"), and `metrics` is overridden to be empty, so that `fit`'s own
metric reset and read between epochs cost nothing; the per-member numbers are the logs.

The parts: `layers.py` (a stacked Dense layer and the flat weights' layout), `model.py` (the
model and its epoch) and `members.py` (each member from its seed's initial weights, and its
result). `gradient_lab/stacked_seeds.py` trains them in a second thread.
"""

from gradient_lab.tf_speed.stacked.members import fit_members, stacked_mlp, train_stacked
from gradient_lab.tf_speed.stacked.model import StackedMLP

__all__ = ["StackedMLP", "fit_members", "stacked_mlp", "train_stacked"]
