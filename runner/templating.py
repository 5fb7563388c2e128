"""Jinja2 templating for spec values: sandboxed, strict about undefined names, typed when it can be.

A string that is exactly one ``{{ expression }}`` keeps the value's type (a number stays a
number in a JSON body); any other string with template syntax renders to text; a string
without template syntax never touches Jinja. Templates are compiled once per distinct source.
"""

from __future__ import annotations

import base64
import difflib
import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import Diagnostic, TemplateError
from .source import Source

Scope = Mapping[str, Any]

_EXPRESSION = re.compile(r"\A\{\{(?P<code>(?:(?!\{\{|\}\}).)*)\}\}\Z", re.DOTALL)
_UNDEFINED_NAME = re.compile(r"'([A-Za-z_][A-Za-z0-9_]*)' is undefined")


class EnvironmentVariables:
    """``env.NAME`` in templates: reads one variable by name, and cannot list them all."""

    __slots__ = ()

    def __getitem__(self, name: str) -> str:
        return os.environ[name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in os.environ

    def __repr__(self) -> str:
        return "<environment variables>"


def _b64encode(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode("ascii")


def _make_environment() -> jinja2.Environment:
    env = ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        cache_size=0,  # we cache compiled templates ourselves, by source text
    )
    env.globals["uuid"] = lambda: uuid.uuid4().hex
    env.filters["b64encode"] = _b64encode
    return env


ENVIRONMENT = _make_environment()
ENV_VARIABLES = EnvironmentVariables()
_compiled_expressions: dict[str, Callable[..., Any]] = {}
_compiled_templates: dict[str, jinja2.Template] = {}


@dataclass(frozen=True, slots=True)
class Expr:
    """A string that is exactly one ``{{ expression }}``: renders to the value, typed."""

    text: str
    code: str
    source: Source


@dataclass(frozen=True, slots=True)
class Text:
    """A string with template syntax in it: renders to a string."""

    text: str
    source: Source


@dataclass(frozen=True, slots=True)
class DynDict:
    """A mapping with at least one template inside. Keys are never templated."""

    items: tuple[tuple[Any, Any], ...]


@dataclass(frozen=True, slots=True)
class DynList:
    """A list with at least one template inside."""

    items: tuple[Any, ...]


Dynamic = Expr | Text | DynDict | DynList


def has_template_syntax(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text


def compile_string(text: str, source: Source) -> str | Expr | Text:
    """Check a string's template syntax once, at load time; plain strings come back as they are.

    Raises TemplateError (with the position inside the spec) on a syntax error.
    """
    if not has_template_syntax(text):
        return text
    match = _EXPRESSION.match(text)
    try:
        if match:
            code = match.group("code")
            _expression(code)
            return Expr(text, code, source)
        _template(text)
        return Text(text, source)
    except TemplateSyntaxError as exc:
        line = source.line + (exc.lineno or 1) - 1
        raise TemplateError(
            f"template syntax error: {exc.message}", Source(source.file, line, source.column)
        ) from None


def _expression(code: str) -> Callable[..., Any]:
    compiled = _compiled_expressions.get(code)
    if compiled is None:
        compiled = ENVIRONMENT.compile_expression(code, undefined_to_none=False)
        _compiled_expressions[code] = compiled
    return compiled


def _template(text: str) -> jinja2.Template:
    compiled = _compiled_templates.get(text)
    if compiled is None:
        compiled = ENVIRONMENT.from_string(text)
        _compiled_templates[text] = compiled
    return compiled


def render(value: Any, scope: Scope) -> Any:
    """Render a value prepared by the loader; values without templates are returned as they are."""
    if isinstance(value, Expr):
        return _render_expression(value, scope)
    if isinstance(value, Text):
        return _render_text(value, scope)
    if isinstance(value, DynDict):
        return {key: render(item, scope) for key, item in value.items}
    if isinstance(value, DynList):
        return [render(item, scope) for item in value.items]
    return value


def render_text(value: Any, scope: Scope) -> str:
    """Render where only text makes sense (URLs, header values): typed results become strings."""
    rendered = render(value, scope)
    return rendered if isinstance(rendered, str) else _to_text(rendered)


def _to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _render_expression(value: Expr, scope: Scope) -> Any:
    try:
        result = _expression(value.code)(**scope)
        if isinstance(result, jinja2.Undefined):
            result._fail_with_undefined_error()
        return result
    except Exception as exc:  # every template failure becomes one message with its position
        raise _template_error(exc, value, scope) from None


def _render_text(value: Text, scope: Scope) -> str:
    try:
        return _template(value.text).render(scope)
    except Exception as exc:
        raise _template_error(exc, value, scope) from None


def _template_error(exc: Exception, value: Expr | Text, scope: Scope) -> TemplateError:
    if isinstance(exc, UndefinedError):
        message = f"undefined variable: {exc.message}"
        name = _UNDEFINED_NAME.search(exc.message or "")
        if name:
            close = difflib.get_close_matches(name.group(1), list(scope), n=1)
            if close:
                message += f" (did you mean '{close[0]}'?)"
    elif isinstance(exc, SecurityError):
        message = f"unsafe template refused: {exc}"
    else:
        message = f"template error: {type(exc).__name__}: {exc}"
    return TemplateError(f"{message} in {value.text!r}", value.source)


def template_diagnostic(error: TemplateError, step: str | None) -> Diagnostic:
    assert error.source is not None
    return Diagnostic(error.message, error.source, step)
