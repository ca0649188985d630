"""Activations and losses, each beside its derivative in textbook form.

Adding an activation or a loss means adding one entry here: its SymPy form, its derivative written
the way a textbook writes it (σ' = σ(1 − σ) in terms of the output, not SymPy's exp quotient), the
rule that produces that derivative (a key into the language catalogs) and its LaTeX.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp


def _minus(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """a − b, kept in the order written (a number b as −b itself: e^net − 1, not e^net − 1·1)."""
    negative = -b if isinstance(b, sp.Number) else sp.Mul(-1, b, evaluate=False)
    return sp.Add(a, negative, evaluate=False)


def _times(*factors: sp.Expr) -> sp.Expr:
    return sp.Mul(*factors, evaluate=False)


def _cases(positive: sp.Expr, otherwise: sp.Expr, net: sp.Expr) -> sp.Expr:
    """``positive`` where net > 0, else ``otherwise``: ReLU's family, kinked at 0."""
    return sp.Piecewise((positive, net > 0), (otherwise, True))


def constant_expr(value: Fraction) -> sp.Float:
    """An activation's constant (leaky ReLU's 0.01) as the decimal it is written as.

    A Float prints as 0.01 where a Rational would print as 1/100; at 60 digits it carries the
    exact decimal well beyond the 40 digits values are computed with.
    """
    return sp.Float(sp.Rational(value.numerator, value.denominator), 60)


@dataclass(frozen=True)
class Activation:
    """out = f(net), and f'(net) written in terms of ``net`` and ``out``.

    An activation with a constant (leaky ReLU's slope below zero) takes it as a last argument of
    ``function`` and ``derivative``; ``constant`` names the layer key that sets it and
    ``default`` is its value when the key is absent.  :meth:`output` and :meth:`slope` pass it.
    """

    latex: str
    rule: str
    function: Callable[..., sp.Expr] | None
    derivative: Callable[..., sp.Expr]
    constant: str | None = None
    default: Fraction | None = None

    @property
    def coupled(self) -> bool:
        """Softmax: each output depends on every net input of its layer (see :func:`softmax`)."""
        return self.function is None

    def constants(self, value: Fraction | None = None) -> tuple[sp.Expr, ...]:
        """The constant to pass (``value``, or the default), or nothing for an activation without one."""
        if self.constant is None:
            return ()
        return (constant_expr(self.default if value is None else value),)  # type: ignore[arg-type]

    def output(self, net: sp.Expr, constant: Fraction | None = None) -> sp.Expr:
        """out = f(net), with the layer's constant if the activation has one."""
        assert self.function is not None, "softmax couples its layer: see softmax()"
        return self.function(net, *self.constants(constant))

    def slope(self, net: sp.Expr, out: sp.Expr, constant: Fraction | None = None) -> sp.Expr:
        """∂out/∂net = f'(net) in its textbook form, with the layer's constant if it has one."""
        return self.derivative(net, out, *self.constants(constant))


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(
        r"\sigma",
        "logistic",
        lambda net: 1 / (1 + sp.exp(-net)),
        lambda net, out: _times(out, _minus(sp.Integer(1), out)),
    ),
    "tanh": Activation(
        r"\tanh",
        "tanh",
        sp.tanh,
        lambda net, out: _minus(sp.Integer(1), out**2),
    ),
    "relu": Activation(
        r"\operatorname{ReLU}",
        "relu",
        lambda net: sp.Piecewise((net, net > 0), (0, True)),
        lambda net, out: sp.Piecewise((1, net > 0), (0, True)),
    ),
    # f(net) = net above 0, a·net below (a = 0.01 unless the layer's negative_slope says otherwise);
    # f'(net) = 1 above 0, a below (a at the kink, as ReLU takes its lower slope there)
    "leaky_relu": Activation(
        r"\operatorname{LReLU}",
        "leaky_relu",
        lambda net, slope: _cases(net, _times(slope, net), net),
        lambda net, out, slope: _cases(sp.Integer(1), slope, net),
        constant="negative_slope",
        default=Fraction(1, 100),
    ),
    # f(net) = log(1 + e^net); f'(net) = e^net / (1 + e^net) = 1 / (1 + e^−net), the logistic function
    "softplus": Activation(
        r"\operatorname{softplus}",
        "softplus",
        lambda net: sp.log(sp.Add(sp.Integer(1), sp.exp(net), evaluate=False)),
        lambda net, out: 1 / sp.Add(sp.Integer(1), sp.exp(-net), evaluate=False),
    ),
    # f(net) = net above 0, e^net − 1 below (α = 1); f'(net) = 1 above 0, e^net = out + 1 below,
    # written with the output as the textbook does (f' = f + α)
    "elu": Activation(
        r"\operatorname{ELU}",
        "elu",
        lambda net: _cases(net, _minus(sp.exp(net), sp.Integer(1)), net),
        lambda net, out: _cases(sp.Integer(1), sp.Add(out, sp.Integer(1), evaluate=False), net),
    ),
    "linear": Activation(
        r"\operatorname{id}",
        "linear",
        lambda net: net,
        lambda net, out: sp.Integer(1),
    ),
    "softmax": Activation(
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

    rule: str
    error: Callable[[sp.Expr, sp.Expr, int], sp.Expr]
    derivative: Callable[[sp.Expr, sp.Expr, int], sp.Expr]


LOSSES: dict[str, Loss] = {
    "half_sse": Loss(
        "power",
        lambda t, out, n: _times(sp.Rational(1, 2), _minus(t, out) ** 2),
        lambda t, out, n: _times(sp.Integer(-1), _minus(t, out)),
    ),
    "mse": Loss(
        "power",
        lambda t, out, n: _minus(t, out) ** 2 if n == 1 else _times(sp.Rational(1, n), _minus(t, out) ** 2),
        lambda t, out, n: _times(sp.Rational(-2, n), _minus(t, out)),
    ),
    "bce": Loss(
        "logarithm",
        lambda t, out, n: -(t * sp.log(out) + _minus(sp.Integer(1), t) * sp.log(_minus(sp.Integer(1), out))),
        lambda t, out, n: _times(
            sp.Integer(-1), _minus(t / out, _minus(sp.Integer(1), t) / _minus(sp.Integer(1), out))
        ),
    ),
    "cross_entropy": Loss(
        "logarithm",
        lambda t, out, n: -(t * sp.log(out)),
        lambda t, out, n: _times(sp.Integer(-1), t / out),
    ),
}
