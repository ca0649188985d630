"""The matrix form: δ = ∇E ⊙ f'(net) at the output, δ = (Wᵀ δ_next) ⊙ f'(net) below, ∂E/∂W = δ xᵀ.

The same derivation as the scalar chains, written with the example's numbers as vectors and
matrices, and linked back to the scalar chain of one entry.
"""

from __future__ import annotations

from collections.abc import Sequence

from derive.core.chain import Derivation
from derive.core.functions import ACTIVATIONS
from derive.core.graph import SymbolName
from derive.core.layerwise import layer_inputs, outer, shared_bias_gradient, summed_deltas, summed_outer
from derive.core.numbers import Number
from derive.core.printing import partial_latex, symbol_latex
from derive.core.rules import unit_targets
from derive.core.steps import Steps

from .model import Equation, MatrixLayer
from .typeset import Typesetter


def escaped(name: str) -> str:
    """A layer name inside LaTeX math: underscores escaped."""
    return name.replace("_", r"\_")


def matrix_form(steps: Steps, typeset: Typesetter) -> list[MatrixLayer]:
    """Every layer's vectorised backward step, the output layer first."""
    layers = range(len(steps.derivation.spec.layers))
    return [_LayerForm(steps.derivation, typeset, L).build() for L in reversed(layers)]


class _LayerForm:
    """One layer's δ vector, weight-matrix gradient and bias gradient, per example and summed."""

    def __init__(self, derivation: Derivation, typeset: Typesetter, L: int) -> None:
        self.derivation = derivation
        self.typeset = typeset
        self.L = L
        spec = derivation.spec
        self.layer = spec.layers[L]
        self.last = len(spec.layers) - 1
        self.multi = derivation.graph.multi
        self.name = escaped(self.layer.name)
        self.vector_name = rf"\boldsymbol{{\delta}}_{{{self.name}}}"
        self.weights = rf"W_{{{self.name}}}"
        self.total = typeset.latex(derivation.graph.total)

    def build(self) -> MatrixLayer:
        examples = range(len(self.derivation.spec.examples))
        deltas = [self.delta(p) for p in examples]
        gradients = [self.weight_gradient(p) for p in examples]
        if self.multi:
            gradients.append(self.summed_weight_gradient())
        activation = ACTIVATIONS[self.layer.activation]
        kind = "hidden" if self.L < self.last else self.output_kind(activation.coupled)
        output = self.L == self.last
        return MatrixLayer(self.layer.name, output, kind, deltas, gradients, [self.bias()], self.entry())

    def suffix(self, p: int) -> str:
        return f"^{{({p + 1})}}" if self.multi else ""

    def delta(self, p: int) -> Equation:
        """δ of the layer in example p, from the layer above (or the error, at the output)."""
        derivation, typeset = self.derivation, self.typeset
        activation = ACTIVATIONS[self.layer.activation]
        suffix = self.suffix(p)
        slope = rf"{activation.latex}'(\mathbf{{{typeset.net_label}}}_{{{self.name}}}{suffix})"
        rows = derivation.deltas[p][self.L]
        slopes = [d.factors[-1].precise for d in rows]
        if self.L == self.last and activation.coupled:
            formula, substituted = self.softmax_delta(p)
        elif self.L == self.last:
            formula = rf"\nabla_{{\mathbf{{out}}_{{{self.name}}}{suffix}}} E_{{total}} \odot {slope}"
            substituted = rf"{self.vector([d.factors[0].precise for d in rows])} \odot {self.vector(slopes)}"
        else:
            above = escaped(derivation.spec.layers[self.L + 1].name)
            formula = rf"\left(W_{{{above}}}^{{\top}} \boldsymbol{{\delta}}_{{{above}}}{suffix}\right) \odot {slope}"
            transpose = [list(column) for column in zip(*self.weight_values(self.L + 1), strict=True)]
            deltas_above = [d.precise for d in derivation.deltas[p][self.L + 1]]
            product = f"{self.matrix(transpose)} {self.vector(deltas_above)}"
            substituted = rf"\left({product}\right) \odot {self.vector(slopes)}"
        return Equation(self.vector_name + suffix, formula, substituted, self.vector([d.precise for d in rows]), 0)

    def output_kind(self, coupled: bool) -> str:
        """The output layer's sentence: ``output`` (∇E ⊙ f'), ``softmax`` (out − t) or ``softmax_jacobian`` (Jᵀ∇E)."""
        if not coupled:
            return "output"
        return "softmax" if self.out_minus_targets() else "softmax_jacobian"

    def out_minus_targets(self) -> bool:
        """Whether softmax's δ is out − t: cross-entropy against targets that sum to 1 (else Jᵀ∇E)."""
        derivation = self.derivation
        rule = derivation.deltas[0][self.L][0].factors[0].rule
        return rule == "softmax_cross_entropy" and unit_targets(e.targets for e in derivation.spec.examples)

    def softmax_delta(self, p: int) -> tuple[str, str]:
        derivation, graph, suffix = self.derivation, self.derivation.graph, self.suffix(p)
        if self.out_minus_targets():
            outs = [derivation.values[s] for s in graph.out[p][self.L]]
            targets = [derivation.values[s] for s in graph.targets[p]]
            scale = graph.reduction_scale()
            factor = "" if scale == 1 else rf"\tfrac{{{scale.p}}}{{{scale.q}}} "
            formula = rf"{factor}\left(\mathbf{{out}}_{{{self.name}}}{suffix} - \mathbf{{t}}{suffix}\right)"
            return formula, rf"{factor}\left({self.vector(outs)} - {self.vector(targets)}\right)"
        return (
            rf"J_{{\operatorname{{softmax}}}}^{{\top}} \nabla_{{\mathbf{{out}}_{{{self.name}}}{suffix}}} E_{{total}}",
            "",
        )

    def weight_gradient(self, p: int) -> Equation:
        suffix = self.suffix(p)
        lhs = partial_latex(self.total, self.weights)
        spec = self.derivation.spec
        below = r"\mathbf{i}" if self.L == 0 else rf"\mathbf{{out}}_{{{escaped(spec.layers[self.L - 1].name)}}}"
        deltas = [d.precise for d in self.derivation.deltas[p][self.L]]
        return Equation(
            rf"\left({lhs}\right){suffix}" if self.multi else lhs,
            rf"{self.vector_name}{suffix} \, {below}{suffix}{{}}^{{\top}}",
            rf"{self.vector(deltas)} {self.matrix([layer_inputs(self.derivation, p, self.L)])}",
            self.matrix(outer(self.derivation, p, self.L)),
            0,
        )

    def summed_weight_gradient(self) -> Equation:
        examples = range(len(self.derivation.spec.examples))
        lhs = partial_latex(self.total, self.weights)
        parts = " + ".join(rf"\left({lhs}\right)^{{({p + 1})}}" for p in examples)
        return Equation(lhs, parts, "", self.matrix(summed_outer(self.derivation, self.L)), 0)

    def bias(self) -> Equation:
        derivation, typeset = self.derivation, self.typeset
        if self.layer.shared_bias:
            bias = typeset.latex(derivation.graph.biases[self.L][0])
            summed_vector = rf"\sum_p {self.vector_name}^{{(p)}}" if self.multi else self.vector_name
            formula = rf"\mathbf{{1}}^{{\top}} {summed_vector}"
            value = typeset.show(shared_bias_gradient(derivation, self.L))
            return Equation(partial_latex(self.total, bias), formula, "", value, 0)
        formula = rf"\sum_p {self.vector_name}^{{(p)}}" if self.multi else self.vector_name
        lhs = partial_latex(self.total, rf"\mathbf{{b}}_{{{self.name}}}")
        return Equation(lhs, formula, "", self.vector(summed_deltas(derivation, self.L)), 0)

    def entry(self) -> dict[str, str]:
        """The sentence linking entry (1, 1) of ∂E/∂W to its scalar chain: δ · x, summed over examples."""
        derivation, typeset = self.derivation, self.typeset
        graph = derivation.graph
        first = graph.weights[self.L][0][0]
        if not self.multi:
            source = graph.layer_inputs(0, self.L)[0]
            chain = rf"{typeset.latex(graph.delta[0][self.L][0])} \cdot {typeset.latex(source)}"
        else:
            delta = symbol_latex(SymbolName("delta", graph.neurons[self.L][0].name), typeset.net_label) + "^{(p)}"
            source = graph.layer_inputs(0, self.L)[0]
            plain = SymbolName(graph.names[source].kind, graph.names[source].subscript)
            chain = rf"\sum_p {delta} \cdot {symbol_latex(plain, typeset.net_label)}^{{(p)}}"
        return {
            "matrix": partial_latex(self.total, self.weights),
            "chain": chain,
            "gradient": partial_latex(self.total, typeset.latex(first)),
            "value": typeset.show(derivation.gradients[str(first)].precise),
        }

    def weight_values(self, L: int) -> list[list[Number]]:
        graph = self.derivation.graph
        return [[self.derivation.parameters[str(w)] for w in row] for row in graph.weights[L]]

    def vector(self, values: Sequence[Number]) -> str:
        return self.matrix([[value] for value in values])

    def matrix(self, rows: Sequence[Sequence[Number | int]]) -> str:
        body = r" \\ ".join(" & ".join(self.typeset.show(value) for value in row) for row in rows)
        return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"
