"""Error carried forward that the error made trivial: the one case where ECF is refused.

Exam boards carry an error forward unless it simplified the problem.  A step whose formula, at
the student's own values, has a factor of exactly 0 or 1 where the exact factor is neither has lost
its difficulty (out_h1 = 1 makes ∂out_h1/∂net_h1 = out_h1·(1 − out_h1) = 0, and every later hidden
gradient 0): it is wrong, whatever the ECF policy, and the answer that made it so is named.
"""

from __future__ import annotations

from collections.abc import Mapping

import mpmath
import sympy as sp

from derive.core.numbers import Number, compile_expr, evaluate, full_precision
from derive.core.steps import Step, Steps


def as_mpf(value: Number | sp.Expr) -> Number:
    """A value as the compiled formulas take it: η, β and λ are given as exact SymPy fractions."""
    if isinstance(value, sp.Basic):
        with full_precision():
            return mpmath.mpf(int(value.p)) / int(value.q) if isinstance(value, sp.Rational) else mpmath.mpf(str(value))
    return value


def value_at(expr: sp.Expr, values: Mapping[sp.Symbol, Number], fallback: Mapping[sp.Symbol, Number]) -> Number | None:
    """``expr`` at ``values`` (``fallback`` for the symbols they lack); None where it has no finite real value."""
    free = tuple(sorted(expr.free_symbols, key=lambda symbol: symbol.name))
    try:
        arguments = (as_mpf(values.get(symbol, fallback[symbol])) for symbol in free)
        value = evaluate(compile_expr(expr, free), *arguments)
    except (ZeroDivisionError, ValueError, OverflowError, TypeError):
        return None
    return value if isinstance(value, mpmath.mpf) and mpmath.isfinite(value) else None


def factors(formula: sp.Expr) -> tuple[sp.Expr, ...]:
    """The factors of a product, as written (a formula that is no product is its own one factor)."""
    if isinstance(formula, sp.Mul):
        return tuple(part for arg in formula.args for part in factors(arg))
    return (formula,)


def trivial_factor(steps: Steps, step: Step, inputs: Mapping[sp.Symbol, Number]) -> sp.Expr | None:
    """The first factor of the step's formula that is exactly 0 or 1 at the student's values, and neither exactly."""
    for factor in factors(step.formula):
        if not factor.free_symbols or not factor.free_symbols & inputs.keys():
            continue
        exact = value_at(factor, {}, steps.values)
        if exact is None or exact in (0, 1):
            continue
        if value_at(factor, inputs, steps.values) in (0, 1):
            return factor
    return None


class Trivialised:
    """Walks the steps with the grader and says which of the student's answers made a step trivial.

    ``sources`` holds, for every step walked, the student's answers its value rests on; ``causes``,
    for a step found trivial, the answers that made it so (a trivial step's own cause passes on).
    """

    def __init__(self, steps: Steps) -> None:
        self.steps = steps
        self.sources: dict[sp.Symbol, tuple[Step, ...]] = {}
        self.causes: dict[sp.Symbol, tuple[Step, ...]] = {}

    def walk(self, step: Step, inputs: Mapping[sp.Symbol, Number], given: bool) -> None:
        """Record where the student's value of ``step`` comes from: their answer, or their answers inside it."""
        if given:
            self.sources[step.symbol] = (step,)
        else:
            self.sources[step.symbol] = self._rests_on(inputs)

    def cause(self, step: Step, inputs: Mapping[sp.Symbol, Number]) -> tuple[Step, ...]:
        """The answers that made a carried-forward step trivial; empty when it is not."""
        factor = trivial_factor(self.steps, step, inputs)
        if factor is None:
            return ()
        found = self._rests_on({symbol: inputs[symbol] for symbol in factor.free_symbols if symbol in inputs})
        self.causes[step.symbol] = found
        return found

    def _rests_on(self, inputs: Mapping[sp.Symbol, Number]) -> tuple[Step, ...]:
        found: list[Step] = []
        for symbol in sorted(inputs, key=lambda symbol: symbol.name):
            found.extend(self.causes.get(symbol) or self.sources.get(symbol, ()))
        return tuple(sorted(dict.fromkeys(found), key=lambda step: step.blank or 0))
