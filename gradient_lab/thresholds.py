"""What the diagnostics' and the statistics' words mean, as numbers. docs/diagnostics.md explains them.

- a tanh unit is saturated when |a| > 0.97, where tanh'(z) = 1 - a^2 < 0.06; a sigmoid
  unit when a < 0.03 or a > 0.97, where sigmoid'(z) = a(1 - a) < 0.03 (an eighth of its
  peak 0.25). Either way the unit passes back less than 6% of the gradient it receives;
- a ReLU unit is dead when it outputs 0 on every training input, so it passes back no
  gradient at all and its incoming weights never change again;
- gradients vanish when some hidden layer's gradient norm at epoch 1 is below 1/10 of
  the output layer's (`VANISHING_RATIO`), and explode above 10 times (`EXPLODING_RATIO`);
- a layer is "mostly saturated" or "mostly dead" above 50% (`MOSTLY`);
- updates are too small to move the weights when the median update-to-weight ratio
  lr * ||gradient|| / ||W|| is below 1e-4 (`SMALL_UPDATES`); 1e-3 is the usual rule of thumb;
- a run learned when its test accuracy reaches 0.75 (`SUCCESS_ACCURACY`).

The update-to-weight ratio follows its usual definition, lr * ||gradient|| / ||W||: with
SGD momentum m the step actually taken is up to 1 / (1 - m) times larger (10x at 0.9),
and with Adam it is not the step at all, only a scale of the gradient.
"""

TANH_SATURATION = 0.97
SIGMOID_SATURATION = 0.03  # Saturated below this or above 1 minus this.
VANISHING_RATIO = 0.1
EXPLODING_RATIO = 10.0
MOSTLY = 0.5
SMALL_UPDATES = 1e-4
SUCCESS_ACCURACY = 0.75  # A run "learns" when its final test accuracy reaches this.
