"""YAML → Python data that remembers where each key and item stood in the file.

Safe loading only (no object tags). Spec files and --vars-file are read with the YAML 1.2
core schema: only ``true``/``false`` are booleans (``NO``, ``on``, ``y`` stay strings), ``012``
is twelve, ``0o12`` octal, and dates stay strings: a spec talks JSON, not Python. Tags that
make no JSON value (``!!binary``, ``!!set``, ``!!timestamp``…) are refused. Duplicate keys are
an error, not a silent overwrite. Aliases may repeat at most MAX_ALIAS_NODES values, so a
"billion laughs" is refused instead of expanding in every later walk of the data.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class _LazyPattern:
    """A regex compiled on its first use (``re.compile`` then, with the same arguments)."""

    __slots__ = ("_arguments", "_compiled")

    def __init__(self, *arguments: Any) -> None:
        self._arguments = arguments
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = _compile(*self._arguments)
        return getattr(compiled, name)


_compile = re.compile


@contextmanager
def _regexes_compiled_on_use() -> Iterator[None]:
    """While PyYAML is imported: its class-level ``re.compile`` calls give patterns compiled
    on first use. One of them, the pure-Python reader's test for unprintable characters (a
    set of ranges over all of Unicode), costs as much to compile as the rest of PyYAML takes
    to import, and the C loader apirun reads with never uses it; nor most of the others
    (YAML 1.1's booleans, numbers and dates: the core schema below has its own)."""

    def compile_on_use(*arguments: Any) -> Any:
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller == "yaml" or caller.startswith("yaml."):
            return _LazyPattern(*arguments)
        return _compile(*arguments)  # a module PyYAML imports: the usual pattern

    previous, replacement = re.compile, compile_on_use
    re.compile = replacement  # type: ignore[assignment]
    try:
        yield
    finally:
        re.compile = previous


if "yaml" in sys.modules:  # already imported, its patterns compiled: nothing to save
    import yaml
else:
    with _regexes_compiled_on_use():
        import yaml
from yaml.constructor import ConstructorError, SafeConstructor  # noqa: E402

from .files import read_bounded  # noqa: E402

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

Position = tuple[int, int]  # (line, column), both 1-based

_MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_DEPTH = 100  # mappings and lists inside each other: far beyond any real spec
# Values that aliases may add to a document (as if each alias were a copy of its anchor; a
# long string counts once per KiB). Far beyond shared headers or bodies, far below a bomb:
# walking 100,000 values takes the loader about half a second.
MAX_ALIAS_NODES = 100_000


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


_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


class _Loader11(_BaseLoader):
    """YAML 1.1 (PyYAML's), for files written for other tools (clouds.yaml)."""


class _Loader(_BaseLoader):
    """YAML 1.2's core schema (the JSON-compatible one)."""


# YAML 1.1 reads 2024-01-01 as a date; specs compare with JSON, so keep it a string.
_Loader11.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL, _INT, _FLOAT, _NULL)]
    for first, resolvers in _Loader11.yaml_implicit_resolvers.items()
}
_CORE = (  # YAML 1.2.2, 10.3.2: the tag resolution of the core schema
    (_NULL, r"~|null|Null|NULL|", "~nN"),
    (_BOOL, r"true|True|TRUE|false|False|FALSE", "tTfF"),
    (_INT, r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    (
        _FLOAT,
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "-+.0123456789",
    ),
)
for _tag, _pattern, _first in _CORE:
    _Loader.add_implicit_resolver(_tag, re.compile(rf"\A(?:{_pattern})\Z"), list(_first))
_Loader.add_implicit_resolver(_NULL, re.compile(r"\A\Z"), [""])


def _core_int(_: Any, node: yaml.ScalarNode) -> int:
    text = node.value
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text)


def _core_float(_: Any, node: yaml.ScalarNode) -> float:
    text = node.value.lower()
    if text.lstrip("+-") == ".inf":
        return float("-inf") if text.startswith("-") else float("inf")
    if text == ".nan":
        return float("nan")
    return float(text)


def _core_bool(_: Any, node: yaml.ScalarNode) -> bool:
    return node.value.lower() == "true"


def _core_null(_: Any, node: yaml.ScalarNode) -> None:
    return None


_SCALARS_11 = {
    _INT: SafeConstructor.construct_yaml_int,
    _FLOAT: SafeConstructor.construct_yaml_float,
    _BOOL: SafeConstructor.construct_yaml_bool,
    _NULL: SafeConstructor.construct_yaml_null,
}
_SCALARS_12 = {_INT: _core_int, _FLOAT: _core_float, _BOOL: _core_bool, _NULL: _core_null}
# Explicit tags that give no JSON value: a body could not carry it, a comparison not hold.
_NOT_JSON = {
    "tag:yaml.org,2002:binary": "use data: \"{{ 'BASE64' | b64decode }}\" for bytes",
    "tag:yaml.org,2002:set": "write a list",
    "tag:yaml.org,2002:omap": "write a mapping",
    "tag:yaml.org,2002:pairs": "write a list of mappings",
    _TIMESTAMP: "write the date as a string",
}


class _Builder:
    """Nodes (parsed and resolved by libyaml where available) → Python data with positions.

    A direct walk: PyYAML's generic constructor costs about as much as parsing itself.
    Aliases give the same object again, and count what they repeat against MAX_ALIAS_NODES
    (every later walk of the data, templating included, goes through each copy); anything
    but plain mappings, lists and scalars goes through PyYAML's safe constructor.
    """

    def __init__(self, scalars: dict[str, Any] = _SCALARS_12) -> None:
        self.done: dict[int, Any] = {}
        self.sizes: dict[int, int] = {}  # values in each built mapping or list, aliases expanded
        self.seen: set[int] = set()  # scalar nodes already built once (a second time: an alias)
        self.repeated = 0  # values the aliases added so far
        self.active: set[int] = set()
        self.parents: list[yaml.Node] = []
        self.constructors = scalars
        self.json_only = scalars is _SCALARS_12
        self.scalars = SafeConstructor()

    def build(self, node: yaml.Node) -> Any:
        tag = node.tag
        if isinstance(node, yaml.ScalarNode):  # immutable: no need to share aliased ones
            if id(node) in self.seen:
                self._repeat(1 + len(node.value) // 1024)
            else:
                self.seen.add(id(node))
            if tag == _STR:
                return node.value
            if tag in self.constructors:
                return self.constructors[tag](self.scalars, node)
        known = self.done.get(id(node))
        if known is not None:
            self._repeat(self.sizes.get(id(node), 1))
            return known
        value: Any
        if tag == _MAP and isinstance(node, yaml.MappingNode):
            value = self.mapping(node)
        elif tag == _SEQ and isinstance(node, yaml.SequenceNode):
            value = self.sequence(node)
        elif self.json_only and tag in _NOT_JSON:
            name = "!!" + tag.rsplit(":", 1)[-1]
            raise ConstructorError(
                None,
                None,
                f"the tag {name} gives no JSON value: {_NOT_JSON[tag]}",
                node.start_mark,
            )
        else:  # !!binary, !!set, !!omap, …; unknown tags raise ConstructorError
            value = SafeConstructor().construct_document(node)
        self.done[id(node)] = value
        return value

    def _repeat(self, values: int) -> None:
        self.repeated += values
        if self.repeated > MAX_ALIAS_NODES:
            mark = self.parents[-1].start_mark if self.parents else None
            raise ConstructorError(
                None,
                None,
                f"aliases (*name) here repeat more than {MAX_ALIAS_NODES:,} values in all "
                "(a YAML alias bomb?): write the values out, or share less",
                mark,
            )

    def _size(self, node: yaml.Node) -> int:
        return 1 if isinstance(node, yaml.ScalarNode) else self.sizes.get(id(node), 1)

    def _enter(self, node: yaml.Node) -> None:
        if id(node) in self.active:
            raise ConstructorError(None, None, "an alias refers to itself", node.start_mark)
        if len(self.active) >= MAX_DEPTH:  # deeper would exhaust Python's stack, here or later
            raise ConstructorError(
                None, None, f"nested more than {MAX_DEPTH} levels deep", node.start_mark
            )
        self.active.add(id(node))
        self.parents.append(node)

    def _leave(self, node: yaml.Node, size: int) -> None:
        self.active.discard(id(node))
        self.parents.pop()
        self.sizes[id(node)] = size

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
        size = 1
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
            size += self._size(key_node) + self._size(value_node)
        self._leave(node, size)
        return data

    def sequence(self, node: yaml.SequenceNode) -> LocList:
        self._enter(node)
        data = LocList()
        data.position = _position(node)
        size = 1
        for item in node.value:
            data.append(self.build(item))
            data._item_marks.append(item.start_mark)
            size += self._size(item)
        self._leave(node, size)
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


def read_yaml_file(path: str | Path, version: tuple[int, int] = (1, 2)) -> Any:
    """A YAML file that is not a spec (--vars-file, clouds.yaml): one message on any problem.
    ``version`` (1, 1) for files other tools read too (clouds.yaml: ``verify: no``)."""
    try:
        text = read_bounded(path).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise YAMLSyntaxError(f"cannot read {path}: {reason}", (0, 0)) from None
    try:
        return parse_yaml(text, version)
    except YAMLSyntaxError as exc:
        line, column = exc.position
        raise YAMLSyntaxError(f"{path}:{line}:{column}: {exc.message}", exc.position) from None


def parse_yaml(text: str, version: tuple[int, int] = (1, 2)) -> Any:
    """One YAML document with positions; raises YAMLSyntaxError with the line of the problem.
    YAML 1.2's core schema, or PyYAML's YAML 1.1 with ``version=(1, 1)``."""
    yaml11 = version == (1, 1)
    loader = (_Loader11 if yaml11 else _Loader)(text)
    try:
        node = loader.get_single_node()
        builder = _Builder(_SCALARS_11 if yaml11 else _SCALARS_12)
        return None if node is None else builder.build(node)
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
