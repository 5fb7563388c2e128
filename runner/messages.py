"""HTTP requests and responses as plain data: what the transport produces and reports show."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .record import MutableRecord, Record, record

if TYPE_CHECKING:
    from .model import ClientCert, Upload

_NOT_PARSED = object()


class Headers:
    """Response or request headers: ordered as received, looked up case-insensitively.

    The lookup table is built on the first lookup: most headers are never looked up.
    """

    __slots__ = ("_items", "_lower")

    def __init__(self, items: list[tuple[str, str]] | None = None):
        self._items = list(items or [])
        self._lower: dict[str, str] | None = None

    def _table(self) -> dict[str, str]:
        if self._lower is None:
            table: dict[str, str] = {}
            for name, value in self._items:
                key = name.lower()
                table[key] = f"{table[key]}, {value}" if key in table else value
            self._lower = table
        return self._lower

    def get(self, name: str) -> str | None:
        return self._table().get(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._table()

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def as_dict(self) -> dict[str, str]:
        return dict(self._table())


@record
class Hop(Record):
    """One redirect on the way to the final response: its status, where it was, where it
    pointed, and what apirun left out of the next request (nothing on the same origin)."""

    status: int
    url: str
    location: str
    dropped: str = ""  # "" or why the next request went without the spec's headers/body


class BodyNotJSON(ValueError):
    """The response body was asked for as JSON and is not."""


@record
class SentRequest(Record):
    """The request as it went on the wire, after templating and defaults."""

    method: str
    url: str
    headers: Headers
    body: bytes | None
    body_file: str | None = None  # a body streamed from this file (body is then None)


@dataclass(slots=True, eq=False, repr=False)
class Response(MutableRecord):
    """A response as received: status, headers, body (parsed as JSON on demand), redirects."""

    status: int
    reason: str
    url: str
    headers: Headers
    content: bytes
    elapsed_ms: float
    encoding: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)
    history: tuple[Hop, ...] = ()  # the redirects followed, in order
    size: int = -1  # the body's length in bytes, kept when the body is discarded
    _text: str | None = None
    _json: Any = _NOT_PARSED
    _json_error: str | None = None

    def __post_init__(self) -> None:
        if self.size < 0:
            self.size = len(self.content)

    def discard_body(self) -> None:
        """Forget the body (kept: its size) once nothing will show it, to bound memory."""
        self.content = b""
        self._text = None
        self._json = _NOT_PARSED

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.content.decode(self.encoding or "utf-8", errors="replace")
        return self._text

    def json(self) -> Any:
        """The body parsed as JSON, once; raises BodyNotJSON with a readable reason."""
        if self._json is _NOT_PARSED and self._json_error is None:
            if not self.content.strip():
                self._json_error = "the response body is empty, not JSON"
            else:
                try:
                    self._json = json.loads(self.content)
                except (ValueError, UnicodeDecodeError) as exc:
                    content_type = self.headers.get("content-type") or "no Content-Type"
                    self._json_error = _huge_integer(exc) or (
                        f"the response body is not JSON ({content_type}): {exc}"
                    )
                except RecursionError:  # json's C parser, on arrays in arrays in arrays…
                    self._json_error = "the response body is JSON nested too deeply to read"
        if self._json_error is not None:
            raise BodyNotJSON(self._json_error)
        return self._json


_DIGITS = re.compile(r"value has (\d+) digits")


def _huge_integer(exc: Exception) -> str | None:
    """Why valid JSON with an integer of thousands of digits could not be read: Python reads
    (and prints) integers of up to sys.get_int_max_str_digits() digits, 4,300 by default: a
    bound against quadratic-time conversions that a server could otherwise force on us."""
    match = _DIGITS.search(str(exc)) if isinstance(exc, ValueError) else None
    if match is None or "integer string conversion" not in str(exc):
        return None
    limit = sys.get_int_max_str_digits()
    return (
        f"the response body is JSON with an integer of {int(match.group(1)):,} digits, more "
        f"than the {limit:,} apirun reads (Python's limit on integer digits), so it cannot be "
        "checked"
    )


@record
class HttpRequest(Record):
    """A step's request after templating: everything the transport needs, nothing more."""

    method: str
    url: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    has_json: bool = False
    data: bytes | None = None
    form: list[tuple[str, str]] | None = None
    file: str | None = None  # a body streamed from this file
    files: tuple[Upload, ...] = ()  # multipart parts (with ``form`` as its plain fields)
    cert: ClientCert | None = None
    timeout: float = 30.0
    follow_redirects: bool = True
