"""The Python API: a network you can run forward, differentiate, step and train."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from derive.core.chain import DISPLAYS, Derivation, Update
from derive.core.factors import Gradient
from derive.core.steps import Steps, build_steps
from derive.spec import checks, files
from derive.spec.model import NetworkSpec
from derive.training import descent as training
from derive.training.worked import worked


@dataclass(frozen=True)
class Training:
    """What :meth:`Network.train` returns: E_total before training and after every update.

    ``stopped_at`` says where E_total reached the goal given as ``until`` (None: not reached,
    or no goal); ``epochs`` counts the passes over the examples begun, ``steps`` the updates.
    """

    history: list[float]
    run: training.Run = field(repr=False)

    @cached_property
    def network(self) -> Network:
        """The trained network (built when first asked for: training itself ends on floats)."""
        return Network(self.run.spec)

    @property
    def loss(self) -> float:
        return self.history[-1]

    def precise_loss(self) -> float:
        """E_total after the last update computed again at 40 digits, from a forward pass of the trained network."""
        return float(self.run.precise_loss())

    @property
    def stopped_at(self) -> training.StopPoint | None:
        return self.run.stopped_at

    @property
    def steps(self) -> int:
        return self.run.steps

    @property
    def epochs(self) -> int:
        return self.run.epochs


class Network:
    """A small feed-forward network with its examples, loss and learning rate.

    >>> net = example("mazur")
    >>> round(net.loss(), 9)
    0.298371109
    >>> round(net.gradients()["w5"].value, 9)
    0.082167041
    """

    def __init__(self, spec: NetworkSpec) -> None:
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
        return cls(checks.from_mapping(data, name=name, source=f"<{name}>"))

    @property
    def name(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:
        shape = " → ".join([str(self.spec.n_inputs)] + [str(layer.size) for layer in self.spec.layers])
        return f"<Network {self.name!r}: {shape}, loss {self.spec.loss}>"

    def _repr_markdown_(self) -> str:
        """Jupyter shows a network as its parameters with their gradients and updates."""
        from derive.outputs.report import parameters_markdown

        return parameters_markdown(self.derivation, repr(self)[1:-1])

    def explain(self, language: str = "en", **options: Any) -> str:
        """The step-by-step explanation in Markdown (options as for ``derive explain``)."""
        from derive.publishing.publish import explanation

        return explanation(self.spec, language=language, **options)

    def with_options(self, **options: Any) -> Network:
        """The same network with options changed, e.g. ``round_activations=4``."""
        return Network(checks.with_options(self.spec, **options))

    @cached_property
    def derivation(self) -> Derivation:
        """Every value, δ and chain-rule gradient of the first (simultaneous) update.

        With batch training, the usual, that is one step on all the examples; online or with
        mini-batches, the first batch's update (see :meth:`update_derivation` for the others).
        """
        return worked(self.spec).derivation

    def update_derivation(self, number: int = 1, epoch: int = 1, update: Update = "simultaneous") -> Derivation:
        """The derivation of update ``number`` of epoch ``epoch``: its batch, from the weights the earlier left.

        >>> online = example("xor").with_options(batch_size=1)
        >>> third = online.update_derivation(3)
        >>> len(third.spec.examples), third.spec.examples[0] == online.spec.examples[2]
        (1, True)
        """
        return Derivation(training.update_spec(self.spec, number, epoch, update), update)

    @cached_property
    def _all_examples(self) -> Derivation:
        """A derivation over every example, for E_total and the forward pass."""
        return self.derivation if self.spec.updates_per_epoch == 1 else Derivation(self.spec)

    def forward(self) -> list[dict[str, float]]:
        """Per example: every neuron's net input and output, each output's error, and E_total.

        >>> example().forward()[0]["out_o1"]
        0.7513650695523157
        """
        from derive.outputs.report import forward_rows

        return forward_rows(self._all_examples)

    def loss(self) -> float:
        """E_total, summed (or averaged) over all the examples."""
        return float(self._all_examples.loss)

    def parameters(self) -> dict[str, float]:
        """Every weight and bias by name."""
        return {name: float(value) for name, value in self.spec.parameters().items()}

    def gradients(self) -> dict[str, Gradient]:
        """∂E_total/∂θ of the first update for every weight and bias θ, each with its chain of factors.

        >>> [round(f.value, 9) for f in example().gradients()["w5"].chain[0].factors]
        [0.74136507, 0.186815602, 0.593269992]
        """
        return dict(self.derivation.gradients)

    def step(self, update: Update = "simultaneous") -> Network:
        """The first update of gradient descent, θ⁺ = θ − η ∂E_total/∂θ (θ + Δθ with momentum).

        Online or with mini-batches it is the first batch's update; :meth:`train` follows the
        epochs.  With momentum the new network carries this Δθ as its ``previous_update``.

        >>> round(example().step().loss(), 9)
        0.291027774
        """
        derivation = self.derivation if update == "simultaneous" else worked(self.spec, order=update).derivation
        return Network(training.after_update(self.spec, derivation))

    def train(
        self,
        steps: int | None = None,
        update: Update = "simultaneous",
        progress: Callable[[int, int], None] | None = None,
        *,
        epochs: int | None = None,
        until: float | None = None,
    ) -> Training:
        """``steps`` updates (or ``epochs`` passes over the examples) of gradient descent.

        The history holds E_total over all the examples before the first update and after each, in
        floating point (``precise_loss()`` gives the last at 40 digits).
        With ``until``, training stops once E_total is at most that goal (``stopped_at`` says
        where).  ``progress(done, total)``, if given, is called about 200 times along the way.

        >>> result = example().train(10000, update="sequential")
        >>> round(result.history[1], 9), round(result.network.forward()[0]["out_o1"], 9)
        (0.291027924, 0.015912196)
        >>> online = example("xor").with_options(batch_size=1, momentum=0.9).train(epochs=1000, until=0.01)
        >>> online.stopped_at.epoch, online.stopped_at.update
        (30, 3)
        """
        run = training.train(self.spec, steps, update, progress, epochs=epochs, until=until)
        return Training(run.history, run)

    def steps(self, only: Sequence[str] = (), detail: str = "standard") -> Steps:
        """The step model: every quantity of the working with its key, blank, formula and value.

        >>> steps = example().steps()
        >>> step = steps.find("dE/dw5")
        >>> step.blank, round(float(step.value), 9), [used.key for used in steps.uses(step)]
        (15, 0.082167041, ['out_h1', 'delta_o1'])
        """
        return build_steps(self.derivation, only, detail)


def _explain_derivation(derivation: Derivation) -> str:
    from derive.publishing.publish import explanation

    return explanation(derivation.spec)


DISPLAYS["markdown"] = _explain_derivation


def example(name: str = "mazur") -> Network:
    """A built-in example network; ``mazur`` is the worked example.

    >>> example().parameters()["w5"]
    0.4
    """
    return Network(files.load_builtin(name))


def load(path: str | Path) -> Network:
    """A network from a ``.toml`` or ``.json`` file."""
    return Network(files.load_path(path))
