"""grad_logging.py on every Keras backend: copied alone, against each backend's own autodiff, and across them.

Each backend runs in a fresh interpreter (`KERAS_BACKEND` is read once, when Keras is imported),
with grad_logging.py copied alone into an empty directory. A backend that is not installed is
skipped with its reason; CI installs all three (requirements-backends.txt).
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import ROOT

BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}  # Backend: the package it needs.

# Three Dense layers with fixed weights, SGD with learning rate 0 (the weights never move, so every
# step's gradient is the autodiff of the same function on its batch), 3 batches a epoch, no shuffle.
USE = """
    import json, sys
    import keras
    import numpy as np
    from grad_logging import GradientNormLogger, history_key, layer_keys

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(48, 3)).astype("float32"), rng.normal(size=(48, 1)).astype("float32")
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(8, activation="tanh", name="encoder")(inputs)
    hidden = keras.layers.Dense(4, activation="relu", name="middle")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1, name="head")(hidden))
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse")
    history = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0,
                        callbacks=[GradientNormLogger(log_dir="logs")]).history

    def autodiff(xb, yb):  # The backend's own gradients of the compiled loss, one per trainable variable.
        loss = keras.losses.MeanSquaredError()
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf
            with tf.GradientTape() as tape:
                value = loss(yb, model(xb, training=True))
            return [g.numpy() for g in tape.gradient(value, model.trainable_variables)]
        if backend == "jax":
            import jax
            def of(trainable):
                pred, _ = model.stateless_call(trainable, [v.value for v in model.non_trainable_variables], xb)
                return loss(yb, pred)
            return [np.asarray(g) for g in jax.grad(of)([v.value for v in model.trainable_variables])]
        import torch
        for v in model.trainable_variables:
            v.value.grad = None
        loss(torch.as_tensor(yb), model(torch.as_tensor(xb), training=True)).backward()
        return [v.value.grad.cpu().numpy() for v in model.trainable_variables]

    norms = []  # [batch][layer] = (kernel, bias, total)
    for start in (0, 16, 32):
        grads = autodiff(x[start:start + 16], y[start:start + 16])
        kernels, biases = grads[0::2], grads[1::2]
        norms.append([(np.linalg.norm(k), np.linalg.norm(b), np.sqrt(np.sum(k**2) + np.sum(b**2)))
                      for k, b in zip(kernels, biases)])
    norms = np.array(norms)
    expected = {}
    for layer, key in enumerate(layer_keys(model)):
        for part, name in enumerate(("kernel_", "bias_", "")):
            expected[history_key(key, name + "mean")] = float(norms[:, layer, part].mean())
            expected[history_key(key, name + "max")] = float(norms[:, layer, part].max())
    # Mixed precision's LossScaleOptimizer (scale 2**15): the inner optimizer's unscaled gradients.
    model.compile(optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(learning_rate=0.0)), loss="mse")
    scaled = model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0,
                       callbacks=[GradientNormLogger()]).history
    ours = sorted(name for name in sys.modules if name.split(".")[0] in ("gradient_lab", "data"))
    print(json.dumps({"backend": keras.backend.backend(), "tensorflow": "tensorflow" in sys.modules, "ours": ours,
                      "history": {k: v for k, v in history.items() if k.startswith("grad_norm/")},
                      "loss_scaled": {k: v for k, v in scaled.items() if k.startswith("grad_norm/")},
                      "expected": expected}))
"""


def installed(backend):
    return importlib.util.find_spec(BACKENDS[backend]) is not None


def run_copied_alone(backend, directory):
    """Runs USE with grad_logging.py copied alone into `directory`, on `backend`; returns its JSON output."""
    shutil.copy(ROOT / "grad_logging.py", directory)
    (directory / "use_it.py").write_text(textwrap.dedent(USE))
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    environment["KERAS_BACKEND"] = backend
    process = subprocess.run(
        [sys.executable, "use_it.py"], cwd=directory, capture_output=True, text=True, timeout=300, env=environment
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Each installed backend's run; the missing ones are named, so that their tests skip saying why."""
    results = {}
    for backend in BACKENDS:
        if installed(backend):
            directory = tmp_path_factory.mktemp(backend)
            results[backend] = {**run_copied_alone(backend, directory), "train_events": directory / "logs" / "train"}
    return results


pytestmark = pytest.mark.xdist_group("backends")


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_copied_alone_its_norms_are_the_backends_own_autodiff(backend, outputs):
    if backend not in outputs:
        pytest.skip(f"{BACKENDS[backend]} is not installed (pip install -r requirements-backends.txt)")
    output = outputs[backend]
    assert output["backend"] == backend
    assert output["tensorflow"] == (backend == "tensorflow")  # No TensorFlow on JAX or PyTorch.
    assert output["ours"] == []  # Nothing of this repo was imported: the file works alone.
    history, expected = output["history"], output["expected"]
    assert sorted(history) == sorted(expected) and len(expected) == 3 * 6
    for key, value in expected.items():
        np.testing.assert_allclose(history[key], [value, value], rtol=1e-5, err_msg=f"{backend} {key}")
        # Under a LossScaleOptimizer: the same, unscaled, norms.
        np.testing.assert_allclose(output["loss_scaled"][key], [value], rtol=1e-5, err_msg=f"{backend} scaled {key}")
    # The event file, read back by TensorBoard's own reader: the same numbers, a histogram an epoch.
    events = EventAccumulator(str(output["train_events"]), size_guidance={"scalars": 0, "histograms": 0}).Reload()
    for key, values in history.items():
        np.testing.assert_allclose([event.value for event in events.Scalars(key)], values, rtol=1e-6)
    histograms = events.Histograms("gradients/01_encoder")
    assert [event.step for event in histograms] == [0, 1] and histograms[0].histogram_value.num == 3 * 8 + 8


def test_the_backends_agree_with_each_other(outputs):
    if len(outputs) < 3:
        pytest.skip(f"needs all three backends; installed: {sorted(outputs)}")
    reference = outputs["tensorflow"]["history"]
    for backend in ("jax", "torch"):
        for key, values in reference.items():
            np.testing.assert_allclose(outputs[backend]["history"][key], values, rtol=1e-4, err_msg=f"{backend} {key}")
