"""Runs specs: render → send → capture → expect, step after step. Produces results, prints nothing.

A listener (the console reporter, say) is told as each step finishes, so progress shows live
without the engine knowing how it is shown.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

from . import templating
from .cloudauth import CloudVariables
from .errors import (
    ApirunError,
    ResponseDataError,
    TemplateError,
    TransportError,
    UndefinedVariableError,
)
from .interrupt import Interrupted
from .masking import secrets_in_environment, secrets_in_headers, secrets_in_variables
from .messages import BodyNotJSON, Headers, HttpRequest, Response, SentRequest
from .model import (
    DEFAULT_TIMEOUT,
    Capture,
    Expectation,
    FixtureName,
    Include,
    Item,
    Spec,
    Step,
)
from .operators import MISSING, NOT_FOUND, QUERIES, Mismatch, check_operand, evaluate
from .operators.bodyschema import SCHEMA, BodySchema
from .payloads import OCTET_STREAM, PayloadError, cloud_cert
from .record import Record, record
from .results import (
    FAILING,
    CaptureResult,
    ErrorKind,
    ExpectationResult,
    FileResult,
    Outcome,
    StepError,
    StepResult,
)
from .source import Source
from .urls import join_url
from .wire import Transport, TransportFactory, TransportSettings, network

if TYPE_CHECKING:
    from .interrupt import Stop
    from .selection import Selection


@record
class RunOptions(Record):
    """How to run the specs: variables, timeout, selection, transport, fixtures, listeners."""

    variables: Mapping[str, Any] = field(default_factory=dict)  # --vars-file, then --var
    timeout: float | None = None  # --timeout: beats the file's defaults, not a step's own
    # Keep the bodies of passed steps in the results (memory grows with the run); the
    # listener sees every body either way, as the step finishes.
    keep_passed_bodies: bool = True
    selection: Selection | None = None  # --tag / --step: the steps left out are skipped
    # Each file's transport (runner/wire.py): None is the network; --app is wire.in_process.
    transport: TransportFactory | None = None
    fixtures: tuple[FixtureName, ...] = ()  # 'fixtures:' of apirun.yaml, around every file
    # SIGINT/SIGTERM/SIGHUP (runner/interrupt.py): no step starts once it is requested,
    # the finally steps still run unless it is requested twice.
    stop: Stop | None = None
    # Values already known to be secret (what the setup's run found): masked in every file.
    secrets: frozenset[str] = frozenset()


class Listener(Protocol):
    """Told as a run goes. It may also have ``attempt_started(name, attempt, attempts)``,
    called before each attempt of a step (the console's live line uses it)."""

    def file_started(self, spec: Spec) -> None: ...
    def step_finished(self, file: FileResult, step: StepResult) -> None: ...
    def file_finished(self, file: FileResult) -> None: ...


def not_run(spec: Spec, reason: str, listener: Listener | None) -> FileResult:
    """A file that does not run (its setup failed): every step reported skipped."""
    result = FileResult(spec)
    if listener:
        listener.file_started(spec)
    skip_all(spec, result, listener, reason)
    if listener:
        listener.file_finished(result)
    return result


def skip_all(spec: Spec, result: FileResult, listener: Listener | None, reason: str) -> None:
    """Every step of the file (finally steps too) reported skipped, nothing sent."""
    for step in spec.all_steps():
        skipped = StepResult(step.prefix + step.name, step.source, Outcome.SKIPPED)
        skipped.skip_reason = reason
        result.steps.append(skipped)
        if listener:
            listener.step_finished(result, skipped)


def skipped_file(spec: Spec, result: FileResult, listener: Listener | None, reason: str) -> None:
    """The whole file left out by its own ``skip:`` or ``when:``."""
    result.skip_reason = reason
    skip_all(spec, result, listener, reason)


def run_spec(
    spec: Spec, options: RunOptions | None = None, listener: Listener | None = None
) -> FileResult:
    """Run one spec file: its steps, then its finally steps, over one transport. Never
    raises for what happens in the file: an unexpected exception is the file's error."""
    options = options or RunOptions()
    started = time.perf_counter()
    result = FileResult(spec)
    if listener:
        listener.file_started(spec)
    fixtures = (*options.fixtures, *spec.fixtures)
    try:
        if spec.skip is not None:  # before its fixtures: a skipped file costs nothing
            skipped_file(spec, result, listener, spec.skip)
        elif not fixtures:
            _run_file(spec, options, listener, result)
        else:
            _run_with_fixtures(spec, options, listener, result, fixtures)
    except Exception as exc:  # a bug outside any step: the file's error, not a lost report
        result.error = result.error or internal_file_error(spec, exc)
    result.duration_ms = (time.perf_counter() - started) * 1000.0
    if listener:
        listener.file_finished(result)
    return result


def _run_with_fixtures(
    spec: Spec,
    options: RunOptions,
    listener: Listener | None,
    result: FileResult,
    fixtures: tuple[FixtureName, ...],
) -> None:
    """The file between its fixtures' start and stop (stopped whatever happens, Ctrl-C
    included); a fixture that fails fails the file with its message."""
    from .fixtures import RunningFixtures

    running = RunningFixtures(fixtures)
    problem = running.start()
    if problem is not None:
        kind = ErrorKind.SPEC if problem.spec else ErrorKind.FIXTURE
        if not problem.skip:
            result.error = StepError(kind, problem.message, problem.source)
        reason = problem.message if problem.skip else f"not run: {problem.message}"
        skip_all(spec, result, listener, reason)
        return
    error: BaseException | None = None
    try:
        _run_file(spec, options, listener, result)
    except BaseException as exc:  # Ctrl-C, SIGTERM: the fixtures see it, as under gabbi
        error = exc
        raise
    finally:
        problem = running.stop(error)
        if problem is not None and result.error is None:
            result.error = StepError(ErrorKind.FIXTURE, problem.message, problem.source)


def _run_file(
    spec: Spec, options: RunOptions, listener: Listener | None, result: FileResult
) -> None:
    scope: dict[str, Any] | None
    try:
        scope = initial_scope(spec, options.variables)
    except TemplateError as exc:
        result.error = _spec_error_at(exc, spec)
        scope = None
    # Any secret-looking environment variable, read by the spec or not: `env` reaches them all.
    result.secrets |= secrets_in_environment(os.environ) | options.secrets
    if scope is not None:
        marked = {variable.name for variable in spec.variables if variable.secret}
        result.secrets |= secrets_in_variables(scope, marked=marked)
        try:
            if not file_wanted(spec, scope):
                skipped_file(spec, result, listener, f"when: {spec.when_text} is false")
                return
        except TemplateError as exc:
            result.error = _spec_error_at(exc, spec)
            return
        verify: bool | str
        template = spec.defaults.verify
        if isinstance(template, templating.Dynamic):
            try:
                verify = rendered_verify(spec, templating.render(template, scope))
            except TemplateError as exc:
                result.error = _spec_error_at(exc, spec)
                scope = None
        else:
            verify = template
    cert = spec.defaults.cert
    if scope is not None and cert is None:
        try:
            cert = cloud_cert(scope.get("os"))
        except PayloadError as exc:
            result.error = StepError(ErrorKind.SPEC, str(exc), spec_source(spec))
            scope = None
    transport = None
    if scope is not None:
        result.verify, result.cert = verify, cert
        settings = TransportSettings(verify, spec.defaults.max_body_mb, cert, _base(spec, scope))
        try:
            transport = (options.transport or network)(settings)
        except ApirunError as exc:  # an --app that cannot be made, say
            result.error = StepError(ErrorKind.SPEC, str(exc), spec_source(spec))
    if scope is not None and transport is not None:
        try:
            run = _FileRun(spec, options, listener, transport, result, scope)
            run.items(spec.steps)
            run.items(spec.finally_steps, cleanup=True)
        finally:
            transport.close()


def file_wanted(spec: Spec, scope: Mapping[str, Any]) -> bool:
    """The file's ``when:`` (true when it has none); raises TemplateError."""
    if spec.when is None or isinstance(spec.when, bool):
        return spec.when is not False
    return bool(templating.render(spec.when, scope))


def _base(spec: Spec, scope: Mapping[str, Any]) -> str | None:
    """The file's base_url for its transport; one that does not render is the first
    step's to report."""
    try:
        return templating.render_text(spec.base_url, scope) if spec.base_url else None
    except TemplateError:
        return None


def rendered_verify(spec: Spec, value: Any) -> bool | str:
    """A templated ``verify`` after rendering: a boolean, or a CA bundle that must exist
    (relative to the spec file); empty means the default, true."""
    if isinstance(value, bool):
        return value
    text = templating.to_text(value).strip()
    if text.lower() in ("", "true"):
        return True
    if text.lower() == "false":
        return False
    path = Path(spec.path).parent / Path(text).expanduser()
    if not path.exists():
        template = spec.defaults.verify
        source = (
            template.source if isinstance(template, templating.Expr | templating.Text) else None
        )
        raise TemplateError(f"no CA bundle {text} (looked for {path})", source)
    return str(path)


def _spec_error_at(exc: TemplateError, spec: Spec) -> StepError:
    undefined = isinstance(exc, UndefinedVariableError)
    return StepError(ErrorKind.SPEC, exc.message, exc.source or spec_source(spec), undefined)


def spec_source(spec: Spec) -> Source:
    return Source(spec.path, 1)


def initial_scope(spec: Spec, given: Mapping[str, Any]) -> dict[str, Any]:
    """The file's vars (rendered in order), overridden by --vars-file and --var."""
    scope: dict[str, Any] = {"env": templating.ENV_VARIABLES, "os": {}, **given}
    for variable in spec.variables:
        if variable.name not in given:
            scope[variable.name] = templating.render(variable.value, scope)
    return scope


class ResponseView(templating.ResponseReader):
    """``response`` in templates: the last response, read-only."""

    __slots__ = ("_response", "_headers")

    def __init__(self, response: Response):
        self._response = response
        self._headers: dict[str, str] | None = None

    @property
    def status(self) -> int:
        return self._response.status

    @property
    def reason(self) -> str:
        return self._response.reason

    @property
    def url(self) -> str:
        return self._response.url

    @property
    def headers(self) -> dict[str, str]:
        """Lower-case names: ``response.headers['x-subject-token']``."""
        if self._headers is None:
            self._headers = self._response.headers.as_dict()
        return self._headers

    @property
    def text(self) -> str:
        return self._response.text

    @property
    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return self._response.json()
        except BodyNotJSON:
            return None

    @property
    def elapsed_ms(self) -> float:
        return self._response.elapsed_ms

    def locate(self, container: Any, name: Any, text: str) -> str | None:
        """Where a failed lookup was made, when it was made inside this response."""
        if self._headers is not None and container is self._headers:
            return f"the response has no header {name!r}"
        try:
            body = self._response.json()
        except BodyNotJSON as exc:
            if container is None and "response.json" in text:
                return f"{exc}: it has no {name!r}"
            return None
        path = _path_to(body, container)
        if path is None:
            return None
        inside = f"{path}[{name}]" if isinstance(name, int) else _json_path(path, str(name))
        return f"the response has nothing at {inside}"

    def __repr__(self) -> str:
        return f"<response {self._response.status}>"


def _path_to(document: Any, target: Any, limit: int = 100_000) -> str | None:
    """The JSONPath of ``target`` (by identity) inside a parsed JSON document, if it is there."""
    pending: list[tuple[Any, str]] = [(document, "$")]
    while pending and limit > 0:
        limit -= 1
        node, path = pending.pop()
        if node is target:
            return path
        if isinstance(node, dict):
            pending += [(value, _json_path(path, str(key))) for key, value in node.items()]
        elif isinstance(node, list):
            pending += [(value, f"{path}[{i}]") for i, value in enumerate(node)]
    return None


def _json_path(path: str, key: str) -> str:
    if key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{key!r}]"


class _FileRun:
    """The state of one file's run: its scope, its session, and whether it has stopped."""

    def __init__(
        self,
        spec: Spec,
        options: RunOptions,
        listener: Listener | None,
        transport: Transport,
        result: FileResult,
        scope: dict[str, Any],
    ):
        self.spec = spec
        self.options = options
        self.listener = listener
        # Optional: told before each attempt, so a terminal can show a live line.
        self.on_attempt = getattr(listener, "attempt_started", None)
        self.transport = transport
        self.result = result
        self.scope = scope
        self.stopped_by: str | None = None
        self.last_passed: Response | None = None
        # --tag / --step: the steps left out, by reported name, with the reason.
        self.left_out = options.selection.skipped(spec) if options.selection else {}

    def items(self, items: tuple[Item, ...], cleanup: bool = False) -> None:
        """Run steps in order. In cleanup (``finally``) every step runs, whatever failed."""
        for item in items:
            if isinstance(item, Include):
                if self.stopped_by is None or cleanup:
                    self._enter(item, cleanup)
                else:
                    self.items(item.steps, cleanup)  # reported as skipped, step by step
            elif item.prefix + item.name in self.left_out:
                reason = self.left_out[item.prefix + item.name]
                self.record(item, self._skipped(item, reason), cleanup)
            elif (interrupted := self.interruption(cleanup)) is not None:
                self.record(item, self._skipped(item, interrupted), cleanup)
            elif self.stopped_by is not None and not cleanup:
                self.record(item, self._skipped(item, f"step '{self.stopped_by}' failed"))
            else:
                try:
                    self.step(item, cleanup)
                except Exception as exc:  # a bug: this step's error, and the run goes on
                    self.record(item, internal_error(item, exc), cleanup)

    def interruption(self, cleanup: bool) -> str | None:
        """Why no more steps start: a stop signal (a second one for the finally steps)."""
        stop = self.options.stop
        if stop is None or not stop.requested:
            return None
        if not cleanup:
            return f"not run: interrupted by {stop.signal_name}"
        if stop.skip_cleanup:
            return f"not run: a second {stop.signal_name} skipped the finally steps"
        return None

    def sleep(self, seconds: float) -> None:
        """A step's delay or retry's wait, cut short by a stop signal."""
        if self.options.stop is not None:
            self.options.stop.wait(seconds)
        elif seconds > 0:
            time.sleep(seconds)

    def _enter(self, include: Include, cleanup: bool) -> None:
        try:
            for variable in include.defaults:  # the included file's vars: defaults only
                if variable.name not in self.scope:
                    self.scope[variable.name] = templating.render(variable.value, self.scope)
            for variable in include.variables:  # the include step's vars: always
                self.scope[variable.name] = templating.render(variable.value, self.scope)
        except TemplateError as exc:
            error = StepResult(include.name, include.source, Outcome.ERROR)
            error.error = StepError(ErrorKind.SPEC, exc.message, exc.source or include.source)
            self.record(None, error, cleanup)
            if not cleanup:
                self.items(include.steps, cleanup)  # now stopped: reported as skipped
            return
        marked = {v.name for v in (*include.defaults, *include.variables) if v.secret}
        self.result.secrets |= secrets_in_variables(self.scope, marked=marked)
        self.items(include.steps, cleanup)

    def _skipped(self, step: Step, reason: str, name: str | None = None) -> StepResult:
        return StepResult(
            name or step.prefix + step.name, step.source, Outcome.SKIPPED, skip_reason=reason
        )

    def record(self, step: Step | None, result: StepResult, cleanup: bool = False) -> None:
        self.result.steps.append(result)
        if self.listener:
            self.listener.step_finished(self.result, result)
        if result.outcome is Outcome.PASSED:
            if not self.options.keep_passed_bodies and result.response is not None:
                # Bounded memory: forget a passed step's body once a newer response has
                # taken its place as ``response`` (templates may still read the latest).
                if self.last_passed is not None:
                    self.last_passed.discard_body()
                self.last_passed = result.response
        elif (
            result.outcome in FAILING
            and self.stopped_by is None
            and not cleanup
            and (step is None or not step.continue_on_failure)
        ):
            self.stopped_by = result.name

    def step(self, step: Step, cleanup: bool) -> None:
        name = step.prefix + step.name
        if step.skip is not None:
            self.record(step, self._skipped(step, step.skip), cleanup)
            return
        # ``when`` is evaluated for each item when it reads item or index (as Ansible does);
        # otherwise once, before the loop, so that it can guard the loop's own expression.
        per_item = step.loop is not None and _reads_item(step.when)
        if step.when is not None and not per_item:
            skipped = self.unless(step, name, cleanup)
            if skipped is not None:
                self.record(step, skipped, cleanup)
                return
        if step.loop is None:
            self.record(step, self.attempts(step, name, cleanup), cleanup)
            return
        try:
            values = self.loop_values(step)
        except TemplateError as exc:
            self.record(step, self._template_problem(step, exc, cleanup, name), cleanup)
            return
        if not values:
            self.record(step, self._skipped(step, "loop over an empty list"), cleanup)
            return
        collected: dict[str, list[Any]] = {capture.name: [] for capture in step.captures}
        for index, value in enumerate(values):
            label = f"{name} [{index}]"
            if self.stopped_by is not None and not cleanup:
                self.record(step, self._skipped(step, f"step '{self.stopped_by}' failed", label))
                continue
            if (interrupted := self.interruption(cleanup)) is not None:
                self.record(step, self._skipped(step, interrupted, label), cleanup)
                continue
            self.scope["item"], self.scope["index"] = value, index
            done = self.unless(step, label, cleanup) if per_item else None
            if done is None:
                done = self.attempts(step, label, cleanup)
            for capture in done.captures:
                if capture.error is None:
                    collected[capture.name].append(capture.value)
            self.record(step, done, cleanup)
        self.scope.pop("item", None)
        self.scope.pop("index", None)
        self.scope.update(collected)  # a loop step's captures: one list per name
        self.result.captured.update(collected)

    def unless(self, step: Step, name: str, cleanup: bool) -> StepResult | None:
        """The result of a step (or iteration) that ``when`` leaves out, or None to run it."""
        try:
            run_it = step.when if isinstance(step.when, bool) else self.evaluate(step.when)
        except TemplateError as exc:
            return self._template_problem(step, exc, cleanup, name)
        if run_it:
            return None
        return self._skipped(step, f"when: {step.when_text} is false", name)

    def loop_values(self, step: Step) -> list[Any]:
        values = templating.render(step.loop, self.scope)
        if isinstance(values, str | bytes | dict) or not hasattr(values, "__iter__"):
            raise TemplateError(
                f"'loop' needs a list, got {type(values).__name__}: {values!r}",
                step.source,
            )
        return list(values)

    def evaluate(self, condition: Any, response: Response | None = None) -> bool:
        scope = (
            self.scope if response is None else {**self.scope, "response": ResponseView(response)}
        )
        return bool(templating.render(condition, scope))

    def _template_problem(
        self, step: Step, exc: TemplateError, cleanup: bool, name: str
    ) -> StepResult:
        """In finally, a step needing what was never captured is skipped, not an error."""
        if cleanup and isinstance(exc, UndefinedVariableError):
            return self._skipped(step, f"not run: {exc.message}", name)
        result = StepResult(name, step.source, Outcome.ERROR)
        result.error = _spec_error(exc, step)
        return result

    def attempts(self, step: Step, name: str, cleanup: bool) -> StepResult:
        """Run the step, again and again with retry: until it passes (or ``until`` holds);
        then, for a step marked ``xfail``, its failure is expected and its passing is not."""
        result = self._attempts(step, name, cleanup)
        if step.xfail is not None:
            expected_failure(result, step.xfail)
        return result

    def _attempts(self, step: Step, name: str, cleanup: bool) -> StepResult:
        retry = step.retry
        total = retry.times if retry else 1
        if self.on_attempt is not None:
            self.on_attempt(name, 1, total)
        if step.delay:
            self.sleep(step.delay)
        started = time.perf_counter()
        wait = retry.delay if retry else 0.0
        for attempt in range(1, total + 1):
            if attempt > 1 and self.on_attempt is not None:
                self.on_attempt(name, attempt, total)
            result = run_step(
                self.spec, step, self.scope, self.options, self.transport, self.result.secrets
            )
            result.name = name
            result.attempts = attempt
            if result.error is not None and result.error.kind is ErrorKind.SPEC:
                if cleanup and result.error.undefined:
                    return self._skipped(step, f"not run: {result.error.message}", name)
                return result  # a template problem: trying again cannot help
            try:
                done = self._done(step, result)
            except TemplateError as exc:  # an ``until`` that cannot be evaluated: say why, now
                result.outcome = Outcome.ERROR
                result.error = _spec_error(exc, step, ErrorKind.RESPONSE)
                done = True
            if done or attempt == total or self.interruption(cleanup) is not None:
                break
            self.sleep(wait)
            wait *= retry.backoff if retry else 1.0
        if retry is not None and retry.until is not None and not done:
            result.outcome = Outcome.FAILED
            result.expectations.append(
                ExpectationResult(
                    subject="retry",
                    operator="until",
                    expected=str(retry.until.text if hasattr(retry.until, "text") else retry.until),
                    actual=False,
                    passed=False,
                    source=retry.source or step.source,
                    reason=f"still false after {result.attempts} attempts",
                )
            )
        result.duration_ms = (time.perf_counter() - started) * 1000.0  # all attempts
        for capture in result.captures:
            if capture.error is None:
                self.result.captured[capture.name] = capture.value
        if result.response is not None:
            self.scope["response"] = ResponseView(result.response)
        return result

    def _done(self, step: Step, result: StepResult) -> bool:
        """Whether to stop trying; raises TemplateError when ``until`` cannot be evaluated."""
        if step.retry is not None and step.retry.until is not None:
            if result.response is None or isinstance(step.retry.until, bool):
                return bool(step.retry.until) and result.response is not None
            return self.evaluate(step.retry.until, result.response)
        return result.outcome is Outcome.PASSED


def expected_failure(result: StepResult, reason: str) -> None:
    """A step marked ``xfail``: failed is XFAIL, passed is XPASS. What the server or the
    run's data caused counts as the expected failure (a check, a capture, the transport, a
    response without what a template read, a variable an earlier step did not capture);
    a template wrong whatever the server says, an interruption or a bug in apirun does not."""
    error = result.error
    if result.outcome is Outcome.PASSED:
        result.outcome = Outcome.XPASS
    elif result.outcome is Outcome.FAILED or (
        result.outcome is Outcome.ERROR
        and error is not None
        and (
            error.kind in (ErrorKind.TRANSPORT, ErrorKind.RESPONSE)
            or (error.kind is ErrorKind.SPEC and error.undefined)
        )
    ):
        result.outcome = Outcome.XFAIL
    else:
        return
    result.xfail_reason = reason


def internal_error(step: Step, exc: Exception) -> StepResult:
    """An exception nobody expected, as the step's error: one line, and the run goes on."""
    text = " ".join(str(exc).split())[:300]
    message = f"internal error: {type(exc).__name__}: {text} (a bug in apirun: please report it)"
    result = StepResult(step.prefix + step.name, step.source, Outcome.ERROR)
    result.error = StepError(ErrorKind.INTERNAL, message, step.source)
    return result


def internal_file_error(spec: Spec, exc: Exception) -> StepError:
    """The same, for a file that could not start."""
    text = " ".join(str(exc).split())[:300]
    message = f"internal error: {type(exc).__name__}: {text} (a bug in apirun: please report it)"
    return StepError(ErrorKind.INTERNAL, message, spec_source(spec))


def _reads_item(condition: Any) -> bool:
    return bool(templating.referenced_names(condition) & {"item", "index"})


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
    result = StepResult(step.prefix + step.name, step.source, Outcome.PASSED)
    try:
        request = render_request(spec, step, scope, options)
    except TemplateError as exc:
        result.outcome = Outcome.ERROR
        result.error = _spec_error(exc, step)
        return _finish(result, started)
    secrets |= secrets_in_headers(request.headers)
    cloud = scope.get("os")
    if isinstance(cloud, CloudVariables):
        secrets |= cloud.secrets
    try:
        with options.stop.sending() if options.stop else nullcontext():
            result.request, response = transport.send(request)
            if response.status == 401 and isinstance(cloud, CloudVariables):
                # The cloud's token was refused (expired, revoked): a new one, and once
                # more, as keystoneauth's session does.
                refused = cloud.token_in(request.headers)
                if refused is not None and cloud.reauthenticate(refused):
                    request = render_request(spec, step, scope, options)
                    secrets |= cloud.secrets
                    result.request, response = transport.send(request)
                    result.reauthenticated = True
    except TemplateError as exc:
        result.outcome = Outcome.ERROR
        result.error = _spec_error(exc, step)
        return _finish(result, started)
    except TransportError as exc:
        result.request = _as_sent(request)
        result.outcome = Outcome.ERROR
        result.error = StepError(ErrorKind.TRANSPORT, exc.message, step.source)
        return _finish(result, started)
    except Interrupted as exc:
        result.request = _as_sent(request)
        result.outcome = Outcome.ERROR
        message = f"interrupted by {exc}: the request was cut before its response"
        result.error = StepError(ErrorKind.INTERRUPTED, message, step.source)
        return _finish(result, started)
    result.response = response
    secrets |= secrets_in_headers(response.headers)
    try:
        view = ResponseView(response)
        local = {**scope, "response": view}
        captured = _capture(step.captures, response, local, result)
        marked = {capture.name for capture in step.captures if capture.secret}
        secrets |= secrets_in_variables(captured, marked=marked)
        # The checks see the variables as they were before this step: a re-captured name
        # (gen: {gt: "{{ gen }}"}) compares the new value with the old one.
        result.expectations = [_expect(e, response, local) for e in step.expectations]
    except TemplateError as exc:
        result.outcome = Outcome.ERROR
        result.error = _spec_error(exc, step)
        return _finish(result, started)
    scope.update(captured)
    if result.failed_expectations or result.failed_captures:
        result.outcome = Outcome.FAILED
    return _finish(result, started)


def _spec_error(exc: TemplateError, step: Step, otherwise: ErrorKind = ErrorKind.SPEC) -> StepError:
    """A template that failed: a spec error, unless the run's data was missing what it read
    (or, for ``until``, the expression failed on the response: ``otherwise``)."""
    undefined = isinstance(exc, UndefinedVariableError)
    if isinstance(exc, ResponseDataError):
        kind = ErrorKind.RESPONSE
    else:
        kind = ErrorKind.SPEC if undefined else otherwise
    return StepError(kind, exc.message, exc.source or step.source, undefined)


def _finish(result: StepResult, started: float) -> StepResult:
    result.duration_ms = (time.perf_counter() - started) * 1000.0
    return result


# -- rendering ---------------------------------------------------------------------------------


def render_request(
    spec: Spec, step: Step, scope: Mapping[str, Any], options: RunOptions
) -> HttpRequest:
    spec_request = step.request
    base_url = step.base_url if step.base_url is not None else spec.base_url
    base = templating.render_text(base_url, scope) if base_url is not None else None
    url = templating.render_text(spec_request.url, scope)
    try:
        url = join_url(base, url)
    except ValueError as exc:
        raise TemplateError(str(exc), spec_request.source) from None
    headers: dict[str, str] = {}
    lower: dict[str, str] = {}
    for source, optional in ((spec.defaults.headers, True), (spec_request.headers, False)):
        for key, value in _header_items(source):
            try:
                name = templating.render_text(key, scope)
                text = None if value is None else templating.render_text(value, scope)
            except TemplateError as exc:
                # A default header waiting for a capture (X-Auth-Token: "{{ token }}") is
                # left out until the variable exists: the login step itself runs without it.
                if optional and isinstance(exc, UndefinedVariableError):
                    continue
                raise
            previous = lower.pop(name.lower(), None)
            if previous is not None:
                del headers[previous]
            if text is not None:  # X-Auth-Token: null leaves the default header out
                headers[name] = text
                lower[name.lower()] = name
    request = HttpRequest(
        method=templating.render_text(spec_request.method, scope).upper(),
        url=url,
        params=_pairs(templating.render(spec_request.params, scope)),
        headers=headers,
        timeout=spec_request.timeout or options.timeout or spec.defaults.timeout or DEFAULT_TIMEOUT,
        follow_redirects=spec_request.follow_redirects,
    )
    if spec_request.cert is not None or spec_request.files:
        request = replace(request, cert=spec_request.cert, files=spec_request.files)
    kind = spec_request.body_kind
    if kind is None:
        return request
    if kind == "file":  # streamed from disk by the transport
        path = str(spec_request.body)  # the loader resolved it against the spec's folder
        return replace(request, file=path, headers=_binary(headers, spec_request))
    body = templating.render(spec_request.body, scope)
    if kind == "json" and body is None:  # requests sends nothing for json=None; null it is
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
        return replace(request, data=b"null", headers=headers)
    if kind == "json":
        return replace(request, json=body, has_json=True)
    if kind == "data":
        if isinstance(body, bytes):  # "{{ blob | b64decode }}": sent as it is
            return replace(request, data=body, headers=_binary(headers, spec_request))
        return replace(request, data=templating.render_text(body, scope).encode("utf-8"))
    return replace(request, form=_pairs(body))


def _binary(headers: dict[str, str], spec_request: Any) -> dict[str, str]:
    """A binary body is application/octet-stream unless the step itself says otherwise
    (a Content-Type of defaults.headers, meant for JSON, does not apply)."""
    if any(str(name).lower() == "content-type" for name, _ in _header_items(spec_request.headers)):
        return headers
    kept = {name: value for name, value in headers.items() if name.lower() != "content-type"}
    return {**kept, "Content-Type": OCTET_STREAM}


def _header_items(headers: Any) -> Iterable[tuple[Any, Any]]:
    """A headers mapping as prepared by the loader (plain, or with templates inside)."""
    if headers is None:
        return ()
    if isinstance(headers, templating.DynDict):
        return headers.items
    return headers.items()


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


# -- captures and expectations: driven by the registry (runner/operators) ---------------------


def _capture(
    captures: Iterable[Capture], response: Response, scope: Mapping[str, Any], result: StepResult
) -> dict[str, Any]:
    captured: dict[str, Any] = {}
    for capture in captures:
        query = capture.query
        kind = QUERIES[query.kind]
        argument = (
            templating.render_text(query.argument, {**scope, **captured})
            if query.argument is not None
            else None
        )
        item = CaptureResult(capture.name, capture.source)
        value = kind.read(argument, response)
        if value is MISSING:
            item.error = kind.missing.format(argument)
        elif isinstance(value, Mismatch):
            item.error = value.reason
        else:
            item.value = value
            captured[capture.name] = value
        result.captures.append(item)
    return captured


def _expect(
    expectation: Expectation, response: Response, scope: Mapping[str, Any]
) -> ExpectationResult:
    if expectation.operator == SCHEMA:
        return _expect_schema(expectation, response)
    query = expectation.query
    kind = QUERIES[query.kind]
    expected = templating.render(expectation.expected, scope)
    argument = query.argument
    if argument is not None and not isinstance(argument, str):
        argument = templating.render_text(argument, scope)  # a templated JSONPath, say
    result = ExpectationResult(
        subject=kind.describe(argument),
        operator=expectation.operator,
        expected=expected,
        actual=MISSING,
        passed=False,
        source=expectation.source,
        query=query.kind,
    )
    problem = check_operand(expectation.operator, expected)
    if problem:
        result.reason = problem
        return result
    actual = kind.read(argument, response)
    if isinstance(actual, Mismatch):
        result.reason = actual.reason
        return result
    result.actual = actual
    verdict = evaluate(expectation.operator, actual, expected)
    if verdict is NOT_FOUND:
        result.reason = kind.missing.format(argument)
    elif isinstance(verdict, Mismatch):
        result.reason = verdict.reason
    else:
        result.passed = verdict
    return result


def _expect_schema(expectation: Expectation, response: Response) -> ExpectationResult:
    """expect.schema: the JSON body against a schema compiled when the spec loaded; actual is
    the list of violations, each with its JSON path."""
    schema = expectation.expected
    if not isinstance(schema, BodySchema):  # the loader compiles every expect.schema
        raise TypeError(f"expect.schema holds {type(schema).__name__}, not a compiled schema")
    result = ExpectationResult(
        subject=f"{SCHEMA} {schema.label}",
        operator=SCHEMA,
        expected=schema.label,
        actual=MISSING,
        passed=False,
        source=expectation.source,
        query=expectation.query.kind,
    )
    try:
        result.actual = schema.violations(response.json())
    except ValueError as exc:  # the body is not JSON, or the schema cannot be applied
        result.reason = str(exc)
        return result
    result.passed = not result.actual
    return result
