"""Activations and losses, each beside its derivative in textbook form.

Adding an activation or a loss means adding one entry here: its SymPy form, its derivative written
the way a textbook writes it (σ' = σ(1 − σ) in terms of the output, not SymPy's exp quotient), the
rule that produces that derivative (a key into the language catalogs) and its LaTeX.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp


def _minus(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """a − b, kept in the order written."""
    return sp.Add(a, sp.Mul(-1, b, evaluate=False), evaluate=False)


def _times(*factors: sp.Expr) -> sp.Expr:
    return sp.Mul(*factors, evaluate=False)


@dataclass(frozen=True)
class Activation:
    """out = f(net), and f'(net) written in terms of ``net`` and ``out``."""

    name: str
    latex: str
    rule: str
    function: Callable[[sp.Expr], sp.Expr] | None
    derivative: Callable[[sp.Expr, sp.Expr], sp.Expr]

    @property
    def coupled(self) -> bool:
        """Softmax: each output depends on every net input of its layer (see :func:`softmax`)."""
        return self.function is None


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(
        "sigmoid",
        r"\sigma",
        "logistic",
        lambda net: 1 / (1 + sp.exp(-net)),
        lambda net, out: _times(out, _minus(sp.Integer(1), out)),
    ),
    "tanh": Activation(
        "tanh",
        r"\tanh",
        "tanh",
        sp.tanh,
        lambda net, out: _minus(sp.Integer(1), out**2),
    ),
    "relu": Activation(
        "relu",
        r"\operatorname{ReLU}",
        "relu",
        lambda net: sp.Piecewise((net, net > 0), (0, True)),
        lambda net, out: sp.Piecewise((1, net > 0), (0, True)),
    ),
    "linear": Activation(
        "linear",
        r"\operatorname{id}",
        "linear",
        lambda net: net,
        lambda net, out: sp.Integer(1),
    ),
    "softmax": Activation(
        "softmax",
        r"\operatorname{softmax}",
        "softmax",
        None,
        # ∂out_j/∂net_j; the cross terms ∂out_k/∂net_j = −out_k·out_j come from the chain module.
        lambda net, out: _times(out, _minus(sp.Integer(1), out)),
    ),
}


def softmax(nets: list[sp.Expr], j: int) -> sp.Expr:
    """out_j = e^{net_j} / Σ_k e^{net_k}."""
    return sp.exp(nets[j]) / sp.Add(*(sp.exp(net) for net in nets))


@dataclass(frozen=True)
class Loss:
    """The error of one output E_o(t, out) and ∂E_o/∂out, for a layer of ``n`` outputs."""

    name: str
    latex: str
    rule: str
    error: Callable[[sp.Expr, sp.Expr, int], sp.Expr]
    derivative: Callable[[sp.Expr, sp.Expr, int], sp.Expr]


LOSSES: dict[str, Loss] = {
    "half_sse": Loss(
        "half_sse",
        r"\tfrac{1}{2}\sum (t - out)^2",
        "power",
        lambda t, out, n: _times(sp.Rational(1, 2), _minus(t, out) ** 2),
        lambda t, out, n: _times(sp.Integer(-1), _minus(t, out)),
    ),
    "mse": Loss(
        "mse",
        r"\tfrac{1}{n}\sum (t - out)^2",
        "power",
        lambda t, out, n: _minus(t, out) ** 2 if n == 1 else _times(sp.Rational(1, n), _minus(t, out) ** 2),
        lambda t, out, n: _times(sp.Rational(-2, n), _minus(t, out)),
    ),
    "bce": Loss(
        "bce",
        r"-\sum \left[t \log out + (1 - t) \log (1 - out)\right]",
        "logarithm",
        lambda t, out, n: -(t * sp.log(out) + _minus(sp.Integer(1), t) * sp.log(_minus(sp.Integer(1), out))),
        lambda t, out, n: _times(
            sp.Integer(-1), _minus(t / out, _minus(sp.Integer(1), t) / _minus(sp.Integer(1), out))
        ),
    ),
    "cross_entropy": Loss(
        "cross_entropy",
        r"-\sum t \log out",
        "logarithm",
        lambda t, out, n: -(t * sp.log(out)),
        lambda t, out, n: _times(sp.Integer(-1), t / out),
    ),
}
