"""Predicates: compare an actual value with an expected one, as JSON does: ``"1"`` is not ``1``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .queries import QueryError, compile_regex

JSON_TYPES = ("string", "number", "integer", "boolean", "array", "object", "null")


class PredicateTypeError(ValueError):
    """The actual value is of a type the operator cannot compare."""


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: 1 == 1.0, but true != 1 and "1" != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _equals(actual: Any, expected: Any) -> bool:
    return json_equal(actual, expected)


def _not_equals(actual: Any, expected: Any) -> bool:
    return not json_equal(actual, expected)


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str):
        if not isinstance(expected, str):
            raise PredicateTypeError(
                f"a string can only contain a string, not {json_type(expected)}"
            )
        return expected in actual
    if isinstance(actual, list | tuple):
        return any(json_equal(item, expected) for item in actual)
    if isinstance(actual, dict):
        return expected in actual
    raise PredicateTypeError(f"cannot look inside {json_type(actual)}")


def _matches(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or not isinstance(actual, str | int | float):
        raise PredicateTypeError(f"matches needs a string, got {json_type(actual)}")
    return compile_regex(str(expected)).search(str(actual)) is not None


def _length(actual: Any, expected: Any) -> bool:
    if not isinstance(actual, str | list | tuple | dict):
        raise PredicateTypeError(f"{json_type(actual)} has no length")
    return json_equal(len(actual), expected)


def _type(actual: Any, expected: Any) -> bool:
    expected = "null" if expected is None else expected  # YAML reads a bare null as nothing
    actual_type = json_type(actual)
    return actual_type == expected or (expected == "number" and actual_type == "integer")


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def predicate(actual: Any, expected: Any) -> bool:
        numbers = all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in (actual, expected)
        )
        strings = isinstance(actual, str) and isinstance(expected, str)
        if not (numbers or strings):
            raise PredicateTypeError(
                f"cannot order {json_type(actual)} against {json_type(expected)}"
            )
        return compare(actual, expected)

    return predicate


def _one_of(actual: Any, expected: Any) -> bool:
    return any(json_equal(actual, candidate) for candidate in expected)


# exists is not here: it asks whether the query found anything, which the engine decides.
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": _equals,
    "not_equals": _not_equals,
    "contains": _contains,
    "matches": _matches,
    "length": _length,
    "type": _type,
    "gt": _ordered(lambda a, e: a > e),
    "gte": _ordered(lambda a, e: a >= e),
    "lt": _ordered(lambda a, e: a < e),
    "lte": _ordered(lambda a, e: a <= e),
    "one_of": _one_of,
}


def check_operand(operator: str, operand: Any) -> str | None:
    """Why an expected value cannot work with its operator, or None. Used before anything runs."""
    if operator == "exists" and not isinstance(operand, bool):
        return "exists takes true or false"
    if operator == "matches":
        if not isinstance(operand, str):
            return "matches takes a regular expression (a string)"
        try:
            compile_regex(operand)
        except QueryError as exc:
            return str(exc)
    if operator == "length" and (isinstance(operand, bool) or not isinstance(operand, int)):
        return "length takes a whole number"
    if operator == "type" and operand is not None and operand not in JSON_TYPES:
        return f"type takes one of {', '.join(JSON_TYPES)}"
    if operator in ("gt", "gte", "lt", "lte") and (
        isinstance(operand, bool) or not isinstance(operand, int | float | str)
    ):
        return f"{operator} takes a number (or a string)"
    if operator == "one_of" and not isinstance(operand, list):
        return "one_of takes a list"
    return None


_STATUS_CLASS = re.compile(r"\A[1-5]xx\Z", re.IGNORECASE)


def matches_status(actual: int, expected: Any) -> bool:
    """expect.status: a code, a class such as "2xx", or a list of either."""
    if isinstance(expected, list):
        return any(matches_status(actual, item) for item in expected)
    if isinstance(expected, str) and _STATUS_CLASS.match(expected):
        return actual // 100 == int(expected[0])
    if isinstance(expected, str) and expected.isdigit():
        return actual == int(expected)
    return isinstance(expected, int) and not isinstance(expected, bool) and actual == expected


def check_status_operand(operand: Any) -> str | None:
    items = operand if isinstance(operand, list) else [operand]
    if not items:
        return 'status takes a code (201), a class ("2xx") or a non-empty list of them'
    for item in items:
        ok_int = isinstance(item, int) and not isinstance(item, bool) and 100 <= item <= 599
        ok_str = isinstance(item, str) and bool(
            _STATUS_CLASS.match(item) or (item.isdigit() and 100 <= int(item) <= 599)
        )
        if not (ok_int or ok_str):
            return f'status takes a code (201), a class ("2xx") or a list of them, not {item!r}'
    return None
