"""What a run produced, as data. Reporters are functions of these; nothing here prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .messages import Response, SentRequest
from .model import ClientCert, Spec
from .record import MutableRecord
from .source import Source


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # an expectation or a capture did not hold
    ERROR = "error"  # the step could not run: transport failure or template/spec problem
    SKIPPED = "skipped"
    XFAIL = "xfail"  # a step marked xfail failed, as expected: the file does not fail
    XPASS = "xpass"  # a step marked xfail passed: the file fails (pytest's strict mode)


class ErrorKind(StrEnum):
    TRANSPORT = "transport"  # refused, timeout, TLS…: counts as a failure (exit 1)
    SPEC = "spec"  # undefined variable, bad template: the spec is wrong (exit 2)
    # A template read what the response does not hold (a missing field, a service the
    # catalog lacks), or a check could not be evaluated on it: a failure (exit 1).
    RESPONSE = "response"
    FIXTURE = "fixture"  # a Python fixture failed to start or stop: a failure (exit 1)
    INTERRUPTED = "interrupted"  # SIGINT, SIGTERM or SIGHUP cut the request in flight
    INTERNAL = "internal"  # a bug in apirun: the step's error, never a lost report (exit 1)


@dataclass(slots=True, eq=False, repr=False)
class ExpectationResult(MutableRecord):
    """One expectation of a step, checked: what was expected, what came, and whether it held."""

    subject: str  # "status", "header Content-Type", "jsonpath $.users[*].name", "body"
    operator: str
    expected: Any
    actual: Any
    passed: bool
    source: Source
    reason: str | None = None  # why it could not be compared (no match, not JSON, wrong type)
    query: str = ""  # the query kind (runner/operators QUERIES), for reports that group by it


@dataclass(slots=True, eq=False, repr=False)
class CaptureResult(MutableRecord):
    """One capture of a step: the value it stored, or why it could not."""

    name: str
    source: Source
    value: Any = None
    error: str | None = None


@dataclass(slots=True, eq=False, repr=False)
class StepError(MutableRecord):
    """Why a step could not run to its end (transport failure, template or spec problem)."""

    kind: ErrorKind
    message: str
    source: Source
    undefined: bool = False  # a template named a variable that did not exist


@dataclass(slots=True, eq=False, repr=False)
class StepResult(MutableRecord):
    """One step, run (or skipped): its outcome, request, response, checks and captures."""

    name: str
    source: Source
    outcome: Outcome
    duration_ms: float = 0.0
    request: SentRequest | None = None
    response: Response | None = None
    expectations: list[ExpectationResult] = field(default_factory=list)
    captures: list[CaptureResult] = field(default_factory=list)
    error: StepError | None = None
    skip_reason: str | None = None
    xfail_reason: str | None = None  # the step's ``xfail:`` ("" for true), when it has one
    attempts: int = 1  # more than one when the step has retry:
    reauthenticated: bool = False  # the cloud's token got 401: a new one, and sent again

    @property
    def failed_expectations(self) -> list[ExpectationResult]:
        return [e for e in self.expectations if not e.passed]

    @property
    def failed_captures(self) -> list[CaptureResult]:
        return [c for c in self.captures if c.error is not None]

    @property
    def xfail_message(self) -> str | None:
        """'expected failure: REASON' or 'unexpectedly passed: REASON', as every report says."""
        words = _XFAIL_WORDS.get(self.outcome)
        if words is None:
            return None
        return f"{words}: {self.xfail_reason}" if self.xfail_reason else words


_XFAIL_WORDS = {Outcome.XFAIL: "expected failure", Outcome.XPASS: "unexpectedly passed"}
# What fails a file (and the run): an expected failure (XFAIL) does not.
FAILING = frozenset({Outcome.FAILED, Outcome.ERROR, Outcome.XPASS})


@dataclass(slots=True, eq=False, repr=False)
class FileResult(MutableRecord):
    """One spec file, run: the result of each of its steps."""

    spec: Spec
    steps: list[StepResult] = field(default_factory=list)
    duration_ms: float = 0.0
    error: StepError | None = None  # the file could not start (e.g. a variable failed to render)
    secrets: set[str] = field(default_factory=set)
    captured: dict[str, Any] = field(default_factory=dict)  # what its steps captured, by name
    verify: bool | str = True  # TLS verification as run: true, false or a CA bundle's path
    cert: ClientCert | None = None  # the file's TLS client certificate, as run
    skip_reason: str | None = None  # the whole file was skipped (skip:, or when: false)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for step in self.steps if step.outcome is outcome)

    @property
    def passed(self) -> bool:
        return self.error is None and not any(s.outcome in FAILING for s in self.steps)

    @property
    def own_text(self) -> tuple[str, ...]:
        """The spec's own words in the report (its path, name and step names): masking
        leaves them as written, even where a short secret happens to match a word."""
        return (self.spec.path, self.spec.name, *(step.name for step in self.steps))

    @property
    def spec_errors(self) -> int:
        # An expected failure is no spec error: a variable an earlier step did not capture.
        errors = [self.error] + [s.error for s in self.steps if s.outcome is not Outcome.XFAIL]
        return sum(1 for e in errors if e is not None and e.kind is ErrorKind.SPEC)


@dataclass(slots=True, eq=False, repr=False)
class RunResult(MutableRecord):
    """A whole run: every file's result, and the files not run."""

    files: list[FileResult] = field(default_factory=list)
    duration_ms: float = 0.0
    not_run: list[Spec] = field(default_factory=list)  # left out by --fail-fast after a failure

    def count(self, outcome: Outcome) -> int:
        return sum(f.count(outcome) for f in self.files)

    @property
    def exit_code(self) -> int:
        """0 all passed, 1 a step failed, 2 the spec itself was wrong."""
        if any(f.spec_errors for f in self.files):
            return 2
        return 0 if all(f.passed for f in self.files) else 1
