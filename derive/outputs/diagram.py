"""The network and the computation graphs drawn as SVG, from the document's layout data (the same
nodes, edges and levels TikZ draws).

Learning platforms show the network as an image beside a question; the web page draws it inline,
each neuron and edge marked (``data-node="h1"``, ``data-edge="h1>o1"``) so that a step can light up
its path, and draws every gradient's computation graph.  The pictures are built with an XML
library, so every label is escaped and the markup is well-formed by construction.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from derive.document.model import ComputationGraph, Curve, DiagramEdge, DiagramNode, GraphEdge, Plot

SVG = "http://www.w3.org/2000/svg"
COLUMN = 200  # pixels between layers (a layer's x is 0, 1, 2, …; a bias sits halfway)
ROW = 96  # pixels between neurons of a layer (a bias is written under each, above the next)
RADIUS = 21
MARGIN = 30
FONT = 13
CHARACTER = 7.5  # the width of a character at FONT pixels, near enough to size a box
LABEL_AT = 0.26  # how far along an edge its weight is written, as in the TikZ drawing
BARE = "#767676"  # a link drawn without its label (a kernel's other positions): grey, 4.5:1 on white
STUB = 32  # how far below its neuron a bias is written: it enters the neuron from below, crossing no edge


def network_svg(
    nodes: Sequence[DiagramNode], edges: Sequence[DiagramEdge], title: str, *, marked: str = "", column: int = COLUMN
) -> str:
    """An SVG image of the network: inputs and neurons as circles, weights on the edges, each bias
    written under the neuron it enters (as the TikZ drawing does), so that no bias arrow crosses an edge.

    ``marked`` (a prefix for the picture's ids, for a page holding several) marks each neuron and
    edge with ``data-node`` and ``data-edge``, the names a gradient's path lists.  ``column`` is the
    distance between layers: the page draws them closer, so that a phone shows the weights larger.
    """
    drawn = [node for node in nodes if node.kind != "bias"]  # a bias is written under its neurons
    left = min(node.x for node in drawn)
    top = max(node.y for node in drawn)
    origin = MARGIN + RADIUS
    place = {node.id: (origin + (node.x - left) * column, origin + (top - node.y) * ROW) for node in drawn}
    kinds = {node.id: node for node in nodes}
    width = max(place[node.id][0] for node in drawn) + RADIUS + MARGIN + CHARACTER * 4
    height = max(place[node.id][1] for node in drawn) + RADIUS + STUB + FONT + MARGIN
    svg = _picture(width, height)
    arrow = _head(svg, title, marked)
    spots = _spots_placed(edges, place, kinds)
    for edge in edges:
        if kinds[edge.source].kind == "bias":
            _bias(svg, edge, place[edge.target], arrow, marked=bool(marked))
        else:
            _edge(svg, edge, place, arrow, marked=bool(marked), at=spots.get((edge.source, edge.target)))
    for node in drawn:
        _node(svg, node, *place[node.id], marked=bool(marked))
    ET.indent(svg, space=" ")
    return ET.tostring(svg, encoding="unicode") + "\n"


def _spots_placed(
    edges: Sequence[DiagramEdge],
    place: dict[str, tuple[float, float]],
    kinds: dict[str, DiagramNode],
) -> dict[tuple[str, str], float]:
    """Every weight label's spot (:func:`_label_spots`), the biases' labels placed first."""
    weights = [edge for edge in edges if kinds[edge.source].kind != "bias" and edge.labelled]
    biases = [
        _bias_label(edge, place[edge.target]) for edge in edges if kinds[edge.source].kind == "bias" and edge.labelled
    ]
    return _label_spots(weights, place, biases)


def _picture(width: float, height: float, kind: str = "", font: int = FONT) -> ET.Element:
    """An empty SVG image of the given size in pixels; ``kind`` becomes its class."""
    size = {"width": _px(width), "height": _px(height), "viewBox": f"0 0 {_px(width)} {_px(height)}"}
    svg = ET.Element("svg", {"xmlns": SVG, **size, "role": "img"})
    if kind:
        svg.set("class", kind)
    svg.set("font-family", "sans-serif")
    svg.set("font-size", str(font))
    return svg


def _head(svg: ET.Element, title: str, prefix: str) -> str:
    """The picture's title (its text alternative) and its arrowhead; returns the arrowhead's id."""
    arrow = f"{prefix}arrow" if prefix else "arrow"
    if prefix:
        svg.set("aria-labelledby", f"{prefix}title")
    ET.SubElement(svg, "title", {"id": f"{prefix}title"} if prefix else {}).text = title
    marker = ET.SubElement(
        ET.SubElement(svg, "defs"),
        "marker",
        {"id": arrow, "viewBox": "0 0 10 10", "refX": "10", "refY": "5", "markerWidth": "7", "markerHeight": "7"},
    )
    marker.set("orient", "auto")
    ET.SubElement(marker, "path", {"d": "M 0 0 L 10 5 L 0 10 z"})
    return arrow


def _edge(
    svg: ET.Element,
    edge: DiagramEdge,
    place: dict[str, tuple[float, float]],
    arrow: str,
    *,
    marked: bool,
    at: float | None = LABEL_AT,
) -> None:
    """The edge's line, and its label at ``at`` along it (None: a link drawn bare, its label written elsewhere)."""
    a, b = _drawn(edge, place)
    length = math.hypot(b[0] - a[0], b[1] - a[1])
    ux, uy = (b[0] - a[0]) / length, (b[1] - a[1]) / length
    mark = {"class": "edge", "data-edge": f"{edge.source}>{edge.target}"} if marked else {}
    ET.SubElement(
        svg,
        "line",
        {
            "x1": _px(a[0]),
            "y1": _px(a[1]),
            "x2": _px(b[0]),
            "y2": _px(b[1]),
            "stroke": "black" if edge.labelled else BARE,
            "marker-end": f"url(#{arrow})",
            **mark,
        },
    )
    if at is None:
        return  # a bare link shares a label written on another
    x, y = a[0] + (b[0] - a[0]) * at, a[1] + (b[1] - a[1]) * at
    angle = math.degrees(math.atan2(uy, ux))
    label = ET.SubElement(
        svg,
        "text",
        {
            "x": _px(x),
            "y": _px(y - 4),
            "text-anchor": "middle",
            "font-size": str(FONT - 2),
            "transform": f"rotate({angle:.1f} {_px(x)} {_px(y)})",
            "stroke": "white",
            "stroke-width": "3",
            "paint-order": "stroke",
            **mark,
        },
    )
    label.text = edge_text(edge)


# Where along an edge a label may go, the usual spot first; a label moves only where edges cross
# (softmax's h1 → o3 and h2 → o1) or its neighbours' labels would collide with it, along the first
# half first, then nearer its neuron.
_SPOTS = (LABEL_AT, 0.2, 0.32, 0.14, 0.38, 0.66, 0.72, 0.6, 0.78)
_LABEL_HEIGHT = FONT - 2
_LABEL_LIFT = 7  # from the edge to the middle of its label, which is written above it
_LABEL_GAP = 9  # between two labels' middle lines: the height of their letters, halos touching


Segment = tuple[tuple[float, float], tuple[float, float]]


def _drawn(edge: DiagramEdge, place: dict[str, tuple[float, float]]) -> Segment:
    """The line an edge is drawn as: from its source's rim to its target's rim."""
    (x1, y1), (x2, y2) = place[edge.source], place[edge.target]
    length = math.hypot(x2 - x1, y2 - y1)
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    return (x1 + ux * RADIUS, y1 + uy * RADIUS), (x2 - ux * RADIUS, y2 - uy * RADIUS)


def _label_spots(
    edges: Sequence[DiagramEdge],
    place: dict[str, tuple[float, float]],
    fixed: Sequence[Segment] = (),
) -> dict[tuple[str, str], float]:
    """How far along each weight's edge its label goes: the first spot of :data:`_SPOTS` with room
    (:func:`_room`) beside the labels placed before it (the biases' first); failing that, the spot
    with the most room.  A label may cross another edge: its white halo keeps both legible."""
    lines = {(edge.source, edge.target): _drawn(edge, place) for edge in edges}
    centres = list(place.values())  # the drawn nodes: a bias is written under its neuron
    placed: list[Segment] = list(fixed)
    spots = {}
    for edge in edges:
        key, text = (edge.source, edge.target), edge_text(edge)
        labels = {spot: _label_segment(lines[key], spot, text) for spot in _SPOTS}
        room = {spot: _room(label, placed, centres) for spot, label in labels.items()}
        spots[key] = next((spot for spot in _SPOTS if room[spot] >= 1), max(_SPOTS, key=room.__getitem__))
        placed.append(labels[spots[key]])
    return spots


def _room(label: Segment, placed: Sequence[Segment], centres: Sequence[tuple[float, float]]) -> float:
    """A label's room as a share of what it needs, at most 1 (enough): :data:`_LABEL_GAP` from every
    label placed, and outside every neuron (a neuron is drawn over what it covers).  Only a label or a
    neuron nearer than that can leave less than enough, so only those are measured: a large network
    has thousands of labels, each far from nearly all the others."""
    gaps = [_segments_gap(label, other) / _LABEL_GAP for other in placed if not _apart(label, other, _LABEL_GAP)]
    inside = [
        _distance(centre, label) / (RADIUS - 2) for centre in centres if not _apart(label, (centre, centre), RADIUS - 2)
    ]
    return min([1.0, *gaps, *inside])


def _apart(one: Segment, other: Segment, margin: float) -> bool:
    """The two segments are at least ``margin`` apart across or down (so at least that far apart)."""
    (ax, ay), (bx, by) = one
    (cx, cy), (dx, dy) = other
    return (
        min(cx, dx) - max(ax, bx) >= margin
        or min(ax, bx) - max(cx, dx) >= margin
        or min(cy, dy) - max(ay, by) >= margin
        or min(ay, by) - max(cy, dy) >= margin
    )


def _bias_label(edge: DiagramEdge, neuron: tuple[float, float]) -> Segment:
    """The middle line of a bias's label, ``b1 = 0.35``, as :func:`_bias` writes it under its neuron."""
    x, y = neuron
    half = len(edge_text(edge)) * CHARACTER * _LABEL_HEIGHT / FONT / 2
    middle = y + RADIUS + STUB - _LABEL_HEIGHT / 3
    return (x - half, middle), (x + half, middle)


def _label_segment(line: Segment, spot: float, text: str) -> Segment:
    """The middle line of a label written along ``line`` at ``spot``, lifted above it."""
    (x1, y1), (x2, y2) = line
    length = math.hypot(x2 - x1, y2 - y1)
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    cx, cy = x1 + (x2 - x1) * spot + uy * _LABEL_LIFT, y1 + (y2 - y1) * spot - ux * _LABEL_LIFT
    half = len(text) * CHARACTER * _LABEL_HEIGHT / FONT / 2
    return (cx - ux * half, cy - uy * half), (cx + ux * half, cy + uy * half)


def _distance(point: tuple[float, float], segment: Segment) -> float:
    """The distance from a point to a segment."""
    (px, py), ((ax, ay), (bx, by)) = point, segment
    length = (bx - ax) ** 2 + (by - ay) ** 2
    t = max(0.0, min(1.0, ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / length)) if length else 0.0
    return math.hypot(px - ax - t * (bx - ax), py - ay - t * (by - ay))


def _segments_gap(first: Segment, second: Segment) -> float:
    """How close two labels' middle lines come (sampled along the first)."""
    (ax, ay), (bx, by) = first
    return min(_distance((ax + (bx - ax) * i / 8, ay + (by - ay) * i / 8), second) for i in range(9))


def _bias(svg: ET.Element, edge: DiagramEdge, neuron: tuple[float, float], arrow: str, *, marked: bool) -> None:
    """``b1 = 0.35`` under the neuron, and a short arrow up into it."""
    x, y = neuron
    mark = {"class": "edge", "data-edge": f"{edge.source}>{edge.target}"} if marked else {}
    line = {"x1": _px(x), "y1": _px(y + RADIUS + STUB - FONT), "x2": _px(x), "y2": _px(y + RADIUS)}
    stroke = "black" if edge.labelled else BARE
    ET.SubElement(svg, "line", {**line, "stroke": stroke, "marker-end": f"url(#{arrow})", **mark})
    if not edge.labelled:
        return  # the same bias as the map's first position, written there
    text = ET.SubElement(
        svg, "text", {"x": _px(x), "y": _px(y + RADIUS + STUB), "text-anchor": "middle", "font-size": str(FONT - 2)}
    )
    text.text = edge_text(edge)


def _node(svg: ET.Element, node: DiagramNode, x: float, y: float, *, marked: bool) -> None:
    """An input (shaded) or a neuron as a circle with its name."""
    mark = {"class": "node", "data-node": node.id} if marked else {}
    fill = "#f2f2f2" if node.kind == "input" else "white"
    circle = {"cx": _px(x), "cy": _px(y), "r": str(RADIUS), "fill": fill, "stroke": "black", **mark}
    ET.SubElement(svg, "circle", circle)
    # "name": the page keeps the neurons' names when it draws the network small
    text = ET.SubElement(svg, "text", {"x": _px(x), "y": _px(y + FONT / 3), "text-anchor": "middle", "class": "name"})
    text.text = node.text


def _px(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


# -- computation graphs ----------------------------------------------------------------------------
# Drawn downwards, from the parameter at the top to E_total at the bottom, so that a graph fits the
# width of a phone; the levels and places across are the TikZ drawing's, turned a quarter.
LEVEL = 62  # pixels between levels
ACROSS = 240  # pixels between neighbours of a level
BOX_HEIGHT = 26
GRAPH_LABEL_AT = 0.55  # how far down an edge of a computation graph its local derivative is written
_SUBSCRIPT = re.compile(r"_([A-Za-z0-9]+)")


def computation_svg(graph: ComputationGraph, title: str, prefix: str) -> str:
    """A gradient's computation graph: each quantity in a box, each edge labelled with its local derivative."""
    place = {node.id: (node.x * ACROSS, node.level * LEVEL) for node in graph.nodes}
    boxes = {node.id: _text_width(node.text) + 14 for node in graph.nodes}
    labels = [_label_place(edge, place) for edge in graph.edges]
    left = min(
        [x - boxes[id] / 2 for id, (x, _) in place.items()]
        + [
            x - (_text_width(edge.text) if anchor == "end" else 0)
            for edge, (x, _, anchor) in zip(graph.edges, labels, strict=True)
        ]
    )
    right = max(
        [x + boxes[id] / 2 for id, (x, _) in place.items()]
        + [
            x + (_text_width(edge.text) if anchor == "start" else 0)
            for edge, (x, _, anchor) in zip(graph.edges, labels, strict=True)
        ]
    )
    width = right - left + 2 * MARGIN / 3
    height = (graph.levels - 1) * LEVEL + BOX_HEIGHT + 2 * MARGIN / 3
    shift = (MARGIN / 3 - left, MARGIN / 3 + BOX_HEIGHT / 2)
    svg = _picture(width, height, "graph")
    arrow = _head(svg, title, prefix)

    def at(id: str) -> tuple[float, float]:
        return place[id][0] + shift[0], place[id][1] + shift[1]

    for edge, (x, y, anchor) in zip(graph.edges, labels, strict=True):
        (x1, y1), (x2, y2) = at(edge.source), at(edge.target)
        line = {"x1": _px(x1), "y1": _px(y1 + BOX_HEIGHT / 2), "x2": _px(x2), "y2": _px(y2 - BOX_HEIGHT / 2)}
        ET.SubElement(svg, "line", {**line, "stroke": "black", "marker-end": f"url(#{arrow})"})
        text = ET.SubElement(
            svg,
            "text",
            {
                "x": _px(x + shift[0]),
                "y": _px(y + shift[1] + FONT / 3),
                "text-anchor": anchor,
                "font-size": str(FONT - 1),
                "stroke": "white",
                "stroke-width": "3",
                "paint-order": "stroke",
            },
        )
        _subscripts(text, edge.text)
    for node in graph.nodes:
        x, y = at(node.id)
        ET.SubElement(
            svg,
            "rect",
            {
                "x": _px(x - boxes[node.id] / 2),
                "y": _px(y - BOX_HEIGHT / 2),
                "width": _px(boxes[node.id]),
                "height": str(BOX_HEIGHT),
                "rx": "5",
                "fill": "white",
                "stroke": "black",
            },
        )
        _subscripts(
            ET.SubElement(svg, "text", {"x": _px(x), "y": _px(y + FONT / 3), "text-anchor": "middle"}), node.text
        )
    ET.indent(svg, space=" ")
    _unindent_text(svg)
    return ET.tostring(svg, encoding="unicode") + "\n"


def _label_place(edge: GraphEdge, place: dict[str, tuple[float, float]]) -> tuple[float, float, str]:
    """Where an edge's label goes: part way down it, on the side away from the middle of the graph."""
    (x1, y1), (x2, y2) = place[edge.source], place[edge.target]
    x, y = x1 + (x2 - x1) * GRAPH_LABEL_AT, y1 + (y2 - y1) * GRAPH_LABEL_AT
    return (x - 8, y, "end") if x < 0 else (x + 8, y, "start")


def _subscripts(text: ET.Element, content: str) -> None:
    """``net_o1`` as net with o1 set below it, in SVG text; the text after a subscript is back on the line."""
    parts = _SUBSCRIPT.split(content)
    text.text = parts[0]
    for index in range(1, len(parts), 2):
        sub = ET.SubElement(text, "tspan", {"baseline-shift": "sub", "font-size": str(FONT - 3)})
        sub.text = parts[index]
        sub.tail = parts[index + 1]


def _unindent_text(svg: ET.Element) -> None:
    """Undo what ``ET.indent`` put between a text's parts: in SVG text, white space shows."""
    for text in svg.iter("text"):
        for part in text:
            part.tail = (part.tail or "").strip()


def _text_width(text: str) -> float:
    return len(_SUBSCRIPT.sub(r"\1", text)) * CHARACTER


# -- charts ------------------------------------------------------------------------------------------
CHART_WIDTH = 480
CHART_HEIGHT = 220
CHART_LEFT = 58  # room for the values on the vertical axis
CHART_BOTTOM = 34  # room for the values and the name of the horizontal axis


def plot_svg(plot: Plot, title: str, axis: str) -> str:
    """An activation (solid) and its derivative (dashed) over the net inputs, as the explanation draws them."""
    function = [(float(x), float(f)) for x, f, _ in plot.points]
    slope = [(float(x), float(d)) for x, _, d in plot.points]
    name = _plain(plot.function)
    return _chart([function, slope], title, axis, log=False, legend=[name, "′"])


def _plain(latex: str) -> str:
    """An activation's LaTeX name as text: σ, tanh, ReLU."""
    return re.sub(r"\\operatorname\{(\w+)\}|\\(\w+)", lambda m: m[1] or {"sigma": "σ"}.get(m[2], m[2]), latex)


def curve_svg(curve: Curve, title: str, axis: str) -> str:
    """E_total over the training run, on a logarithmic axis when it falls over decades."""
    points = [(float(step), float(value)) for step, value in curve.points]
    if curve.log:
        points = [(x, y) for x, y in points if y > 0]
    return _chart([points], title, axis, log=curve.log, legend=[])


def _chart(
    series: Sequence[Sequence[tuple[float, float]]], title: str, axis: str, *, log: bool, legend: Sequence[str]
) -> str:
    """Lines on axes with a few round values marked; the first line solid, the next dashed."""
    xs = [x for line in series for x, _ in line]
    ys = [math.log10(y) if log else y for line in series for _, y in line]
    low_x, high_x = min(xs), max(xs)
    low_y, high_y = (math.floor(min(ys)), math.ceil(max(ys))) if log else _padded(min(ys), max(ys))
    inner_width, inner_height = CHART_WIDTH - CHART_LEFT - 12, CHART_HEIGHT - CHART_BOTTOM - 10

    def at(x: float, y: float) -> tuple[str, str]:
        value = math.log10(y) if log else y
        across = CHART_LEFT + (x - low_x) / (high_x - low_x) * inner_width
        up = 10 + (high_y - value) / (high_y - low_y) * inner_height
        return _px(across), _px(up)

    svg = _picture(CHART_WIDTH, CHART_HEIGHT, "chart", FONT - 2)
    ET.SubElement(svg, "title").text = title
    bottom, right = 10 + inner_height, CHART_LEFT + inner_width
    for value in _ticks(low_x, high_x):
        x, _ = at(value, low_y if not log else 10**low_y)
        ET.SubElement(svg, "line", {"x1": x, "y1": _px(bottom), "x2": x, "y2": "10", "stroke": "#ddd"})
        ET.SubElement(svg, "text", {"x": x, "y": _px(bottom + 14), "text-anchor": "middle"}).text = _tick_text(value)
    for value in _decades(low_y, high_y) if log else _ticks(low_y, high_y):
        _, y = at(low_x, 10**value if log else value)
        ET.SubElement(svg, "line", {"x1": _px(CHART_LEFT), "y1": y, "x2": _px(right), "y2": y, "stroke": "#ddd"})
        label = ET.SubElement(svg, "text", {"x": _px(CHART_LEFT - 5), "y": y, "text-anchor": "end"})
        label.set("dominant-baseline", "middle")
        label.text = f"1e{value}" if log else _tick_text(value)
    box = {"x": _px(CHART_LEFT), "y": "10", "width": _px(inner_width), "height": _px(inner_height)}
    ET.SubElement(svg, "rect", {**box, "fill": "none", "stroke": "black"})
    for number, line in enumerate(series):
        style = {"stroke-dasharray": "6 4"} if number else {}
        points = " ".join(",".join(at(x, y)) for x, y in line)
        ET.SubElement(
            svg, "polyline", {"points": points, "fill": "none", "stroke": "black", "stroke-width": "2", **style}
        )
    ET.SubElement(
        svg, "text", {"x": _px(CHART_LEFT + inner_width / 2), "y": _px(CHART_HEIGHT - 4), "text-anchor": "middle"}
    ).text = axis
    for number, name in enumerate(legend):
        y = _px(24 + 16 * number)
        style = {"stroke-dasharray": "6 4"} if number else {}
        ET.SubElement(
            svg, "line", {"x1": _px(right - 60), "y1": y, "x2": _px(right - 34), "y2": y, "stroke": "black", **style}
        )
        ET.SubElement(svg, "text", {"x": _px(right - 28), "y": y, "dominant-baseline": "middle"}).text = (
            name if not number else legend[0] + name
        )
    ET.indent(svg, space=" ")
    return ET.tostring(svg, encoding="unicode") + "\n"


def _padded(low: float, high: float) -> tuple[float, float]:
    step = _step(low, high)
    return math.floor(low / step) * step, math.ceil(high / step) * step


def _step(low: float, high: float, count: int = 4) -> float:
    """A round distance between marks: 1, 2 or 5 times a power of ten, giving about ``count`` marks."""
    rough = (high - low) / count if high > low else 1.0
    power = 10 ** math.floor(math.log10(rough))
    return next(power * factor for factor in (1, 2, 5, 10) if power * factor >= rough)


def _decades(low: int, high: int, most: int = 8) -> range:
    """The powers of ten from 10^low to 10^high a log axis labels: every one, or every k-th so that at most
    ``most`` labels stand apart (an error that falls to 1e-33 spans 34 decades)."""
    return range(low, high + 1, max(1, math.ceil((high - low) / (most - 1))))


def _ticks(low: float, high: float) -> list[float]:
    step = _step(low, high)
    first = math.ceil(low / step - 1e-9)
    return [k * step for k in range(first, math.floor(high / step + 1e-9) + 1)]


def _tick_text(value: float) -> str:
    return f"{value:.6g}".replace("-", "−")


def edge_text(edge: DiagramEdge) -> str:
    """An edge's label: ``w5 = 0.4``, or a pooling link's ``max`` (no parameter, no value)."""
    return f"{edge.weight} = {edge.value}" if edge.value else edge.weight
