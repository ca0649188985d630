"""An independent forward pass for conv2d, pooling, dense and recurrent layers, written from the definitions.

Explicit loops, NumPy arrays, no derive: the convolution as every library computes it (a
cross-correlation over the zero-padded input), max and average pooling, the Elman recurrence
h_t = f(W x_t + U h_{t−1} + b).  Parameters are numbered as the issue asks: every layer's weights
in layer order (a kernel filter by filter, channel by channel, row by row; a recurrent layer's W,
then U), then every layer's biases.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "linear": lambda z: z,
}


def conv2d(x, kernels, bias, stride, padding):
    """out[f, r, s] = b_f + Σ_c Σ_a Σ_b K[f, c, a, b] · x_padded[c, r·stride + a, s·stride + b]."""
    channels, rows, columns = x.shape
    filters, _, kh, kw = kernels.shape
    padded = np.zeros((channels, rows + 2 * padding, columns + 2 * padding))
    padded[:, padding : padding + rows, padding : padding + columns] = x
    out_rows = (rows + 2 * padding - kh) // stride + 1
    out_columns = (columns + 2 * padding - kw) // stride + 1
    out = np.zeros((filters, out_rows, out_columns))
    for f in range(filters):
        for r in range(out_rows):
            for s in range(out_columns):
                total = bias[f]
                for c in range(channels):
                    for a in range(kh):
                        for b in range(kw):
                            total += kernels[f, c, a, b] * padded[c, r * stride + a, s * stride + b]
                out[f, r, s] = total
    return out


def pool(x, size, stride, kind):
    """The maximum or the mean of each size×size window, moved by stride."""
    channels, rows, columns = x.shape
    out_rows, out_columns = (rows - size) // stride + 1, (columns - size) // stride + 1
    out = np.zeros((channels, out_rows, out_columns))
    for c in range(channels):
        for r in range(out_rows):
            for s in range(out_columns):
                window = [x[c, r * stride + a, s * stride + b] for a in range(size) for b in range(size)]
                out[c, r, s] = max(window) if kind == "maxpool" else sum(window) / len(window)
    return out


class Net:
    """A network as parameter arrays and layer descriptions; ``loss`` is half the summed squared error
    (or, with ``loss_name = "bce"``, the binary cross-entropy −Σ [t ln y + (1 − t) ln(1 − y)])."""

    def __init__(self, layers, examples, learning_rate=0.5, loss_name="half_sse"):
        self.layers = layers  # dicts: type, name, activation, arrays
        self.examples = examples  # (inputs, targets) as nested lists
        self.learning_rate = learning_rate
        self.loss_name = loss_name

    # -- numbering ----------------------------------------------------------------------------

    def slots(self):
        """(layer index, key) of every parameter array in numbering order: weights first, then biases."""
        weights, biases = [], []
        for n, layer in enumerate(self.layers):
            for key in ("kernels", "weights", "recurrent_weights"):
                if key in layer:
                    weights.append((n, key))
            if "bias" in layer:
                biases.append((n, "bias"))
        return weights + biases

    def theta(self):
        return np.concatenate([np.ravel(np.asarray(self.layers[n][key], dtype=float)) for n, key in self.slots()])

    def with_theta(self, theta):
        layers = [dict(layer) for layer in self.layers]
        start = 0
        for n, key in self.slots():
            shape = np.shape(np.asarray(self.layers[n][key], dtype=float))
            size = int(np.prod(shape)) if shape else 1
            layers[n][key] = theta[start : start + size].reshape(shape) if shape else theta[start]
            start += size
        return Net(layers, self.examples, self.learning_rate, self.loss_name)

    def names(self):
        n_weights = sum(np.size(self.layers[n][key]) for n, key in self.slots() if key != "bias")
        n_biases = len(self.theta()) - n_weights
        return [f"w{k + 1}" for k in range(n_weights)] + [f"b{k + 1}" for k in range(n_biases)]

    # -- the forward pass ---------------------------------------------------------------------

    def outputs(self, inputs):
        """The output vectors: one for an image, one per time step for a sequence."""
        first = self.layers[0]
        if first["type"] == "recurrent":
            return self._sequence(inputs)
        x = np.asarray(inputs, dtype=float)
        if first["type"] == "conv2d" and x.ndim == 2:
            x = x[None]
        for layer in self.layers:
            x = self._apply(layer, x)
        return [x]

    def _apply(self, layer, x):
        kind = layer["type"]
        if kind == "conv2d":
            kernels = np.asarray(layer["kernels"], dtype=float)
            if kernels.ndim == 3:
                kernels = kernels[:, None]
            bias = np.broadcast_to(np.asarray(layer["bias"], dtype=float), (kernels.shape[0],))
            net = conv2d(x, kernels, bias, layer.get("stride", 1), layer.get("padding", 0))
            return ACTIVATIONS[layer["activation"]](net)
        if kind in ("maxpool", "avgpool"):
            return pool(x, layer["size"], layer.get("stride", layer["size"]), kind)
        weights = np.asarray(layer["weights"], dtype=float)
        flat = np.ravel(x)  # maps flattened filter by filter, row by row
        net = np.array([sum(weights[j, k] * flat[k] for k in range(len(flat))) for j in range(len(weights))])
        return ACTIVATIONS[layer["activation"]](net + np.asarray(layer["bias"], dtype=float))

    def hidden_states(self, inputs):
        """h_1 … h_T (and their net inputs) of the recurrent first layer."""
        layer = self.layers[0]
        W = np.asarray(layer["weights"], dtype=float)
        U = np.asarray(layer["recurrent_weights"], dtype=float)
        b = np.broadcast_to(np.asarray(layer["bias"], dtype=float), (len(W),))
        h = np.asarray(layer.get("initial_state", np.zeros(len(W))), dtype=float)
        states, nets = [], []
        for x in inputs:
            net = W @ np.asarray(x, dtype=float) + U @ h + b
            h = ACTIVATIONS[layer["activation"]](net)
            states.append(h)
            nets.append(net)
        return states, nets

    def _sequence(self, inputs):
        states, _ = self.hidden_states(inputs)
        outputs = []
        for h in states:
            y = h
            for layer in self.layers[1:]:
                y = self._apply(layer, y)
            outputs.append(y)
        return outputs

    def loss(self):
        """Σ over examples (and over the steps that have targets) of ½ Σ (t − out)² (or of the cross-entropy)."""
        total = 0.0
        for inputs, targets in self.examples:
            outputs = self.outputs(inputs)
            every = np.ndim(targets) == 2  # a target at every step, or at the last only
            pairs = zip(targets, outputs, strict=True) if every else [(targets, outputs[-1])]
            for t, y in pairs:
                t = np.asarray(t, dtype=float)
                if self.loss_name == "bce":
                    total -= float(np.sum(t * np.log(y) + (1 - t) * np.log(1 - y)))
                else:
                    total += 0.5 * float(np.sum((t - y) ** 2))
        return total

    def central_differences(self, step=1e-6):
        theta = self.theta()
        found = []
        for k in range(len(theta)):
            up, down = theta.copy(), theta.copy()
            up[k] += step
            down[k] -= step
            found.append((self.with_theta(up).loss() - self.with_theta(down).loss()) / (2 * step))
        return dict(zip(self.names(), found, strict=True))

    # -- as a network file ---------------------------------------------------------------------

    def write(self, folder: Path, name: str) -> Path:
        def plain(value):
            return np.asarray(value, dtype=float).tolist() if np.ndim(value) else float(value)

        layers = [
            {key: plain(value) if key in ARRAYS else value for key, value in layer.items()} for layer in self.layers
        ]
        data = {
            **({"loss": self.loss_name} if self.loss_name != "half_sse" else {}),
            "learning_rate": self.learning_rate,
            "layers": layers,
            "examples": [{"inputs": i, "targets": t} for i, t in self.examples],
        }
        path = folder / f"{name}.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return path


ARRAYS = ("kernels", "weights", "recurrent_weights", "bias", "initial_state")


def close(found: float, expected: float, relative: float = 1e-6, floor: float = 1e-9) -> bool:
    return abs(found - expected) <= relative * abs(expected) + floor


def at_60_digits(expr, values):
    """An expression of SymPy evaluated at exact values with mpmath at 60 significant digits.

    Compiled once with its common subexpressions shared (``lambdify(cse=True)``): a gradient composed
    through several time steps repeats each hidden state many times, and ``sympy.N`` of the substituted
    tree takes a second or more per gradient where this takes a tenth.  Sixty digits leave twenty to
    spare for comparisons at 10⁻³⁰.
    """
    import mpmath
    import sympy as sp

    free = sorted(expr.free_symbols, key=str)
    function = sp.lambdify(free, expr, "mpmath", cse=True)
    with mpmath.workdps(60):
        return function(*(mpmath.mpf(values[s].p) / values[s].q for s in free))
