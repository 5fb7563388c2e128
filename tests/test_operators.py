"""The registry (runner/operators): every predicate is total, and every entry is complete.

Pure functions, tested directly: a predicate is given every JSON type as the actual value and
every operand its load-time check accepts, and must give a verdict, never raise. What a user
sees of the same entries through the command is in test_expect.py.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from runner.operators import (
    JSON_TYPES,
    MISSING,
    OPERATOR_NAMES,
    PREDICATES,
    QUERIES,
    Mismatch,
    check_operand,
    evaluate,
    failure_text,
    json_type,
)
from runner.schema import load_schema

# One value (or two) of each JSON type, the awkward ones included.
VALUES = {
    "string": ["text", ""],
    "integer": [1, 0],
    "number": [1.5, -0.0],
    "boolean": [True, False],
    "null": [None],
    "array": [[1, "a"], []],
    "object": [{"a": 1}, {}],
}
ALL_VALUES = [value for values in VALUES.values() for value in values]
OPERANDS = [*ALL_VALUES, "^t", "[", "string", {"contains": "t"}, {"exists": True}, ["a", 1]]


def test_the_test_covers_every_json_type():
    assert set(VALUES) == set(JSON_TYPES)
    assert all(json_type(v) == t for t, values in VALUES.items() for v in values)


@pytest.mark.parametrize("name", sorted(PREDICATES))
def test_no_predicate_raises_on_any_json_type(name):
    predicate = PREDICATES[name]
    for actual, operand in itertools.product([*ALL_VALUES, MISSING], OPERANDS):
        verdict = evaluate(name, actual, operand)  # the raw test too, past the MISSING guard
        if actual is not MISSING:
            assert predicate.test(actual, operand) == verdict
        assert isinstance(verdict, bool | Mismatch), (name, actual, operand, verdict)
        if check_operand(name, operand) is None:
            assert failure_text(name, operand, actual).startswith("expected ")


@pytest.mark.parametrize("name", sorted(n for n in PREDICATES if n not in ("type", "exists")))
def test_a_type_mismatch_names_both_json_types(name):
    """contains [1] on an object was a traceback (issue #11): now a failure that says why."""
    actual, operand = {"a": 1}, [1]
    if name in ("length", "equals", "not_equals", "one_of"):
        actual, operand = 5, "x"  # these judge any pair of types; take one they cannot
        if name in ("equals", "not_equals"):
            assert isinstance(evaluate(name, actual, operand), bool)
            return
        if name == "one_of":
            operand = "not a list"
    if name == "status":
        actual, operand = "200", 200
    if name == "not":
        operand = {"gt": 1}
    verdict = evaluate(name, actual, operand)
    assert isinstance(verdict, Mismatch), (name, verdict)
    if name != "not":
        assert json_type(actual) in verdict.reason and json_type(operand) in verdict.reason


def test_not_negates_any_operator_and_keeps_a_mismatch_a_failure():
    assert evaluate("not", "a Traceback", {"contains": "Traceback"}) is False
    assert evaluate("not", "fine", {"contains": "Traceback"}) is True
    assert evaluate("not", MISSING, {"exists": True}) is True
    assert evaluate("not", {"a": 1}, {"gt": 1}) == evaluate("gt", {"a": 1}, 1)
    assert evaluate("not", "x", {"not": {"equals": "x"}}) is True
    assert check_operand("not", {"contains": "a", "equals": "b"}) is not None
    assert check_operand("not", {"length": "two"}) is not None  # the inner operand is checked


def test_starts_with_and_ends_with():
    assert evaluate("starts_with", "http://127.0.0.1/v3", "http://") is True
    assert evaluate("ends_with", "http://127.0.0.1/v3", "/v3") is True
    assert evaluate("ends_with", "http://127.0.0.1/v3", "/v2") is False
    assert isinstance(evaluate("starts_with", ["a"], "a"), Mismatch)
    assert check_operand("starts_with", 3) is not None


def test_every_entry_is_in_the_spec_schema():
    definitions = load_schema()["definitions"]
    assert list(definitions["operators"]["properties"]) == list(OPERATOR_NAMES)
    expect = definitions["expect"]["properties"]
    capture = definitions["captureSpec"]["anyOf"][1]["properties"]
    for kind in QUERIES.values():
        assert kind.expect_key in expect and kind.name in capture
        assert kind.doc and ("{" in kind.missing or not kind.takes_argument)
    for predicate in PREDICATES.values():
        assert predicate.doc and callable(predicate.phrase)


FORMAT_DOC = Path(__file__).resolve().parent.parent / "docs" / "format.md"


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def test_docs_name_every_operator_and_query_kind():
    """docs/format.md is written by hand: an entry added to the registry without its row in
    the docs fails here (docs/extending.md lists what adding one takes)."""
    text = FORMAT_DOC.read_text(encoding="utf-8")
    operators = {
        name for row in _first_cells(text, "## Operators") for name in re.findall(r"`(\w+)`", row)
    }
    assert set(OPERATOR_NAMES) <= operators, set(OPERATOR_NAMES) - operators
    expect = _first_cells(text, "## `expect`")
    capture = " ".join(_first_cells(text, "## `capture`"))
    for kind in QUERIES.values():
        assert f"`{kind.expect_key}`" in expect, kind.expect_key
        assert f"{{{kind.name}: " in capture, kind.name


def _first_cells(text: str, heading: str) -> list[str]:
    """The first column of the tables in a section of the docs."""
    return re.findall(r"^\| ([^|]+?) \|", _section(text, heading), re.M)


def test_no_operator_is_named_outside_the_registry():
    """The list of operators appears once: in runner/operators/. Elsewhere, code reads the
    registry (the importers' output is spec text, so they may write operator names). 'type'
    and 'not' are left out: they are also JSON Schema keywords and a Jinja word."""
    import ast
    from pathlib import Path

    from runner.operators import OPERATOR_NAMES

    names = set(OPERATOR_NAMES) - {"type", "not"}
    package = Path(__file__).resolve().parent.parent / "runner"
    found = []
    for path in package.rglob("*.py"):
        if path.relative_to(package).parts[0] in ("operators", "importers"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        }
        found += [
            f"{path.relative_to(package)}:{node.lineno}: {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value in names
            and id(node) not in docstrings
        ]
    assert found == []
