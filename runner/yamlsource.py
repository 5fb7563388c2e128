"""YAML → Python data that remembers where each key and item stood in the file.

Safe loading only (no object tags). Dates stay strings: a spec talks JSON, not Python.
Duplicate keys are an error, not a silent overwrite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

Position = tuple[int, int]  # (line, column), both 1-based

_MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_DEPTH = 100  # mappings and lists inside each other: far beyond any real spec


class LocDict(dict):
    """A mapping that knows where it, each key and each value stood in the file."""

    __slots__ = ("position", "_key_marks", "_value_marks")

    def __init__(self) -> None:
        super().__init__()
        self.position: Position = (1, 1)
        self._key_marks: dict[Any, Any] = {}  # yaml Marks, turned into positions on demand
        self._value_marks: dict[Any, Any] = {}

    def key_position(self, key: Any) -> Position:
        return _mark_position(self._key_marks.get(key), self.position)

    def value_position(self, key: Any) -> Position:
        return _mark_position(self._value_marks.get(key), self.position)


class LocList(list):
    """A list that knows where it and each item stood in the file."""

    __slots__ = ("position", "_item_marks")

    def __init__(self) -> None:
        super().__init__()
        self.position: Position = (1, 1)
        self._item_marks: list[Any] = []

    def item_position(self, index: int) -> Position:
        marks = self._item_marks
        return _mark_position(marks[index] if 0 <= index < len(marks) else None, self.position)


def _mark_position(mark: Any, default: Position) -> Position:
    return default if mark is None else (mark.line + 1, mark.column + 1)


def _position(node: yaml.Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Loader(_BaseLoader):
    pass


# YAML 1.1 reads 2024-01-01 as a date; specs compare with JSON, so keep it a string.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SCALARS = {
    "tag:yaml.org,2002:int": SafeConstructor.construct_yaml_int,
    "tag:yaml.org,2002:float": SafeConstructor.construct_yaml_float,
    "tag:yaml.org,2002:bool": SafeConstructor.construct_yaml_bool,
    "tag:yaml.org,2002:null": SafeConstructor.construct_yaml_null,
}


class _Builder:
    """Nodes (parsed and resolved by libyaml where available) → Python data with positions.

    A direct walk: PyYAML's generic constructor costs about as much as parsing itself.
    Aliases give the same object again (so a "billion laughs" stays small); anything but
    plain mappings, lists and scalars goes through PyYAML's safe constructor.
    """

    def __init__(self) -> None:
        self.done: dict[int, Any] = {}
        self.active: set[int] = set()
        self.scalars = SafeConstructor()

    def build(self, node: yaml.Node) -> Any:
        tag = node.tag
        if isinstance(node, yaml.ScalarNode):  # immutable: no need to share aliased ones
            if tag == _STR:
                return node.value
            if tag in _SCALARS:
                return _SCALARS[tag](self.scalars, node)
        known = self.done.get(id(node))
        if known is not None:
            return known
        value: Any
        if tag == _MAP and isinstance(node, yaml.MappingNode):
            value = self.mapping(node)
        elif tag == _SEQ and isinstance(node, yaml.SequenceNode):
            value = self.sequence(node)
        else:  # !!binary, !!set, !!omap, …; unknown tags raise ConstructorError
            value = SafeConstructor().construct_document(node)
        self.done[id(node)] = value
        return value

    def _enter(self, node: yaml.Node) -> None:
        if id(node) in self.active:
            raise ConstructorError(None, None, "an alias refers to itself", node.start_mark)
        if len(self.active) >= MAX_DEPTH:  # deeper would exhaust Python's stack, here or later
            raise ConstructorError(
                None, None, f"nested more than {MAX_DEPTH} levels deep", node.start_mark
            )
        self.active.add(id(node))

    def mapping(self, node: yaml.MappingNode) -> LocDict:
        self._enter(node)
        data = LocDict()
        data.position = _position(node)
        if any(key.tag == _MERGE_TAG for key, _ in node.value):
            own_keys = {id(key) for key, _ in node.value if key.tag != _MERGE_TAG}
            SafeConstructor().flatten_mapping(node)
        else:
            own_keys = None
        own_seen: dict[Any, Position] = {}
        for key_node, value_node in node.value:
            key = self.build(key_node)
            try:
                hash(key)
            except TypeError:
                raise ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                ) from None
            if own_keys is None or id(key_node) in own_keys:
                if key in own_seen:
                    line = own_seen[key][0]
                    raise ConstructorError(
                        None,
                        None,
                        f"duplicate key {key!r} (first at line {line})",
                        key_node.start_mark,
                    )
                own_seen[key] = _position(key_node)
            data[key] = self.build(value_node)
            data._key_marks[key] = key_node.start_mark
            data._value_marks[key] = value_node.start_mark
        self.active.discard(id(node))
        return data

    def sequence(self, node: yaml.SequenceNode) -> LocList:
        self._enter(node)
        data = LocList()
        data.position = _position(node)
        for item in node.value:
            data.append(self.build(item))
            data._item_marks.append(item.start_mark)
        self.active.discard(id(node))
        return data


def plain(value: Any) -> Any:
    """The same data as plain dicts and lists, without positions: what a run hands to
    templates (``{{ server.position }}`` must not find the line of ``server:``).

    Shared parts (YAML aliases) stay shared, so an alias bomb stays as small as it was read.
    """
    done: dict[int, Any] = {}

    def copy(item: Any) -> Any:
        if not isinstance(item, dict | list):
            return item
        known = done.get(id(item))
        if known is not None:
            return known
        if isinstance(item, dict):
            result: dict[Any, Any] | list[Any] = {key: copy(inner) for key, inner in item.items()}
        else:
            result = [copy(inner) for inner in item]
        done[id(item)] = result
        return result

    return copy(value)


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
        node = loader.get_single_node()
        return None if node is None else _Builder().build(node)
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
