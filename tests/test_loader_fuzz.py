"""Fuzzing the loader: whatever it is given, it returns a network or raises one clean DeriveError.

A clean error is one line of at most 300 characters that names where the mistake is (a key path such
as ``layers[1].weights[0][2]``, a line and column, or the top level).
"""

import copy
import os
import tempfile
import tomllib
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from hypothesis import example as hypothesis_example
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.errors import DeriveError
from derive.spec import checks, files, model
from tests.conftest import ROOT

MAZUR_TEXT = (ROOT / "derive" / "examples" / "mazur.toml").read_text(encoding="utf-8")
MAZUR = tomllib.loads(MAZUR_TEXT)
KNOWN_KEYS = [*checks._NETWORK_KEYS, *checks._LAYER_KEYS, *checks._EXAMPLE_KEYS]
SOURCE = "<fuzz>"

keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=12), st.integers(-3, 3))
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(10**400), 10**400),
    st.floats(),
    st.decimals(),
    st.fractions(),
    st.text(max_size=30),
    st.sampled_from([*model.ACTIVATIONS, *model.LOSSES, *model.REDUCTIONS, "h", "o", "0.5", "true", "nan"]),
    st.sampled_from(
        [Decimal("1e400"), Decimal("-1e-400"), Decimal("sNaN"), Decimal("1E+999999999"), Fraction(10**400, 3)]
    ),
    st.integers(300, 4200).map(lambda digits: -(10**digits)),
)
nested = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(keys, children, max_size=4),
    ),
    max_leaves=25,
)


def assert_clean(error: DeriveError) -> None:
    message = str(error)
    assert len(message.splitlines()) == 1, message
    assert "\n" not in message and "\r" not in message, message
    assert len(message) <= 300, message
    assert error.source == SOURCE and message.startswith(SOURCE), message
    assert error.key, f"no key path: {message}"
    assert f"{SOURCE}: {error.key}: " in message or f"{SOURCE}: {error.key[:100]}" in message, message


def load(data) -> model.NetworkSpec | None:
    """The network, or None after checking the error is clean; anything else escapes and fails the test."""
    try:
        network = checks.from_mapping(data, name="fuzz", source=SOURCE)
    except DeriveError as error:
        assert_clean(error)
        return None
    assert_consistent(network)
    return network


def assert_consistent(network: model.NetworkSpec) -> None:
    """What the engine relies on: matching shapes and exact finite numbers."""
    assert 1 <= len(network.layers) <= model.MAX_LAYERS
    fan_in = network.layers[0].fan_in
    for layer in network.layers:
        assert layer.size >= 1
        assert all(len(row) == fan_in for row in layer.weights)
        assert all(isinstance(w, Fraction) for row in layer.weights for w in row)
        assert layer.shared_bias or len(layer.bias) == layer.size
        fan_in = layer.size
    for example in network.examples:
        assert len(example.inputs) == network.n_inputs
        assert len(example.targets) == network.n_outputs
    assert network.learning_rate > 0
    assert len(set(network.parameter_names())) == len(network.parameters())


@settings(max_examples=300)
@given(nested)
@hypothesis_example({"\U0001d518" * 12: {"\U0001f600" * 12: ["x"]}})  # characters outside the basic plane, as typed
@hypothesis_example({"a\u200b" * 6: 1, "\ud800": 2})  # a zero-width space and a lone surrogate, which do not print
@hypothesis_example({"layers": [{"\U000e0001" * 12: {"\U000e0001" * 12: 1}}]})  # unprintable, outside the plane
def test_random_nested_data(data):
    load(data)


def test_a_long_unprintable_key_is_clipped_as_printed():
    """Twelve unprintable characters outside the basic plane print as 120 characters of escapes: the key
    shows at most 40 between its quotes, whole escapes only, and the message stays within its 300."""
    for data in ({**MAZUR, "\U000e0001" * 12: 1}, {**MAZUR, "layers": [{"\U000e0001" * 12: 1}]}):
        try:
            checks.from_mapping(data, name="fuzz", source=SOURCE)
        except DeriveError as error:
            assert_clean(error)
            assert '"' + "\\U000e0001" * 3 + '..."' in str(error), str(error)
        else:
            raise AssertionError("an unknown key was accepted")


def test_a_key_is_shown_as_the_reader_typed_it():
    """Characters outside the basic plane print as themselves, not as 12-character surrogate escapes;
    a character that does not print is shown by its code."""
    for key, shown in [("\U0001d518" * 3, '"\U0001d518\U0001d518\U0001d518"'), ("a\u200bb", '"a\\u200bb"')]:
        data = {**MAZUR, key: 1}
        try:
            checks.from_mapping(data, name="fuzz", source=SOURCE)
        except DeriveError as error:
            assert str(error).startswith(f"{SOURCE}: {shown}: unknown key"), str(error)
        else:
            raise AssertionError("an unknown key was accepted")


@settings(max_examples=150)
@given(st.dictionaries(st.sampled_from(checks._NETWORK_KEYS), nested, max_size=7))
def test_random_data_under_the_right_keys(data):
    load(data)


# ---- mutations of the valid worked example --------------------------------------------------------


def places(value, path=()):
    """Every path (keys and indices) to a part of ``value``, the root included."""
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from places(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from places(child, (*path, index))


def parent_of(root, path):
    node = root
    for step in path[:-1]:
        node = node[step]
    return node


MUTATIONS = ["delete", "replace", "wrap", "unwrap", "append", "drop", "duplicate", "flatten", "empty", "stringify"]


@settings(max_examples=400)
@given(st.data())
def test_mutated_worked_example(data):
    network = copy.deepcopy(MAZUR)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from([p for p in places(network) if p]), label="path")
        mutation = data.draw(st.sampled_from(MUTATIONS), label="mutation")
        parent, last = parent_of(network, path), path[-1]
        value = parent[last]
        if mutation == "delete":
            del parent[last]
        elif mutation == "replace":
            parent[last] = data.draw(nested, label="new value")
        elif mutation == "wrap":
            parent[last] = [value]
        elif mutation == "unwrap" and isinstance(value, list) and value:
            parent[last] = value[0]
        elif mutation == "append" and isinstance(value, list):
            value.append(copy.deepcopy(value[-1]) if value and data.draw(st.booleans()) else data.draw(leaves))
        elif mutation == "drop" and isinstance(value, list) and value:
            value.pop(data.draw(st.integers(0, len(value) - 1)))
        elif mutation == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(value))
        elif mutation == "flatten" and isinstance(value, list):
            parent[last] = [item for row in value for item in (row if isinstance(row, list) else [row])]
        elif mutation == "empty":
            parent[last] = type(value)() if isinstance(value, list | dict | str) else 0
        elif mutation == "stringify":
            parent[last] = str(value)
    load(network)


def test_the_worked_example_itself_loads():
    assert load(copy.deepcopy(MAZUR)) is not None


def test_numbers_too_long_to_print():
    """Python refuses str() of an int with more than 4300 digits; the message must not need it."""
    for value in (10**5000, -(10**5000), Fraction(1, 10**5000), Fraction(10**5000, 7)):
        for key in ("learning_rate", "round_activations", "train_biases", "loss"):
            assert load({**MAZUR, key: value}) is None


# ---- files: random bytes, and the worked example's text with random edits --------------------------


@settings(max_examples=80)
@given(st.binary(max_size=300), st.sampled_from([".toml", ".json", ""]))
def test_random_bytes_as_a_file(content, suffix):
    check_file(content, suffix)


@settings(max_examples=150)
@given(st.data(), st.sampled_from([".toml", ".json"]))
def test_edited_text_as_a_file(data, suffix):
    text = MAZUR_TEXT if suffix == ".toml" else _as_json(MAZUR)
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        start = data.draw(st.integers(0, len(text)), label="start")
        end = data.draw(st.integers(start, min(len(text), start + 8)), label="end")
        insert = data.draw(st.sampled_from(["", "[", "]", "{", "}", '"', ",", "=", "\n", "-", "e999", "nan", "é", "x"]))
        text = text[:start] + insert + text[end:]
    check_file(text.encode("utf-8"), suffix)


def check_file(content: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"net{suffix}"
        path.write_bytes(content)
        try:
            network = files.load_path(path)
        except DeriveError as error:
            message = str(error)
            assert len(message.splitlines()) == 1 and len(message) <= 300 + len(str(path)), message
            assert message.startswith(str(path)), message
        else:
            assert_consistent(network)
        assert os.listdir(folder) == [path.name] and path.read_bytes() == content, "the loader changed a file"


def _as_json(data) -> str:
    import json

    return json.dumps(data, indent=1, default=str)
