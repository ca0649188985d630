"""Independent ways to differentiate a network, written from the spec alone.

Nothing here uses derive's graph, chain or numbers modules: the composed loss is built afresh
with SymPy, autograd differentiates a plain NumPy forward pass, and finite differences use mpmath.
``check_gradients`` compares derive's chain-rule gradients with all three.
"""

from __future__ import annotations

from fractions import Fraction

import autograd.numpy as anp
import mpmath
import sympy as sp
from autograd import grad

from derive.app.network import Network
from derive.spec.model import NetworkSpec


def _activation(name: str, nets: list, lib, slope=Fraction(1, 100)) -> list:
    """A layer's outputs, written from the textbook definitions; ``slope`` is leaky ReLU's below zero."""
    if name == "sigmoid":
        return [1 / (1 + lib.exp(-x)) for x in nets]
    if name == "tanh":
        return [lib.tanh(x) for x in nets]
    if name == "linear":
        return list(nets)
    if name == "relu":
        if lib is sp:
            return [sp.Max(0, x) for x in nets]
        return [x * (x > 0) for x in nets]
    if name == "leaky_relu":  # max(a·x, x) for 0 ≤ a < 1
        a = sp.Rational(slope.numerator, slope.denominator) if lib is sp else _convert(lib)(slope)
        if lib is sp:
            return [sp.Max(a * x, x) for x in nets]
        return [x * (x > 0) + a * x * (x <= 0) for x in nets]
    if name == "softplus":  # log(1 + e^x)
        return [lib.log(1 + lib.exp(x)) for x in nets]
    if name == "elu":  # x above 0, e^x − 1 below (α = 1)
        if lib is sp:
            return [sp.Piecewise((x, x > 0), (sp.exp(x) - 1, True)) for x in nets]
        return [x if x > 0 else lib.exp(x) - 1 for x in nets]
    if name == "softmax":
        exps = [lib.exp(x) for x in nets]
        total = sum(exps)
        return [e / total for e in exps]
    raise ValueError(name)


def _loss(name: str, targets, outs, lib):
    n = len(outs)
    if name == "half_sse":
        return sum((t - o) ** 2 for t, o in zip(targets, outs, strict=True)) / 2
    if name == "mse":
        return sum((t - o) ** 2 for t, o in zip(targets, outs, strict=True)) / n
    if name == "bce":
        return -sum(t * lib.log(o) + (1 - t) * lib.log(1 - o) for t, o in zip(targets, outs, strict=True))
    if name == "cross_entropy":
        return -sum(t * lib.log(o) for t, o in zip(targets, outs, strict=True))
    raise ValueError(name)


def _convert(lib):
    """A fraction as the library's number: mpmath at the working precision, else a float."""
    return (lambda v: mpmath.mpf(v.numerator) / v.denominator) if lib is mpmath else float


def _loss_function(spec: NetworkSpec, lib, convert, *, penalty: bool = False):
    """E_total(params) with params in derive's numbering (w1…, then b1…).

    With ``penalty``, weight decay's (λ/2)·Σ w² over the weights is added: the objective a step descends.
    """
    names = spec.parameter_names()
    decay = convert(spec.weight_decay) if spec.weight_decay else 0

    def loss(params):
        value = dict(zip(names, params, strict=True))
        weights = iter(value[n] for n in names if n.startswith("w"))
        biases = iter(value[n] for n in names if n.startswith("b"))
        layers = []
        for layer in spec.layers:
            rows = [[next(weights) for _ in row] for row in layer.weights]
            if layer.shared_bias:
                b = next(biases)
                bias = [b] * layer.size
            else:
                bias = [next(biases) for _ in range(layer.size)]
            slope = layer.negative_slope if layer.negative_slope is not None else Fraction(1, 100)
            layers.append((rows, bias, layer.activation, slope))
        total = 0
        for example in spec.examples:
            x = [convert(v) for v in example.inputs]
            for rows, bias, activation, slope in layers:
                nets = [
                    sum(w * xi for w, xi in zip(row, x, strict=True)) + b for row, b in zip(rows, bias, strict=True)
                ]
                x = _activation(activation, nets, lib, slope)
            total = total + _loss(spec.loss, [convert(t) for t in example.targets], x, lib)
        total = total / len(spec.examples) if spec.reduction == "mean" else total
        if penalty and spec.weight_decay:
            total = total + decay / 2 * sum(value[n] ** 2 for n in names if n.startswith("w"))
        return total

    return loss


def sympy_gradients(spec: NetworkSpec) -> dict[str, mpmath.mpf]:
    """sympy.diff of the fully composed loss, evaluated at the exact parameters with 50 digits.

    The derivative is evaluated through lambdify with common subexpressions shared: substituting
    into a deep composed derivative with ``subs`` takes minutes on some three-layer networks.
    """
    names = spec.parameter_names()
    symbols = sp.symbols(" ".join(f"p_{n}" for n in names))
    symbols = symbols if isinstance(symbols, tuple) else (symbols,)
    rational = lambda v: sp.Rational(v.numerator, v.denominator)  # noqa: E731
    loss = _loss_function(spec, sp, rational, penalty=True)(list(symbols))
    derivatives = [sp.diff(loss, s) for s in symbols]
    evaluate = sp.lambdify(symbols, derivatives, modules="mpmath", cse=True)
    with mpmath.workdps(50):
        values = evaluate(*(mpmath.mpf(v.numerator) / v.denominator for v in spec.parameters().values()))
        return dict(zip(names, (+value for value in values), strict=True))


def autograd_gradients(spec: NetworkSpec) -> dict[str, float]:
    """Reverse-mode automatic differentiation (autograd) of a plain NumPy forward pass."""
    names = spec.parameter_names()
    loss = _loss_function(spec, anp, float, penalty=True)
    gradient = grad(lambda params: loss([params[i] for i in range(len(names))]))
    values = anp.array([float(v) for v in spec.parameters().values()])
    return dict(zip(names, (float(g) for g in gradient(values)), strict=True))


def finite_differences(spec: NetworkSpec, step: str = "1e-12") -> dict[str, mpmath.mpf]:
    """Central differences of the composed loss at 50 digits."""
    names = spec.parameter_names()
    with mpmath.workdps(50):
        loss = _loss_function(spec, mpmath, lambda v: mpmath.mpf(v.numerator) / v.denominator, penalty=True)
        base = [mpmath.mpf(v.numerator) / v.denominator for v in spec.parameters().values()]
        h = mpmath.mpf(step)
        result = {}
        for i, name in enumerate(names):
            up, down = list(base), list(base)
            up[i] += h
            down[i] -= h
            result[name] = (loss(up) - loss(down)) / (2 * h)
        return result


def loss_value(spec: NetworkSpec) -> mpmath.mpf:
    with mpmath.workdps(50):
        loss = _loss_function(spec, mpmath, lambda v: mpmath.mpf(v.numerator) / v.denominator)
        return loss([mpmath.mpf(v.numerator) / v.denominator for v in spec.parameters().values()])


def close(a, b, rel: float, absolute: float = 1e-15) -> bool:
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), absolute)


def check_gradients(network: Network, *, symbolic: bool = True, autograd_rel: float = 1e-9) -> None:
    """derive's chain-rule gradients against sympy.diff, finite differences and autograd."""
    spec = network.spec
    derived = network.gradients()
    assert list(derived) == spec.parameter_names()
    finite = finite_differences(spec)
    auto = autograd_gradients(spec)
    exact = sympy_gradients(spec) if symbolic else {}
    with mpmath.workdps(50):
        _compare(network, derived, finite, auto, exact, autograd_rel)


def _compare(network, derived, finite, auto, exact, autograd_rel) -> None:
    spec = network.spec
    # autograd's floats round each sum to the size of its largest terms: a gradient whose terms cancel
    # to 0 (a bias's δs of opposite signs) keeps a few of their last bits, 1e-15 beside a 0.4
    float_floor = 1e-14 * max(1.0, *(abs(value) for value in auto.values()))
    for name, gradient in derived.items():
        assert close(gradient.precise, finite[name], 1e-12, 1e-18), (name, gradient.precise, finite[name])
        assert close(gradient.value, auto[name], autograd_rel, float_floor), (name, gradient.value, auto[name])
        if exact:
            assert close(gradient.precise, exact[name], 1e-25, 1e-28), (name, exact[name])
    assert close(network.derivation.loss, loss_value(spec), 1e-30, 1e-35)


def as_fraction(value: float) -> Fraction:
    return Fraction(repr(value))
