"""Training on whole matrices: a NumPy update generated from the chain's forms, for larger networks.

The generated code is the chain written one layer at a time, as ``derive code`` writes it: each
layer's net inputs are ``A @ X`` (the weights with the biases as a last column, times the layer's
inputs with a row of ones); each activation, its slope, the loss and its slope are the forms of
:mod:`derive.core.functions` (the very expressions the chain's factors hold) printed for NumPy with
the layer's arrays in place of one neuron's symbols; a hidden layer's δ is (Wᵀ δ_above) ⊙ f'(net),
the chain's sum over paths; and ∂E/∂A = δ Xᵀ, the sum over the examples of δ times ∂net/∂θ.

Every δ is computed already multiplied by η (and by 1/batch for a mean), so that an update is
one matrix product per layer, A ← A − (ηδ) Xᵀ, made in place: the views of an array (the weights
without their bias column) stay valid.  Only names of our own making reach the source; every
value of the network and its data lives in the arrays, and the constants are arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np
import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from derive.core.chain import Update
from derive.core.functions import ACTIVATIONS, LOSSES
from derive.core.rules import (
    DECAY,
    GRADIENT,
    LEARNING_RATE,
    MOMENTUM,
    PARAMETER,
    PREVIOUS_CHANGE,
    change_terms,
    rational,
    rounded,
    softmax_cross_entropy_delta,
    unit_targets,
)
from derive.core.safe_forms import NumPySafeForms, exp_minus_one
from derive.spec.model import LayerSpec, NetworkSpec

Parameters = tuple[float, ...]
Batch = tuple[Any, ...]
_NET, _OUT, _TARGET, _TOTAL = sp.symbols("net out t total")


class _Printer(NumPySafeForms, NumPyPrinter):
    """NumPy code with a layer's arrays in place of one neuron's symbols."""

    def __init__(self, names: dict[sp.Symbol, str]) -> None:
        super().__init__({"fully_qualified_modules": True})
        self.names = names

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return self.names[expr]

    def _print_Add(self, expr: sp.Add, order: str | None = None) -> str:
        # t - out rather than -out + t: one array operation, not two (e^x − 1 is expm1's, in the mix-in)
        if len(expr.args) == 2 and exp_minus_one(expr) is None:
            first, second = expr.args
            for positive, negative in ((first, second), (second, first)):
                coefficient, rest = negative.as_coeff_Mul()
                if coefficient == -1 and not positive.could_extract_minus_sign():
                    return f"{self._print(positive)} - {self.parenthesize(rest, 50)}"
        return super()._print_Add(expr, order)

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        # 1/x rather than x**(-1.0): NumPy divides faster than it raises to a power
        if expr.exp == -1:
            return f"1/({self._print(expr.base)})"
        return super()._print_Pow(expr, rational)


def _code(expr: sp.Expr, names: dict[sp.Symbol, str]) -> str:
    return _Printer(names).doprint(expr)


def folded(layer: LayerSpec, spec: NetworkSpec) -> bool:
    """Whether a layer's biases ride as the last column of its matrix: one per neuron, and trained."""
    return not layer.shared_bias and spec.train_biases


# ---------------------------------------------------------------------------------------------
# The source


def step_source(spec: NetworkSpec, update: Update) -> str:
    """Python source of ``make(arrays…, momentum, decay_rate)`` → ``(steps, update, loss)``.

    The three are closures over the arrays.  ``steps(count, batch, history, goal)`` makes up to
    ``count`` updates on one batch (all the examples), appending E_total before each, and stops
    without updating once E_total ≤ goal; it returns the updates made.  ``update(batch)`` makes
    one update; ``loss(batch)`` gives E_total alone.  A batch is ``(X0, T, X1, O1, …, rate,
    scale)``: its inputs, targets, each later layer's input buffer with the view the layer below
    writes its outputs into, η·scale, and the reduction's scale (1, or 1/batch for a mean).
    """
    n_layers = len(spec.layers)
    batch = ["X0", "T", *(name for L in range(1, n_layers) for name in (f"X{L}", f"O{L}")), "rate", "scale"]
    forward, loss, slopes, names = _forward(spec)
    backward = _backward(spec, update, slopes, names)
    unpack = f"({', '.join(batch)},) = batch"
    arrays = ", ".join(array_names(spec))
    lines = [
        f"def make({arrays}, momentum, decay_rate):",
        "    def steps(count, batch, history, goal):",
        f"        nonlocal {arrays}  # updated in place: A -= … rebinds the same array",
        f"        {unpack}",
        "        for done in range(count):",
        *_indent([*forward, loss], 12),
        "            history.append(loss)",
        "            if loss <= goal:",
        "                return done",
        *_indent(backward, 12),
        "        return count",
        "",
        "    def update(batch):",
        f"        nonlocal {arrays}",
        f"        {unpack}",
        *_indent(forward + backward, 8),
        "",
        "    def loss(batch):",
        f"        {unpack}",
        *_indent([*forward, loss], 8),
        "        return loss",
        "",
        "    return steps, update, loss",
    ]
    return "\n".join(lines) + "\n"


def array_names(spec: NetworkSpec) -> list[str]:
    """Per layer: A (weights, and biases when folded), W (its weights), c (biases not folded);
    with momentum V, VW and Vc, the same for Δθ."""
    names = []
    for L, layer in enumerate(spec.layers):
        names += [f"A{L}", f"W{L}"] + ([] if folded(layer, spec) else [f"c{L}"])
        if spec.momentum:
            names += [f"V{L}", f"VW{L}"] + ([] if folded(layer, spec) else [f"Vc{L}"])
    return names


def _indent(lines: Sequence[str], spaces: int) -> list[str]:
    return [" " * spaces + line for line in lines]


def _forward(spec: NetworkSpec) -> tuple[list[str], str, list[sp.Expr], dict[sp.Symbol, str]]:
    """Each layer's net and out; the loss line; the output's slopes and the names they use.

    The loss, its slope and the output activation's slope share subexpressions (t − out): they
    are computed once, in the forward pass, and named.
    """
    lines = []
    last = len(spec.layers) - 1
    for L, layer in enumerate(spec.layers):
        source = f"A{L} @ X{L}" if folded(layer, spec) else f"W{L} @ X{L} + c{L}"
        lines.append(f"net{L} = {source}")
        out = _activation_source(layer, f"net{L}")
        if L == last:
            lines.append(f"out{L} = {out}")
            continue
        if spec.round_activations is not None:  # as by hand, halves away from zero (derive.core.rules)
            lines.append(f"O{L + 1}[...] = {out}")
            out = _code(rounded(_OUT, spec.round_activations), {_OUT: f"O{L + 1}"})
        lines.append(f"O{L + 1}[...] = {out}")
    output = spec.layers[last]
    activation = ACTIVATIONS[output.activation]
    loss = LOSSES[spec.loss]
    forms = [loss.error(_TARGET, _OUT, spec.n_outputs), loss.derivative(_TARGET, _OUT, spec.n_outputs)]
    if not activation.coupled:
        forms.append(activation.slope(_NET, _OUT, output.negative_slope))
    shared, (error, *slopes) = sp.cse(forms, symbols=sp.numbered_symbols("s"))
    names = {_NET: f"net{last}", _OUT: f"out{last}", _TARGET: "T"}
    for symbol, value in shared:
        lines.append(f"{symbol.name} = {_code(value, names)}")
        names[symbol] = symbol.name
    # a constant factor (½ of the squared error) multiplies the sum, not every element
    coefficient, rest = error.as_coeff_Mul()
    loss = f"loss = float(({_code(rest, names)}).sum()) * ({float(coefficient)!r} * scale)"
    return lines, loss, slopes, names


def _activation_source(layer: LayerSpec, net: str) -> str:
    activation = ACTIVATIONS[layer.activation]
    if activation.coupled:
        return f"_softmax({net})"
    return _code(activation.output(_NET, layer.negative_slope), {_NET: net})


def _backward(spec: NetworkSpec, update: Update, slopes: list[sp.Expr], names: dict[sp.Symbol, str]) -> list[str]:
    """ηδ of the output layer, then layer by layer: the update, and ηδ of the layer below.

    Simultaneous: the δ below goes back through the weights before this update; sequential:
    through the updated ones.
    """
    last = len(spec.layers) - 1
    out = f"out{last}"
    lines = []
    if ACTIVATIONS[spec.layers[last].activation].coupled:
        if spec.loss == "cross_entropy":  # out_j·Σ_k t_k − t_j: out − t when the targets add up to one
            total = 1 if unit_targets(example.targets for example in spec.examples) else _TOTAL
            delta = _code(softmax_cross_entropy_delta(_OUT, _TARGET, total), names | {_TOTAL: "T.sum(axis=0)"})
        else:  # Jᵀg with J = diag(out) − out outᵀ: out ⊙ (g − Σ_k g_k out_k)
            lines.append(f"g = {_code(slopes[0], names)}")
            delta = f"{out} * (g - (g * {out}).sum(axis=0))"
        lines.append(f"d{last} = rate * ({delta})")
    else:  # the loss slope's constant factor (−1 of −(t − out)) joins η: one product fewer
        coefficient, rest = slopes[0].as_coeff_Mul()
        delta = f"({_code(rest, names)}) * ({_code(slopes[1], names)})"
        lines.append(f"d{last} = ({delta}) * (rate * {float(coefficient)!r})")
    for L in reversed(range(len(spec.layers))):
        if L and update == "simultaneous":
            lines.append(_hidden_delta(spec, L - 1))
        lines += _parameter_update(spec, L)
        if L and update == "sequential":
            lines.append(_hidden_delta(spec, L - 1))
    return lines


def _hidden_delta(spec: NetworkSpec, L: int) -> str:
    """ηδ of layer L: (W_aboveᵀ ηδ_above) ⊙ f'(net, out)."""
    layer = spec.layers[L]
    slope = ACTIVATIONS[layer.activation].slope(_NET, _OUT, layer.negative_slope)
    return f"d{L} = (W{L + 1}.T @ d{L + 1}) * ({_code(slope, {_NET: f'net{L}', _OUT: f'O{L + 1}'})})"


def _parameter_update(spec: NetworkSpec, L: int) -> list[str]:
    """A ← A − ηδXᵀ, with weight decay W ← W − ηλW first; with momentum V ← βV − ηδXᵀ − ηλW, A ← A + V.

    A folded layer's ones row in X gives the biases' gradient Σ ηδ in the same product; a trained
    bias not folded is one the layer shares, and takes Σ ηδ over the examples and the neurons.
    """
    own_bias = not folded(spec.layers[L], spec) and spec.train_biases
    bias_sum = f"d{L}.sum()"
    if not spec.momentum:
        lines = [f"W{L} -= decay_rate * W{L}"] if spec.weight_decay else []
        lines.append(f"A{L} -= d{L} @ X{L}.T")
        return lines + ([f"c{L} -= {bias_sum}"] if own_bias else [])
    lines = [f"V{L} *= momentum", f"V{L} -= d{L} @ X{L}.T"]
    if spec.weight_decay:
        lines.append(f"VW{L} -= decay_rate * W{L}")
    lines.append(f"A{L} += V{L}")
    if own_bias:
        lines += [f"Vc{L} *= momentum", f"Vc{L} -= {bias_sum}", f"c{L} += Vc{L}"]
    return lines


def update_constants(spec: NetworkSpec) -> tuple[float, float, float]:
    """(β, ηλ, η): the update rule's coefficients (:func:`derive.core.rules.change_terms`) at the spec's numbers.

    Δθ = β·Δθ_previous − η·g − ηλ·θ, applied in place: Δθ_previous scaled by β, then ηλ·W and ηδXᵀ
    subtracted (δ is computed already times η).
    """
    return _coefficients(spec.learning_rate, spec.momentum, spec.weight_decay)


@cache
def _coefficients(learning_rate: Fraction, momentum: Fraction, weight_decay: Fraction) -> tuple[float, float, float]:
    """(β, ηλ, η) at these numbers: worked out once for each, not on every call of ``train``."""
    terms = change_terms(momentum=True, decay=True)
    numbers = {LEARNING_RATE: rational(learning_rate), MOMENTUM: rational(momentum), DECAY: rational(weight_decay)}
    previous, parameter, gradient = (terms[symbol].subs(numbers) for symbol in (PREVIOUS_CHANGE, PARAMETER, GRADIENT))
    return float(previous), float(-parameter), float(-gradient)


def _softmax(net: np.ndarray) -> np.ndarray:
    """out_j = e^net_j / Σ_k e^net_k in each column, shifted by the column's largest net input."""
    exps = np.exp(net - net.max(axis=0))
    return exps / exps.sum(axis=0)


# ---------------------------------------------------------------------------------------------
# Compiled once per structure


Make = Callable[..., tuple[Callable[..., int], Callable[[Batch], None], Callable[[Batch], float]]]
_CACHE_SIZE = 16
_COMPILED: dict[tuple[Hashable, Update], Make] = {}


def compiled(spec: NetworkSpec, update: Update, structure: Hashable) -> Make:
    """``make`` for a network's structure (``structure`` says what the code depends on)."""
    key = (structure, update)
    found = _COMPILED.get(key)
    if found is None:
        namespace: dict[str, object] = {"numpy": np, "_softmax": _softmax}
        source = step_source(spec, update)
        exec(compile(source, f"<derive matrix step of {spec.name}>", "exec"), namespace)  # our own generated code
        found = namespace["make"]  # type: ignore[assignment]
        if len(_COMPILED) >= _CACHE_SIZE:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = found
    return found  # type: ignore[return-value]


def clear_cache() -> None:
    _COMPILED.clear()


# ---------------------------------------------------------------------------------------------
# The engine the training loop drives


class MatrixTraining:
    """A network's parameters as one matrix per layer, trained by the generated NumPy code."""

    def __init__(self, spec: NetworkSpec, update: Update, structure: Hashable) -> None:
        self.spec = spec
        self.arrays = _arrays(spec)
        make = compiled(spec, update, structure)
        momentum, decay_rate, self.rate = update_constants(spec)
        self._steps, self._update, self._loss = make(*self.arrays.values(), momentum, decay_rate)
        self.inputs = np.array([[float(x) for x in e.inputs] for e in spec.examples]).T
        self.targets = np.array([[float(t) for t in e.targets] for e in spec.examples]).T
        self._buffers: dict[int, list[np.ndarray]] = {}
        self._batches: dict[tuple[int, ...], Batch] = {}
        self.all = self.batch(tuple(range(len(spec.examples))))

    def batch(self, indices: tuple[int, ...]) -> Batch:
        """The arrays of one batch: its examples as columns, and the hidden layers' buffers."""
        found = self._batches.get(indices)
        if found is not None:
            return found
        spec, size = self.spec, len(indices)
        columns = list(indices)
        first = self.inputs[:, columns]
        if folded(spec.layers[0], spec):
            first = np.vstack([first, np.ones((1, size))])
        buffers = self._buffers.get(size)
        if buffers is None:
            buffers = self._buffers[size] = [
                np.ones((spec.layers[L - 1].size + folded(layer, spec), size))
                for L, layer in enumerate(spec.layers)
                if L
            ]
        hidden = [item for L, X in enumerate(buffers, start=1) for item in (X, X[: spec.layers[L - 1].size])]
        scale = 1 / size if spec.reduction == "mean" else 1.0
        found = (
            first,
            np.ascontiguousarray(self.targets[:, columns]),
            *hidden,
            self.rate * scale,
            scale,
        )
        if len(self._batches) < 4 * len(spec.examples) + 8:  # in file order, an epoch's batches repeat
            self._batches[indices] = found
        return found

    def steps(self, count: int, history: list[float], goal: float) -> int:
        with np.errstate(all="ignore"):  # divergence shows as non-finite values, checked by the loop
            return self._steps(count, self.all, history, goal)

    def update(self, indices: tuple[int, ...]) -> None:
        with np.errstate(all="ignore"):
            self._update(self.batch(indices))

    def loss(self) -> float:
        with np.errstate(all="ignore"):
            return self._loss(self.all)

    def finite(self) -> bool:
        """Whether every parameter is still a finite number."""
        return all(np.isfinite(self.arrays[f"A{L}"]).all() for L in range(len(self.spec.layers))) and all(
            np.isfinite(array).all() for name, array in self.arrays.items() if name.startswith("c")
        )

    def parameters(self) -> Parameters:
        """Every weight and bias, in derive's numbering: the weights layer by layer, then the biases."""
        return _numbered(self.spec, self.arrays, "A", "W", "c")

    def velocity(self) -> Parameters | None:
        return _numbered(self.spec, self.arrays, "V", "VW", "Vc") if self.spec.momentum else None


def _arrays(spec: NetworkSpec) -> dict[str, np.ndarray]:
    """The arrays :func:`array_names` names, filled from the spec (Δθ from ``previous_update``)."""
    arrays: dict[str, np.ndarray] = {}
    sources = [("", np.array(spec.float_parameters))]
    if spec.momentum:
        sources.append(("V", np.array([float(value) for value in spec.previous_changes().values()])))
    for prefix, values in sources:
        weights, biases = _split(spec, values)
        for L, layer in enumerate(spec.layers):
            if folded(layer, spec):
                A = np.hstack([weights[L], biases[L].reshape(-1, 1)])
                arrays |= {f"{prefix or 'A'}{L}": A, f"{prefix}W{L}": A[:, :-1]}
            else:
                A = weights[L].copy()
                column = biases[L].copy() if layer.shared_bias else biases[L].reshape(-1, 1).copy()
                arrays |= {f"{prefix or 'A'}{L}": A, f"{prefix}W{L}": A, f"{prefix}c{L}": column}
    return _in_order(spec, arrays)


def _split(spec: NetworkSpec, values: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every parameter in numbering order as each layer's weight matrix and its biases (one, when shared)."""
    weights, biases, at = [], [], 0
    for layer in spec.layers:
        weights.append(values[at : at + layer.size * layer.fan_in].reshape(layer.size, layer.fan_in))
        at += layer.size * layer.fan_in
    for layer in spec.layers:
        count = 1 if layer.shared_bias else layer.size
        biases.append(values[at : at + count])
        at += count
    return weights, biases


def _in_order(spec: NetworkSpec, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays in :func:`array_names`' order: ``make`` takes them positionally."""
    return {name: arrays[name] for name in array_names(spec)}


def _numbered(spec: NetworkSpec, arrays: dict[str, np.ndarray], matrix: str, weights: str, bias: str) -> Parameters:
    values: list[float] = []
    for L in range(len(spec.layers)):
        values += arrays[f"{weights}{L}"].ravel().tolist()
    for L, layer in enumerate(spec.layers):
        if folded(layer, spec):
            values += arrays[f"{matrix}{L}"][:, -1].tolist()
        else:
            values += arrays[f"{bias}{L}"].ravel()[: 1 if layer.shared_bias else layer.size].tolist()
    return tuple(values)
