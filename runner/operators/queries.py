"""Queries: what a capture keeps and an expectation checks, read out of a response.

One entry per query kind in ``QUERIES``: captures (``capture: {NAME: {KIND: ARGUMENT}}``)
and expectations (``expect: {KEY: ...}``) both come from it, so every kind is both. Adding a
kind is adding one ``QueryKind`` here. Reading never raises: a body that is not JSON gives a
``Mismatch``, nothing found gives ``MISSING``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import urlsplit

from ..messages import BodyNotJSON, Response
from ..record import Record, record
from .jsonpath import JSONPathError, compile_jsonpath
from .predicates import EQUALS, _regex, regex_search
from .values import MISSING, Mismatch


def _no_argument(_: Any) -> str | None:
    return None


@record
class QueryKind(Record):
    """One kind of query: its capture key, its expect key, how to read it, how to word it."""

    name: str  # the capture key (capture: {x: {header: Location}}) and the report's subject
    expect_key: str  # the expect key: a mapping argument → check when the kind takes one
    doc: str  # what it reads: the schema's description and docs/format.md's table
    read: Callable[[Any, Response], Any]  # (argument, response) → value | MISSING | Mismatch
    missing: str  # what finding nothing says; {} is the argument
    takes_argument: bool = True  # header name, JSONPath...; False: `{status: true}` captures it
    check_argument: Callable[[str], str | None] = _no_argument  # a literal argument's problem
    literal: str = EQUALS  # the operator a literal check means (status: its shorthand)
    check_list: bool = False  # expect takes a list of checks too (body: [{contains: a}, ...])
    text_values: bool = False  # literal numbers are compared as text (Content-Length: 42)

    def describe(self, argument: Any) -> str:
        return f"{self.name} {argument}" if self.takes_argument else self.name


def _status(_: Any, response: Response) -> Any:
    return response.status


def _header(name: str, response: Response) -> Any:
    value = response.headers.get(name)
    return MISSING if value is None else value


def _jsonpath(expression: str, response: Response) -> Any:
    try:
        path = compile_jsonpath(expression)
    except JSONPathError as exc:
        return Mismatch(str(exc))
    try:
        document = response.json()
    except BodyNotJSON as exc:
        return Mismatch(str(exc))
    found = path.values(document)
    if path.definite:
        return found[0] if found else MISSING
    return found


def _check_jsonpath(text: str) -> str | None:
    try:
        compile_jsonpath(text)
    except JSONPathError as exc:
        return str(exc)
    return None


def _regex_query(pattern: str, response: Response) -> Any:
    compiled = _regex(pattern)
    if isinstance(compiled, str):
        return Mismatch(compiled)
    match = regex_search(compiled, response.text)
    if isinstance(match, Mismatch):
        return match
    if match is None:
        return MISSING
    return match.group(1) if match.re.groups else match.group(0)


def _check_regex(text: str) -> str | None:
    compiled = _regex(text)
    return compiled if isinstance(compiled, str) else None


def _cookie(name: str, response: Response) -> Any:
    value = response.cookies.get(name, MISSING)
    if value is MISSING:
        refused = _refused_cookie(name, response)
        if refused is not None:
            return Mismatch(refused)
    return value


def _http_date(text: str) -> float | None:
    """An Expires attribute as a timestamp; None when absent or unreadable."""
    try:
        return parsedate_to_datetime(text).timestamp() if text else None
    except (TypeError, ValueError):
        return None


def _refused_cookie(name: str, response: Response) -> str | None:
    """Why a cookie the response did set is not in the jar (or None: it set none). The
    value is not shown: a session cookie is a credential."""
    for field, header in response.headers:
        if field.lower() != "set-cookie" or header.partition("=")[0].strip() != name:
            continue
        attributes = {}
        for part in header.split(";")[1:]:
            key, _, value = part.partition("=")
            attributes[key.strip().lower()] = value.strip()
        said = f"the response set cookie '{name}'"
        max_age = attributes.get("max-age", "")
        if max_age.lstrip("-").isdigit() and int(max_age) <= 0:
            return f"{said} with Max-Age={max_age}, which deletes it: there is no cookie to read"
        expires = _http_date(attributes.get("expires", ""))
        if expires is not None and expires <= time.time():
            return (
                f"{said} with Expires={attributes['expires']} (in the past), which deletes it: "
                "there is no cookie to read"
            )
        host = (urlsplit(response.url).hostname or "").lower()
        domain = attributes.get("domain", "").lstrip(".").lower()
        if domain and host != domain and not host.endswith("." + domain):
            return (
                f"{said} but the cookie jar refused it: its Domain={attributes['domain']} "
                f"does not match the host {host} (a cookie for another site)"
            )
        return f"{said} but the cookie jar refused it (Python's cookie rules, RFC 2965/6265)"
    return None


def _body(_: Any, response: Response) -> Any:
    return response.text


def _duration(_: Any, response: Response) -> Any:
    return round(response.elapsed_ms, 3)


QUERIES: Final[dict[str, QueryKind]] = {
    q.name: q
    for q in (
        QueryKind(
            "status",
            "status",
            "The status code (an integer).",
            _status,
            "no status",
            takes_argument=False,
            literal="status",
        ),
        QueryKind(
            "header",
            "headers",
            "A response header, by name (any case); several of one name are joined with ', '.",
            _header,
            "no header '{}' in the response",
            text_values=True,
        ),
        QueryKind(
            "jsonpath",
            "jsonpath",
            "Values in the JSON body: one for a definite path, a list for a path with a "
            "wildcard, slice, filter or '..'.",
            _jsonpath,
            "JSONPath {} matched nothing",
            check_argument=_check_jsonpath,
        ),
        QueryKind(
            "regex",
            "regex",
            "The first match of a regular expression in the body text (its first group, if any).",
            _regex_query,
            "regex {!r} did not match the response body",
            check_argument=_check_regex,
        ),
        QueryKind(
            "cookie",
            "cookies",
            "A cookie set by the response (or by a redirect on the way).",
            _cookie,
            "no cookie '{}' was set by the response",
            text_values=True,
        ),
        QueryKind(
            "body",
            "body",
            "The whole body as text.",
            _body,
            "no body",
            takes_argument=False,
            check_list=True,
        ),
        QueryKind(
            "duration",
            "duration",
            "The response time in milliseconds, from sending to the end of the headers.",
            _duration,
            "no duration",
            takes_argument=False,
        ),
    )
}

JSONPATH: Final = "jsonpath"  # the capture shorthand `$.path` means this kind
STATUS: Final = "status"
BODY: Final = "body"
