"""The papers' formulas and their Monte Carlo checks: ReLU nets born dead (`born_dead`), mean-field tanh
(`mean_field`), log-length variance (`lengths`), U(0, 1) weights (`uniform`), the weight draws (`weights`),
the results file's tables (`tables`) and what the other modules read from it (`predictions`).

NumPy and SciPy only: no Keras, no TensorFlow.
"""
