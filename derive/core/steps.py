"""The steps of a derivation: every quantity the working computes, in the order a document asks for it.

A step is one line of hand working.  It has a **key** (``net_h1``, ``out_h1``, ``E_o1``,
``E_total``, ``dE/dout_o1``, ``dout_o1/dnet_o1``, ``delta_o1``, ``dnet_o1/dw5``, ``dE/dw5``,
``w5+``, ``E_total+``; with several examples a per-example quantity ends in ``@p``), its **blank**
number in the worksheet, the symbol it defines, the rule that gives it, its **formula** in the
symbols of the earlier steps it uses and of the given values, and its exact **value**.

Documents, grading, quizzes and the web page all read these steps.  Grading re-evaluates a step's
formula at a student's own earlier values, which is why the formula is SymPy and not only LaTeX.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping, Sequence
from fractions import Fraction
from functools import cached_property

import sympy as sp

from derive.core.builders import (
    LEARNING_RATE,
    Backward,
    Working,
    after_update,
    example_steps,
    given_values,
    total_step,
    update_steps,
)
from derive.core.chain import Derivation
from derive.core.numbers import Number, compile_expr, evaluate, exact
from derive.core.step_parts import (
    DeltaSteps,
    ExampleSteps,
    GradientSteps,
    NeuronSteps,
    Step,
    factor_key,
    is_copy,
    step_key,
)
from derive.errors import DeriveError

# The step model's public names, wherever they are defined: documents, grading and tests import them from here.
__all__ = [
    "DETAILS",
    "LEARNING_RATE",
    "MAX_DOCUMENT_EXAMPLES",
    "MAX_DOCUMENT_GRADIENTS",
    "MAX_DOCUMENT_NEURONS",
    "DeltaSteps",
    "ExampleSteps",
    "GradientSteps",
    "NeuronSteps",
    "Step",
    "Steps",
    "build_steps",
    "check_size",
    "factor_key",
    "is_copy",
    "step_key",
]

# Beyond these sizes a document stops being readable; ``--only`` narrows the backward pass.
MAX_DOCUMENT_GRADIENTS = 40
MAX_DOCUMENT_NEURONS = 8
MAX_DOCUMENT_MAP = 36  # a feature map of 6×6, or two of 4×4  # pragma: no mutate (37: no map has 37 entries)
MAX_DOCUMENT_EXAMPLES = 4

# How much of the working a document shows: every gradient in full; each δ once (the default);
# the length of the classic blog post, each δ in one line of factors.
DETAILS = ("full", "standard", "brief")


class Steps:
    """Every step of one derivation in document order, found by key or blank number."""

    def __init__(
        self,
        derivation: Derivation,
        forward: Sequence[ExampleSteps],
        total: Step,
        backward: Sequence[GradientSteps],
        updates: Sequence[Step],
        after_forward: Sequence[ExampleSteps],
        after: Step,
        given: Mapping[sp.Symbol, Number],
    ) -> None:
        self.derivation = derivation
        self.forward = tuple(forward)
        self.total = total
        self.backward = tuple(backward)
        self.updates = tuple(updates)
        self.after_forward = tuple(after_forward)  # the forward pass with the updated parameters
        self.after = after
        self.given = dict(given)  # inputs, targets, parameters, η, and any θ⁺ without a step
        self.by_key = {step.key: step for step in self}
        self.by_blank = {step.blank: step for step in self if step.blank is not None}
        self.by_symbol = {step.symbol: step for step in self}
        self._formulas: dict[str, tuple[tuple[sp.Symbol, ...], tuple[Step, ...]]] = {}
        self._functions: dict[str, Callable[..., Number]] = {}
        self._evaluated: dict[tuple[str, tuple[Number, ...]], Number] = {}

    def __iter__(self) -> Iterator[Step]:
        yield from _forward_steps(self.forward)
        yield self.total
        for gradient in self.backward:
            for delta in gradient.deltas:
                yield from delta.factors
                if delta.step not in delta.factors:
                    yield delta.step
            yield from gradient.links
            yield gradient.result
        yield from self.updates
        yield from _forward_steps(self.after_forward)
        yield self.after

    def __len__(self) -> int:
        return len(self.by_key)

    @property
    def blanks(self) -> int:
        """How many blanks the worksheet has."""
        return len(self.by_blank)

    @cached_property
    def _with_symbol(self) -> dict[sp.Symbol, list[Step]]:
        """The steps of each symbol, in document order."""
        found: dict[sp.Symbol, list[Step]] = {}
        for step in self:
            found.setdefault(step.symbol, []).append(step)
        return found

    @cached_property
    def _position(self) -> dict[int, int]:
        """Each step's place in document order, by identity."""
        return {id(step): n for n, step in enumerate(self)}

    @cached_property
    def values(self) -> dict[sp.Symbol, Number]:
        """The exact value of every given symbol and of every step's symbol."""
        return {**self.given, **{step.symbol: step.value for step in self}}

    def find(self, key: str) -> Step:
        """The step with this key, or with this blank number (``"12"``); a clear error otherwise."""
        text = key.strip()
        if text.isdigit() and int(text) in self.by_blank:
            return self.by_blank[int(text)]
        if text in self.by_key:
            return self.by_key[text]
        if text.isdigit():
            raise DeriveError(f"no blank {text}; the worksheet has blanks 1 to {self.blanks}", key="key")
        close = difflib.get_close_matches(text, list(self.by_key), n=1, cutoff=0.6)  # pragma: no mutate (n)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise DeriveError(f"unknown key {text!r}{hint} (`derive keys` lists them)", key="key")

    def asked(self, names: Sequence[str]) -> list[Step]:
        """The steps ``--ask`` names (keys or blank numbers), in its order, each once; a clear error otherwise."""
        found: dict[str, Step] = {}
        for name in names:
            try:
                step = self.find(name)
            except DeriveError as error:
                raise DeriveError(error.detail, key="--ask") from None
            if step.key in found:
                raise DeriveError(f"{name!r} asks for {step.key!r} a second time; expected each step once", key="--ask")
            found[step.key] = step
        return list(found.values())

    def uses(self, step: Step) -> list[Step]:
        """The earlier steps whose values the step's formula takes, in document order."""
        return list(self._formula(step)[1])

    def free_symbols(self, step: Step) -> tuple[sp.Symbol, ...]:
        """The symbols of the step's formula, by name."""
        return self._formula(step)[0]

    def evaluate(self, step: Step, values: Mapping[sp.Symbol, Number]) -> Number:
        """The step's formula at ``values`` for the symbols given there, exact values elsewhere."""
        free = self._formula(step)[0]
        function = self._functions.get(step.key) if self._own(step) else None  # pragma: no mutate (a cache)
        if function is None:
            function = compile_expr(step.formula, free)
            if self._own(step):  # pragma: no mutate (a cache)
                self._functions[step.key] = function  # pragma: no mutate (a cache)
        arguments = tuple(_number(values.get(symbol, self.values[symbol])) for symbol in free)
        if function is not self._functions.get(step.key):  # a copy of the step: its own formula, not the memo
            return evaluate(function, *arguments)
        # a class's students who gave the same answers take the same carried-forward values
        found = self._evaluated.get((step.key, arguments))  # pragma: no mutate (a cache)
        if found is None:
            found = self._evaluated[step.key, arguments] = evaluate(function, *arguments)
        return found

    def _own(self, step: Step) -> bool:
        """Whether ``step`` is this model's step of its key, not a copy: only those are cached."""
        return self.by_key.get(step.key) is step

    def _formula(self, step: Step) -> tuple[tuple[sp.Symbol, ...], tuple[Step, ...]]:
        """The formula's symbols (by name) and the steps it uses: worked out once per step, as a
        class's grading asks for them once per student (its compiled function, once it is evaluated)."""
        found = self._formulas.get(step.key) if self._own(step) else None  # pragma: no mutate (a cache)
        if found is None:
            symbols = step.formula.free_symbols
            free = tuple(sorted(symbols, key=lambda symbol: symbol.name))
            found_in = [other for symbol in symbols for other in self._with_symbol.get(symbol, ()) if other is not step]
            found = (free, tuple(sorted(found_in, key=lambda other: self._position[id(other)])))
            if self._own(step):  # pragma: no mutate (a cache)
                self._formulas[step.key] = found  # pragma: no mutate (a cache)
        return found


def _number(value: Number | sp.Rational) -> Number:
    """η, β and λ are given as exact fractions: as a 40-digit number, or λ·w would come out a SymPy Float."""
    return exact(Fraction(int(value.p), int(value.q))) if isinstance(value, sp.Rational) else value


def _forward_steps(examples: Sequence[ExampleSteps]) -> Iterator[Step]:
    for example in examples:
        yield from example.order


def check_size(derivation: Derivation, only: Sequence[str]) -> None:
    """Refuse, with a way out, a network too large to work through readably."""
    spec = derivation.spec
    names = list(derivation.gradients)
    for name in only:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)  # pragma: no mutate (only the first is shown)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DeriveError(
                f"no parameter {name!r} in this network{hint} (it has {names[0]} to {names[-1]})", key="--only"
            )
    shown = len(only) if only else len(names)
    if shown > MAX_DOCUMENT_GRADIENTS:
        raise DeriveError(
            f"{shown} gradients are too many to print readably (at most {MAX_DOCUMENT_GRADIENTS}); "
            f"choose some with --only, e.g. --only {names[0]},{names[-1]}"
        )
    widest = max(len(row) for row in derivation.graph.neurons)
    # a feature map is printed as a matrix, not as a row of neurons: it may be wider
    limit = MAX_DOCUMENT_NEURONS if spec.dense or spec.steps is not None else MAX_DOCUMENT_MAP
    if widest > limit or spec.n_inputs > limit:
        raise DeriveError(
            f"a layer of {max(widest, spec.n_inputs)} neurons is too wide to print readably "
            f"(at most {limit}); use 'derive gradients' for its numbers"
        )
    if len(spec.examples) > MAX_DOCUMENT_EXAMPLES:
        raise DeriveError(
            f"{len(spec.examples)} examples are too many to print readably (at most {MAX_DOCUMENT_EXAMPLES}); "
            "use 'derive gradients' for their numbers"
        )


def build_steps(derivation: Derivation, only: Sequence[str] = (), detail: str = "standard") -> Steps:
    """The steps of a derivation, numbered in document order; ``only`` limits the backward pass.

    ``detail="brief"`` works each δ in one line: its factors are not steps of their own.
    """
    if detail not in DETAILS:
        raise DeriveError(f"unknown detail {detail!r} (expected one of: {', '.join(DETAILS)})", key="--detail")
    check_size(derivation, only)
    working = Working(derivation, brief=detail == "brief")
    # the parts in the order a textbook works them: this order numbers the blanks
    forward = [example_steps(working, p) for p in range(len(derivation.forward))]
    total = total_step(working)
    backward = Backward(working).gradients(only)
    updates = update_steps(working, only, backward)
    after_forward, after, given_updates = after_update(working, updates)
    given = given_values(working)
    given.update(given_updates)
    return Steps(derivation, forward, total, backward, updates, after_forward, after, given)
