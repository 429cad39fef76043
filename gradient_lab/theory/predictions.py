"""What theory predicts for the lab's nets at initialisation, before any training step.

Four questions, each answered by a formula from a paper and by a simulation that checks it,
each in its own module:

1. `born_dead`: born-dead ReLU nets (Lu, Shin, Su and Karniadakis 2019). How likely is a
   He-initialised ReLU net to compute a constant function before training starts?
2. `mean_field`: mean-field depth scales for tanh (Poole et al. 2016; Schoenholz et al.
   2017). How many layers can a signal, and its gradient, cross in an infinitely wide tanh net?
   And where that picture stops at finite width.
3. `lengths`: width against depth for ReLU (Hanin 2018; Hanin and Rolnick 2018). How much
   do activation lengths fluctuate from net to net, at finite width?
4. `uniform`: U(0, 1) weights. Their mean is not zero, so mean-field theory does not apply;
   the gradient's attenuation per layer is measured by simulation instead.

`weights` draws the weights as the project's Keras initializers draw them, with zero
biases, as the project's Dense layers start. All of it is numpy (and scipy): no TensorFlow.
`python theory.py` computes it all and writes `results/theory.json`; this module reads that file
back for the studies' figures (`load_theory`, `born_dead_curve`, `tanh_trainable_depth`), and
re-exports `born_dead_probability`.

The docstrings name each paper and the quantity taken from it, but no equation, section or
theorem number: only the papers' abstracts and introductions could be read while this was
checked, so such numbers could not be verified. docs/theory.md ("Sources") says what was checked
and where; it derives every formula used here, and tests/test_theory.py checks each one.
"""

import json
from pathlib import Path

import numpy as np

from gradient_lab.theory.born_dead import born_dead_probability

__all__ = ["born_dead_probability", "load_theory", "born_dead_curve", "tanh_trainable_depth"]


def load_theory(path="results/theory.json"):
    """Reads the file `python theory.py` writes.

    Args:
        path: the JSON file.

    Returns:
        Its dict, or None when the file does not exist.
    """
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else None


def born_dead_curve(predictions, width):
    """P(born dead) on the training inputs against depth, for one width.

    Args:
        predictions: the dict of `load_theory`.
        width: units per hidden layer (5 and 25 are computed by default).

    Returns:
        `(depths, p, se)`, three numpy arrays sorted by depth (empty for a width not computed).
    """
    rows = sorted((row for row in predictions["born_dead"] if row["width"] == width), key=lambda row: row["depth"])
    return tuple(np.array([row[key] for row in rows]) for key in ("depth", "p", "se"))


def tanh_trainable_depth(predictions, case="glorot"):
    """6 xi_c, the depth to which a tanh net trains by the empirical rule of Schoenholz et al. (2017).

    Args:
        predictions: the dict of `load_theory`.
        case: `glorot` (the project's init, zero biases) or `example`.

    Returns:
        The depth as a float, or None when xi_c is infinite: for the project's Glorot init, the
        theory sets no depth limit (see the entry's `note`), so a figure should draw no marker.
    """
    return predictions["tanh_depth_scale"][case]["trainable_depth"]


def linear_drift_per_layer(predictions, initializer, width):
    """exp(drift): the factor by which a typical linear net's |h|^2 changes per layer (`linear_drift` in the JSON).

    Args:
        predictions: the dict of `load_theory`.
        initializer: `glorot_uniform` or `orthogonal`.
        width: units per layer.

    Returns:
        The factor as a float, or None if the JSON has no entry for this initializer and width.
    """
    for row in predictions.get("linear_drift", []):
        if row["initializer"] == initializer and row["width"] == width:
            return float(np.exp(row["drift"]))
    return None
