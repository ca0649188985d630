"""The error curve of a training run, drawn with matplotlib (the optional ``plot`` extra)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from derive.errors import DeriveError

FORMATS = {".png": "png", ".svg": "svg"}


def check_target(path: Path) -> str:
    """The image format for ``path``; checked before training, so that nothing is computed in vain."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DeriveError(f"expected a .png or .svg file name, got {path.suffix or 'no extension'!r}", key="--plot")
    try:
        import matplotlib
    except ImportError:
        raise DeriveError("--plot needs matplotlib: pip install 'derive[plot]' (or pip install matplotlib)") from None
    matplotlib.use("Agg")  # no screen needed
    return kind


def loss_curve(history: Sequence[float], path: Path, *, title: str) -> bytes:
    """E_total against the step, on a log scale when it falls by more than a factor of 100."""
    kind = check_target(path)
    from matplotlib import pyplot

    positive = [value for value in history if value > 0]
    figure, axes = pyplot.subplots(figsize=(7, 4.2), layout="constrained")
    axes.plot(range(len(history)), history, linewidth=1.6)
    if positive and max(positive) / min(positive) > 100:
        axes.set_yscale("log")
    axes.set_xlabel("step")
    axes.set_ylabel("E_total")
    axes.set_title(title)
    axes.set_xlim(0, max(len(history) - 1, 1))
    axes.grid(True, which="major", alpha=0.4)
    buffer = io.BytesIO()
    # fixed metadata, so that the same run gives the same file
    metadata = {"Software": None} if kind == "png" else {"Date": None, "Creator": None}
    figure.savefig(buffer, format=kind, dpi=150, metadata=metadata)
    pyplot.close(figure)
    return buffer.getvalue()
