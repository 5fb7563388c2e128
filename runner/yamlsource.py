"""YAML → Python data that remembers where each key and item stood in the file.

Safe loading only (no object tags). Dates stay strings: a spec talks JSON, not Python.
Duplicate keys are an error, not a silent overwrite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

Position = tuple[int, int]  # (line, column), both 1-based

_MERGE_TAG = "tag:yaml.org,2002:merge"


class LocDict(dict):
    """A mapping with the position of the mapping, of each key and of each value."""

    __slots__ = ("position", "key_positions", "value_positions")

    def __init__(self) -> None:
        super().__init__()
        self.position: Position = (1, 1)
        self.key_positions: dict[Any, Position] = {}
        self.value_positions: dict[Any, Position] = {}


class LocList(list):
    """A list with its own position and each item's."""

    __slots__ = ("position", "item_positions")

    def __init__(self) -> None:
        super().__init__()
        self.position: Position = (1, 1)
        self.item_positions: list[Position] = []


def _position(node: yaml.Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    pass


# YAML 1.1 reads 2024-01-01 as a date; specs compare with JSON, so keep it a string.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _Loader, node: yaml.MappingNode):  # type: ignore[no-untyped-def]
    data = LocDict()
    data.position = _position(node)
    yield data
    own_keys = {id(key) for key, _ in node.value if key.tag != _MERGE_TAG}
    loader.flatten_mapping(node)
    own_seen: dict[Any, Position] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if id(key_node) in own_keys:
            if key in own_seen:
                line = own_seen[key][0]
                raise ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {line})", key_node.start_mark
                )
            own_seen[key] = _position(key_node)
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_positions[key] = _position(key_node)
        data.value_positions[key] = _position(value_node)


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode):  # type: ignore[no-untyped-def]
    data = LocList()
    data.position = _position(node)
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=True))
        data.item_positions.append(_position(item))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


class YAMLSyntaxError(ValueError):
    def __init__(self, message: str, position: Position):
        self.message = message
        self.position = position
        super().__init__(message)


def read_yaml_file(path: str | Path) -> Any:
    """A YAML file that is not a spec (--vars-file, clouds.yaml): one message on any problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise YAMLSyntaxError(f"cannot read {path}: {reason}", (0, 0)) from None
    try:
        return parse_yaml(text)
    except YAMLSyntaxError as exc:
        line, column = exc.position
        raise YAMLSyntaxError(f"{path}:{line}:{column}: {exc.message}", exc.position) from None


def parse_yaml(text: str) -> Any:
    """One YAML document with positions; raises YAMLSyntaxError with the line of the problem."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text) from None
    except yaml.YAMLError as exc:
        raise YAMLSyntaxError(f"invalid YAML: {exc}", (1, 1)) from None
    finally:
        loader.dispose()


_OPENED = ("flow mapping", "flow sequence", "quoted scalar")


def _syntax_error(exc: yaml.MarkedYAMLError, text: str) -> YAMLSyntaxError:
    """Point where the user has to look: where an unclosed bracket or quote was opened
    (not where the parser gave up: often the next item, or past the end of the file)."""
    lines = text.splitlines() or [""]
    problem, context = exc.problem_mark, exc.context_mark
    opened = context is not None and any(word in (exc.context or "") for word in _OPENED)
    mark = context if opened else problem or context
    if mark is None:
        return YAMLSyntaxError(f"invalid YAML: {exc.problem or exc}", (1, 1))
    message = exc.problem or "syntax error"
    if problem is not None and problem.line < len(lines):
        if lines[problem.line][problem.column : problem.column + 1] == "\t":
            message = "a tab character: YAML indents with spaces, never tabs"
        where = f"line {problem.line + 1}, column {problem.column + 1}"
    else:
        where = "the end of the file"
    if opened:
        thing = next(word for word in _OPENED if word in (exc.context or ""))
        thing = {"flow mapping": "{ mapping", "flow sequence": "[ list", "quoted scalar": "quote"}[
            thing
        ]
        message = f"the {thing} opened here is not closed: {message} at {where}"
    if mark.line >= len(lines):  # past the end: point at the end of the last line
        return YAMLSyntaxError(f"invalid YAML: {message}", (len(lines), len(lines[-1]) + 1))
    return YAMLSyntaxError(f"invalid YAML: {message}", (mark.line + 1, mark.column + 1))
