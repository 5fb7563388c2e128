"""One tree of errors: a broken spec is not a broken network, and neither is a failed check.

Failed expectations are data (see results.py); only problems that stop a step or a file raise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .record import Record, record
from .source import Source

if TYPE_CHECKING:
    from .model import Spec


class ApirunError(Exception):
    """Base of everything apirun raises on purpose."""


@record
class Diagnostic(Record):
    """One problem in a spec file, with where it is and what would fix it."""

    message: str
    source: Source
    step: str | None = None
    hint: str | None = None


@record
class Partial(Record):
    """The part of a broken file the loader could still build: the static check runs on it
    so that every problem of the file is reported in one round."""

    spec: Spec
    unsure: frozenset[str]  # names a broken step or capture might define


class SpecError(ApirunError):
    """The spec file cannot be run as written. Carries every problem found in the file."""

    def __init__(
        self,
        diagnostics: list[Diagnostic],
        lines: tuple[str, ...] = (),
        sources: dict[str, tuple[str, ...]] | None = None,
        partial: Partial | None = None,
    ):
        self.diagnostics = diagnostics
        self.lines = lines  # the file's text, so the report can quote the line
        self.sources = sources or {}  # other files' texts (included files), by path
        self.partial = partial  # what the loader could build despite the problems
        super().__init__("\n".join(f"{d.source}: {d.message}" for d in diagnostics))

    def lines_of(self, file: str) -> tuple[str, ...]:
        return self.sources.get(file, self.lines)


class TemplateError(ApirunError):
    """A template could not be rendered: undefined variable, bad filter, unsafe access."""

    def __init__(self, message: str, source: Source | None = None):
        self.message = message
        self.source = source
        super().__init__(message)


class UndefinedVariableError(TemplateError):
    """A template used a name that is not defined (yet): a typo, or a capture not made."""


class ResponseDataError(TemplateError):
    """A template needed a value that only the run can give and did not get it (a field the
    response lacks, a service its catalog lacks): the step fails (exit 1), the spec may be
    right."""


class TransportError(ApirunError):
    """The request never got a complete response: refused, timed out, TLS, broken body."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)
