"""The backward pass: for each gradient, the chain-rule statement, the δs it needs, links, result.

A rule's sentence is said once, where the document first applies it (:class:`Narrator`); a δ is
derived where a gradient first needs it, and later gradients cite it.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction

from derive.core import checks
from derive.core.factors import Delta, Factor, Gradient
from derive.core.functions import ACTIVATIONS
from derive.core.printing import partial_inline, partial_latex
from derive.core.steps import DeltaSteps, GradientSteps, Steps
from derive.spec.unroll import INITIAL

from .figures import activation_plot
from .given import path
from .graphs import computation_graph
from .model import DeltaWorking, FactorWorking, GradientWorking, LayerSection, Part, Plot, Rule
from .typeset import Typesetter


class Narrator:
    """Remembers which rules and figures the document has already explained."""

    def __init__(self) -> None:
        self.said: set[str] = set()
        self.plotted: set[str] = set()

    def rule(self, key: str, fields: dict[str, str] | None = None) -> Rule:
        """The rule, to be explained only the first time it is used."""
        explain = key not in self.said
        self.said.add(key)
        return Rule(key, fields or {}, explain)

    def first(self, key: str) -> bool:
        """Whether this is the first time of ``key`` (a sentence said once)."""
        return self.rule(key).explain

    def plot(self, activation: str, constant: Fraction | None = None) -> Plot | None:
        """The activation's drawing, the first time its slope is used (with the layer's constant, if any)."""
        if activation in self.plotted or ACTIVATIONS[activation].coupled:
            return None
        self.plotted.add(activation)
        return activation_plot(activation, constant)


def backward(steps: Steps, typeset: Typesetter, narrator: Narrator, detail: str) -> list[LayerSection]:
    """One section per layer, the output layer first, each with its gradients in numbering order."""
    layers = steps.derivation.spec.layers
    groups = parameter_groups(steps)
    sections: list[LayerSection] = []
    for gradient in steps.backward:
        L = _layer_of(steps, gradient.layer)
        name, group = layers[L].name, groups.get(gradient.gradient.name, ("", ""))
        if not sections or (sections[-1].name, sections[-1].heading) != (group[1] or name, group[0]):
            sections.append(LayerSection(group[1] or name, L == len(layers) - 1, [], heading=group[0]))
        sections[-1].gradients.append(_gradient(gradient, steps, typeset, narrator))
    sections = merged(sections)
    first = sections[0].gradients[0] if sections else None
    if first is not None:
        first.check = finite_difference(steps, steps.backward[0].gradient, typeset)
    for working in (g for section in sections for g in section.gradients):
        # the first weight that only cites a δ derived before it says so, once in the document
        if not working.derives and not noted(working) and detail == "standard":
            working.lead = narrator.first("cites")
        # brief: the first gradient written as δ times its input says why, once in the document
        if working.derives and detail == "brief":
            working.lead = narrator.first("brief_gradients")
    for section in sections:
        section.parts = parts(section.gradients, detail)
    return sections


def _layer_of(steps: Steps, stage: int) -> int:
    """The network file's layer of a stage of the graph: a recurrent network's layers act at a stage per
    time step; a convolutional network's and a dense network's stages are their layers."""
    stages = getattr(steps.derivation.graph, "stages", None)
    return stages[stage].layer if stages else stage


def parameter_groups(steps: Steps) -> dict[str, tuple[str, str]]:
    """A recurrent layer's parameters by what they weigh: its state of the step before (U) or its input and bias.

    Each acts at every time step, so the backward pass groups them by parameter, not by the step
    (stage) at which each first acts; the value is the group's catalog key and the layer's name.
    """
    graph = steps.derivation.graph
    stages = getattr(graph, "stages", ())
    groups: dict[str, tuple[str, str]] = {}
    for L, stage in enumerate(stages):
        if stage.kind != "recurrent":
            continue
        layer = steps.derivation.spec.layers[stage.layer].name
        for j, unit in enumerate(stage.units):
            for k, link in enumerate(unit.links):
                weight, source = graph.link_weight(L, j, k), link.source[0]
                recurrent = source == INITIAL or (source >= 0 and stages[source].layer == stage.layer)
                if weight is not None:
                    groups[weight.name] = ("recurrent_weights" if recurrent else "input_weights", layer)
            bias = graph.bias(L, j)
            if bias is not None:
                groups[bias.name] = ("input_weights", layer)
    return groups


def merged(sections: list[LayerSection]) -> list[LayerSection]:
    """A recurrent layer whose groups come apart (W, U, then b: all act from step 1 with a given h_0) as one section."""
    headed = [(section.name, section.heading) for section in sections if section.heading]
    split = {name for name, heading in headed if headed.count((name, heading)) > 1}
    found: list[LayerSection] = []
    for section in sections:
        if section.name in split and found and found[-1].name == section.name:
            found[-1].gradients.extend(section.gradients)
            continue
        if section.name in split:
            section.heading = "recurrent_parameters"
        found.append(section)
    return found


def noted(working: GradientWorking) -> bool:
    """A gradient with a sentence of its own before it: a fixed or shared bias, several terms."""
    return not working.trainable or working.shared_bias or working.terms > 1


def parts(gradients: list[GradientWorking], detail: str) -> list[Part]:
    """The layer's gradients in runs; a gradient that derives a δ, or has a sentence of its own, opens one."""
    found: list[Part] = []
    for working in gradients:
        if detail == "brief":
            kind, opens = "brief", not found or bool(working.deltas) or noted(working)
        elif detail == "full" or working.derives:
            kind, opens = "derive", True
        else:
            kind, opens = "cite", True  # each cited gradient under a heading of its own
        if opens:
            found.append(Part(kind, [working]))
        else:
            found[-1].gradients.append(working)
    return found


def factor_rule(factor: Factor, steps: Steps, narrator: Narrator, layer: int | None = None) -> Rule:
    """The rule of a chain factor; the error's slope says where its constants come from.

    A neuron of stage ``layer`` whose readers pool it (or, at the next time step, read it through U)
    has its sum over paths said with that link's derivative, not a weight's.
    """
    spec = steps.derivation.spec
    if factor.rule == "sum_over_paths" and layer is not None:
        return narrator.rule(paths_rule(steps, layer))
    if factor.rule != "power":
        return narrator.rule(factor.rule)
    outputs, examples = spec.n_outputs, len(spec.examples) if spec.reduction == "mean" else 1
    mean = {"count": str(examples)}
    if spec.loss != "mse":  # the half squared error: its 1/2 cancels the power rule's 2
        if examples > 1:
            return narrator.rule("power_mean_half", mean)
        return narrator.rule("power" if outputs > 1 else "power_one")
    if examples == 1:  # the mean over the outputs only: 2/n in front, or the 2 alone for one output
        return narrator.rule("power_square") if outputs == 1 else narrator.rule("power_mean", {"count": str(outputs)})
    if outputs == 1:
        return narrator.rule("power_mean_examples", mean)
    return narrator.rule("power_mean_both", {"outputs": str(outputs), "examples": str(examples)})


# The sum over paths said by what reads the neuron: a pooling window, or the recurrent layer's next step.
PATHS_RULES = {"maxpool": "max_pool_paths", "avgpool": "average_pool_paths", "recurrent": "recurrent_paths"}


def paths_rule(steps: Steps, layer: int) -> str:
    """The catalog key of ∂E/∂out = Σ δ · ∂net/∂out for a neuron of stage ``layer``, by the stage reading it."""
    stages = getattr(steps.derivation.graph, "stages", None)
    if stages is None or layer + 1 >= len(stages):
        return "sum_over_paths"
    return PATHS_RULES.get(stages[layer + 1].kind, "sum_over_paths")


def _gradient(working: GradientSteps, steps: Steps, typeset: Typesetter, narrator: Narrator) -> GradientWorking:
    gradient = working.gradient
    derivation = steps.derivation
    deltas = [_delta(delta, steps, typeset, narrator) for delta in working.deltas]
    links = (
        [
            FactorWorking(narrator.rule(term.factors[-1].rule), typeset.equation(link))
            for term, link in zip(gradient.chain, working.links, strict=True)
        ]
        if working.links
        else []
    )  # brief: the gradient's line shows δ times its input directly
    result = typeset.equation(working.result)
    shared = gradient.name.startswith("b") and len({t.neuron for t in gradient.chain}) > 1
    own = dict.fromkeys(derivation.deltas[t.example][t.neuron.layer][t.neuron.index].symbol for t in gradient.chain)
    return GradientWorking(
        gradient.name,
        typeset.latex(gradient.symbol),
        result.lhs,
        [r" \cdot ".join(typeset.partial(f) for f in term.factors) for term in gradient.chain]
        + ([typeset.partial(gradient.decay)] if gradient.decay is not None else []),
        deltas,
        links,
        result,
        shared,
        derivation.trainable(gradient.name),
        computation_graph(steps, gradient, typeset),
        derives=bool(deltas),
        first=narrator.first("chain_rule"),
        terms=len(gradient.chain),
        cites=[typeset.latex(symbol) for symbol in own],
        path=path(steps, gradient),
        neurons=list(dict.fromkeys(term.neuron.name for term in gradient.chain)),
        decay=narrator.rule("weight_decay") if gradient.decay is not None else None,
        # a kernel entry or a recurrent weight: one term per position or time step it acts at
        shared_weight=shared_weight(steps, gradient),
    )


def shared_weight(steps: Steps, gradient: Gradient) -> str:
    """A weight acting at several neurons: at every time step ("steps") or every position of a kernel ("kernel")."""
    if not gradient.name.startswith("w") or len({t.neuron for t in gradient.chain}) < 2:
        return ""
    return "steps" if steps.derivation.spec.steps is not None else "kernel"


def _delta(working: DeltaSteps, steps: Steps, typeset: Typesetter, narrator: Narrator) -> DeltaWorking:
    """δ of one neuron: each factor by its rule, then δ as their product."""
    delta = working.delta
    graph = typeset.graph
    layer = steps.derivation.graph.layers[delta.neuron.layer]
    activation = layer.activation
    plot = narrator.plot(activation, layer.negative_slope)
    symbol = typeset.latex(delta.symbol)
    net = graph.net[delta.example][delta.neuron.layer][delta.neuron.index]
    meaning = typeset.inline(graph.total, net)
    example = delta.example + 1 if graph.multi else None
    flags = {
        "inactive": activation == "relu" and steps.derivation.values[net] <= 0,
        "silent_output": working.coupled and _silent(delta, steps),
        "plot": plot if working.inline else None,
        "first": narrator.first("delta") if not working.coupled else False,
        "net": typeset.show(steps.derivation.values[net]),
    }
    if working.inline:  # brief: δ in one line, the factors' rules said as they are first used
        equation = typeset.equation(working.step, lhs=_inline_lhs(delta, typeset))
        layer_index = delta.neuron.layer
        factors = [
            FactorWorking(factor_rule(factor, steps, narrator, layer_index), equation) for factor in delta.factors
        ]
        return DeltaWorking(symbol, delta.neuron.name, example, factors, equation, meaning, inline=True, **flags)
    slope_rule = ACTIVATIONS[activation].rule
    factors = [
        FactorWorking(
            factor_rule(factor, steps, narrator, delta.neuron.layer),
            typeset.equation(step, lhs=typeset.partial(factor)),
            [rf"{typeset.partial(a)} \cdot {typeset.partial(b)}" for a, b in factor.paths],
            plot if factor.rule == slope_rule else None,
        )
        for factor, step in zip(delta.factors, working.factors, strict=True)
    ]
    if working.coupled:
        equation = factors[0].equation
        return DeltaWorking(symbol, delta.neuron.name, example, factors, equation, meaning, coupled=True, **flags)
    display = partial_latex(typeset.latex(graph.total), typeset.latex(net))
    equation = typeset.equation(working.step, lhs=f"{symbol} = {display}")
    return DeltaWorking(symbol, delta.neuron.name, example, factors, equation, meaning, **flags)


def _inline_lhs(delta: Delta, typeset: Typesetter) -> str:
    """δ = ∂E/∂out · ∂out/∂net, the factors named before their formulas are written out."""
    return rf"{typeset.latex(delta.symbol)} = " + r" \cdot ".join(typeset.partial(f) for f in delta.factors)


def _silent(delta: Delta, steps: Steps) -> bool:
    """A softmax output whose own error is 0 (its target is 0) while its δ is not."""
    graph = steps.derivation.graph
    error = graph.errors[delta.example][delta.neuron.index]
    return steps.derivation.values[error] == 0 and delta.precise != 0


def finite_difference(steps: Steps, gradient: Gradient, typeset: Typesetter) -> dict[str, str]:
    """The check of ∂E/∂θ by finite differences (:func:`derive.core.checks.finite_difference`), as shown."""
    check = checks.finite_difference(steps.derivation.spec, gradient.name)
    return {
        "gradient": partial_inline(typeset.latex(steps.derivation.graph.total), typeset.latex(gradient.symbol)),
        "value": typeset.show(gradient.precise),
        "parameter": typeset.latex(gradient.symbol),
        "epsilon": str(check.nudge),
        "low": str(check.low),
        "high": str(check.high),
        "width": str(check.width),
        "slope": _to_seven_decimals(check.slope),
    }


def _to_seven_decimals(slope: Decimal) -> str:
    """The slope to 7 decimals, however large (the default 28 digits would not hold 2e300 to 7 decimals)."""
    if not slope.is_finite():
        return str(slope)
    with localcontext() as context:
        context.prec = max(28, slope.adjusted() + 10)
        return format(slope.quantize(Decimal("1e-7")), "f")
