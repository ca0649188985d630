"""What the slides show beside the document: numbers to a few significant figures, a weight's paths.

A slide is read from the back of a hall: its numbers are rounded to a few significant figures (the
handout keeps the document's decimals), and the gradient of a hidden weight is written as the sum
over its paths through the network, each path in its own colour on the network and in the formula.
Both only reshape what the document already holds: no value is computed here.
"""

from __future__ import annotations

import dataclasses
import re
from copy import deepcopy
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from itertools import pairwise
from typing import Any

from derive.core.printing import partial_latex

from .backward import PATHS_RULES
from .model import ComputationGraph, DeltaWorking, Document, Equation, GradientWorking, GraphNode, NeuronWorking
from .typeset import layout

# A decimal number as the documents print it, with a point or a Spanish comma (0{,}5933 in LaTeX);
# not part of a name or a dimension (w_{5}, 0.5em).
NUMBER = re.compile(r"(?<![\w.])(\d+)(\.|\{,\})(\d+)(?![\w.])")
# Fields that name things rather than show numbers: a network called "xor-1.5" keeps its name.
NAMES = frozenset({"name", "key", "id", "source", "target", "kind", "notation"})
# The colours of the paths written out one by one (xcolor expressions), path1, path2, …: the deck's
# template defines one for each, and a weight with more paths writes one fewer and sums the rest.
PATH_PALETTE = ("blue!75!black", "orange!85!black", "green!45!black", "violet")
PATH_COLOURS = len(PATH_PALETTE)
# A gradient through more error signals than this (a kernel entry's, a recurrent weight's) spells out a
# few of them factor by factor and lists the rest by value, unless the detail is full.
SPELLED_AT_MOST = 4
# A layer of more neurons than that (a feature map) spells out its first two, one frame, and lists the rest.
NEURONS_SPELLED = 2
_POSITION = re.compile(r"_?\d+(,[\d.]+)?")  # what a neuron's name adds to its layer's: 1, _1, 1,23, 1,2.3


def significant(text: str, figures: int) -> str:
    """Every decimal number in ``text`` to ``figures`` significant figures, ties to even:
    ``0.35891648 · 0.291027774`` → ``0.3589 · 0.2910``.

    A rounded number keeps its trailing zeros, which are significant; a number with no more figures
    than that is exact and stays as written (an input of 0.05 is not 0.05000).
    """

    def rounded(match: re.Match[str]) -> str:
        whole, point, decimals = match.groups()
        value = Decimal(f"{whole}.{decimals}")
        if not value or len(value.normalize().as_tuple().digits) <= figures:
            return match.group(0)
        shown = _to_figures(value, figures)
        if shown.adjusted() > value.adjusted():  # rounded up to the next power of ten: 9.99996 → 10.00
            shown = _to_figures(shown, figures)
        return format(shown, "f").replace(".", point)

    return NUMBER.sub(rounded, text)


def _to_figures(value: Decimal, figures: int) -> Decimal:
    """``value`` rounded to ``figures`` significant figures, ties to even."""
    return value.quantize(Decimal(1).scaleb(value.adjusted() - figures + 1), ROUND_HALF_EVEN)


def to_figures(doc: Document, figures: int) -> Document:
    """A copy of ``doc`` whose every number shows ``figures`` significant figures, its lines re-measured.

    The document should carry more decimals than that (the slides build it with many), so that each
    number is rounded once, from its exact value, and not from an already rounded one.
    """
    copy = deepcopy(doc)
    _round(copy, figures)
    return copy


def _round(value: Any, figures: int) -> Any:
    """``value`` with its numbers rounded: strings rewritten, containers rebuilt, dataclasses changed in place."""
    if isinstance(value, str):
        return significant(value, figures)
    if isinstance(value, list):
        return [_round(item, figures) for item in value]
    if isinstance(value, tuple):
        return tuple(_round(item, figures) for item in value)
    if isinstance(value, dict):
        return {key: item if key in NAMES else _round(item, figures) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for entry in dataclasses.fields(value):
            if entry.name not in NAMES:
                setattr(value, entry.name, _round(getattr(value, entry.name), figures))
        if isinstance(value, Equation):
            # the shorter numbers make a shorter line: the templates break it as its layout says
            value.layout = layout(value)
    return value


@dataclass
class PathTerm:
    """One path from the parameter to E_total: the factors it alone has, then those every path shares."""

    own: list[str]  # ∂a/∂b fractions, from E_total back, in LaTeX
    shared: list[str]
    colour: int  # 1, 2, …: the template's path colour


@dataclass
class PathSum:
    """∂E_total/∂w of a hidden weight as the sum over its paths (the multivariable chain rule)."""

    gradient: GradientWorking
    terms: list[PathTerm]
    more: int  # paths not written out
    total: int  # paths in all
    grouped: str  # the paths' own factors summed, as the δ's first factor writes them: δ_o1 · w_5 + δ_o2 · w_7
    colours: dict[str, str]  # network edge or neuron → its path's colour (path0: all)


def path_sum(doc: Document) -> PathSum | None:
    """The sum over paths of the first hidden weight derived whose one use reaches E_total along more than
    one path (its neuron's output feeds several neurons), if there is one.

    A weight used at several places (a kernel entry at each position of its map, a recurrent weight at
    each step) whose paths share nothing but the weight is a sum over its uses, not over paths: its
    frame's chain rule already writes one term per use.
    """
    for section in doc.backward:
        if section.output and not section.heading:  # a recurrent layer's groups are sums through time
            continue
        for part in section.parts:
            for gradient in part.gradients:
                paths = chains(gradient.graph)
                hidden = part.kind != "cite" and gradient.name.startswith("w")
                if hidden and len(paths) > 1 and _common_prefix(paths) > 1:
                    return _path_sum(gradient)
    return None


def _path_sum(gradient: GradientWorking) -> PathSum:
    paths = chains(gradient.graph)
    common = _common_prefix(paths)
    written = paths if len(paths) <= PATH_COLOURS else paths[: PATH_COLOURS - 1]
    terms = [
        PathTerm(_factors(path[common - 1 :]), _factors(path[:common]), colour)
        for colour, path in enumerate(written, start=1)
    ]
    grouped = next(
        (
            factor.equation.formula
            for delta in gradient.deltas
            if not delta.inline
            for factor in delta.factors
            if factor.rule.key in ("sum_over_paths", "error_and_paths", *PATHS_RULES.values())
        ),
        "",
    )
    colours = _network_colours(network_paths(gradient.path), len(written))
    return PathSum(gradient, terms, len(paths) - len(written), len(paths), grouped, colours)


def chains(graph: ComputationGraph) -> list[list[GraphNode]]:
    """Every path of a computation graph from the parameter (level 0) to E_total, as its nodes in order."""
    nodes = {node.id: node for node in graph.nodes}
    onward: dict[str, list[str]] = {}
    for edge in graph.edges:
        onward.setdefault(edge.source, []).append(edge.target)
    start = next(node.id for node in graph.nodes if node.level == 0)

    def walk(node: str) -> list[list[GraphNode]]:
        if node not in onward:
            return [[nodes[node]]]
        return [[nodes[node], *rest] for target in onward[node] for rest in walk(target)]

    return walk(start)


def _common_prefix(paths: list[list[GraphNode]]) -> int:
    """How many nodes, from the parameter on, every path goes through."""
    count = 0
    while all(len(path) > count and path[count].id == paths[0][count].id for path in paths):
        count += 1
    return count


def _factors(nodes: list[GraphNode]) -> list[str]:
    """The local derivatives along ``nodes``, written from the end back: ∂E/∂out · ∂out/∂net · …"""
    pairs = pairwise(nodes)
    return [partial_latex(target.label, source.label) for source, target in reversed(list(pairs))]


def network_paths(keys: list[str]) -> list[list[str]]:
    """A gradient's paths in the network drawing (its edges ``a>b`` and their neurons), in the order
    :func:`chains` finds them: from the parameter's own edge, each edge in the order the keys list it."""
    edges = [key.split(">") for key in keys if ">" in key]
    targets = {target for _, target in edges}
    onward: dict[str, list[str]] = {}
    for source, target in edges:
        onward.setdefault(source, []).append(target)

    def walk(source: str, target: str) -> list[list[str]]:
        here = [f"{source}>{target}", target]
        return [here + rest for after in onward.get(target, []) for rest in walk(target, after)] or [here]

    return [path for source, target in edges if source not in targets for path in walk(source, target)]


def _network_colours(paths: list[list[str]], written: int) -> dict[str, str]:
    """Each edge and neuron of the written paths with its path's colour (``path1``, …); on every path, ``path0``."""
    colours: dict[str, str] = {}
    for colour, path in enumerate(paths[:written], start=1):
        for key in path:
            colours.setdefault(key, f"path{colour}")
    for key in colours:
        if all(key in path for path in paths):
            colours[key] = "path0"
    return colours


def spelled(deltas: list[DeltaWorking], detail: str) -> tuple[list[DeltaWorking], list[DeltaWorking]]:
    """The error signals a gradient's frames derive factor by factor, and those they list by value.

    Up to :data:`SPELLED_AT_MOST` (or at the full detail) every one is derived.  Beyond, a slide
    summarises: the first δ of each layer, and the first that sums several paths (a map's value that
    is the maximum of two windows, a hidden state read at the next step and at the output), each
    stands for the rest of its layer, which are worked the same way and listed with their values.
    """
    if detail == "full" or len(deltas) <= SPELLED_AT_MOST:
        return list(deltas), []
    chosen: list[DeltaWorking] = []
    layers = set()
    for delta in deltas:
        layer = _layer_of(delta.neuron)
        if layer not in layers:
            layers.add(layer)
            chosen.append(delta)
    several = next((delta for delta in deltas if delta.factors and len(delta.factors[0].paths) > 1), None)
    if several is not None and several not in chosen:
        chosen.append(several)
    shown = [delta for delta in deltas if delta in chosen]
    return shown, [delta for delta in deltas if delta not in chosen]


def _layer_of(neuron: str) -> str:
    """The layer of a neuron's name: ``c`` of c1,23, ``h`` of h2,3, ``l2`` of l2_1 (the shortest that fits)."""
    return next((neuron[:k] for k in range(1, len(neuron)) if _POSITION.fullmatch(neuron[k:])), neuron)


def spelled_neurons(row: list[NeuronWorking], detail: str) -> tuple[list[NeuronWorking], list[NeuronWorking]]:
    """A layer's neurons worked line by line in the forward pass, and those listed by value.

    A feature map's positions are all computed the same way: beyond :data:`SPELLED_AT_MOST` (and
    below the full detail) the first :data:`NEURONS_SPELLED` stand for them, the rest listed.
    """
    if detail == "full" or len(row) <= SPELLED_AT_MOST:
        return list(row), []
    return list(row[:NEURONS_SPELLED]), list(row[NEURONS_SPELLED:])
