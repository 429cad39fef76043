"""TensorFlow's speed path: whole epochs in one call (`whole_epochs`), the fast gradient-norm logger
(`gradient_logger`), the per-layer statistics of the epoch call (`layer_statistics`), the stacked
seeds (`stacked`), the runtime's start (`runtime`) and the one private Keras hook (`keras_internals`).
The only sub-package that imports TensorFlow.

The Keras and TensorFlow internals it relies on, and where:
- Keras's private `Model._get_metrics_result_or_logs`, replaced during a fast fit (`keras_internals`:
  checked at start-up, with `--plain-fit` as the fallback);
- the model's `train_step`, an instance attribute during a fast fit (`keras_internals.fit_hooks`), which
  calls the class's own through `type(model).train_step.__get__(model)` (`whole_epochs`);
- the optimizer's public `apply`, wrapped on the instance, and `model.train_function = None`, so that
  `fit` traces the wrapper in (`gradient_logger`);
- `tf.raw_ops.ResourceScatterUpdate`, which writes one row of a ring-buffer variable (`gradient_logger`,
  `stacked`);
- `tf.config.threading` before the runtime starts (`runtime`).
"""
