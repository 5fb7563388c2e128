"""Predicates: how an expectation judges the value its query found. One entry per operator.

Adding an operator is adding one ``Predicate`` to ``PREDICATES`` below: the loader, the
spec schema, the engine and the reports read everything from the entry. Comparisons are
JSON's: ``"1"`` is not ``1``, ``true`` is not ``1``, ``1`` equals ``1.0``. A predicate never
raises: a value of a type it cannot judge gives a ``Mismatch`` naming both JSON types.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from ..record import Record, record

if TYPE_CHECKING:
    from regex import Match, Pattern

from .values import JSON_TYPES, MISSING, NOT_FOUND, Mismatch, is_number, json_equal, json_type

Verdict = bool | Mismatch
SchemaFragment = dict[str, Any]

VALUE_LIMIT: Final = 300  # characters of a value quoted in a failure


def show(value: Any) -> str:
    """A value as failures quote it: JSON, cut at VALUE_LIMIT characters."""
    if value is MISSING:
        return "nothing"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= VALUE_LIMIT else text[:VALUE_LIMIT] + "…"


def show_typed(value: Any, other: Any) -> str:
    """A value, with its JSON type when the other side's type differs ("1" is not 1)."""
    text = show(value)
    if value is MISSING or other is MISSING:
        return text
    types = {json_type(value), json_type(other)}
    if len(types) > 1 and types != {"integer", "number"}:
        return f"{text} ({json_type(value)})"
    return text


def _any_operand(_: Any) -> str | None:
    return None


@record
class Predicate(Record):
    """One operator of ``expect``: everything the loader, engine, schema and reports need."""

    name: str
    doc: str  # what it holds for: the schema's description and docs/format.md's table
    test: Callable[[Any, Any], Verdict]  # (actual, operand) → verdict; never raises
    phrase: Callable[[Any, Any], str]  # (operand, actual) → "to contain \"a\"" in "expected …"
    operand: SchemaFragment  # the operand's JSON-Schema fragment (a template is always allowed)
    check: Callable[[Any], str | None] = _any_operand  # why an operand cannot work, or None
    # False: the predicate judges "the query found nothing" itself (exists); True: finding
    # nothing fails the expectation before it is asked.
    found_only: bool = True
    shown: Callable[[Any], str] | None = None  # the actual value in a failure (default: JSON)
    user: bool = True  # False: not an operator key (status's shorthand is reached otherwise)


def evaluate(name: str, actual: Any, operand: Any) -> Verdict:
    """The verdict of operator ``name``; NOT_FOUND when the query found nothing."""
    predicate = PREDICATES[name]
    if actual is MISSING and predicate.found_only:
        return NOT_FOUND
    return predicate.test(actual, operand)


def failure_text(name: str, operand: Any, actual: Any) -> str:
    """``expected …, got …`` for an expectation that did not hold."""
    predicate = PREDICATES[name]
    if predicate.shown is not None and actual is not MISSING:
        shown = predicate.shown(actual)
    else:
        shown = show_typed(actual, operand)
    return f"expected {predicate.phrase(operand, actual)}, got {shown}"


def check_operand(name: str, operand: Any) -> str | None:
    """Why an operand cannot work with its operator, or None: before anything runs, and again
    after a templated operand renders."""
    return PREDICATES[name].check(operand)


# -- the operators -------------------------------------------------------------------------------


def _mismatch(name: str, actual: Any, operand: Any, what: str) -> Mismatch:
    return Mismatch(f"{name} {what}, not {json_type(actual)} and {json_type(operand)}")


def _contains(actual: Any, operand: Any) -> Verdict:
    if isinstance(actual, str):
        if isinstance(operand, str):
            return operand in actual
    elif isinstance(actual, list | tuple):
        return any(json_equal(item, operand) for item in actual)
    elif isinstance(actual, dict) and isinstance(operand, str):
        return operand in actual
    return _mismatch(
        "contains",
        actual,
        operand,
        "compares a string with a string, an array with an item, "
        "or an object with a key (a string)",
    )


@lru_cache(maxsize=1024)
def _regex(text: str) -> Pattern[str] | str:
    """A compiled regular expression, or why it does not compile. Python's syntax (the
    ``regex`` module's VERSION0, which is re's), with a time limit on every search."""
    import regex

    try:
        return regex.compile(text)
    except (regex.error, RecursionError, OverflowError) as exc:
        return f"invalid regular expression {text!r}: {exc}"


# A regular expression meets text a server chose: a pattern such as ^(a+)+$ backtracks for
# years on 40 characters. The regex module's matcher takes a timeout, in any thread (--jobs
# too), with no signal or timer of the process involved.
MAX_REGEX_SECONDS: Final = 1.0


def regex_search(compiled: Pattern[str], text: str) -> Match[str] | None | Mismatch:
    """``compiled.search(text)``, or a Mismatch when it takes more than MAX_REGEX_SECONDS."""
    try:
        return compiled.search(text, timeout=MAX_REGEX_SECONDS)
    except TimeoutError:
        return Mismatch(
            f"the regular expression {compiled.pattern!r} took more than "
            f"{MAX_REGEX_SECONDS:g} s on {len(text):,} characters and was stopped "
            "(it backtracks: nested repetition such as (a+)+ does; an atomic group (?>…) "
            "or a possessive a++ does not)"
        )


def _check_regex(operand: Any) -> str | None:
    if not isinstance(operand, str):
        return f"matches takes a regular expression (a string), not {json_type(operand)}"
    compiled = _regex(operand)
    return compiled if isinstance(compiled, str) else None


def _matches(actual: Any, operand: Any) -> Verdict:
    if isinstance(operand, str) and (isinstance(actual, str) or is_number(actual)):
        compiled = _regex(operand)
        if isinstance(compiled, str):
            return Mismatch(compiled)
        found = regex_search(compiled, str(actual))
        return found if isinstance(found, Mismatch) else found is not None
    return _mismatch("matches", actual, operand, "takes a string or number and a regex")


def _length(actual: Any, operand: Any) -> Verdict:
    if isinstance(actual, str | list | tuple | dict):
        return json_equal(len(actual), operand)
    return _mismatch("length", actual, operand, "measures a string, an array or an object")


def _check_length(operand: Any) -> str | None:
    if isinstance(operand, int) and not isinstance(operand, bool) and operand >= 0:
        return None
    return f"length takes a whole number, not {json_type(operand)} {show(operand)}"


def _type(actual: Any, operand: Any) -> Verdict:
    expected = "null" if operand is None else operand  # YAML reads a bare null as nothing
    actual_type = json_type(actual)
    return actual_type == expected or (expected == "number" and actual_type == "integer")


def _check_type(operand: Any) -> str | None:
    if operand is None or operand in JSON_TYPES:
        return None
    return f"type takes one of {', '.join(JSON_TYPES)}, not {show(operand)}"


def _ordered(name: str, compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Verdict]:
    def test(actual: Any, operand: Any) -> Verdict:
        if (is_number(actual) and is_number(operand)) or (
            isinstance(actual, str) and isinstance(operand, str)
        ):
            return compare(actual, operand)
        return _mismatch(name, actual, operand, "compares two numbers or two strings")

    return test


def _check_ordered(name: str) -> Callable[[Any], str | None]:
    def check(operand: Any) -> str | None:
        if is_number(operand) or isinstance(operand, str):
            return None
        return f"{name} takes a number (or a string), not {json_type(operand)}"

    return check


def _one_of(actual: Any, operand: Any) -> Verdict:
    if isinstance(operand, list | tuple):
        return any(json_equal(actual, candidate) for candidate in operand)
    return _mismatch("one_of", actual, operand, "takes a list of candidates")


def _check_list(name: str) -> Callable[[Any], str | None]:
    def check(operand: Any) -> str | None:
        return (
            None if isinstance(operand, list) else f"{name} takes a list, not {json_type(operand)}"
        )

    return check


def _exists(actual: Any, operand: Any) -> Verdict:
    if isinstance(operand, bool):
        return (actual is not MISSING) == operand
    return Mismatch(f"exists takes true or false, not {json_type(operand)}")


def _check_bool(operand: Any) -> str | None:
    return None if isinstance(operand, bool) else "exists takes true or false"


def _affix(name: str, test: Callable[[str, str], bool]) -> Callable[[Any, Any], Verdict]:
    def predicate(actual: Any, operand: Any) -> Verdict:
        if isinstance(actual, str) and isinstance(operand, str):
            return test(actual, operand)
        return _mismatch(name, actual, operand, "compares a string with a string")

    return predicate


def _check_string(name: str) -> Callable[[Any], str | None]:
    def check(operand: Any) -> str | None:
        return (
            None if isinstance(operand, str) else f"{name} takes a string, not {json_type(operand)}"
        )

    return check


# -- not: any other operator, negated -------------------------------------------------------------


def _inner(operand: Any) -> tuple[str, Any] | None:
    if isinstance(operand, Mapping) and len(operand) == 1:
        ((name, inner),) = operand.items()
        if isinstance(name, str) and name in PREDICATES and PREDICATES[name].user:
            return name, inner
    return None


def _not(actual: Any, operand: Any) -> Verdict:
    inner = _inner(operand)
    if inner is None:
        return Mismatch(f"not takes one operator, not {show(operand)}")
    verdict = evaluate(inner[0], actual, inner[1])
    # A value that cannot be judged (wrong type, nothing found) is not the opposite of one
    # that can: it fails under not too.
    return verdict if isinstance(verdict, Mismatch) else not verdict


def _check_not(operand: Any) -> str | None:
    inner = _inner(operand)
    if inner is not None:
        return check_operand(*inner)
    if isinstance(operand, Mapping) and len(operand) == 1:
        import difflib

        name = str(next(iter(operand)))
        close = difflib.get_close_matches(name, OPERATOR_NAMES, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else f"operators: {', '.join(OPERATOR_NAMES)}"
        return f"unknown operator '{name}' in not — {hint}"
    return "not takes exactly one operator, as in {not: {contains: error}}"


def _not_phrase(operand: Any, actual: Any) -> str:
    inner = _inner(operand)
    return "not " + (PREDICATES[inner[0]].phrase(inner[1], actual) if inner else show(operand))


# -- expect.status's shorthand: a code, a class ("2xx") or a list of them --------------------

_STATUS_CLASS = re.compile(r"\A[1-5]xx\Z", re.IGNORECASE)


def _status(actual: Any, operand: Any) -> Verdict:
    if isinstance(operand, list):
        return any(_status(actual, item) is True for item in operand)
    if not is_number(actual):
        return _mismatch("status", actual, operand, "compares a status code")
    if isinstance(operand, str) and _STATUS_CLASS.match(operand):
        return actual // 100 == int(operand[0])
    if isinstance(operand, str) and operand.isdigit():
        return bool(actual == int(operand))
    return is_number(operand) and actual == operand


def _check_status(operand: Any) -> str | None:
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


def _status_phrase(operand: Any, _: Any) -> str:
    items = operand if isinstance(operand, list) else [operand]
    return " or ".join(str(item) for item in items)


STATUS_CODE: Final = {
    "anyOf": [
        {"type": "integer", "minimum": 100, "maximum": 599},
        {"type": "string", "pattern": "^([1-5][xX][xX]|0*[1-5][0-9][0-9])$"},
    ],
    "errorMessage": 'status takes a code (201), a class ("2xx") or a list of them',
}
_ORDERED: Final = {"type": ["number", "string"]}


def _plain(operand: Any, _: Any) -> str:
    return show(operand)


def _words(template: str) -> Callable[[Any, Any], str]:
    return lambda operand, _: template.format(show(operand))


PREDICATES: Final[dict[str, Predicate]] = {
    p.name: p
    for p in (
        Predicate(
            "equals",
            'Equal (deep for lists and objects; "1" is not 1).',
            lambda a, e: json_equal(a, e),
            lambda e, a: show_typed(e, a),
            {},
        ),
        Predicate(
            "not_equals",
            "Not equal.",
            lambda a, e: not json_equal(a, e),
            lambda e, a: "anything but " + show_typed(e, a),
            {},
        ),
        Predicate(
            "contains",
            "A string containing the string; a list with an equal item; an object with the key.",
            _contains,
            _words("to contain {}"),
            {},
        ),
        Predicate(
            "starts_with",
            "A string that starts with the string.",
            _affix("starts_with", str.startswith),
            _words("to start with {}"),
            {"type": "string"},
            _check_string("starts_with"),
        ),
        Predicate(
            "ends_with",
            "A string that ends with the string.",
            _affix("ends_with", str.endswith),
            _words("to end with {}"),
            {"type": "string"},
            _check_string("ends_with"),
        ),
        Predicate(
            "matches",
            "A string (or number) in which the Python regular expression is found (re.search).",
            _matches,
            _words("to match {}"),
            {"type": "string"},
            _check_regex,
        ),
        Predicate(
            "exists",
            "true: something was found; false: nothing was.",
            _exists,
            lambda e, a: "to exist" if e is True else "nothing",
            {"type": "boolean"},
            _check_bool,
            found_only=False,
        ),
        Predicate(
            "length",
            "A string, list or object of this length.",
            _length,
            _words("length {}"),
            {"type": "integer", "minimum": 0},
            _check_length,
            shown=lambda a: f"{len(a)}: {show(a)}" if isinstance(a, str | list | dict) else show(a),
        ),
        Predicate(
            "type",
            "A value of this JSON type (number accepts integers).",
            _type,
            lambda e, a: f"type {'null' if e is None else e}",
            {"enum": [*JSON_TYPES, None]},
            _check_type,
            shown=lambda a: f"{json_type(a)} {show(a)}",
        ),
        Predicate(
            "gt",
            "More than (numbers; or strings, alphabetically).",
            _ordered("gt", lambda a, e: a > e),
            _words("> {}"),
            _ORDERED,
            _check_ordered("gt"),
        ),
        Predicate(
            "gte",
            "At least.",
            _ordered("gte", lambda a, e: a >= e),
            _words(">= {}"),
            _ORDERED,
            _check_ordered("gte"),
        ),
        Predicate(
            "lt",
            "Less than.",
            _ordered("lt", lambda a, e: a < e),
            _words("< {}"),
            _ORDERED,
            _check_ordered("lt"),
        ),
        Predicate(
            "lte",
            "At most.",
            _ordered("lte", lambda a, e: a <= e),
            _words("<= {}"),
            _ORDERED,
            _check_ordered("lte"),
        ),
        Predicate(
            "one_of",
            "Equal to one of the list.",
            _one_of,
            _words("one of {}"),
            {"type": "array"},
            _check_list("one_of"),
        ),
        Predicate(
            "not",
            "The one operator inside does not hold ({not: {contains: error}}).",
            _not,
            _not_phrase,
            {"$ref": "#/definitions/operator"},
            _check_not,
            found_only=False,
        ),
        Predicate(
            "status",
            'A status code (201), a class ("2xx"), or a list of either.',
            _status,
            _status_phrase,
            STATUS_CODE,
            _check_status,
            shown=str,
            user=False,
        ),
    )
}

# The operators a spec may write as keys of a check mapping, in the order docs list them.
OPERATOR_NAMES: Final = tuple(name for name, p in PREDICATES.items() if p.user)
EQUALS: Final = "equals"
STATUS: Final = "status"
