"""The helper functions written into the module: activations, their slopes, losses, rounding, defaults.

Each is a fixed fragment written here; an activation or loss name from the spec only selects one.
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from derive.core.rules import rounded
from derive.outputs.code.names import softmax_cross_entropy
from derive.spec.model import NetworkSpec

# Each activation: its function and the slope ∂out/∂net in terms of net and out (softmax has no
# elementwise slope: its outputs are coupled, see _SOFTMAX_DELTA).
ACTIVATION_CODE = {
    "sigmoid": '''
def sigmoid(net: np.ndarray) -> np.ndarray:
    """σ(net) = 1 / (1 + e^(-net))."""
    return 1.0 / (1.0 + np.exp(-net))


def sigmoid_slope(net: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂out/∂net = σ(net)·(1 - σ(net)) = out·(1 - out), written with the output."""
    return out * (1.0 - out)
''',
    "tanh": '''
def tanh(net: np.ndarray) -> np.ndarray:
    """tanh(net) = (e^net - e^(-net)) / (e^net + e^(-net))."""
    return np.tanh(net)


def tanh_slope(net: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂out/∂net = 1 - tanh(net)² = 1 - out², written with the output."""
    return 1.0 - out**2
''',
    "relu": '''
def relu(net: np.ndarray) -> np.ndarray:
    """ReLU(net) = net where net > 0, else 0."""
    return np.where(net > 0, net, 0.0)


def relu_slope(net: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂out/∂net = 1 where net > 0, else 0 (0 at the kink net = 0)."""
    return np.where(net > 0, 1.0, 0.0)
''',
    "linear": '''
def linear(net: np.ndarray) -> np.ndarray:
    """The identity: out = net."""
    return net


def linear_slope(net: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂out/∂net = 1."""
    return np.ones_like(net)
''',
    "leaky_relu": '''
def leaky_relu(net: np.ndarray, slope: float) -> np.ndarray:
    """Leaky ReLU(net) = net where net > 0, else slope·net (the slope below zero: 0.01 by default)."""
    return np.where(net > 0, net, slope * net)


def leaky_relu_slope(net: np.ndarray, out: np.ndarray, slope: float) -> np.ndarray:
    """∂out/∂net = 1 where net > 0, else the slope below zero (taken at the kink net = 0)."""
    return np.where(net > 0, 1.0, slope)
''',
    "softplus": '''
def softplus(net: np.ndarray) -> np.ndarray:
    """softplus(net) = log(1 + e^net), as np.logaddexp(0, net) so that e^net cannot overflow."""
    return np.logaddexp(0.0, net)


def softplus_slope(net: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂out/∂net = e^net / (1 + e^net) = 1 / (1 + e^(-net)): the logistic function of net."""
    return 1.0 / (1.0 + np.exp(-net))
''',
    "elu": '''
def elu(net: np.ndarray) -> np.ndarray:
    """ELU(net) = net where net > 0, else e^net - 1 (α = 1); the minimum keeps e^net finite."""
    return np.where(net > 0, net, np.expm1(np.minimum(net, 0.0)))


def elu_slope(net: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂out/∂net = 1 where net > 0, else e^net = out + 1, written with the output."""
    return np.where(net > 0, 1.0, out + 1.0)
''',
    "softmax": '''
def softmax(net: np.ndarray) -> np.ndarray:
    """out_j = e^net_j / Σ_k e^net_k in each column (example).

    Shifting every net by the column's largest leaves the quotient unchanged and keeps each
    exponential from overflowing.
    """
    exps = np.exp(net - net.max(axis=0, keepdims=True))
    return exps / exps.sum(axis=0, keepdims=True)
''',
}

_SOFTMAX_DELTA = '''
def softmax_delta(out: np.ndarray, dE_dout: np.ndarray) -> np.ndarray:
    """δ = ∂E/∂net through softmax, from g = ∂E/∂out, one column per example.

    Every output depends on every net input of the layer: the Jacobian is
    J[k, j] = ∂out_k/∂net_j = out_k·([k = j] - out_j), i.e. J = diag(out) - out·outᵀ.
    δ = Jᵀ·g = out·(g - Σ_k g_k·out_k), computed without building the n×n matrix.
    """
    return out * (dE_dout - np.sum(dE_dout * out, axis=0, keepdims=True))
'''

# Each loss: E of one example summed over its outputs (one column per example, so np.sum adds
# the examples too), and ∂E/∂out.  mse divides by n, the number of outputs (rows).
LOSS_CODE = {
    "half_sse": (
        '''
def half_sse(targets: np.ndarray, out: np.ndarray) -> float:
    """E = ½ Σ_o (t_o - out_o)², added up over the examples (columns)."""
    return 0.5 * float(np.sum((targets - out) ** 2))
''',
        '''
def half_sse_slope(targets: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂E/∂out_o = -(t_o - out_o): the power rule, then the inner derivative -1."""
    return -(targets - out)
''',
    ),
    "mse": (
        '''
def mse(targets: np.ndarray, out: np.ndarray) -> float:
    """E = (1/n) Σ_o (t_o - out_o)² over the n outputs, added up over the examples."""
    return float(np.sum((targets - out) ** 2)) / out.shape[0]
''',
        '''
def mse_slope(targets: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂E/∂out_o = -(2/n)·(t_o - out_o)."""
    return -2.0 / out.shape[0] * (targets - out)
''',
    ),
    "bce": (
        '''
def bce(targets: np.ndarray, out: np.ndarray) -> float:
    """E = -Σ_o [t_o·log(out_o) + (1 - t_o)·log(1 - out_o)], added up over the examples."""
    return -float(np.sum(targets * np.log(out) + (1.0 - targets) * np.log(1.0 - out)))
''',
        '''
def bce_slope(targets: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂E/∂out_o = -(t_o/out_o - (1 - t_o)/(1 - out_o))."""
    return -(targets / out - (1.0 - targets) / (1.0 - out))
''',
    ),
    "cross_entropy": (
        '''
def cross_entropy(targets: np.ndarray, out: np.ndarray) -> float:
    """E = -Σ_o t_o·log(out_o), added up over the examples."""
    return -float(np.sum(targets * np.log(out)))
''',
        '''
def cross_entropy_slope(targets: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂E/∂out_o = -t_o/out_o."""
    return -targets / out
''',
    ),
}


def _rounding_code() -> str:
    """``round_half_up``, the rule of :func:`derive.core.rules.rounded` printed for NumPy."""
    values, decimals = sp.symbols("values decimals")
    rule = NumPyPrinter().doprint(rounded(values, decimals)).replace("numpy.", "np.")
    return f'''
def round_half_up(values: np.ndarray, decimals: int) -> np.ndarray:
    """Round as done by hand, halves away from zero (0.59327 → 0.5933); a decimal half a double
    holds a few units of its last place below the half (0.145) counts as the half."""
    return {rule}
'''


_PARAMETERS_CODE = '''
def with_defaults(params: Parameters | None) -> Parameters:
    """PARAMETERS, with the values in ``params`` replacing theirs; an unknown name is an error."""
    if params is None:
        return dict(PARAMETERS)
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise KeyError(f"unknown parameters: {', '.join(unknown)}")
    return {**PARAMETERS, **{name: float(value) for name, value in params.items()}}
'''


def helpers(spec: NetworkSpec) -> list[str]:
    """Only the activations, slopes and losses this network uses, in a fixed order."""
    used = {layer.activation for layer in spec.layers}
    helpers = [_PARAMETERS_CODE]
    if spec.round_activations is not None and len(spec.layers) > 1:
        helpers.append(_rounding_code())
    helpers += [ACTIVATION_CODE[name] for name in ACTIVATION_CODE if name in used]
    if spec.layers[-1].activation == "softmax" and not softmax_cross_entropy(spec):
        helpers.append(_SOFTMAX_DELTA)
    error, slope = LOSS_CODE[spec.loss]
    helpers.append(error)
    if not softmax_cross_entropy(spec):
        helpers.append(slope)
    return helpers
