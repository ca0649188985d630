"""The backward pass: for each gradient, the chain-rule statement, the δs it needs, links, result."""

from __future__ import annotations

from derive.printing import partial_latex
from derive.steps import DeltaSteps, GradientSteps, Steps

from .graphs import computation_graph
from .model import DeltaWorking, Equation, FactorWorking, GradientWorking, LayerSection
from .typeset import Typesetter


def backward(steps: Steps, typeset: Typesetter) -> list[LayerSection]:
    """One section per layer, the output layer first, each with its gradients in numbering order."""
    spec = steps.derivation.spec
    sections: list[LayerSection] = []
    for gradient in steps.backward:
        if not sections or sections[-1].name != spec.layers[gradient.layer].name:
            output = gradient.layer == len(spec.layers) - 1
            sections.append(LayerSection(spec.layers[gradient.layer].name, output, []))
        sections[-1].gradients.append(_gradient(gradient, steps, typeset))
    return sections


def _gradient(working: GradientSteps, steps: Steps, typeset: Typesetter) -> GradientWorking:
    gradient = working.gradient
    derivation = steps.derivation
    result = typeset.equation(working.result)
    shared = gradient.name.startswith("b") and len({t.neuron for t in gradient.chain}) > 1
    return GradientWorking(
        gradient.name,
        typeset.latex(gradient.symbol),
        result.lhs,
        [r" \cdot ".join(typeset.partial(f) for f in term.factors) for term in gradient.chain],
        [_delta(delta, typeset) for delta in working.deltas],
        [
            FactorWorking(term.factors[-1].rule, typeset.equation(link))
            for term, link in zip(gradient.chain, working.links, strict=True)
        ],
        result,
        shared,
        derivation.trainable(gradient.name),
        computation_graph(steps, gradient, typeset),
    )


def _delta(working: DeltaSteps, typeset: Typesetter) -> DeltaWorking:
    """δ of one neuron: each factor by its rule, then δ as their product."""
    delta = working.delta
    factors = [
        FactorWorking(
            factor.rule,
            typeset.equation(step, lhs=typeset.partial(factor)),
            [rf"{typeset.partial(a)} \cdot {typeset.partial(b)}" for a, b in factor.paths],
        )
        for factor, step in zip(delta.factors, working.factors, strict=True)
    ]
    symbol = typeset.latex(delta.symbol)
    graph = typeset.graph
    net = graph.net[delta.example][delta.neuron.layer][delta.neuron.index]
    meaning = partial_latex(typeset.latex(graph.total), typeset.latex(net))
    example = delta.example + 1 if graph.multi else None
    if working.coupled:
        value, answer = typeset.show(delta.precise), factors[0].equation.answer
        equation = Equation(symbol, "", "", value, answer, key=working.step.key)
        return DeltaWorking(symbol, delta.neuron.name, example, factors, equation, meaning, coupled=True)
    equation = typeset.equation(working.step, lhs=f"{symbol} = {meaning}")
    return DeltaWorking(symbol, delta.neuron.name, example, factors, equation, meaning)
