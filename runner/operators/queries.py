"""Queries: read one value out of a response. Pure functions of the response."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ..messages import BodyNotJSON, Response


class _Missing:
    """Nothing matched: distinct from a JSON null."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<nothing>"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


class QueryError(ValueError):
    """The query cannot be asked of this response (or is itself invalid)."""


_SEGMENT = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[(\*)\]")
_parser: Any = None


class SimplePath:
    """A JSONPath made only of ``.name``, ``[N]`` and ``[*]``, evaluated directly.

    Most paths in specs are this simple; evaluating them here gives jsonpath-ng's results
    (a property test compares the two) without importing it and building its parser,
    which costs tens of milliseconds at start-up.
    """

    __slots__ = ("segments",)

    def __init__(self, segments: tuple[tuple[str, Any], ...]):
        self.segments = segments

    def values(self, document: Any) -> list[Any]:
        current = [document]
        for kind, argument in self.segments:
            found: list[Any] = []
            for value in current:
                if kind == "field":
                    if isinstance(value, dict) and argument in value:
                        found.append(value[argument])
                elif kind == "index":
                    if isinstance(value, list) and len(value) > argument:
                        found.append(value[argument])
                elif isinstance(value, list):  # [*]
                    found.extend(value)
                elif isinstance(value, dict):  # [*] of an object: its values, as jsonpath-ng
                    found.extend(value.values())
            current = found
        return current


class _LibraryPath:
    """Any other JSONPath, through jsonpath-ng's extended parser (filters, arithmetic...)."""

    __slots__ = ("parsed",)

    def __init__(self, parsed: Any):
        self.parsed = parsed

    def values(self, document: Any) -> list[Any]:
        return [match.value for match in self.parsed.find(document)]


def _simple_path(text: str) -> SimplePath | None:
    if not text.startswith("$"):
        return None
    segments: list[tuple[str, Any]] = []
    position = 1
    while position < len(text):
        match = _SEGMENT.match(text, position)
        if match is None:
            return None
        name, index, star = match.groups()
        if name is not None:
            segments.append(("field", name))
        elif index is not None:
            segments.append(("index", int(index)))
        else:
            segments.append(("all", star))
        position = match.end()
    return SimplePath(tuple(segments))


def _library_parser() -> Any:
    global _parser
    if _parser is None:  # building the parser is the slow part: do it once
        from jsonpath_ng.ext.parser import ExtendedJsonPathParser

        _parser = ExtendedJsonPathParser()
    return _parser


@lru_cache(maxsize=4096)
def compile_jsonpath(text: str) -> SimplePath | _LibraryPath:
    """Parse a JSONPath once (extended syntax: filters, arithmetic); raise QueryError if invalid."""
    simple = _simple_path(text)
    if simple is not None:
        return simple
    try:
        return _LibraryPath(_library_parser().parse(text))
    except Exception as exc:  # jsonpath-ng raises bare Exception subclasses of several kinds
        raise QueryError(f"invalid JSONPath {text!r}: {exc}") from None


@lru_cache(maxsize=4096)
def compile_regex(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise QueryError(f"invalid regular expression {text!r}: {exc}") from None


def _status(_: Any, response: Response) -> Any:
    return response.status


def _header(name: str, response: Response) -> Any:
    value = response.headers.get(name)
    return MISSING if value is None else value


def _jsonpath(expression: str, response: Response) -> Any:
    path = compile_jsonpath(expression)
    try:
        document = response.json()
    except BodyNotJSON as exc:
        raise QueryError(str(exc)) from None
    found = path.values(document)
    if not found:
        return MISSING
    return found[0] if len(found) == 1 else found


def _regex(pattern: str, response: Response) -> Any:
    match = compile_regex(pattern).search(response.text)
    if match is None:
        return MISSING
    return match.group(1) if match.re.groups else match.group(0)


def _cookie(name: str, response: Response) -> Any:
    return response.cookies.get(name, MISSING)


def _body(_: Any, response: Response) -> Any:
    return response.text


QUERY_KINDS: dict[str, Callable[[Any, Response], Any]] = {
    "status": _status,
    "header": _header,
    "jsonpath": _jsonpath,
    "regex": _regex,
    "cookie": _cookie,
    "body": _body,
}


def run_query(kind: str, argument: Any, response: Response) -> Any:
    """The value the query finds, or MISSING; QueryError when it cannot be asked."""
    return QUERY_KINDS[kind](argument, response)
