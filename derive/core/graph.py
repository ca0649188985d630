"""SymPy symbols and expressions for a network: every neuron's net input and output, the errors.

The symbols print as the textbook writes them (``net_{h1}``, ``out_{o1}``, ``E_{total}``,
``w_{5}``); with several examples, per-example symbols carry a superscript: ``out_{o1}^{(2)}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, cached_property

import sympy as sp

from derive.core.functions import ACTIVATIONS, LOSSES, softmax
from derive.core.rules import DECAY as WEIGHT_DECAY
from derive.spec.model import LayerSpec, NetworkSpec


@dataclass(frozen=True)
class SymbolName:
    """How a symbol is written: ``kind_{subscript}^{(example)}``."""

    kind: str  # i, t, w, b, net, out, E, delta
    subscript: str
    example: int | None = None  # 1-based; None when the network has a single example
    updated: bool = False  # w⁺: a weight after this step's update (sequential order)
    change: bool = False  # Δw: a parameter's change in the update before (momentum)


@dataclass(frozen=True)
class Neuron:
    """Neuron ``index`` (0-based) of layer ``layer``, named like the textbook (``h1``)."""

    layer: int
    index: int
    name: str


class Graph:
    """Every symbol of a network and the expression that defines each derived one."""

    def __init__(self, spec: NetworkSpec) -> None:
        self.spec = spec
        self.names: dict[sp.Symbol, SymbolName] = {}
        self._updated: dict[sp.Symbol, sp.Symbol] = {}
        n_examples = len(spec.examples)
        self.multi = n_examples > 1

        self.neurons = [
            [Neuron(L, j, layer.neuron_name(j)) for j in range(layer.size)] for L, layer in enumerate(spec.layers)
        ]
        counter = iter(range(1, 10**9))
        self.weights = [
            [[self._symbol("w", str(next(counter))) for _ in row] for row in layer.weights] for layer in spec.layers
        ]
        counter = iter(range(1, 10**9))
        self.biases: list[list[sp.Symbol]] = []
        for layer in spec.layers:
            if layer.shared_bias:
                self.biases.append([self._symbol("b", str(next(counter)))] * layer.size)
            else:
                self.biases.append([self._symbol("b", str(next(counter))) for _ in range(layer.size)])

        examples = range(1, n_examples + 1)
        self.inputs = [[self._symbol("i", str(k + 1), p) for k in range(spec.n_inputs)] for p in examples]
        outputs = self.neurons[-1]
        self.targets = [[self._symbol("t", n.name, p) for n in outputs] for p in examples]
        self.net = [[[self._symbol("net", n.name, p) for n in row] for row in self.neurons] for p in examples]
        self.out = [[[self._symbol("out", n.name, p) for n in row] for row in self.neurons] for p in examples]
        self.delta = [[[self._symbol("delta", n.name, p) for n in row] for row in self.neurons] for p in examples]
        self.errors = [[self._symbol("E", n.name, p) for n in outputs] for p in examples]
        self.example_loss = [self._symbol("E", "", p) for p in examples] if self.multi else []
        self.total = self._symbol("E", "total")
        self.penalty = self._symbol("E", "decay")  # (λ/2)·Σ w², with weight decay

    def _symbol(self, kind: str, subscript: str, example: int | None = None) -> sp.Symbol:
        example = example if self.multi else None
        suffix = f"_e{example}" if example else ""
        joiner = "" if kind in ("i", "w", "b") else "_"  # w1 and i1, but net_h1 and t_o1
        name = f"{kind}{joiner}{subscript}{suffix}" if subscript else f"{kind}{suffix}"
        symbol = sp.Symbol(name)
        self.names[symbol] = SymbolName(kind, subscript, example)
        return symbol

    def change(self, parameter: sp.Symbol) -> sp.Symbol:
        """Δθ: the parameter's change in the update before this one (momentum carries it on)."""
        symbol = sp.Symbol(f"{parameter.name}_change")
        name = self.names[parameter]
        self.names.setdefault(symbol, SymbolName(name.kind, name.subscript, change=True))
        return symbol

    def updated(self, symbol: sp.Symbol) -> sp.Symbol:
        """x⁺: a weight after this step's update, or a quantity of the forward pass that follows it."""
        updated = self._updated.get(symbol)
        if updated is None:  # made once per symbol, however many examples and δs use it
            updated = self._updated[symbol] = sp.Symbol(f"{symbol.name}_updated")
            name = self.names[symbol]
            self.names[updated] = SymbolName(name.kind, name.subscript, name.example, updated=True)
        return updated

    @property
    def layers(self) -> Sequence[LayerSpec]:
        """What each row of :attr:`neurons` is: the spec's layers (an unrolled network's stages)."""
        return self.spec.layers

    @property
    def output_count(self) -> int:
        """The errors of one example: one per output neuron (and per step, with a target at every step)."""
        return self.spec.n_outputs

    # -- parameters -------------------------------------------------------------------------

    @cached_property
    def parameters(self) -> dict[str, sp.Symbol]:
        """w1, w2, … then b1, b2, …: the numbering of :meth:`NetworkSpec.parameter_names`."""
        symbols = [w for layer in self.weights for row in layer for w in row]
        for layer in self.biases:
            symbols.extend(dict.fromkeys(layer))  # a shared bias once
        return {symbol.name: symbol for symbol in symbols}  # the name, not str(): no printer per weight

    def layer_inputs(self, p: int, L: int) -> list[sp.Symbol]:
        """What feeds layer L in example p: the inputs, or the previous layer's outputs."""
        return self.inputs[p] if L == 0 else self.out[p][L - 1]

    # -- definitions --------------------------------------------------------------------------

    def net_definition(self, p: int, L: int, j: int) -> sp.Expr:
        """net_j = Σ_k w_jk · x_k + b_j · 1, in the order the textbook writes it."""
        terms = [sp.Mul(w, x, evaluate=False) for w, x in zip(self.weights[L][j], self.layer_inputs(p, L), strict=True)]
        return sp.Add(*terms, sp.Mul(self.biases[L][j], sp.Integer(1), evaluate=False), evaluate=False)

    def out_definition(self, p: int, L: int, j: int) -> sp.Expr:
        """out_j = f(net_j); for softmax, e^{net_j} / Σ_k e^{net_k}."""
        layer = self.spec.layers[L]
        activation = ACTIVATIONS[layer.activation]
        if activation.function is None:
            return softmax(list(self.net[p][L]), j)
        return unevaluated_output(layer.activation, self.net[p][L][j], layer.negative_slope)

    def error_definition(self, p: int, j: int) -> sp.Expr:
        """The error of output j in example p, E_oj = loss(t_oj, out_oj)."""
        return _error(self.spec.loss, self.targets[p][j], self.out[p][-1][j], self.spec.n_outputs)

    def reduction_scale(self) -> sp.Rational:
        """E_total = scale · Σ_p E^{(p)}: 1 for a sum, 1/P for a mean over P examples."""
        if self.spec.reduction == "mean":
            return sp.Rational(1, len(self.spec.examples))
        return sp.Integer(1)

    def total_definition(self) -> sp.Expr:
        """E_total = Σ_o E_o (summed or averaged over the examples)."""
        per_example = [sp.Add(*row, evaluate=False) for row in self.errors]
        total = sp.Add(*per_example, evaluate=False)
        scale = self.reduction_scale()
        return total if scale == 1 else sp.Mul(scale, total, evaluate=False)

    def penalty_definition(self) -> sp.Expr:
        """E_decay = (λ/2)·Σ w² over the weights (not the biases): weight decay's term."""
        squares = [w**2 for layer in self.weights for row in layer for w in row]
        return sp.Mul(WEIGHT_DECAY / 2, sp.Add(*squares, evaluate=False), evaluate=False)

    # -- composed forms (only built when asked) -------------------------------------------------

    @cached_property
    def composed(self) -> dict[sp.Symbol, sp.Expr]:
        """Every derived symbol written in inputs, weights, biases and targets only."""
        mapping: dict[sp.Symbol, sp.Expr] = {}
        for p in range(len(self.spec.examples)):
            for L, row in enumerate(self.neurons):
                for j in range(len(row)):
                    mapping[self.net[p][L][j]] = self.net_definition(p, L, j).xreplace(mapping).doit()
                for j in range(len(row)):
                    mapping[self.out[p][L][j]] = self.out_definition(p, L, j).xreplace(mapping)
            for j in range(self.spec.n_outputs):
                mapping[self.errors[p][j]] = self.error_definition(p, j).xreplace(mapping)
        mapping[self.total] = self.total_definition().xreplace(mapping)
        return mapping

    @property
    def composed_loss(self) -> sp.Expr:
        """E_total as one expression in the inputs, weights, biases and targets."""
        return self.composed[self.total]

    def numbers(self) -> dict[sp.Symbol, sp.Rational]:
        """The exact value of every input, target, weight and bias."""
        spec = self.spec
        values: dict[sp.Symbol, sp.Rational] = {}
        for name, value in spec.parameters().items():
            values[self.parameters[name]] = sp.Rational(value.numerator, value.denominator)
        for p, example in enumerate(spec.examples):
            for symbol, value in zip(self.inputs[p] + self.targets[p], example.inputs + example.targets, strict=True):
                values[symbol] = sp.Rational(value.numerator, value.denominator)
        return values


@cache
def unevaluated_output(activation: str, net: sp.Symbol, negative_slope: Fraction | None) -> sp.Expr:
    """f(net), built once per process for each neuron's symbol (every variant of a class shares them).

    The same expression either way (tests/test_fast_paths.py checks it), but built evaluated,
    SymPy's first sum in a process imports its tensor module: 50 ms of every command's start; and
    each switch of SymPy's ``evaluate`` empties its cache, which the next expressions then miss.
    """
    with sp.evaluate(False):
        return ACTIVATIONS[activation].output(net, negative_slope)


@cache
def _error(loss: str, target: sp.Symbol, out: sp.Symbol, n_outputs: int) -> sp.Expr:
    """E_o = loss(t_o, out_o), built once per process for each output's symbols (every variant of a
    class shares them): SymPy's own cache, emptied by each switch of ``evaluate``, keeps few of them."""
    return LOSSES[loss].error(target, out, n_outputs)
