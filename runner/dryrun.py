"""``apirun run --dry-run``: every request of every file, rendered in order, nothing sent.

The walk follows the engine's order (setup, then the files; includes in place; finally
steps last). What only a response could give (a capture, ``response``) is an ``Unknown``
(runner/unknown.py). Producing the plan is pure; printing it is report/plan.py's job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlencode

from . import templating
from .engine import RunOptions, file_wanted, initial_scope, render_request, rendered_verify
from .errors import TemplateError
from .masking import secrets_in_headers, secrets_in_variables
from .messages import Headers, HttpRequest, SentRequest
from .model import Include, Item, Spec, Step
from .source import Source
from .unknown import QUOTED_UNKNOWN, UNKNOWN_TEXT, Unknown


@dataclass(slots=True)
class PlannedStep:
    """One request as it would be sent, or why it would not be."""

    name: str
    source: Source
    request: SentRequest | None = None
    verify: bool | str = True
    notes: list[str] = field(default_factory=list)  # when:, retry:, loop over an unknown
    skipped: str | None = None  # the reason, when it certainly would not run
    error: TemplateError | None = None  # the spec is wrong: it cannot be rendered


@dataclass(slots=True)
class PlannedFile:
    spec: Spec
    steps: list[PlannedStep] = field(default_factory=list)
    error: TemplateError | None = None  # the file's vars cannot be rendered
    secrets: set[str] = field(default_factory=set)

    @property
    def problems(self) -> int:
        return (self.error is not None) + sum(step.error is not None for step in self.steps)


def plan_files(
    specs: list[Spec], options: RunOptions | None = None, setup: Spec | None = None
) -> list[PlannedFile]:
    """The plan of a run: the setup's requests, then each file's (its captures unknown)."""
    options = options or RunOptions()
    planned: list[PlannedFile] = []
    if setup is not None:
        setup_options = RunOptions(options.variables, options.timeout)
        done = plan_file(setup, setup_options)
        planned.append(done)
        unknown = _captures_of(setup)
        options = RunOptions(
            {**options.variables, **unknown}, options.timeout, selection=options.selection
        )
    planned += [plan_file(spec, options) for spec in specs]
    return planned


def plan_file(spec: Spec, options: RunOptions) -> PlannedFile:
    result = PlannedFile(spec)
    if spec.skip is not None:
        return _all_skipped(result, spec.skip)
    try:
        scope = initial_scope(spec, options.variables)
        when = spec.when
        if when is not None and not isinstance(when, bool) and _unknown(scope, when):
            when = None  # decided when it runs: the plan shows the requests
        if when is not None and not file_wanted(spec, scope):
            return _all_skipped(result, f"when: {spec.when_text} is false")
        verify = spec.defaults.verify
        if isinstance(verify, templating.Dynamic):
            verify = rendered_verify(spec, templating.render(verify, scope))
    except TemplateError as exc:
        result.error = exc
        return result
    result.secrets |= _known(secrets_in_variables(scope))
    left_out = options.selection.skipped(spec) if options.selection else {}
    walker = _Walk(spec, options, scope, result, verify, left_out)
    walker.items(spec.steps)
    walker.items(spec.finally_steps)
    return result


def _all_skipped(result: PlannedFile, reason: str) -> PlannedFile:
    result.steps = [
        PlannedStep(step.prefix + step.name, step.source, skipped=reason)
        for step in result.spec.all_steps()
    ]
    return result


def _unknown(scope: Mapping[str, Any], value: Any) -> bool:
    """Whether a template reads what only a response could give (a setup's capture)."""
    return any(isinstance(scope.get(name), Unknown) for name in templating.referenced_names(value))


def _captures_of(spec: Spec) -> dict[str, Unknown]:
    return {
        capture.name: Unknown(f"capture {capture.name}", step.prefix + step.name)
        for step in spec.all_steps()
        for capture in step.captures
    }


class _Walk:
    def __init__(
        self,
        spec: Spec,
        options: RunOptions,
        scope: dict[str, Any],
        result: PlannedFile,
        verify: bool | str,
        left_out: Mapping[str, str],
    ):
        self.spec, self.options, self.scope = spec, options, scope
        self.result, self.verify, self.left_out = result, verify, left_out

    def items(self, items: tuple[Item, ...]) -> None:
        for item in items:
            if isinstance(item, Include):
                self._enter(item)
            elif item.prefix + item.name not in self.left_out:
                self.step(item)

    def _enter(self, include: Include) -> None:
        try:
            for variable in include.defaults:
                if variable.name not in self.scope:
                    self.scope[variable.name] = templating.render(variable.value, self.scope)
            for variable in include.variables:
                self.scope[variable.name] = templating.render(variable.value, self.scope)
        except TemplateError as exc:
            self.result.steps.append(PlannedStep(include.name, include.source, error=exc))
            return
        self.result.secrets |= _known(secrets_in_variables(self.scope))
        self.items(include.steps)

    def _unknown_in(self, value: Any) -> bool:
        return _unknown(self.scope, value)

    def step(self, step: Step) -> None:
        name = step.prefix + step.name
        notes: list[str] = []
        if step.skip is not None:
            self._skip(step, name, step.skip)
            return
        if step.xfail is not None:
            notes.append("xfail: expected to fail" + (f" ({step.xfail})" if step.xfail else ""))
        try:
            if step.when is not None and not isinstance(step.when, bool):
                if self._unknown_in(step.when):
                    notes.append(f"when: {step.when_text} (decided when it runs)")
                elif not templating.render(step.when, self.scope):
                    self._skip(step, name, f"when: {step.when_text} is false")
                    return
            elif step.when is False:
                self._skip(step, name, "when: false")
                return
            values: list[Any] | None = None
            if step.loop is not None:
                looped = templating.render(step.loop, self.scope)
                if isinstance(looped, Unknown):
                    notes.append(f"once per item of {looped}")
                    values = list(looped)
                elif isinstance(looped, str | bytes | dict) or not hasattr(looped, "__iter__"):
                    raise TemplateError(
                        f"'loop' needs a list, got {type(looped).__name__}: {looped!r}",
                        step.source,
                    )
                else:
                    values = list(looped)
        except TemplateError as exc:
            self.result.steps.append(PlannedStep(name, step.source, error=exc))
            return
        if step.retry is not None:
            notes.append(f"retry: up to {step.retry.times} attempts")
        if values is None:
            self._render(step, name, notes)
        elif not values:
            self._skip(step, name, "loop over an empty list")
        for index, value in enumerate(values or ()):
            self.scope["item"], self.scope["index"] = value, index
            self._render(step, f"{name} [{index}]", notes)
        if values is not None:
            self.scope.pop("item", None)
            self.scope.pop("index", None)
        for capture in step.captures:
            self.scope[capture.name] = Unknown(f"capture {capture.name}", name)
        self.scope["response"] = Unknown("response", name)

    def _skip(self, step: Step, name: str, reason: str) -> None:
        self.result.steps.append(PlannedStep(name, step.source, skipped=reason))

    def _render(self, step: Step, name: str, notes: list[str]) -> None:
        planned = PlannedStep(name, step.source, verify=self.verify, notes=list(notes))
        try:
            request = render_request(self.spec, step, self.scope, self.options)
            self.result.secrets |= _known(secrets_in_headers(request.headers))
            planned.request = as_sent(request, step.request.url_source)
        except TemplateError as exc:
            planned.error = exc
        self.result.steps.append(planned)


def _known(secrets: set[str]) -> set[str]:
    """Secret values, less the unknowns: those say where a value will come from, no more."""
    return {value for value in secrets if not UNKNOWN_TEXT.search(value)}


def as_sent(request: HttpRequest, source: Source) -> SentRequest:
    """The request as the transport would put it on the wire (body encoded, headers added).

    A URL whose host is unknown cannot be prepared: it is shown as rendered, with its body.
    """
    from .transport import preview

    try:
        sent = preview(request)
    except ValueError as exc:  # requests' InvalidURL and friends are ValueErrors
        if not UNKNOWN_TEXT.search(request.url):
            raise TemplateError(f"invalid URL {request.url!r}: {exc}", source) from None
        return _unprepared(request)
    url = QUOTED_UNKNOWN.sub(lambda match: unquote(match.group()), sent.url)
    return replace(sent, url=url)


def _unprepared(request: HttpRequest) -> SentRequest:
    url = request.url
    if request.params:
        url += ("&" if "?" in url else "?") + urlencode(request.params)
    headers = dict(request.headers)
    body = request.data
    if request.has_json:
        headers.setdefault("Content-Type", "application/json")
        body = json.dumps(request.json, ensure_ascii=False).encode("utf-8")
    elif request.form is not None:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        body = urlencode(request.form).encode("ascii")
    return SentRequest(request.method, url, Headers(list(headers.items())), body)
