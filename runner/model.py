"""The spec as data: what the loader builds and the engine runs. Nothing here does I/O.

Values that may hold templates are kept as the loader prepared them (see templating.py):
plain Python data where there is no template syntax, ``Expr``/``Text``/``DynDict``/``DynList``
where there is. They are rendered only when a step runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .source import Source

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_BODY_MB = 32.0  # a larger response body fails its step, unread (memory stays bounded)

BodyKind = Literal["json", "data", "form"]
QueryKind = Literal["status", "header", "jsonpath", "regex", "cookie", "body"]


@dataclass(frozen=True, slots=True)
class Query:
    """What to read from a response: shared by captures and expectations."""

    kind: QueryKind
    argument: Any = None  # header/cookie name, JSONPath or regex text; None for status/body

    def describe(self) -> str:
        if self.kind in ("status", "body"):
            return self.kind
        return f"{self.kind} {self.argument}"


@dataclass(frozen=True, slots=True)
class Expectation:
    """One check of a response: a query, an operator and the expected value (maybe templated)."""

    query: Query
    operator: str
    expected: Any
    source: Source


@dataclass(frozen=True, slots=True)
class Capture:
    """Store a value from the response as a variable for later steps."""

    name: str
    query: Query
    source: Source


@dataclass(frozen=True, slots=True)
class Request:
    method: Any
    url: Any
    source: Source
    url_source: Source
    params: Any = None
    headers: Any = None
    body_kind: BodyKind | None = None
    body: Any = None
    timeout: float | None = None
    follow_redirects: bool = True


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    request: Request
    source: Source
    expectations: tuple[Expectation, ...] = ()
    captures: tuple[Capture, ...] = ()


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    value: Any
    source: Source


@dataclass(frozen=True, slots=True)
class Defaults:
    headers: Any = None
    timeout: float | None = None
    verify: bool | str = True
    max_body_mb: float = DEFAULT_MAX_BODY_MB


@dataclass(frozen=True, slots=True)
class Spec:
    path: str
    name: str
    steps: tuple[Step, ...]
    base_url: Any = None
    variables: tuple[Variable, ...] = ()
    defaults: Defaults = field(default_factory=Defaults)
    lines: tuple[str, ...] = ()  # the file's text, so reports can quote the failing line

    def line(self, number: int) -> str:
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""
