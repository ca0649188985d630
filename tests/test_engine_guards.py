"""The 40-digit engine refuses parts that do not fit together instead of quietly dropping the rest.

The spec's checks keep a file's shapes consistent; these guards catch a caller of the engine (the
training loop, the API, a later layer type) that hands it parameters or results of another shape.
Python's ``zip`` would stop at the shorter side and give a plausible number for a smaller network.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from derive.core.forward import exact_parameters, feed_examples, forward_pass, named_parameters, symbol_values
from derive.core.graph import Graph
from derive.spec.files import load_builtin


@pytest.fixture(scope="module")
def spec():
    return load_builtin("mazur")


def test_a_parameter_set_with_a_layer_too_few_is_refused(spec):
    weights, biases = exact_parameters(spec)
    with pytest.raises(ValueError):
        feed_examples(spec, (weights[:1], biases[:1]))


def test_a_layer_with_a_bias_or_a_row_of_weights_too_few_is_refused(spec):
    weights, biases = exact_parameters(spec)
    with pytest.raises(ValueError):
        feed_examples(spec, (weights, [biases[0][:1], biases[1]]))
    with pytest.raises(ValueError):
        feed_examples(spec, ([[*weights[0], weights[0][0]], weights[1]], biases))


def test_an_example_with_more_targets_than_outputs_is_refused(spec):
    example = spec.examples[0]
    longer = replace(spec, examples=(replace(example, targets=(*example.targets, Fraction(1))),))
    with pytest.raises(ValueError):
        forward_pass(longer)


def test_named_parameters_refuses_values_that_do_not_match_the_names(spec):
    weights, biases = exact_parameters(spec)
    assert list(named_parameters(spec, (weights, biases))) == spec.parameter_names()
    with pytest.raises(ValueError):
        named_parameters(spec, (weights, [*biases, [biases[0][0]]]))
    with pytest.raises(ValueError):
        named_parameters(spec, (weights, biases[:1]))
    with pytest.raises(ValueError):
        named_parameters(spec, ([[*weights[0], weights[0][0]], weights[1]], biases))


def test_symbol_values_refuses_results_that_do_not_match_the_graph(spec):
    graph = Graph(spec)
    weights, biases = exact_parameters(spec)
    parameters = named_parameters(spec, (weights, biases))
    forward = forward_pass(spec)
    assert len(symbol_values(graph, spec, parameters, forward)) > len(parameters)
    with pytest.raises(ValueError):
        symbol_values(graph, spec, parameters, [*forward, forward[0]])
    one = forward[0]
    for field, shortened in [
        ("net", (one.net[0][:1], one.net[1])),
        ("out", (one.out[0], one.out[1][:1])),
        ("errors", one.errors[:1]),
    ]:
        with pytest.raises(ValueError):
            symbol_values(graph, spec, parameters, [replace(one, **{field: shortened})])
    example = spec.examples[0]
    for field in ("inputs", "targets"):
        extended = replace(spec, examples=(replace(example, **{field: (*getattr(example, field), Fraction(0))}),))
        with pytest.raises(ValueError):
            symbol_values(graph, extended, parameters, forward)
