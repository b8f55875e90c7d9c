"""docs/robustness.md cannot drift from the tests it describes.

Its corpus table is generated from tests/test_cli_corpus.py (the inputs and the outcome the test
expects of every command), and every test it names as ``file::test`` must exist.
"""

import re
from pathlib import Path

import pytest

from test_cli_corpus import BEGIN, CORPUS, DOC, END, UPDATE, doc_with_table, markdown

TESTS = Path(__file__).resolve().parent


def test_the_corpus_table_in_the_doc_is_the_corpus():
    text = DOC.read_text(encoding="utf-8")
    assert text == doc_with_table(text), (
        f"the corpus table in {DOC.name} differs from tests/test_cli_corpus.py; refresh it with: {UPDATE}")


def test_the_check_sees_a_changed_or_missing_table():
    text = doc_with_table(DOC.read_text(encoding="utf-8"))
    name = CORPUS[1][0]
    edited = text.replace(f"| `{name}` |", f"| `{name}-edited` |", 1)
    assert edited != text and doc_with_table(edited) == text          # an edited row is put back
    row = next(line for line in markdown().splitlines() if f"`{name}`" in line)
    assert doc_with_table(text.replace(row + "\n", "", 1)) == text     # and a dropped one
    with pytest.raises(ValueError, match="markers"):
        doc_with_table(text.replace(END, ""))
    every_input = {f"`{name}`" for name, _, _ in CORPUS}
    assert all(entry in text.split(BEGIN)[1] for entry in every_input)


def _named_tests(text: str) -> list[tuple[str, str]]:
    """Every ``file.py::test_name`` the doc cites; ``::test_name`` goes on with the last file of its line."""
    cited = []
    for line in text.splitlines():
        current = None
        for token in re.findall(r"`([^`]+)`", line):
            found = re.match(r"^(test_\w+\.py)?::(test_\w+)", token)
            if found is None:
                continue
            current = found.group(1) or current
            assert current, f"{token!r} names no test file before it: {line[:120]}"
            cited.append((current, found.group(2)))
    return cited


def test_every_test_the_doc_names_exists():
    cited = _named_tests(DOC.read_text(encoding="utf-8"))
    assert len(cited) > 50
    missing = [f"{file}::{name}" for file, name in cited
               if not (TESTS / file).exists()
               or not re.search(rf"^def {name}\b", (TESTS / file).read_text(encoding="utf-8"), re.M)]
    assert not missing, f"{DOC.name} names tests that do not exist: {missing}"
    assert _named_tests("`test_io.py::test_a` and `::test_b`") == [("test_io.py", "test_a"), ("test_io.py", "test_b")]
