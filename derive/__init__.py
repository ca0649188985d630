"""derive: forward and back propagation on small networks, derived step by step with SymPy.

>>> import derive
>>> net = derive.example("mazur")
>>> round(net.gradients()["w1"].value, 9)
0.000438568
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from derive.version import __version__

__all__ = ["DeriveError", "Gradient", "Network", "__version__", "example", "load"]

if TYPE_CHECKING:
    from derive.app.network import Network, example, load
    from derive.core.factors import Gradient
    from derive.errors import DeriveError

_LAZY = {
    "Network": "derive.app.network",
    "example": "derive.app.network",
    "load": "derive.app.network",
    "Gradient": "derive.core.factors",
    "DeriveError": "derive.errors",
}


def __getattr__(name: str) -> Any:
    # SymPy is imported on first use, so `derive example` and `--help` start at once.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'derive' has no attribute {name!r}")
