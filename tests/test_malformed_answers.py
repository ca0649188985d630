"""Bad answer sheets, class files and marks files: exit status 2, one or two lines naming the file
and the key or line, nothing written.

Every file in ``tests/malformed_answers/`` has one mistake; ``expected.toml`` there lists the
fragments its message must contain, and the arguments of the cases that are not `check FILE`.
"""

import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_malformed import assert_user_error, derive_in  # noqa: F401  (derive_in is a fixture)

CORPUS = Path(__file__).resolve().parent / "malformed_answers"
EXPECTED = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))
ARGUMENTS: dict[str, list[str]] = EXPECTED.pop("args")
GOOD_ANSWERS = ROOT / "examples" / "answers" / "spanish-source.toml"


def test_the_corpus_is_complete():
    files = {path.name for path in CORPUS.iterdir() if path.name != "expected.toml"}
    assert files == set(EXPECTED), "every corpus file needs an entry in expected.toml, and every entry a file"
    assert set(ARGUMENTS) <= set(EXPECTED)
    assert all(EXPECTED.values()), "every case names at least one fragment"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_answer_file(name, tmp_path, derive_in):  # noqa: F811
    (tmp_path / name).write_bytes((CORPUS / name).read_bytes())
    (tmp_path / "answers.toml").write_bytes(GOOD_ANSWERS.read_bytes())
    arguments = [part.format(file=name, answers="answers.toml") for part in ARGUMENTS.get(name, ["check", "{file}"])]
    result = derive_in(*arguments, "-o", "graded.txt")
    assert_user_error(result, f"derive: {name}: ", *EXPECTED[name])
