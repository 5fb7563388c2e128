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


@lru_cache(maxsize=4096)
def compile_jsonpath(text: str) -> Any:
    """Parse a JSONPath once (extended syntax: filters, arithmetic); raise QueryError if invalid."""
    from jsonpath_ng.ext import parse  # imported on first use: it is slow to import

    try:
        return parse(text)
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
    found = [match.value for match in path.find(document)]
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
