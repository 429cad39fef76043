"""The machinery behind the experiment scripts; the story lives in the top-level scripts, read those first.

At this level: `cli` (flags, errors, signals), `experiment` (a run's config and its training),
`models` (the Keras MLP), `diagnostics` (why a network fails) and `thresholds`. The rest is grouped
by job: `records/`, `figures/`, `sweeps/`, `theory/`, and `tf_speed/`, TensorFlow's speed path.
"""
