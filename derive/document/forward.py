"""The forward pass: each example's net inputs and outputs, layer by layer, then the errors."""

from __future__ import annotations

from collections.abc import Sequence

from derive.core.functions import ACTIVATIONS
from derive.core.steps import ExampleSteps, Steps

from .model import Equation, ExampleForward, NeuronWorking
from .typeset import Typesetter


def forward(steps: Steps, typeset: Typesetter, examples: Sequence[ExampleSteps] | None = None) -> list[ExampleForward]:
    """Every example's working, in the order of its blanks (by default the pass before the step)."""
    chosen = steps.forward if examples is None else examples
    return [_example(example, p, steps, typeset) for p, example in enumerate(chosen)]


def _example(example: ExampleSteps, p: int, steps: Steps, typeset: Typesetter) -> ExampleForward:
    spec, graph = steps.derivation.spec, steps.derivation.graph
    hidden = len(graph.layers) - 1
    layers = []
    for L, row in enumerate(example.layers):
        working = []
        for neuron in row:
            out = typeset.equation(neuron.out)
            if spec.round_activations is not None and L < hidden:
                out.note = "rounded"
            working.append(NeuronWorking(neuron.name, typeset.equation(neuron.net), out))
        layers.append(working)
    return ExampleForward(
        example.number,
        [(typeset.latex(s), typeset.show(steps.values[s])) for s in graph.inputs[p]],
        [(typeset.latex(s), typeset.show(steps.values[s])) for s in graph.targets[p]],
        layers,
        [typeset.equation(error) for error in example.errors],
        typeset.equation(example.total) if example.total is not None else None,
        [ACTIVATIONS[layer.activation].coupled for layer in graph.layers],
    )


def total(steps: Steps, typeset: Typesetter) -> Equation:
    """E_total, from the outputs' errors or from the examples' errors."""
    return typeset.equation(steps.total)
