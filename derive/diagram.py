"""The network drawn as SVG, from the document's diagram (the same nodes and edges TikZ draws).

Learning platforms show it as an image beside a question.  The picture is built with an XML
library, so every label is escaped and the file is well-formed by construction.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from derive.document.model import DiagramEdge, DiagramNode

SVG = "http://www.w3.org/2000/svg"
COLUMN = 200  # pixels between layers (a layer's x is 0, 1, 2, …; a bias sits halfway)
ROW = 80  # pixels between neurons of a layer
RADIUS = 21
MARGIN = 30
FONT = 13
CHARACTER = 7.5  # the width of a character at FONT pixels, near enough to size a box
LABEL_AT = 0.26  # how far along an edge its weight is written, as in the TikZ drawing


def network_svg(nodes: Sequence[DiagramNode], edges: Sequence[DiagramEdge], title: str) -> str:
    """An SVG image of the network: inputs and neurons as circles, biases as boxes, weights on the edges."""
    left = min(node.x for node in nodes)
    top = max(node.y for node in nodes)
    origin = MARGIN + RADIUS
    place = {node.id: (origin + (node.x - left) * COLUMN, origin + (top - node.y) * ROW) for node in nodes}
    widest = max(_box_width(node) for node in nodes)
    width = max(x for x, _ in place.values()) + widest / 2 + MARGIN
    height = max(y for _, y in place.values()) + RADIUS + MARGIN
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG,
            "width": _px(width),
            "height": _px(height),
            "viewBox": f"0 0 {_px(width)} {_px(height)}",
            "role": "img",
            "font-family": "sans-serif",
            "font-size": str(FONT),
        },
    )
    ET.SubElement(svg, "title").text = title
    marker = ET.SubElement(
        ET.SubElement(svg, "defs"),
        "marker",
        {"id": "arrow", "viewBox": "0 0 10 10", "refX": "10", "refY": "5", "markerWidth": "7", "markerHeight": "7"},
    )
    marker.set("orient", "auto")
    ET.SubElement(marker, "path", {"d": "M 0 0 L 10 5 L 0 10 z"})
    kinds = {node.id: node for node in nodes}
    for edge in edges:
        _edge(svg, edge, place, kinds)
    for node in nodes:
        _node(svg, node, *place[node.id])
    ET.indent(svg, space=" ")
    return ET.tostring(svg, encoding="unicode") + "\n"


def _edge(
    svg: ET.Element, edge: DiagramEdge, place: dict[str, tuple[float, float]], nodes: dict[str, DiagramNode]
) -> None:
    (x1, y1), (x2, y2) = place[edge.source], place[edge.target]
    length = math.hypot(x2 - x1, y2 - y1)
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    start = RADIUS if nodes[edge.source].kind != "bias" else 0.0  # a bias line leaves from its box's middle
    a = (x1 + ux * start, y1 + uy * start)
    b = (x2 - ux * RADIUS, y2 - uy * RADIUS)
    ET.SubElement(
        svg,
        "line",
        {
            "x1": _px(a[0]),
            "y1": _px(a[1]),
            "x2": _px(b[0]),
            "y2": _px(b[1]),
            "stroke": "black",
            "marker-end": "url(#arrow)",
        },
    )
    if nodes[edge.source].kind == "bias":
        return  # the bias writes its value on its own box
    x, y = a[0] + (b[0] - a[0]) * LABEL_AT, a[1] + (b[1] - a[1]) * LABEL_AT
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
        },
    )
    label.text = f"{edge.weight} = {edge.value}"


def _node(svg: ET.Element, node: DiagramNode, x: float, y: float) -> None:
    if node.kind == "bias":
        width = _box_width(node)
        ET.SubElement(
            svg,
            "rect",
            {
                "x": _px(x - width / 2),
                "y": _px(y - 12),
                "width": _px(width),
                "height": "24",
                "fill": "#f2f2f2",
                "stroke": "black",
            },
        )
    else:
        fill = "#f2f2f2" if node.kind == "input" else "white"
        ET.SubElement(svg, "circle", {"cx": _px(x), "cy": _px(y), "r": str(RADIUS), "fill": fill, "stroke": "black"})
    text = ET.SubElement(svg, "text", {"x": _px(x), "y": _px(y + FONT / 3), "text-anchor": "middle"})
    text.text = node.text


def _box_width(node: DiagramNode) -> float:
    return len(node.text) * CHARACTER + 12 if node.kind == "bias" else 2 * RADIUS


def _px(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")
