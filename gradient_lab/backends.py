"""Which Keras backend a script runs on: TensorFlow (the default), JAX or PyTorch.

Keras reads its backend once, from `KERAS_BACKEND`, when it is first imported. So a script
calls `start()` before it imports Keras: `--backend` on the command line wins, then
`KERAS_BACKEND`, then TensorFlow.

    KERAS_BACKEND=jax python mlp_relu_deep.py
    python mlp_relu_deep.py --backend torch

How each trains (`records/run.py` chooses):
- TensorFlow: each epoch in one TensorFlow call (`tf_speed/`), or plain `model.fit` with `--plain-fit`;
- JAX: plain `model.fit`, its steps jitted by Keras, one call per epoch's steps;
- PyTorch: each epoch in one `train_step` call (`torch_speed.py`), or plain `model.fit` with `--plain-fit`.
"""

import os
import sys

from gradient_lab import cli

NAMES = ("tensorflow", "jax", "torch")
DEFAULT = "tensorflow"


def requested(argv=None):
    """The backend `--backend` names in `argv` (default: the command line), else `KERAS_BACKEND`, else TensorFlow."""
    argv = sys.argv[1:] if argv is None else argv
    name = os.environ.get("KERAS_BACKEND") or DEFAULT
    for index, argument in enumerate(argv):
        if argument == "--backend" and index + 1 < len(argv):
            name = argv[index + 1]
        elif argument.startswith("--backend="):
            name = argument.split("=", 1)[1]
    return name


def start(ops_at_a_time=1, argv=None):
    """Sets Keras's backend as `requested` and imports Keras on it; one error line and exit status 2 if it cannot.

    Args:
        ops_at_a_time: TensorFlow's inter-op threads (`tf_speed.runtime.start_tensorflow`); two
            let a script's seeds train on the second core beside seed 0.
        argv: the command line's arguments (default: `sys.argv[1:]`).

    Returns:
        The backend's name.
    """
    name = requested(argv)
    if name not in NAMES:
        cli.fail(f"unknown backend {name!r}: choose one of {', '.join(NAMES)} (--backend or KERAS_BACKEND)")
    if "keras" in sys.modules and sys.modules["keras"].backend.backend() != name:
        cli.fail(f"Keras is already running on {sys.modules['keras'].backend.backend()}; cannot switch to {name}")
    os.environ["KERAS_BACKEND"] = name
    if name == "tensorflow":
        from gradient_lab.tf_speed import runtime

        runtime.start_tensorflow(ops_at_a_time)
        return name
    try:
        __import__(name)  # jax or torch: an optional install (requirements-backends.txt).
    except ImportError:
        cli.fail(f"the {name} backend is not installed: pip install -r requirements-backends.txt")
    if name == "torch":
        import torch

        torch.set_num_threads(1)  # As TensorFlow here: one thread per op is faster for these tiny nets.
    import keras  # noqa: F401

    return name


def current():
    """The backend Keras runs on."""
    import keras

    return keras.backend.backend()


def add_flag(parser):
    """Adds `--backend`, which `start` has read already; here for `--help` and for the parsed flags."""
    parser.add_argument(
        "--backend",
        choices=NAMES,
        default=requested([]),
        help="Keras backend, also set by KERAS_BACKEND (default: %(default)s)",
    )


def require_tensorflow(what):
    """Exits with status 2 and one line unless Keras runs on TensorFlow: `what` is TensorFlow-only."""
    if current() != "tensorflow":
        cli.fail(f"{what} runs on TensorFlow only, not on {current()}: use --backend tensorflow")
