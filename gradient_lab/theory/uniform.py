"""U(0, 1) weights: the gradient's attenuation per layer at initialisation, measured by numpy backprop.

Their mean is not zero, so mean-field theory does not apply (`mean_field.UNIFORM_NOTE`);
`uniform_attenuation` measures how the gradient shrinks from layer to layer instead.
"""

import math

import numpy as np

from gradient_lab.theory.weights import draw_tanh_net


def tanh_kernel_gradient_norms(kernels, output_kernel, x, y):
    """Each hidden kernel's gradient norm of the mean binary cross-entropy, by plain backprop, for stacked nets.

    The net: h_l = tanh(h_(l-1) W_l), zero biases, p = sigmoid(h_L w_out); the loss is the mean
    over rows of -[y ln p + (1 - y) ln(1 - p)], whose gradient with respect to the logit is
    (p - y) / rows.

    Args:
        kernels: the hidden kernels, each `(nets, fan_in, fan_out)`.
        output_kernel: `(nets, width, 1)`.
        x: `(rows, features)` inputs.
        y: `(rows,)` labels in {0, 1}.

    Returns:
        `(nets, layers)` array of the Frobenius norms of dLoss/dW_l, input side first.
    """
    activations = [np.broadcast_to(np.asarray(x, dtype=np.float64), (len(output_kernel), *np.shape(x)))]
    for kernel in kernels:
        activations.append(np.tanh(activations[-1] @ kernel))
    p = 1 / (1 + np.exp(-(activations[-1] @ output_kernel)))
    delta = (p - np.asarray(y, dtype=np.float64)[None, :, None]) / len(x)  # dLoss/dlogit.
    backward = delta @ np.swapaxes(output_kernel, 1, 2)  # dLoss/dh_L.
    norms = []
    for layer in range(len(kernels), 0, -1):
        delta = backward * (1 - activations[layer] ** 2)  # dLoss/dz_l: tanh' = 1 - tanh^2.
        norms.append(np.linalg.norm(np.swapaxes(activations[layer - 1], 1, 2) @ delta, axis=(1, 2)))
        backward = delta @ np.swapaxes(kernels[layer - 1], 1, 2)
    return np.stack(norms[::-1], axis=1)


def uniform_attenuation(depth, x, y, num_nets, seed, width=5):
    """The gradient's attenuation at initialisation in tanh nets with every kernel U(0, 1), zero biases.

    The norms span decades from net to net, so the averages over nets are geometric means (the
    arithmetic mean is ruled by the few nets whose first layers escape saturation).

    Args:
        depth: hidden layers.
        x, y: the training set; the gradient is of the mean loss over all of it.
        num_nets: nets drawn.
        seed: seeds the weights.
        width: units per hidden layer.

    Returns:
        A dict: `depth`; `layer_grad_norms`, each hidden kernel's gradient norm (input side
        first); `first_layer_grad_norm` and `last_layer_grad_norm`, its ends;
        `attenuation_per_layer`, the geometric mean over layers of the ratio of layer l's norm
        to layer l+1's, (first / last)^(1 / (depth - 1)) (below 1: the gradient shrinks towards
        the input; None at depth 1); `attenuation_near_output`, the same over the last three
        ratios at most, where the saturated layers sit; `nets`.
    """
    kernels, output_kernel = draw_tanh_net(depth, width, num_nets, np.random.default_rng(seed))
    log_norms = np.log(tanh_kernel_gradient_norms(kernels, output_kernel, x, y)).mean(axis=0)

    def mean_ratio(first, last):
        return None if last == first else float(math.exp((log_norms[first] - log_norms[last]) / (last - first)))

    return {
        "depth": depth,
        "layer_grad_norms": np.exp(log_norms).tolist(),
        "first_layer_grad_norm": float(math.exp(log_norms[0])),
        "last_layer_grad_norm": float(math.exp(log_norms[-1])),
        "attenuation_per_layer": mean_ratio(0, depth - 1),
        "attenuation_near_output": mean_ratio(max(0, depth - 4), depth - 1),
        "nets": num_nets,
    }
