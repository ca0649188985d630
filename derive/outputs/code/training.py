"""The module's updates and its script: ``step()`` (with momentum if set), ``train()`` by epochs, ``__main__``."""

from __future__ import annotations

from derive.core import rules
from derive.outputs.code.names import epochs, printed
from derive.spec.model import NetworkSpec

# The update rule's symbols as the module names them: the gradient already holds λ·w (see
# loss_and_gradients), so the step applies Δθ = β·Δθ_previous − η·g.
_NAMES = {
    rules.PARAMETER: "value",
    rules.GRADIENT: "gradients[name]",
    rules.PREVIOUS_CHANGE: "previous[name]",
    rules.LEARNING_RATE: "learning_rate",
    rules.MOMENTUM: "MOMENTUM",
}


def _rule(expr: rules.sp.Expr) -> str:
    """A rule of :mod:`derive.core.rules` as the module's Python."""
    return printed(expr, _NAMES)


def step(spec: NetworkSpec) -> str:
    """``step()``, plain or with momentum, and ``train()`` when the module trains by epochs."""
    rule = (
        "every weight and bias takes the step."
        if spec.train_biases
        else "the weights take the step; the biases keep their values (TRAIN_BIASES is False)."
    )
    if spec.momentum:
        return _momentum_step(rule) + _train(spec)
    return _plain_step(rule) + (_train(spec) if epochs(spec) else "")


def _plain_step(rule: str) -> str:
    """θ ← θ - η·∂E_total/∂θ, simultaneously for every trained parameter."""
    return f'''
def step(
    params: Parameters | None = None,
    examples: list[Example] | None = None,
    learning_rate: float = LEARNING_RATE,
) -> Parameters:
    """The parameters after one step of gradient descent, θ ← θ - η·∂E_total/∂θ.

    The update is simultaneous: every gradient comes from the same forward pass, and
    {rule}
    """
    params = with_defaults(params)
    _, gradients = loss_and_gradients(params, examples)
    updated = {{}}
    for name, value in params.items():
        if name.startswith("w") or TRAIN_BIASES:
            updated[name] = {_rule(rules.updated(momentum=False, decay=False))}
        else:
            updated[name] = value  # a bias, kept fixed
    return updated
'''


def _momentum_step(rule: str) -> str:
    """Δθ ← β·Δθ - η·∂E_total/∂θ and θ ← θ + Δθ, returning the parameters and each Δθ."""
    return f'''
def step(
    params: Parameters | None = None,
    examples: list[Example] | None = None,
    learning_rate: float = LEARNING_RATE,
    previous: Parameters | None = None,
) -> tuple[Parameters, Parameters]:
    """One step of gradient descent with momentum: the parameters after it, and each Δθ.

    Δθ ← β·Δθ - η·∂E_total/∂θ and θ ← θ + Δθ, with β = MOMENTUM and the Δθ before this step
    from ``previous`` (PREVIOUS_UPDATE by default). The update is simultaneous: every gradient
    comes from the same forward pass, and {rule}
    """
    params = with_defaults(params)
    previous = dict(PREVIOUS_UPDATE) if previous is None else previous
    _, gradients = loss_and_gradients(params, examples)
    updated, changes = {{}}, {{}}
    for name, value in params.items():
        if name.startswith("w") or TRAIN_BIASES:
            changes[name] = {_rule(rules.change(momentum=True, decay=False))}
        else:
            changes[name] = 0.0  # a bias, kept fixed
        updated[name] = value + changes[name]
    return updated, changes
'''


def _train(spec: NetworkSpec) -> str:
    """``epoch_batches()`` and ``train()``: epochs of updates, each on its batch, as ``derive train`` runs them."""
    update = "params = step(params, batch)"
    if spec.momentum:
        update = "params, previous = step(params, batch, previous=previous)"
    previous = "\n    previous = dict(PREVIOUS_UPDATE)" if spec.momentum else ""
    return f'''

def epoch_batches(epoch: int) -> list[list[int]]:
    """The examples of each update of epoch ``epoch`` (1-based): runs of BATCH_SIZE in its order.

    The order is the file's, or with SHUFFLE a fresh one for every epoch, drawn as derive draws it.
    """
    order = list(range(len(EXAMPLES)))
    if SHUFFLE is not None and BATCH_SIZE < len(EXAMPLES):
        random.Random(f"derive-shuffle:{{SHUFFLE}}:{{epoch}}").shuffle(order)
    return [
        order[start : start + BATCH_SIZE] for start in range(0, len(order), BATCH_SIZE)
    ]


def train(
    epochs: int, params: Parameters | None = None
) -> tuple[Parameters, list[float]]:
    """``epochs`` passes over the examples, one update per batch: the parameters, and the history.

    The history holds E_total over all the examples before the first update and after each.
    """
    params = with_defaults(params){previous}
    history = [loss_and_gradients(params)[0]]
    for epoch in range(1, epochs + 1):
        for indices in epoch_batches(epoch):
            batch = [EXAMPLES[i] for i in indices]
            {update}
            history.append(loss_and_gradients(params)[0])
    return params, history
'''


def main() -> str:
    """The script's part: print E_total and every gradient at PARAMETERS and EXAMPLES."""
    return """
if __name__ == "__main__":
    loss, gradients = loss_and_gradients()
    print(f"E_total = {loss!r}")
    for name, gradient in gradients.items():
        print(f"dE_total/d{name} = {gradient!r}")
"""
