"""JSON values as checks see them: their types, their equality, and "nothing was found"."""

from __future__ import annotations

from typing import Any, Final

from ..record import Record, record

JSON_TYPES: Final = ("string", "number", "integer", "boolean", "array", "object", "null")


class _Missing:
    """Nothing matched: distinct from a JSON null."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<nothing>"

    def __bool__(self) -> bool:
        return False


MISSING: Final[Any] = _Missing()


@record
class Mismatch(Record):
    """The check could not be made (wrong type, body not JSON): a failed expectation, with why.
    Predicates and queries return it; they never raise."""

    reason: str


# The query found nothing: the engine words it for the query ("no header 'X' in the response").
NOT_FOUND: Final = Mismatch("nothing was found")


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


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
