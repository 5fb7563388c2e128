"""Jinja2 templating for spec values: sandboxed, strict about undefined names, typed when it can be.

A string that is exactly one ``{{ expression }}`` keeps the value's type (a number stays a
number in a JSON body); any other string with template syntax renders to text; a string
without template syntax never touches Jinja.

Speed: most templates are plain references (``{{ token }}``, ``{{ user.id }}``). Those are
resolved here directly, with Jinja's lookup rules and messages, and Jinja itself is only
imported and compiled (once per distinct source) for anything more.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ResponseDataError, TemplateError, UndefinedVariableError
from .record import Record, record
from .source import Source

Scope = Mapping[str, Any]

_EXPRESSION = re.compile(r"\A\{\{(?P<code>(?:(?!\{\{|\}\}).)*)\}\}\Z", re.DOTALL)
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_REFERENCE = re.compile(rf"\A\s*({_NAME}(?:\.{_NAME})*)\s*\Z")
_TEXT_PART = re.compile(r"\{\{((?:(?!\{\{|\}\}).)*)\}\}", re.DOTALL)
_UNDEFINED_NAME = re.compile(r"'([A-Za-z_][A-Za-z0-9_]*)' is undefined")
_JINJA_LITERALS = frozenset({"true", "false", "none", "True", "False", "None"})


class EnvironmentVariables:
    """``env.NAME`` in templates: reads one variable by name, and cannot list them all."""

    # A missing name reads as Jinja's undefined, so ``env.NAME | default('x')`` works; the
    # error says which variable is not set (see _template_error).

    __slots__ = ()

    def __getitem__(self, name: str) -> str:
        return os.environ[name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in os.environ

    def __repr__(self) -> str:
        return "<environment variables>"


ENV_VARIABLES = EnvironmentVariables()


def to_text(value: Any) -> str:
    """How a value reads inside text (URLs, headers, bodies): as JSON would write it."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        try:
            return json.dumps(value, ensure_ascii=False, default=_json_default)
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


# -- the prepared forms -----------------------------------------------------------------------


@record
class Expr(Record):
    """A string that is exactly one ``{{ expression }}``: renders to the value, typed."""

    text: str
    code: str
    source: Source
    reference: tuple[str, ...] | None = None  # set when the expression is a plain name.path


@record
class Text(Record):
    """A string with template syntax in it: renders to a string."""

    text: str
    source: Source
    # Literal strings and references, alternating, when every {{ }} is a plain reference.
    parts: tuple[str | tuple[str, ...], ...] | None = None


@record
class DynDict(Record):
    """A mapping with at least one template inside, in a value or in a key (a key renders to
    text: ``{"{{ rp_uuid }}": {...}}``)."""

    items: tuple[tuple[Any, Any], ...]


@record
class DynList(Record):
    """A list with at least one template inside."""

    items: tuple[Any, ...]


Dynamic = Expr | Text | DynDict | DynList


def has_template_syntax(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text


def _reference(code: str) -> tuple[str, ...] | None:
    match = _REFERENCE.match(code)
    if not match:
        return None
    names = tuple(match.group(1).split("."))
    return None if names[0] in _JINJA_LITERALS else names


def _text_parts(text: str) -> tuple[str | tuple[str, ...], ...] | None:
    if "{%" in text or "{#" in text:
        return None
    parts: list[str | tuple[str, ...]] = []
    position = 0
    for match in _TEXT_PART.finditer(text):
        reference = _reference(match.group(1))
        if reference is None:
            return None
        parts.append(text[position : match.start()])
        parts.append(reference)
        position = match.end()
    rest = text[position:]
    if "{{" in rest or "}}" in rest:
        return None  # unbalanced braces: let Jinja report the syntax error
    parts.append(rest)
    return tuple(parts)


def _single_expression(text: str, source: Source) -> str | None:
    """The code of a string that is exactly one ``{{ expression }}``, else None.

    Most are found by a pattern; one with ``{{`` or ``}}`` inside (``{{ {'a': {'b': 1}} }}``)
    is asked of Jinja's parser, which knows where the expression ends.
    """
    match = _EXPRESSION.match(text)
    if match:
        return match.group("code")
    if not (text.startswith("{{") and text.endswith("}}")):
        return None
    from jinja2 import nodes

    tree = _checked(source, lambda: jinja_environment().parse(text))
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    output = tree.body[0].nodes
    if len(output) != 1 or isinstance(output[0], nodes.TemplateData):
        return None
    return text[2:-2]


def compile_string(text: str, source: Source) -> str | Expr | Text:
    """Check a string's template syntax once, at load time; plain strings come back as they are.

    Raises TemplateError (with the position inside the spec) on a syntax error.
    """
    if not has_template_syntax(text):
        return text
    code = _single_expression(text, source)
    if code is not None:
        reference = _reference(code)
        if reference is not None:
            return Expr(text, code, source, reference)
        _checked(source, lambda: _jinja_expression(code))
        _check_names(source, "{{" + code + "}}")
        return Expr(text, code, source)
    parts = _text_parts(text)
    if parts is not None:
        return Text(text, source, parts)
    _checked(source, lambda: _jinja_template(text))
    _check_names(source, text)
    return Text(text, source)


def compile_condition(text: str, source: Source) -> Expr:
    """``when`` and ``until``: an expression, bare (``x == 1``) or in ``{{ }}``; typed result."""
    inner = _single_expression(text.strip(), source)
    code = inner if inner is not None else text
    reference = _reference(code)
    if reference is None:
        _checked(source, lambda: _jinja_expression(code))
        _check_names(source, "{{" + code + "}}")
    return Expr(text, code, source, reference)


def _checked(source: Source, compile_: Callable[[], Any]) -> Any:
    from jinja2.exceptions import TemplateSyntaxError

    try:
        return compile_()
    except TemplateSyntaxError as exc:
        line = source.line + (exc.lineno or 1) - 1
        raise TemplateError(
            f"template syntax error: {exc.message}", Source(source.file, line, source.column)
        ) from None


_NOT_CONSTANT = object()


def _fold(node: Any) -> Any:
    """The value of a constant expression of numbers and strings, computed within the
    limits (so that ``apirun check`` reports ``{{ 'a' * 10**9 }}``), or _NOT_CONSTANT."""
    from jinja2 import nodes

    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.List | nodes.Tuple):  # [1, 2] * 10**8
        items = [_fold(item) for item in node.items]
        if any(item is _NOT_CONSTANT for item in items):
            return _NOT_CONSTANT
        return items if isinstance(node, nodes.List) else tuple(items)
    if isinstance(node, nodes.Neg):
        value = _fold(node.node)
        return -value if isinstance(value, int | float) else _NOT_CONSTANT
    operators = {nodes.Mul: _times, nodes.Pow: _power}
    operator = operators.get(type(node))
    if operator is None:
        return _NOT_CONSTANT
    left, right = _fold(node.left), _fold(node.right)
    if left is _NOT_CONSTANT or right is _NOT_CONSTANT:
        return _NOT_CONSTANT
    try:
        return operator(left, right)
    except (TypeError, ValueError, ArithmeticError):
        return _NOT_CONSTANT


def _check_names(source: Source, text: str) -> None:
    """Every filter and test a template names exists, also inside an ``if`` (where Jinja
    itself waits until the branch runs to say so)."""
    from jinja2 import nodes

    environment = jinja_environment()
    tree = environment.parse(text)
    for node in tree.find_all((nodes.Mul, nodes.Pow)):  # constants: too large already now
        try:
            _fold(node)
        except LimitError as exc:
            line = source.line + (node.lineno or 1) - 1
            raise LimitError(exc.message, Source(source.file, line, source.column)) from None
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        kind, known = (
            ("filter", environment.filters)
            if isinstance(node, nodes.Filter)
            else ("test", environment.tests)
        )
        if node.name not in known:
            import difflib

            close = difflib.get_close_matches(node.name, sorted(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            line = source.line + (node.lineno or 1) - 1
            raise TemplateError(
                f"unknown {kind} '{node.name}'{hint}", Source(source.file, line, source.column)
            )


# -- rendering --------------------------------------------------------------------------------


def render(value: Any, scope: Scope) -> Any:
    """Render a value prepared by the loader; values without templates are returned as they are."""
    if isinstance(value, Expr):
        if value.reference is not None:
            result = _resolve(value.reference, scope, value)
            return _as_value(result, value) if result is ENV_VARIABLES else result
        return _render_expression(value, scope)
    if isinstance(value, Text):
        if value.parts is not None:
            return "".join(
                part if isinstance(part, str) else to_text(_resolve(part, scope, value))
                for part in value.parts
            )
        return _render_text(value, scope)
    if isinstance(value, DynDict):
        return {
            render_text(key, scope) if isinstance(key, Expr | Text) else key: render(item, scope)
            for key, item in value.items
        }
    if isinstance(value, DynList):
        return [render(item, scope) for item in value.items]
    return value


def render_text(value: Any, scope: Scope) -> str:
    """Render where only text makes sense (URLs, header values): typed results become text."""
    return to_text(render(value, scope))


def _resolve(reference: tuple[str, ...], scope: Scope, value: Expr | Text) -> Any:
    """``name.attr.attr`` with Jinja's rules: a mapping's keys, else the object's attributes."""
    name = reference[0]
    if name not in scope:
        raise _undefined(f"'{name}' is undefined", value, scope)
    current = scope[name]
    for attribute in reference[1:]:
        if isinstance(current, dict) and attribute in current and not hasattr(dict, attribute):
            current = current[attribute]
        elif isinstance(current, EnvironmentVariables):
            if attribute not in current:
                raise _not_set(attribute, value)
            current = current[attribute]
        else:
            # Anything unusual (attributes of objects, dict method names): let Jinja decide.
            return _render_expression(Expr(value.text, ".".join(reference), value.source), scope)
    return current


def _render_expression(value: Expr, scope: Scope) -> Any:
    import jinja2

    _iterations.left = MAX_ITERATIONS
    try:
        result = _jinja_expression(value.code)(**scope)
        if isinstance(result, jinja2.Undefined):
            result._fail_with_undefined_error()
        return _as_value(result, value)
    except Exception as exc:  # every template failure becomes one message with its position
        raise _template_error(exc, value, scope) from None


def _as_value(result: Any, value: Expr) -> Any:
    """A typed result that a body can carry: a range is its list; ``env`` is no value."""
    if isinstance(result, range):
        return list(result)
    if isinstance(result, _dt.datetime | _dt.date):  # a JSON body has no dates: ISO 8601
        return result.isoformat()
    if result is ENV_VARIABLES:
        raise TemplateError(
            f"'env' is not a value: read one variable, env.NAME, in {value.text!r}", value.source
        )
    return result


def _render_text(value: Text, scope: Scope) -> str:
    _iterations.left = MAX_ITERATIONS
    try:
        template = _jinja_template(value.text)
        parts, size = [], 0
        # Template.render, with the text counted as it grows: a loop of large pieces
        # ({% for i in range(999999) %}{{ 'a' * 999999 }}{% endfor %}) stops at the limit.
        for part in template.root_render_func(template.new_context(dict(scope))):
            size += len(part)
            if size > MAX_TEXT:
                raise LimitError(
                    f"the template's text grows past the {MAX_TEXT:,} characters a template "
                    "may build"
                )
            parts.append(part)
        return "".join(parts)
    except Exception as exc:
        raise _template_error(exc, value, scope) from None


def _undefined(message: str, value: Expr | Text, scope: Scope) -> UndefinedVariableError:
    text = f"undefined variable: {message}"
    name = _UNDEFINED_NAME.search(message)
    if name:
        import difflib

        close = difflib.get_close_matches(name.group(1), [k for k in scope if k != "env"], n=1)
        if close:
            text += f" (did you mean '{close[0]}'?)"
    return UndefinedVariableError(f"{text} in {value.text!r}", value.source)


def _not_set(name: Any, value: Expr | Text) -> UndefinedVariableError:
    return UndefinedVariableError(
        f"environment variable {name!r} is not set in {value.text!r}", value.source
    )


def _template_error(exc: Exception, value: Expr | Text, scope: Scope) -> TemplateError:
    from jinja2.exceptions import SecurityError, UndefinedError

    if isinstance(exc, _Missing):
        if exc.container is ENV_VARIABLES:
            return _not_set(exc.name, value)
        response = scope.get("response")
        if isinstance(response, ResponseReader) and exc.container is response:
            known = ", ".join(response.attributes)
            return UndefinedVariableError(
                f"'response' has no attribute {exc.name!r} (it has {known}) in {value.text!r}",
                value.source,
            )
        if isinstance(response, ResponseReader) and exc.container is not _NO_CONTAINER:
            where = response.locate(exc.container, exc.name, value.text)
            if where is not None:
                return ResponseDataError(f"{where} in {value.text!r}", value.source)
    if isinstance(exc, UndefinedError):
        return _undefined(exc.message or "undefined", value, scope)
    if isinstance(exc, SecurityError):
        message = f"unsafe template refused: {exc}"
    elif isinstance(exc, MemoryError):
        message = "the template needs more memory than there is (see the limits in docs)"
    elif isinstance(exc, TemplateError):  # raised by our own filters, already readable
        if exc.source is not None:  # already placed (a value that cannot be a value)
            return exc
        return type(exc)(f"{exc.message} in {value.text!r}", value.source)
    else:
        message = f"template error: {type(exc).__name__}: {exc}"
    return TemplateError(f"{message} in {value.text!r}", value.source)


RESPONSE_ATTRIBUTES = ("status", "reason", "url", "headers", "json", "text", "elapsed_ms")


class ResponseReader:
    """What templates see as ``response`` (the engine's ResponseView): it can say where in
    the response a missing value was looked for, so that the step fails naming the path."""

    __slots__ = ()
    attributes: tuple[str, ...] = RESPONSE_ATTRIBUTES

    def locate(self, container: Any, name: Any, text: str) -> str | None:
        """ "the response has no …" for a lookup that failed inside the response, else None."""
        return None


class _Missing(Exception):
    """Jinja's UndefinedError, with the object a lookup failed on and the name looked up."""

    container: Any
    name: Any


_NO_CONTAINER = object()


def _undefined_type() -> type:
    """StrictUndefined whose error carries the container and the name (for the messages of a
    missing environment variable or response field)."""
    from jinja2 import StrictUndefined
    from jinja2.exceptions import UndefinedError
    from jinja2.utils import missing

    class Missing(_Missing, UndefinedError):
        def __init__(self, message: str, container: Any, name: Any):
            super().__init__(message)
            self.container = _NO_CONTAINER if container is missing else container
            self.name = name

    class Undefined(StrictUndefined):
        __slots__ = ()

        def __init__(
            self, hint: str | None = None, obj: Any = missing, name: Any = None, exc: Any = None
        ):
            # Undefined raises ``self._undefined_exception(message)``: here an error that
            # also carries what was looked up where.
            def error(message: str) -> Exception:
                return Missing(message, obj, name)

            if exc is not None and exc is not UndefinedError:  # the sandbox's SecurityError
                error = exc
            # Jinja types exc as an exception class; it only ever calls it with the message.
            super().__init__(hint, obj, name, error)  # type: ignore[arg-type]

    return Undefined


# -- Jinja, loaded on first need ---------------------------------------------------------------

_environment: Any = None
_compiled_expressions: dict[str, Callable[..., Any]] = {}
_compiled_templates: dict[str, Any] = {}


def _b64encode(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode("ascii")


def _b64decode(value: str | bytes) -> bytes:
    """Bytes, for a binary body (``data: "{{ blob | b64decode }}"``); padding may be left out."""
    text = value.decode("ascii") if isinstance(value, bytes) else str(value)
    try:
        return base64.b64decode(text + "=" * (-len(text.strip()) % 4), validate=False)
    except ValueError as exc:
        raise TemplateError(f"b64decode: not base64: {exc}") from None


class Timestamp(_dt.datetime):
    """A datetime that reads as ISO 8601 in text and in a JSON body (``now()``)."""

    def __str__(self) -> str:
        return self.isoformat()


def _now(**offset: float) -> Timestamp:
    """The time now, UTC and timezone-aware; ``now(minutes=-5)`` five minutes ago (any
    keyword of ``timedelta``: days, hours, minutes, seconds...)."""
    try:
        delta = _dt.timedelta(**offset)
    except TypeError as exc:
        raise TemplateError(f"now(): {exc} (use days=, hours=, minutes=, seconds=)") from None
    moment = _dt.datetime.now(_dt.UTC) + delta
    return Timestamp.fromtimestamp(moment.timestamp(), _dt.UTC)


def _strftime(value: Any, format: str) -> str:
    if not isinstance(value, _dt.datetime | _dt.date):
        raise TemplateError(f"strftime: takes a date or time such as now(), got {value!r}")
    return value.strftime(format)


def _digest(name: str) -> Callable[[Any], str]:
    def digest(value: Any) -> str:
        raw = value if isinstance(value, bytes) else to_text(value).encode("utf-8")
        return hashlib.new(name, raw).hexdigest()

    digest.__name__ = name
    return digest


def _tojson(value: Any, indent: int | None = None) -> str:
    """Plain JSON (Jinja's own tojson escapes <, >, & and ' for HTML pages)."""
    try:
        return json.dumps(value, ensure_ascii=False, indent=indent, default=str)
    except (TypeError, ValueError) as exc:
        raise TemplateError(f"tojson: {exc}") from None


def _fromjson(value: Any) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError) as exc:
        raise TemplateError(f"fromjson: not JSON: {exc}") from None


def _urlencode(value: Any) -> str:
    """Percent-encoding for a URL part or a query: a mapping becomes ``a=1&b=2``."""
    from urllib.parse import quote, urlencode

    if isinstance(value, Mapping):
        return urlencode({str(k): to_text(v) for k, v in value.items()})
    return quote(to_text(value), safe="")


def _endpoint(
    catalog: Any, service_type: str, interface: str | None = None, region: str | None = None
) -> str:
    from .openstack import EndpointNotFound, endpoint
    from .unknown import Unknown

    if isinstance(catalog, Unknown):  # a dry run: the catalog comes with a response
        return catalog.derive(f" | endpoint('{service_type}')")
    try:
        return endpoint(catalog, service_type, interface, region)
    except EndpointNotFound as exc:  # the catalog came from a response: the step fails
        raise ResponseDataError(str(exc)) from None


# Bounded work: a spec cannot make a template take unbounded memory or time.
MAX_SIZE = 1_000_000  # items of a string, list or bytes built by repetition ('a' * n)
MAX_DIGITS = 1_000  # digits of an integer power (9 ** 99999999)
MAX_ITERATIONS = 1_000_000  # range() items in one rendering, nested ranges included
MAX_TEXT = 16 * 1024 * 1024  # characters of the text one template renders to


class LimitError(TemplateError):
    """A template would build something too large, or iterate too long."""


def _times(left: Any, right: Any) -> Any:
    for sequence, count in ((left, right), (right, left)):
        repeated = isinstance(sequence, str | bytes | list | tuple) and isinstance(count, int)
        if repeated and len(sequence) * count > MAX_SIZE:
            raise LimitError(
                f"'*' would repeat {len(sequence)} items {count} times, more than the "
                f"{MAX_SIZE:,} a template may build"
            )
    return left * right


def _power(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        import math

        if right * math.log10(abs(left)) > MAX_DIGITS:
            raise LimitError(
                f"{left} ** {right} has more than the {MAX_DIGITS:,} digits a template may compute"
            )
    return left**right


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _width(number: Any, what: str) -> None:
    """A width, precision or count that a format or a padding would fill with characters."""
    if isinstance(number, int) and not isinstance(number, bool) and number > MAX_SIZE:
        raise LimitError(
            f"{what} of {number:,} characters, more than the {MAX_SIZE:,} a template may build"
        )


def _arguments(values: Any) -> list[Any]:
    if isinstance(values, Mapping):
        return list(values.values())
    return list(values) if isinstance(values, tuple | list) else [values]


def _percent(left: Any, right: Any) -> Any:
    """``'%09999999999d' % 1`` builds ten billion characters: widths are bounded."""
    if isinstance(left, str):
        _percent_widths(left, right)
    return left % right


def _format_widths(text: str, args: Any, kwargs: Mapping[str, Any]) -> None:
    """``'{:>999999999}'.format(1)``: the widths of str.format, also nested (``{:{}}``)."""
    import string

    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # str.format says what is wrong with it
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:
            for value in [*_arguments(args), *kwargs.values()]:
                _width(value, "a format width")
        for digits in re.findall(r"\d+", spec):
            _width(int(digits), "a format width")


def _replace_size(text: str, old: str, new: str, count: Any = None) -> None:
    found = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    if len(text) + found * (len(new) - len(old)) > MAX_TEXT:
        raise LimitError(
            f"replace() would build more than the {MAX_TEXT:,} characters a template may build"
        )


_PADDING = frozenset({"center", "ljust", "rjust", "zfill"})


def _check_call(function: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Methods of strings that build from a number or a template: bounded before they run."""
    owner = getattr(function, "__self__", None)
    if not isinstance(owner, str):
        return
    name = getattr(function, "__name__", "")
    if name in _PADDING and args:
        _width(args[0], f"{name}()")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            _width(size * (owner.count("\t") + 1), "expandtabs()")
    elif name == "replace" and len(args) >= 2:
        _replace_size(owner, str(args[0]), str(args[1]), args[2] if len(args) > 2 else None)
    elif name in ("format", "format_map"):
        mapping = args[0] if name == "format_map" and args else kwargs
        _format_widths(owner, args if name == "format" else (), mapping)


def _bounded_filters(filters: dict[str, Any]) -> None:
    """Jinja's filters that pad or repeat, with the same bounds as the methods."""
    from jinja2 import pass_eval_context

    center, indent, replace, format_ = (
        filters["center"],
        filters["indent"],
        filters["replace"],
        filters["format"],
    )

    def bounded_center(value: Any, width: int = 80) -> str:
        _width(width, "center")
        return center(value, width)

    def bounded_indent(value: Any, width: Any = 4, first: bool = False, blank: bool = False) -> str:
        if isinstance(width, int):
            _width(width * (str(value).count("\n") + 1), "indent")
        elif isinstance(width, str):
            _width(len(width) * (str(value).count("\n") + 1), "indent")
        return indent(value, width, first, blank)

    @pass_eval_context
    def bounded_replace(eval_ctx: Any, value: Any, old: Any, new: Any, count: Any = None) -> str:
        _replace_size(str(value), str(old), str(new), count)
        return replace(eval_ctx, value, old, new, count)

    def bounded_format(value: Any, *args: Any, **kwargs: Any) -> str:
        _percent_widths(str(value), kwargs or args)
        return format_(value, *args, **kwargs)

    filters.update(
        center=bounded_center, indent=bounded_indent, replace=bounded_replace, format=bounded_format
    )


def _percent_widths(text: str, values: Any) -> None:
    for match in _PERCENT_SPEC.finditer(text):
        for group in match.groups():
            if group == "*":  # the width comes from the arguments
                for value in _arguments(values):
                    _width(value, "a '%' format width")
            elif group:
                _width(int(group), "a '%' format width")


_BOUNDED_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "*": _times,
    "**": _power,
    "%": _percent,
}
_iterations = threading.local()


def _range(*args: int) -> range:
    """range() that counts its items against the rendering's budget (nested loops too)."""
    numbers = range(*args)
    budget = getattr(_iterations, "left", MAX_ITERATIONS)
    if len(numbers) > budget:
        raise LimitError(
            f"range() of {len(numbers):,} items: a template may iterate {MAX_ITERATIONS:,} "
            "times in all"
        )
    _iterations.left = budget - len(numbers)
    return numbers


def _uuid4() -> Any:
    import uuid  # imported on first use: with it, platform (most specs never ask)

    return uuid.uuid4()


# The helpers templates have beyond Jinja's built-ins: one table, which the sandbox, the
# static check and docs/format.md's "Helpers" table follow.
GLOBALS: dict[str, Callable[..., Any]] = {
    "uuid": lambda: _uuid4().hex,  # 32 hex digits, as documented since 0.1
    "uuid4": lambda: str(_uuid4()),  # the canonical dashed form
    "now": _now,
    "range": _range,
}
FILTERS: dict[str, Callable[..., Any]] = {
    "b64encode": _b64encode,
    "b64decode": _b64decode,
    "sha256": _digest("sha256"),
    "md5": _digest("md5"),
    "urlencode": _urlencode,
    "regex_escape": lambda value: re.escape(to_text(value)),
    "tojson": _tojson,
    "fromjson": _fromjson,
    "strftime": _strftime,
    "endpoint": _endpoint,
}


def _environment_type() -> type:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Bounded(ImmutableSandboxedEnvironment):
        """The sandbox, with ``*`` and ``**`` bounded (and so never folded at compile time:
        Jinja does not fold intercepted operators)."""

        intercepted_binops = frozenset(_BOUNDED_OPERATORS)

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            return _BOUNDED_OPERATORS[operator](left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
            _check_call(__obj, args, kwargs)
            return super().call(__context, __obj, *args, **kwargs)

        def wrap_str_format(self, value: Any) -> Any:
            """Jinja 3.1.5+ wraps ``str.format`` when it is looked up, not when called."""
            wrapped = super().wrap_str_format(value)
            if wrapped is None:
                return None

            def bounded(*args: Any, **kwargs: Any) -> Any:
                _check_call(value, args, kwargs)
                return wrapped(*args, **kwargs)

            return bounded

    return Bounded


def jinja_environment() -> Any:
    """The one sandboxed Jinja2 environment: strict undefined, JSON-like text output."""
    global _environment
    if _environment is None:
        env = _environment_type()(
            undefined=_undefined_type(),
            autoescape=False,
            keep_trailing_newline=True,
            finalize=to_text,
            cache_size=0,  # compiled templates are cached here, by source text
        )
        env.globals.update(GLOBALS)
        env.filters.update(FILTERS)
        _bounded_filters(env.filters)
        _environment = env
    return _environment


def _jinja_expression(code: str) -> Callable[..., Any]:
    compiled = _compiled_expressions.get(code)
    if compiled is None:
        compiled = jinja_environment().compile_expression(code, undefined_to_none=False)
        _compiled_expressions[code] = compiled
    return compiled


def _jinja_template(text: str) -> Any:
    compiled = _compiled_templates.get(text)
    if compiled is None:
        compiled = jinja_environment().from_string(text)
        _compiled_templates[text] = compiled
    return compiled


# -- static analysis ---------------------------------------------------------------------------


def referenced_names(value: Any) -> set[str]:
    """The variables a prepared value reads, found without rendering it (for --step and --tag).

    Plain references are read from what the loader kept; anything else is parsed by Jinja and
    asked for its undeclared variables, so names bound inside the template (``{% set %}``,
    loop variables) are not counted.
    """
    if isinstance(value, Expr):
        if value.reference is not None:
            return {value.reference[0]}
        return _undeclared("{{ " + value.code + " }}")
    if isinstance(value, Text):
        if value.parts is not None:
            return {part[0] for part in value.parts if isinstance(part, tuple)}
        return _undeclared(value.text)
    if isinstance(value, DynDict):
        return set().union(*(referenced_names(part) for pair in value.items for part in pair))
    if isinstance(value, DynList):
        return set().union(*(referenced_names(item) for item in value.items))
    return set()


def _undeclared(source: str) -> set[str]:
    from jinja2 import meta

    return set(meta.find_undeclared_variables(jinja_environment().parse(source)))
