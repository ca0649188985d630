"""The Python API: a network you can run forward, differentiate, step and train."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Any

from derive import spec as specs
from derive.chain import Derivation, Gradient, Update
from derive.errors import DeriveError
from derive.numbers import to_fraction


@dataclass(frozen=True)
class Training:
    """What :meth:`Network.train` returns: E_total before training and after every step."""

    history: list[float]
    network: Network

    @property
    def loss(self) -> float:
        return self.history[-1]


class Network:
    """A small feed-forward network with its examples, loss and learning rate.

    >>> net = example("mazur")
    >>> round(net.loss(), 9)
    0.298371109
    >>> round(net.gradients()["w5"].value, 9)
    0.082167041
    """

    def __init__(self, spec: specs.NetworkSpec) -> None:
        self.spec = spec

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str = "network") -> Network:
        """A network from a dict shaped like the TOML file (floats are read as the decimals shown).

        >>> net = Network.from_dict({
        ...     "layers": [{"name": "o", "activation": "linear", "weights": [[2.0]], "bias": 0.5}],
        ...     "examples": [{"inputs": [1.0], "targets": [3.0]}]})
        >>> net.loss()
        0.125
        """
        return cls(specs.from_mapping(data, name=name, source=f"<{name}>"))

    @property
    def name(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:
        shape = " → ".join([str(self.spec.n_inputs)] + [str(layer.size) for layer in self.spec.layers])
        return f"<Network {self.name!r}: {shape}, loss {self.spec.loss}>"

    def _repr_markdown_(self) -> str:
        """Jupyter shows a network as its parameters with their gradients and updates."""
        from derive.numbers import format_number
        from derive.printing import TextbookPrinter
        from derive.render import escape_markdown

        derivation = self.derivation
        printer = TextbookPrinter(derivation.graph.names)
        lines = [
            f"**{escape_markdown(repr(self)[1:-1])}**, $E_{{total}} = {format_number(derivation.loss)}$",
            "",
            "| parameter | value | $\\partial E_{total} / \\partial \\theta$ | after one step |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name, gradient in derivation.gradients.items():
            symbol = printer.doprint(gradient.symbol)
            value, updated = derivation.parameters[name], derivation.updated[name]
            numbers = " | ".join(format_number(v) for v in (value, gradient.precise, updated))
            lines.append(f"| ${symbol}$ | {numbers} |")
        return "\n".join(lines) + "\n"

    def explain(self, language: str = "en", **options: Any) -> str:
        """The step-by-step explanation in Markdown (options as for ``derive explain``)."""
        from derive.publish import explanation

        return explanation(self, language=language, **options)

    def with_options(self, **options: Any) -> Network:
        """The same network with options changed, e.g. ``round_activations=4``."""
        return Network(self.spec.with_options(**options))

    @cached_property
    def derivation(self) -> Derivation:
        """Every value, δ and chain-rule gradient of one simultaneous step."""
        return Derivation(self.spec)

    def forward(self) -> list[dict[str, float]]:
        """Per example: every neuron's net input and output, each output's error, and E_total.

        >>> example().forward()[0]["out_o1"]
        0.7513650695523157
        """
        derivation = self.derivation
        graph = derivation.graph
        rows = []
        for result in derivation.forward:
            row: dict[str, float] = {}
            for L, neurons in enumerate(graph.neurons):
                for j, neuron in enumerate(neurons):
                    row[f"net_{neuron.name}"] = float(result.net[L][j])
                    row[f"out_{neuron.name}"] = float(result.out[L][j])
            for j, neuron in enumerate(graph.neurons[-1]):
                row[f"E_{neuron.name}"] = float(result.errors[j])
            row["E_total"] = float(result.loss)
            rows.append(row)
        return rows

    def loss(self) -> float:
        """E_total, summed (or averaged) over the examples."""
        return float(self.derivation.loss)

    def parameters(self) -> dict[str, float]:
        """Every weight and bias by name."""
        return {name: float(value) for name, value in self.spec.parameters().items()}

    def gradients(self) -> dict[str, Gradient]:
        """∂E_total/∂θ for every weight and bias θ, each with its chain of factors.

        >>> [round(f.value, 9) for f in example().gradients()["w5"].chain[0].factors]
        [0.74136507, 0.186815602, 0.593269992]
        """
        return dict(self.derivation.gradients)

    def step(self, update: Update = "simultaneous") -> Network:
        """One gradient-descent step, θ⁺ = θ − η ∂E_total/∂θ.

        >>> round(example().step().loss(), 9)
        0.291027774
        """
        _check_update(update)
        derivation = self.derivation if update == "simultaneous" else Derivation(self.spec, update)
        values = {name: to_fraction(value) for name, value in derivation.updated.items()}
        return Network(self.spec.with_parameters(values))

    def train(
        self,
        steps: int,
        update: Update = "simultaneous",
        progress: Callable[[int, int], None] | None = None,
    ) -> Training:
        """``steps`` steps of gradient descent; the history holds E_total before and after each.

        ``progress(done, steps)``, if given, is called about 200 times along the way.

        >>> result = example().train(10000, update="sequential")
        >>> round(result.history[1], 9), round(result.network.forward()[0]["out_o1"], 9)
        (0.291027924, 0.015912196)
        """
        from derive.compiled import compiled_step

        _check_update(update)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise DeriveError(f"expected a whole number of steps, 0 or more, got {steps!r}", key="steps")
        step = compiled_step(self.spec, update)
        names = self.spec.parameter_names()
        params = tuple(float(value) for value in self.spec.parameters().values())
        examples = [([float(x) for x in e.inputs], [float(t) for t in e.targets]) for e in self.spec.examples]
        rate = float(self.spec.learning_rate)
        history: list[float] = []
        chunk = max(1, steps // 200) if progress else max(1, steps)
        while len(history) < steps:
            start = len(history)
            try:
                for _ in range(min(chunk, steps - start)):
                    loss, params = step(params, examples, rate)
                    history.append(loss)
            except OverflowError:
                raise _diverged(len(history) + 1, "a value grew too large for a float") from None
            except (ZeroDivisionError, ValueError):
                raise _diverged(len(history) + 1, "a value left the domain of its function") from None
            # checked once a chunk, so that the loop itself stays as fast as the generated step
            if not all(math.isfinite(value) for value in history[start:]) or not all(map(math.isfinite, params)):
                first = next((n for n, value in enumerate(history[start:], start) if not math.isfinite(value)), None)
                raise _diverged(first + 1 if first is not None else len(history), "the values are no longer finite")
            if progress:
                progress(len(history), steps)
        trained = Network(self.spec.with_parameters({n: Fraction(v) for n, v in zip(names, params, strict=True)}))
        history.append(trained.loss())
        return Training(history, trained)


def _diverged(step: int, reason: str) -> DeriveError:
    return DeriveError(f"training diverged at step {step} ({reason}); try a smaller learning_rate")


def _check_update(update: str) -> None:
    if update not in specs.UPDATE_ORDERS:
        raise DeriveError(
            f"unknown update order {update!r} (expected one of: {', '.join(specs.UPDATE_ORDERS)})", key="update"
        )


def example(name: str = "mazur") -> Network:
    """A built-in example network; ``mazur`` is the worked example.

    >>> example().parameters()["w5"]
    0.4
    """
    return Network(specs.load_builtin(name))


def load(path: str | Path) -> Network:
    """A network from a ``.toml`` or ``.json`` file."""
    return Network(specs.load_path(path))
