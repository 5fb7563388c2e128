"""The loader's shared means: where a YAML value stood, one diagnostic per problem, and the
checks of shape every part of a spec uses (types, keys, names, numbers, flags).

The loader (loader.py) is made of parts that each build one piece of the model — the file
and its steps there, requests in load_request.py, expectations and captures in
load_checks.py — all on this base, so a problem anywhere is reported the same way: its
file, line and column, its step, and a did-you-mean for a near miss.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable
from typing import Any

from . import templating
from .errors import Diagnostic, TemplateError
from .source import Source
from .yamlsource import LocDict, LocList

# Names the engine provides (or will): a spec may not define them as variables.
RESERVED_NAMES = frozenset({"env", "os", "response", "item", "index"})
_IDENTIFIER = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
_JINJA_WORDS = frozenset({"true", "false", "none", "True", "False", "None", "and", "or", "not"})


def _suggest(word: Any, choices: Iterable[str]) -> str | None:
    import difflib  # did you mean: only when something is wrong

    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _has_template(value: Any) -> bool:
    """Whether a raw YAML value holds template syntax anywhere (checked when it renders)."""
    if isinstance(value, str):
        return templating.has_template_syntax(value)
    if isinstance(value, dict):
        return any(_has_template(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_template(item) for item in value)
    return False


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _positive_number(value: Any) -> bool:
    """A number of seconds or MiB: more than 0, and finite (YAML's .inf and .nan are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return 0 < value < float("inf")


class Shape:
    """Diagnostics and shape checks over the YAML data of one file (``path``)."""

    path: str
    diagnostics: list[Diagnostic]
    step: str | None  # the step being read, named in every diagnostic

    def source(self, container: Any = None, key: Any = None, *, value: bool = False) -> Source:
        if isinstance(container, LocDict):
            if key is None:
                return Source(self.path, *container.position)
            if value:
                return Source(self.path, *container.value_position(key))
            return Source(self.path, *container.key_position(key))
        if isinstance(container, LocList):
            if isinstance(key, int):
                return Source(self.path, *container.item_position(key))
            return Source(self.path, *container.position)
        return Source(self.path, 1)

    def error(self, message: str, source: Source, hint: str | None = None) -> None:
        if hint:
            message = f"{message} — {hint}"
        self.diagnostics.append(Diagnostic(message, source, self.step, hint))

    def expect_type(
        self, value: Any, types: type | tuple[type, ...], what: str, where: Source
    ) -> bool:
        ok = isinstance(value, types) and not (
            isinstance(value, bool) and bool not in _as_tuple(types)
        )
        if not ok:
            self.error(f"{what}, found {_type_name(value)}", where)
        return ok

    def mapping(self, value: Any, what: str, where: Source) -> LocDict | None:
        return value if self.expect_type(value, dict, f"{what} must be a mapping", where) else None

    def check_keys(
        self,
        mapping: dict[Any, Any],
        allowed: tuple[str, ...],
        where: str,
        required: tuple[str, ...] = (),
        suggest: tuple[str, ...] = (),
    ) -> None:
        for key in mapping:
            if key not in allowed:
                self.error(
                    f"unknown key '{key}' in {where}",
                    self.source(mapping, key),
                    _suggest(key, allowed + suggest) or f"valid keys: {', '.join(allowed)}",
                )
        for key in required:
            if key not in mapping:
                self.error(f"{where} is missing the required key '{key}'", self.source(mapping))

    def prepare(self, value: Any, source: Source) -> Any:
        """Compile the templates inside a value; keep it as plain data when it has none
        (plain dicts and lists: templates must not see the YAML positions)."""
        if isinstance(value, str):
            try:
                return templating.compile_string(value, source)
            except TemplateError as exc:
                self.error(exc.message, exc.source or source)
                return value
        if isinstance(value, dict):
            items = tuple(
                (
                    self.prepare(key, self.source(value, key)) if isinstance(key, str) else key,
                    self.prepare(item, self.source(value, key, value=True)),
                )
                for key, item in value.items()
            )
            if any(isinstance(part, templating.Dynamic) for pair in items for part in pair):
                return templating.DynDict(items)
            return dict(items)
        if isinstance(value, list):
            prepared = tuple(
                self.prepare(item, self.source(value, i)) for i, item in enumerate(value)
            )
            if any(isinstance(item, templating.Dynamic) for item in prepared):
                return templating.DynList(prepared)
            return list(prepared)
        return value

    def variable_name(self, name: Any, where: Source, what: str) -> bool:
        if not isinstance(name, str) or not _IDENTIFIER.match(name) or keyword.iskeyword(name):
            self.error(
                f"{what} name {name!r} is not a valid name (letters, digits and _, "
                "not starting with a digit)",
                where,
            )
            return False
        if name in RESERVED_NAMES or name in _JINJA_WORDS:
            self.error(f"{what} name '{name}' is reserved", where)
            return False
        return True

    def flag(self, data: LocDict, key: str, default: bool) -> bool:
        if key not in data:
            return default
        value = data[key]
        where = self.source(data, key, value=True)
        if self.expect_type(value, bool, f"'{key}' must be true or false", where):
            return value
        return default

    def reason(self, data: LocDict, key: str, given_true: str) -> str | None:
        """skip / xfail: a reason (text), or true (``given_true``); false or absent is None
        (not marked). Plain text, not a template: nothing is rendered for it."""
        if key not in data:
            return None
        value = data[key]
        if isinstance(value, bool):
            return given_true if value else None
        if isinstance(value, str) and value.strip():
            return value.strip()
        found = "an empty string" if isinstance(value, str) else _type_name(value)
        self.error(
            f"'{key}' takes a reason (text) or true, found {found}",
            self.source(data, key, value=True),
        )
        return None

    def number(self, data: LocDict, key: str, low: float, high: float) -> float | None:
        if key not in data:
            return None
        value = data[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            self.error(
                f"'{key}' takes a number of seconds from {low:g} to {high:g}, found {value!r}"
                if key == "delay"
                else f"'{key}' takes a number from {low:g} to {high:g}, found {value!r}",
                self.source(data, key, value=True),
            )
            return None
        return float(value)
