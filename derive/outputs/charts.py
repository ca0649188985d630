"""Bar charts as inline SVG, for the class report: nothing is loaded from elsewhere, and each chart
says what it shows in its title (read by screen readers) and in the labels beside its bars."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

LABEL = 170  # pixels for the labels left of the bars
BAR = 220  # pixels for the longest bar: the whole chart fits a phone's width with legible labels
ROW = 24  # pixels per bar
FIGURE = 60  # pixels right of the bars, for the number


def _frame(title: str, name: str, rows: int, body: list[str]) -> str:
    width, height = LABEL + BAR + FIGURE, max(rows, 1) * ROW + 8
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{name}-title" class="chart-svg">'
        f'<title id="{name}-title">{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def _label(y: float, text: str) -> str:
    return f'<text x="{LABEL - 8}" y="{y + ROW / 2 + 4:.1f}" text-anchor="end" class="label">{escape(text)}</text>'


def bars(rows: Sequence[tuple[str, int]], title: str, name: str) -> str:
    """One bar per row, its length the row's count against the largest, the count written after it."""
    largest = max((count for _, count in rows), default=0) or 1
    body = []
    for n, (text, count) in enumerate(rows):
        y = 4 + n * ROW
        length = BAR * count / largest
        body.append(_label(y, text))
        body.append(f'<rect x="{LABEL}" y="{y + 3}" width="{length:.1f}" height="{ROW - 6}" class="bar"/>')
        body.append(f'<text x="{LABEL + length + 6:.1f}" y="{y + ROW / 2 + 4:.1f}" class="label">{count}</text>')
    return _frame(title, name, len(rows), body)


def stacked(rows: Sequence[tuple[str, Sequence[int]]], kinds: Sequence[str], title: str, name: str) -> str:
    """One bar per row, split into its kinds' shares of the row's total (each part classed by its kind)."""
    body = []
    for n, (text, counts) in enumerate(rows):
        y = 4 + n * ROW
        total = sum(counts) or 1
        x = float(LABEL)
        body.append(_label(y, text))
        for kind, count in zip(kinds, counts, strict=True):
            length = BAR * count / total
            if length:
                body.append(
                    f'<rect x="{x:.1f}" y="{y + 3}" width="{length:.1f}" height="{ROW - 6}" class="part-{kind}"/>'
                )
            x += length
    return _frame(title, name, len(rows), body)
