"""Runs specs: render → send → capture → expect, step after step. Produces results, prints nothing.

A listener (the console reporter, say) is told as each step finishes, so progress shows live
without the engine knowing how it is shown.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import urlencode

from . import templating
from .errors import TemplateError, TransportError
from .masking import secrets_in_headers, secrets_in_variables
from .messages import Headers, HttpRequest, Response, SentRequest
from .model import DEFAULT_TIMEOUT, Capture, Expectation, Spec, Step
from .operators import (
    MISSING,
    OPERATORS,
    PredicateTypeError,
    QueryError,
    check_operand,
    matches_status,
    run_query,
)
from .operators.predicates import check_status_operand
from .results import (
    CaptureResult,
    ErrorKind,
    ExpectationResult,
    FileResult,
    Outcome,
    RunResult,
    StepError,
    StepResult,
)
from .source import Source
from .transport import Transport
from .urls import join_url


@dataclass(frozen=True, slots=True)
class RunOptions:
    variables: Mapping[str, Any] = field(default_factory=dict)  # --vars-file, then --var
    timeout: float | None = None  # --timeout: beats the file's defaults, not a step's own
    # Keep the bodies of passed steps in the results (memory grows with the run); the
    # listener sees every body either way, as the step finishes.
    keep_passed_bodies: bool = True


class Listener(Protocol):
    def file_started(self, spec: Spec) -> None: ...
    def step_finished(self, file: FileResult, step: StepResult) -> None: ...
    def file_finished(self, file: FileResult) -> None: ...


def run_specs(
    specs: Iterable[Spec], options: RunOptions | None = None, listener: Listener | None = None
) -> RunResult:
    started = time.perf_counter()
    result = RunResult()
    for spec in specs:
        result.files.append(run_spec(spec, options, listener))
    result.duration_ms = (time.perf_counter() - started) * 1000.0
    return result


def run_spec(
    spec: Spec, options: RunOptions | None = None, listener: Listener | None = None
) -> FileResult:
    options = options or RunOptions()
    started = time.perf_counter()
    result = FileResult(spec)
    if listener:
        listener.file_started(spec)
    try:
        scope = initial_scope(spec, options.variables)
    except TemplateError as exc:
        result.error = StepError(ErrorKind.SPEC, exc.message, exc.source or spec_source(spec))
        scope = None
    if scope is not None:
        result.secrets |= secrets_in_variables(scope)
        with Transport(spec.defaults.verify, spec.defaults.max_body_mb) as transport:
            _run_steps(spec, scope, options, transport, result, listener)
    result.duration_ms = (time.perf_counter() - started) * 1000.0
    if listener:
        listener.file_finished(result)
    return result


def spec_source(spec: Spec) -> Source:
    return Source(spec.path, 1)


def initial_scope(spec: Spec, given: Mapping[str, Any]) -> dict[str, Any]:
    """The file's vars (rendered in order), overridden by --vars-file and --var."""
    scope: dict[str, Any] = {"env": templating.ENV_VARIABLES, "os": {}, **given}
    for variable in spec.variables:
        if variable.name not in given:
            scope[variable.name] = templating.render(variable.value, scope)
    return scope


def _run_steps(
    spec: Spec,
    scope: dict[str, Any],
    options: RunOptions,
    transport: Transport,
    result: FileResult,
    listener: Listener | None,
) -> None:
    stopped_by: str | None = None
    for step in spec.steps:
        if stopped_by is not None:
            step_result = StepResult(
                step.name,
                step.source,
                Outcome.SKIPPED,
                skip_reason=f"step '{stopped_by}' failed",
            )
        else:
            step_result = run_step(spec, step, scope, options, transport, result.secrets)
            if step_result.outcome in (Outcome.FAILED, Outcome.ERROR):
                stopped_by = step.name
        result.steps.append(step_result)
        if listener:
            listener.step_finished(result, step_result)
        if (
            not options.keep_passed_bodies
            and step_result.outcome is Outcome.PASSED
            and step_result.response is not None
        ):
            step_result.response.discard_body()


def run_step(
    spec: Spec,
    step: Step,
    scope: dict[str, Any],
    options: RunOptions,
    transport: Transport,
    secrets: set[str],
) -> StepResult:
    """Run one step; captures go into ``scope`` and secret values seen go into ``secrets``."""
    started = time.perf_counter()
    result = StepResult(step.name, step.source, Outcome.PASSED)
    try:
        request = render_request(spec, step, scope, options)
    except TemplateError as exc:
        result.outcome = Outcome.ERROR
        result.error = StepError(ErrorKind.SPEC, exc.message, exc.source or step.source)
        return _finish(result, started)
    secrets |= secrets_in_headers(request.headers)
    try:
        result.request, response = transport.send(request)
    except TransportError as exc:
        result.request = _as_sent(request)
        result.outcome = Outcome.ERROR
        result.error = StepError(ErrorKind.TRANSPORT, exc.message, step.source)
        return _finish(result, started)
    result.response = response
    secrets |= secrets_in_headers(response.headers)
    try:
        captured = _capture(step.captures, response, scope, result)
        secrets |= secrets_in_variables(captured)
        local = {**scope, **captured}
        result.expectations = [_expect(e, response, local) for e in step.expectations]
    except TemplateError as exc:
        result.outcome = Outcome.ERROR
        result.error = StepError(ErrorKind.SPEC, exc.message, exc.source or step.source)
        return _finish(result, started)
    scope.update(captured)
    if result.failed_expectations or result.failed_captures:
        result.outcome = Outcome.FAILED
    return _finish(result, started)


def _finish(result: StepResult, started: float) -> StepResult:
    result.duration_ms = (time.perf_counter() - started) * 1000.0
    return result


# -- rendering ---------------------------------------------------------------------------------


def render_request(
    spec: Spec, step: Step, scope: Mapping[str, Any], options: RunOptions
) -> HttpRequest:
    spec_request = step.request
    base = templating.render_text(spec.base_url, scope) if spec.base_url is not None else None
    url = templating.render_text(spec_request.url, scope)
    try:
        url = join_url(base, url)
    except ValueError as exc:
        raise TemplateError(str(exc), spec_request.source) from None
    headers: dict[str, str] = {}
    lower: dict[str, str] = {}
    for source in (spec.defaults.headers, spec_request.headers):
        for name, value in (templating.render(source, scope) or {}).items():
            previous = lower.pop(str(name).lower(), None)
            if previous is not None:
                del headers[previous]
            headers[str(name)] = templating.render_text(value, scope)
            lower[str(name).lower()] = str(name)
    request = HttpRequest(
        method=templating.render_text(spec_request.method, scope).upper(),
        url=url,
        params=_pairs(templating.render(spec_request.params, scope)),
        headers=headers,
        timeout=spec_request.timeout or options.timeout or spec.defaults.timeout or DEFAULT_TIMEOUT,
        follow_redirects=spec_request.follow_redirects,
    )
    kind = spec_request.body_kind
    if kind is None:
        return request
    body = templating.render(spec_request.body, scope)
    if kind == "json":
        return replace(request, json=body, has_json=True)
    if kind == "data":
        return replace(request, data=templating.render_text(body, scope).encode("utf-8"))
    return replace(request, form=_pairs(body))


def _pairs(mapping: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, value in (mapping or {}).items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((str(name), templating.render_text(item, {})))
    return pairs


def _as_sent(request: HttpRequest) -> SentRequest:
    """What we meant to send, for reports, when nothing came back to say what was sent."""
    url = request.url
    if request.params:
        url += ("&" if "?" in url else "?") + urlencode(request.params)
    return SentRequest(request.method, url, Headers(list(request.headers.items())), request.data)


# -- captures and expectations -----------------------------------------------------------------

_NOT_FOUND = {
    "header": "no header '{}' in the response",
    "jsonpath": "JSONPath {} matched nothing",
    "regex": "regex {!r} did not match the response body",
    "cookie": "no cookie '{}' was set by the response",
}


def _capture(
    captures: Iterable[Capture], response: Response, scope: Mapping[str, Any], result: StepResult
) -> dict[str, Any]:
    captured: dict[str, Any] = {}
    for capture in captures:
        query = capture.query
        argument = (
            templating.render_text(query.argument, {**scope, **captured})
            if query.argument is not None
            else None
        )
        item = CaptureResult(capture.name, capture.source)
        try:
            value = run_query(query.kind, argument, response)
        except QueryError as exc:
            item.error = str(exc)
        else:
            if value is MISSING:
                item.error = _NOT_FOUND[query.kind].format(argument)
            else:
                item.value = value
                captured[capture.name] = value
        result.captures.append(item)
    return captured


def _expect(
    expectation: Expectation, response: Response, scope: Mapping[str, Any]
) -> ExpectationResult:
    if expectation.operator == "schema":
        return _expect_schema(expectation, response)
    query = expectation.query
    expected = templating.render(expectation.expected, scope)
    result = ExpectationResult(
        subject=query.describe(),
        operator=expectation.operator,
        expected=expected,
        actual=MISSING,
        passed=False,
        source=expectation.source,
    )
    if expectation.operator == "status":
        result.actual = response.status
        problem = check_status_operand(expected)
        if problem:
            result.reason = problem
        else:
            result.passed = matches_status(response.status, expected)
        return result
    problem = check_operand(expectation.operator, expected)
    if problem:
        result.reason = problem
        return result
    try:
        result.actual = run_query(query.kind, query.argument, response)
    except QueryError as exc:
        result.reason = str(exc)
        return result
    if expectation.operator == "exists":
        result.passed = (result.actual is not MISSING) == expected
    elif result.actual is MISSING:
        result.reason = _NOT_FOUND[query.kind].format(query.argument)
    else:
        try:
            result.passed = OPERATORS[expectation.operator](result.actual, expected)
        except PredicateTypeError as exc:
            result.reason = str(exc)
    return result


def _expect_schema(expectation: Expectation, response: Response) -> ExpectationResult:
    """expect.schema: the JSON body against a schema compiled when the spec loaded; actual is
    the list of violations, each with its JSON path."""
    schema = expectation.expected  # operators.bodyschema.BodySchema
    result = ExpectationResult(
        subject=f"schema {schema.label}",
        operator="schema",
        expected=schema.label,
        actual=MISSING,
        passed=False,
        source=expectation.source,
    )
    try:
        result.actual = schema.violations(response.json())
    except ValueError as exc:  # the body is not JSON, or the schema cannot be applied
        result.reason = str(exc)
        return result
    result.passed = not result.actual
    return result
