"""JSONPath: compiled once per text, and whether the path itself says "one value" or "a list".

The path decides the shape of what it finds (issue #10): a definite path (fields and single
indexes only) gives one value, or nothing; a path with a wildcard, slice, filter, union or
recursive descent gives a list, possibly empty. The data never changes the shape.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Final

_SEGMENT: Final = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[(\*)\]")
# jsonpath-ng's reserved words: `$.where` is a syntax error there unless quoted.
_KEYWORD_FIELD: Final = re.compile(r"\.(where|wherenot)\b(?![\"'])")
# jsonpath-ng nodes that give at most one value per value they are given.
_DEFINITE_NODES: Final = frozenset({"Root", "This", "Parent", "Len", "Sub", "Split", "Str"})
_parser: Any = None


class JSONPathError(ValueError):
    """The text is not a JSONPath apirun can evaluate."""


class SimplePath:
    """A JSONPath made only of ``.name``, ``[N]`` and ``[*]``, evaluated directly.

    Most paths in specs are this simple; evaluating them here gives jsonpath-ng's results
    (a property test compares the two) without importing it and building its parser,
    which costs tens of milliseconds at start-up.
    """

    __slots__ = ("definite", "segments")

    def __init__(self, segments: tuple[tuple[str, Any], ...]):
        self.segments = segments
        self.definite = all(kind != "all" for kind, _ in segments)

    def values(self, document: Any) -> list[Any]:
        current = [document]
        for kind, argument in self.segments:
            found: list[Any] = []
            for value in current:
                if kind == "field":
                    if isinstance(value, dict) and argument in value:
                        found.append(value[argument])
                elif kind == "index":
                    if isinstance(value, list) and len(value) > argument:
                        found.append(value[argument])
                elif isinstance(value, list):  # [*]
                    found.extend(value)
                elif isinstance(value, dict):  # [*] of an object: its values, as jsonpath-ng
                    found.extend(value.values())
            current = found
        return current


class LibraryPath:
    """Any other JSONPath, through jsonpath-ng's extended parser (filters, arithmetic...)."""

    __slots__ = ("definite", "parsed")

    def __init__(self, parsed: Any):
        self.parsed = parsed
        self.definite = _is_definite(parsed)

    def values(self, document: Any) -> list[Any]:
        try:
            return [match.value for match in self.parsed.find(document)]
        except Exception:  # jsonpath-ng fails on some documents (an index into an object)
            return []


JSONPath = SimplePath | LibraryPath


def _is_definite(node: Any) -> bool:
    kind = type(node).__name__
    if kind == "Child":
        return _is_definite(node.left) and _is_definite(node.right)
    if kind == "Fields":
        return len(node.fields) == 1 and node.fields[0] != "*"
    if kind == "Index":
        return len(node.indices) == 1
    return kind in _DEFINITE_NODES


def _simple_path(text: str) -> SimplePath | None:
    if not text.startswith("$"):
        return None
    segments: list[tuple[str, Any]] = []
    position = 1
    while position < len(text):
        match = _SEGMENT.match(text, position)
        if match is None:
            return None
        name, index, star = match.groups()
        if name is not None:
            segments.append(("field", name))
        elif index is not None:
            segments.append(("index", int(index)))
        else:
            segments.append(("all", star))
        position = match.end()
    return SimplePath(tuple(segments))


def _library_parser() -> Any:
    global _parser
    if _parser is None:  # building the parser is the slow part: do it once
        from jsonpath_ng.ext.parser import ExtendedJsonPathParser

        _parser = ExtendedJsonPathParser()
    return _parser


@lru_cache(maxsize=4096)
def compile_jsonpath(text: str) -> JSONPath:
    """Parse a JSONPath once (extended syntax: filters, arithmetic); JSONPathError if invalid.
    Field names that are jsonpath-ng keywords (``where``, ``wherenot``) work unquoted."""
    simple = _simple_path(text)
    if simple is not None:
        return simple
    try:
        return LibraryPath(_library_parser().parse(text))
    except Exception as exc:  # jsonpath-ng raises bare Exception subclasses of several kinds
        error = exc
    quoted = _KEYWORD_FIELD.sub(r'."\1"', text)
    if quoted != text:
        try:
            return LibraryPath(_library_parser().parse(quoted))
        except Exception:
            pass
    raise JSONPathError(f"invalid JSONPath {text!r}: {error}") from None
