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
    """libyaml's parse events → Python data with positions, without a node tree.

    PyYAML's composer would first build a node for every value (a 5,000-step spec makes
    ~100,000 of them, each tracked by the garbage collector, which then walks them all again
    and again); its generic constructor would then cost about as much as parsing. This walks
    the events once. Scalars are resolved by the loader's own resolver (the core schema's or
    YAML 1.1's); aliases give the same object again, and count what they repeat against
    MAX_ALIAS_NODES (every later walk of the data, templating included, goes through each
    copy). Merge keys (``<<: *base``) merge as PyYAML does: the mapping's own keys win, then
    the first of the merged mappings.
    """

    def __init__(self, loader: Any, scalars: dict[str, Any] = _SCALARS_12) -> None:
        self.loader = loader
        # anchor → (value, values it holds, where it stands: an alias's value is shown there)
        self.anchors: dict[str, tuple[Any, int, Any]] = {}
        self.anchor_lines: dict[str, int] = {}
        self.open: set[str] = set()  # anchors of the collections being built
        self.repeated = 0  # values the aliases added so far
        self.depth = 0
        self.constructors = scalars
        self.json_only = scalars is _SCALARS_12
        self.scalars = SafeConstructor()  # YAML 1.1's constructors are its methods
        self.resolved: dict[tuple[str, Any], str] = {}  # (plain value, implicit) → its tag

    def document(self) -> Any:
        """The stream's one document (None when empty); another document is an error."""
        loader = self.loader
        loader.get_event()  # stream start
        value = None
        start = None
        if not loader.check_event(yaml.StreamEndEvent):
            start = loader.get_event()  # document start
            value = self.build(loader.get_event())[0]
            loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            event = loader.get_event()
            raise yaml.composer.ComposerError(
                "expected a single document in the stream",
                start.start_mark if start is not None else None,
                "but found another document",
                event.start_mark,
            )
        loader.get_event()  # stream end
        return value

    def build(self, event: Any) -> tuple[Any, int, Any]:
        """The value that ``event`` starts (its events follow), how many values it holds
        (aliases expanded; a long string counts once per KiB where an alias repeats it), and
        its start mark."""
        kind = type(event)
        if kind is yaml.AliasEvent:
            return self.alias(event)
        if kind is yaml.ScalarEvent:
            value, size, repeats = self.scalar(event), 1, 1 + len(event.value) // 1024
        else:  # a collection: the parser gives nothing else where a value starts
            mapping = kind is yaml.MappingStartEvent
            value, size = self.collection(event, _MAP if mapping else _SEQ)
            repeats = size
        anchor = event.anchor
        if anchor is not None:
            if anchor in self.anchors:
                line = self.anchor_lines[anchor]
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"the anchor &{anchor} is defined twice (first at line {line})",
                    event.start_mark,
                )
            self.anchors[anchor] = (value, repeats, event.start_mark)
            self.anchor_lines[anchor] = event.start_mark.line + 1
        return value, size, event.start_mark

    def scalar(self, event: Any) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            key = (event.value, event.implicit)  # keys and values repeat: resolve each once
            tag = self.resolved.get(key)
            if tag is None:
                tag = self.resolved[key] = self.loader.resolve(yaml.ScalarNode, *key)
        if tag == _STR:
            return event.value
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        constructor = self.constructors.get(tag)
        if constructor is not None:
            return constructor(self.scalars, node)
        if self.json_only or tag in (_MAP, _SEQ):
            raise self._no_json_value(tag, event.start_mark, "a plain value")
        return self.scalars.construct_object(node)  # YAML 1.1: !!binary, !!timestamp…

    @staticmethod
    def _no_json_value(tag: str, mark: Any, wrote: str) -> ConstructorError:
        """The error for a tag that gives no JSON value here (``wrote``: what it is on)."""
        if tag in (_MAP, _SEQ):
            problem = f"the tag !!{tag[-3:]} does not fit {wrote}"
        elif tag in _NOT_JSON:
            name = "!!" + tag.rsplit(":", 1)[-1]
            problem = f"the tag {name} gives no JSON value: {_NOT_JSON[tag]}"
        else:
            problem = f"could not determine a constructor for the tag {tag!r}"
        return ConstructorError(None, None, problem, mark)

    def alias(self, event: Any) -> tuple[Any, int, Any]:
        anchor = event.anchor
        if anchor in self.open:
            raise ConstructorError(None, None, "an alias refers to itself", event.start_mark)
        if anchor not in self.anchors:
            raise yaml.composer.ComposerError(
                None, None, f"found undefined alias {anchor!r}", event.start_mark
            )
        value, size, mark = self.anchors[anchor]
        self.repeated += size
        if self.repeated > MAX_ALIAS_NODES:
            raise ConstructorError(
                None,
                None,
                f"aliases (*name) here repeat more than {MAX_ALIAS_NODES:,} values in all "
                "(a YAML alias bomb?): write the values out, or share less",
                event.start_mark,
            )
        return value, size, mark

    def collection(self, event: Any, expected: str) -> tuple[Any, int]:
        """A mapping or a list. Other tags on them (YAML 1.1's !!set, !!omap, !!pairs too)
        are refused: they give no JSON value."""
        tag = event.tag
        if tag is not None and tag != "!" and tag != expected:
            wrote = "a mapping" if expected == _MAP else "a list"
            raise self._no_json_value(tag, event.start_mark, wrote)
        if self.depth >= MAX_DEPTH:  # deeper would exhaust Python's stack, here or later
            raise ConstructorError(
                None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark
            )
        anchor = event.anchor
        if anchor is not None:
            self.open.add(anchor)
        self.depth += 1
        try:
            return self.mapping(event) if expected == _MAP else self.sequence(event)
        finally:
            self.depth -= 1
            if anchor is not None:
                self.open.discard(anchor)

    def mapping(self, start: Any) -> tuple[LocDict, int]:
        loader = self.loader
        data = LocDict()
        data.position = (start.start_mark.line + 1, start.start_mark.column + 1)
        key_marks, value_marks = data._key_marks, data._value_marks
        merged: list[LocDict] = []
        size = 1
        get_event = loader.get_event
        while True:
            key_event = get_event()
            kind = type(key_event)
            if kind is yaml.MappingEndEvent:
                break
            if kind is yaml.ScalarEvent and self._merges(key_event):
                value, value_size, value_mark = self.build(get_event())
                merged += self._to_merge(value, value_mark)
                size += 1 + value_size
                continue
            key, key_size, key_mark = self.build(key_event)
            try:
                hash(key)
            except TypeError:
                raise ConstructorError(
                    None, None, "a mapping key must be a plain value", key_mark
                ) from None
            if key in key_marks:
                line = key_marks[key].line + 1
                raise ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {line})", key_mark
                )
            value, value_size, value_marks[key] = self.build(get_event())
            data[key] = value
            key_marks[key] = key_mark
            size += key_size + value_size
        if merged:
            data = self._merged(data, merged)
        return data, size

    def _merges(self, event: Any) -> bool:
        """A ``<<`` key: PyYAML's merge key (YAML 1.1's, which the core schema keeps). Only
        ``<<`` is resolved here: every other key is resolved once, when it is built."""
        if event.value != "<<" and event.tag != _MERGE_TAG:
            return False
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        return tag == _MERGE_TAG

    def _to_merge(self, value: Any, mark: Any) -> list[LocDict]:
        if isinstance(value, LocDict):
            return [value]
        if isinstance(value, LocList) and all(isinstance(item, LocDict) for item in value):
            return list(value)
        found = "a list" if isinstance(value, list) else "a scalar"
        raise ConstructorError(
            None,
            None,
            f"expected a mapping or list of mappings for merging, but found {found}",
            mark,
        )

    @staticmethod
    def _merged(own: LocDict, merged: list[LocDict]) -> LocDict:
        """PyYAML's order: the merged mappings' keys first (the first mapping winning), then
        the mapping's own, which win over them all."""
        data = LocDict()
        data.position = own.position
        for source in (*reversed(merged), own):
            for key, value in source.items():
                data[key] = value
                data._key_marks[key] = source._key_marks.get(key)
                data._value_marks[key] = source._value_marks.get(key)
        return data

    def sequence(self, start: Any) -> tuple[LocList, int]:
        loader = self.loader
        data = LocList()
        data.position = (start.start_mark.line + 1, start.start_mark.column + 1)
        marks = data._item_marks
        size = 1
        get_event = loader.get_event
        while True:
            event = get_event()
            if type(event) is yaml.SequenceEndEvent:
                return data, size
            value, value_size, mark = self.build(event)
            data.append(value)
            marks.append(mark)
            size += value_size


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
        return _Builder(loader, _SCALARS_11 if yaml11 else _SCALARS_12).document()
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
