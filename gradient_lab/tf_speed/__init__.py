"""TensorFlow's speed path: whole epochs in one call (`whole_epochs`), the fast gradient-norm logger
(`gradient_logger`), the TensorBoard event writer (`tensorboard_events`), the stacked seeds (`stacked`)
and the one private Keras hook (`keras_internals`). The only sub-package that imports TensorFlow.
"""
