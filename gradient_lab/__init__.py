"""The machinery behind the experiment scripts: recording runs, fast training, TensorBoard events,
diagnostics, figures, sweeps, statistics over seeds and command-line plumbing.

The story lives in the top-level scripts; read those first.
"""
