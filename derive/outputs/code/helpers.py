"""The helper functions written into the module: activations, their slopes, losses, rounding, defaults.

Each activation and loss is printed from its entry in :mod:`derive.core.functions`, the table every
other path evaluates or prints, with NumPy's numerically safe forms where the formula has one
(log(1 + e^x) as ``np.logaddexp``, e^x − 1 as ``np.expm1``).  Softmax, which couples its layer, is
the one fragment written here: its shift by the largest net input is numerics, not a rule.
"""

from __future__ import annotations

import ast
import re

import sympy as sp
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.str import StrPrinter

from derive.core.functions import ACTIVATIONS, LOSSES
from derive.core.rules import rounded
from derive.core.safe_forms import NumPySafeForms
from derive.outputs.code.maps import map_helpers
from derive.outputs.code.names import softmax_cross_entropy
from derive.spec.model import NetworkSpec

NET, OUT, SLOPE, TARGETS = sp.symbols("net out slope targets")
# Where the otherwise-branch of a kinked activation is evaluated: np.where computes both branches,
# and e^net of a large positive net would overflow in the branch it then discards.
_CLAMPED = sp.Symbol("clamped")


class _Printer(NumPySafeForms, NumPyPrinter):
    """NumPy code as a reader writes it: ``np.``, the terms in the order written, safe forms."""

    def __init__(self, names: dict[sp.Symbol, str]) -> None:
        super().__init__({"fully_qualified_modules": True, "order": "none"})
        self.names = names

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return self.names.get(expr, expr.name)

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        if expr.exp == -1:  # 1/x, as written, rather than x**(-1.0)
            return f"1/{self.parenthesize(expr.base, 100)}"
        return super()._print_Pow(expr, rational)

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        (positive, condition), (otherwise, _) = expr.args
        if otherwise.has(sp.exp):  # evaluated where net ≤ 0 anyway: clamp so the discarded side stays finite
            otherwise = otherwise.subs(condition.lhs, _CLAMPED)
            self.names[_CLAMPED] = f"numpy.minimum({self._print(condition.lhs)}, 0.0)"
        branches = ", ".join(self._branch(branch) for branch in (positive, otherwise))
        return f"numpy.where({self._print(condition.lhs)} > {self._print(condition.rhs)}, {branches})"

    def _branch(self, branch: sp.Expr) -> str:
        return repr(float(branch)) if branch.is_Number else self._print(branch)


class _Words(StrPrinter):
    """A formula for a docstring: ``net where net > 0, else exp(net) - 1``."""

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        (positive, condition), (otherwise, _) = expr.args
        return f"{self._print(positive)} where {self._print(condition)}, else {self._print(otherwise)}"


# A power whose operands are both simple (a name, a number) is written without spaces, as ruff does.
_SIMPLE_POWER = re.compile(r"(?<![\w.)\]])([A-Za-z_][\w.]*|\d[\d.]*) \*\* (-?[A-Za-z_][\w.]*|-?\d[\d.]*)(?![\w.(\[])")


def _code(expr: sp.Expr, names: dict[sp.Symbol, str]) -> str:
    """``expr`` as NumPy, spaced as ruff formats it (the module must pass ``ruff format --check``)."""
    printed = _Printer(dict(names)).doprint(expr).replace("numpy.", "np.")
    return _SIMPLE_POWER.sub(r"\1**\2", ast.unparse(ast.parse(printed, mode="eval")))


def _words(expr: sp.Expr) -> str:
    return _Words({"order": "none"}).doprint(expr)


def _array(expr: sp.Expr, like: str, names: dict[sp.Symbol, str]) -> str:
    """The code of ``expr``, an array of ``like``'s shape even where the formula is a constant (1)."""
    if expr.free_symbols:
        return _code(expr, names)
    return f"np.full_like({like}, {float(expr)!r})"


def activation_code(name: str) -> str:
    """``name(net)`` and ``name_slope(net, out)``, printed from the activation's entry in the table."""
    activation = ACTIVATIONS[name]
    constant = (SLOPE,) if activation.constant else ()
    output = activation.function(NET, *constant)  # type: ignore[misc]
    slope = activation.derivative(NET, OUT, *constant)
    extra = ", slope: float" if constant else ""
    return f'''
def {name}(net: np.ndarray{extra}) -> np.ndarray:
    """out = {_words(output)}."""
    return {_array(output, "net", {})}


def {name}_slope(net: np.ndarray, out: np.ndarray{extra}) -> np.ndarray:
    """∂out/∂net = {_words(slope)}."""
    return {_array(slope, "net", {})}
'''


_SOFTMAX = '''
def softmax(net: np.ndarray) -> np.ndarray:
    """out_j = e^net_j / Σ_k e^net_k in each column (example).

    Shifting every net by the column's largest leaves the quotient unchanged and keeps each
    exponential from overflowing.
    """
    exps = np.exp(net - net.max(axis=0, keepdims=True))
    return exps / exps.sum(axis=0, keepdims=True)
'''

_SOFTMAX_DELTA = '''
def softmax_delta(out: np.ndarray, dE_dout: np.ndarray) -> np.ndarray:
    """δ = ∂E/∂net through softmax, from g = ∂E/∂out, one column per example.

    Every output depends on every net input of the layer: the Jacobian is
    J[k, j] = ∂out_k/∂net_j = out_k·([k = j] - out_j), i.e. J = diag(out) - out·outᵀ.
    δ = Jᵀ·g = out·(g - Σ_k g_k·out_k), computed without building the n×n matrix.
    """
    return out * (dE_dout - np.sum(dE_dout * out, axis=0, keepdims=True))
'''


def loss_code(name: str, n_outputs: int) -> tuple[str, str]:
    """``name(targets, out)``, E summed over outputs and examples, and ``name_slope``: ∂E/∂out, from the table."""
    loss = LOSSES[name]
    error = loss.error(TARGETS, OUT, n_outputs)
    slope = loss.derivative(TARGETS, OUT, n_outputs)
    return (
        f'''
def {name}(targets: np.ndarray, out: np.ndarray) -> float:
    """E: the sum over the outputs (rows) and the examples (columns) of
    {_words(error)}."""
    return float(np.sum({_code(error, {})}))
''',
        f'''
def {name}_slope(targets: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂E/∂out = {_words(slope)}."""
    return {_array(slope, "out", {})}
''',
    )


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
    used = {layer.activation for layer in spec.layers if layer.kind not in ("maxpool", "avgpool")}
    helpers = [_PARAMETERS_CODE]
    if spec.round_activations is not None and len(spec.layers) > 1:
        helpers.append(_rounding_code())
    helpers += map_helpers(spec)
    helpers += [_SOFTMAX if name == "softmax" else activation_code(name) for name in ACTIVATIONS if name in used]
    if spec.layers[-1].activation == "softmax" and not softmax_cross_entropy(spec):
        helpers.append(_SOFTMAX_DELTA)
    error, slope = loss_code(spec.loss, spec.n_outputs)
    helpers.append(error)
    if not softmax_cross_entropy(spec):
        helpers.append(slope)
    return helpers
