"""An interpreter of the JSON Schema keywords the spec schema uses (draft-07 semantics, as
jsonschema implements them), compiled once into closures; see runner/schema/__init__.py."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass
from typing import Any

from ..yamlsource import LocDict, LocList

# Keys and indexes from the document's root to a value, like jsonschema's absolute_path.
DocPath = tuple[Any, ...]

# Keywords that describe and do not constrain: ignored by the interpreter.
ANNOTATIONS = frozenset(
    {"$schema", "$comment", "$id", "title", "description", "definitions", "default", "examples"}
)
# Keywords the interpreter implements. Any other keyword in the schema is refused when it is
# compiled, so the schema cannot silently say more than apirun checks.
KEYWORDS = frozenset(
    {
        "$ref",
        "type",
        "enum",
        "const",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "properties",
        "additionalProperties",
        "propertyNames",
        "required",
        "minProperties",
        "maxProperties",
        "items",
        "minItems",
        "anyOf",
        "allOf",
        "not",
        "errorMessage",  # a VS Code extension of JSON Schema (its YAML support shows it too)
    }
)


@dataclass(frozen=True, slots=True)
class Violation:
    """One way the document breaks the schema, where jsonschema would report it."""

    path: DocPath
    keyword: str
    message: str
    key: Any = None  # the key concerned: unknown, badly named, missing, or one too many (not)


Check = Callable[[Any, DocPath, list[Violation]], None]


# -- JSON types, as JSON Schema draft-07 (and jsonschema) define them -----------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_OBJECT, _ARRAY = frozenset({"object"}), frozenset({"array"})
_STRING, _BOOLEAN, _NULL = frozenset({"string"}), frozenset({"boolean"}), frozenset({"null"})
_INTEGER, _NUMBER = frozenset({"integer", "number"}), frozenset({"number"})
_NONE: frozenset[str] = frozenset()
_BY_CLASS = {
    str: _STRING,
    bool: _BOOLEAN,
    int: _INTEGER,
    type(None): _NULL,
    dict: _OBJECT,
    LocDict: _OBJECT,
    list: _ARRAY,
    LocList: _ARRAY,
}


def json_types(value: Any) -> frozenset[str]:
    """The JSON Schema types a value has: 1 is an integer and a number, and so is 1.0."""
    found = _BY_CLASS.get(type(value))
    if found is not None:
        return found
    if isinstance(value, float):
        return _INTEGER if value.is_integer() else _NUMBER
    for kind, types in ((bool, _BOOLEAN), (int, _INTEGER), (str, _STRING)):
        if isinstance(value, kind):
            return types
    return _OBJECT if isinstance(value, dict) else _ARRAY if isinstance(value, list) else _NONE


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    types = json_types(value)
    for name, article in (
        ("boolean", "a boolean"),
        ("number", "a number"),
        ("string", "a string"),
        ("array", "a list"),
        ("object", "a mapping"),
    ):
        if name in types:
            return article
    return type(value).__name__


_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "null",
}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _words(types: Iterable[frozenset[str] | None]) -> str:
    """'a string or a number' for the union of some sets of JSON type names."""
    names = set().union(*(t for t in types if t is not None))
    if "number" in names:
        names.discard("integer")
    return " or ".join(_TYPE_WORDS[name] for name in sorted(names))


def _json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema sees it: 1 == 1.0, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def _subject(path: DocPath) -> str:
    """How a message names the place: 'timeout', item 2 of 'status', the spec file."""
    if not path:
        return "the spec file"
    last = path[-1]
    if isinstance(last, int):
        parent = f"'{path[-2]}'" if len(path) > 1 and isinstance(path[-2], str) else "the list"
        return f"item {last + 1} of {parent}"
    return f"'{last}'"


# -- compiling the schema into checks -------------------------------------------------------------


class SchemaCompileError(ValueError):
    """The schema uses something the interpreter does not implement (a bug in apirun)."""


class _Compiler:
    def __init__(self, root: dict[str, Any]):
        self.root = root
        self.refs: dict[str, Check] = {}
        self.pending: dict[str, list[Check]] = {}  # references being compiled

    def resolve(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#/"):
            raise SchemaCompileError(f"only local $ref are supported, not {ref!r}")
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def declared_types(self, node: Any) -> frozenset[str] | None:
        """The JSON types a subschema can accept, when it says (for anyOf's best branch)."""
        if not isinstance(node, dict):
            return None
        if "$ref" in node:
            return self.declared_types(self.resolve(node["$ref"]))
        if "type" in node:
            types = node["type"]
            found = set([types] if isinstance(types, str) else types)
            if "number" in found:
                found.add("integer")
            return frozenset(found)
        for part in node.get("allOf", ()):
            types = self.declared_types(part)
            if types is not None:
                return types
        if "anyOf" in node:
            branches = [self.declared_types(branch) for branch in node["anyOf"]]
            known = [types for types in branches if types is not None]
            if len(known) == len(branches):
                return frozenset[str]().union(*known)
        return None

    def compile(self, node: Any) -> Check:
        if node is True or node == {}:
            return _anything
        if node is False:
            return _nothing
        if not isinstance(node, dict):
            raise SchemaCompileError(f"not a schema: {node!r}")
        unknown = set(node) - KEYWORDS - ANNOTATIONS
        if unknown:
            raise SchemaCompileError(f"unsupported keywords {sorted(unknown)} in {node!r}")
        if "$ref" in node:
            if set(node) - ANNOTATIONS - {"$ref"}:
                raise SchemaCompileError(f"$ref has siblings (draft-07 ignores them): {node!r}")
            return self.ref(node["$ref"])
        message = node.get("errorMessage")
        built = (
            build(self, node[keyword], node, message)
            for keyword, build in _BUILDERS.items()
            if keyword in node
        )
        checks = [check for check in built if check is not None]
        if not checks:
            return _anything
        if len(checks) == 1:
            return checks[0]

        def check_all(value: Any, path: DocPath, out: list[Violation]) -> None:
            for check in checks:
                check(value, path, out)

        return check_all

    def ref(self, ref: str) -> Check:
        compiled = self.refs.get(ref)
        if compiled is not None:
            return compiled
        waiting = self.pending.get(ref)
        if waiting is not None:  # a reference to itself: called through the holder

            def follow(value: Any, path: DocPath, out: list[Violation]) -> None:
                waiting[0](value, path, out)

            return follow
        self.pending[ref] = holder = []
        compiled = self.compile(self.resolve(ref))
        holder.append(compiled)
        del self.pending[ref]
        self.refs[ref] = compiled
        return compiled


def _anything(value: Any, path: DocPath, out: list[Violation]) -> None:
    return None


def _nothing(value: Any, path: DocPath, out: list[Violation]) -> None:
    out.append(Violation(path, "false", f"{_subject(path)} is not allowed here"))


def _type(compiler: _Compiler, types: Any, node: dict, message: str | None) -> Check | None:
    if _objects_only(node):
        return None  # checked with the keys, in one pass (see _object_checks)
    names = [types] if isinstance(types, str) else list(types)
    allowed = frozenset(names)
    words = " or ".join(_TYPE_WORDS[name] for name in names)

    def check(value: Any, path: DocPath, out: list[Violation]) -> None:
        if allowed.isdisjoint(json_types(value)):
            text = f"{_subject(path)} must be {words}, found {_type_name(value)}"
            out.append(Violation(path, "type", text))

    return check


def _enum(compiler: _Compiler, allowed: list, node: dict, message: str | None) -> Check:
    def check(value: Any, path: DocPath, out: list[Violation]) -> None:
        if not any(_json_equal(value, item) for item in allowed):
            choices = ", ".join(json.dumps(item) for item in allowed)
            text = message or f"{_subject(path)} must be one of {choices}, found {_short(value)}"
            words = [item for item in allowed if isinstance(item, str)]
            close = difflib.get_close_matches(str(value), words, n=1, cutoff=0.6)
            if close and not message:
                text += f" — did you mean '{close[0]}'?"
            out.append(Violation(path, "enum", text))

    return check


def _const(compiler: _Compiler, expected: Any, node: dict, message: str | None) -> Check:
    def check(value: Any, path: DocPath, out: list[Violation]) -> None:
        if not _json_equal(value, expected):
            text = (
                message or f"{_subject(path)} takes {json.dumps(expected)}, found {_short(value)}"
            )
            out.append(Violation(path, "const", text))

    return check


def _pattern(compiler: _Compiler, pattern: str, node: dict, message: str | None) -> Check:
    compiled = re.compile(pattern)  # re.search, as jsonschema does

    def check(value: Any, path: DocPath, out: list[Violation]) -> None:
        if isinstance(value, str) and not compiled.search(value):
            text = message or f"{_subject(path)}: {_short(value)} is not valid here"
            out.append(Violation(path, "pattern", text))

    return check


def _bound(keyword: str, holds: Callable[[Any, Any], bool], words: str) -> Any:
    def build(compiler: _Compiler, limit: Any, node: dict, message: str | None) -> Check:
        def check(value: Any, path: DocPath, out: list[Violation]) -> None:
            if _is_number(value) and not holds(value, limit):
                text = f"{_subject(path)} must be {words} {limit}, found {_short(value)}"
                out.append(Violation(path, keyword, text))

        return check

    return build


def _objects_only(node: dict) -> bool:
    return node.get("type") == "object" and ("properties" in node or "additionalProperties" in node)


def _properties(compiler: _Compiler, properties: dict, node: dict, message: str | None) -> Check:
    """properties and additionalProperties together: one pass over the mapping's keys."""
    named = {key: compiler.compile(sub) for key, sub in properties.items()}
    return _object_checks(compiler, named, node.get("additionalProperties", True), node)


def _additional(compiler: _Compiler, extra: Any, node: dict, message: str | None) -> Check | None:
    if "properties" in node or (not _objects_only(node) and (extra is True or extra == {})):
        return None  # done by _properties, or nothing to check
    return _object_checks(compiler, {}, extra, node)


def _object_checks(compiler: _Compiler, named: dict[str, Check], extra: Any, node: dict) -> Check:
    """The keys of a mapping (and, for ``type: object``, that it is one): the hot loop."""
    allowed = sorted(named)
    extra_check = None if extra is False else compiler.compile(extra)
    type_check = _type(compiler, "object", {}, None) if _objects_only(node) else None

    def check(value: Any, path: DocPath, out: list[Violation]) -> None:
        if not isinstance(value, dict):
            if type_check is not None:
                type_check(value, path, out)
            return
        for key, item in value.items():
            sub = named.get(key) if isinstance(key, str) else None
            if sub is not None:
                sub(item, path + (key,), out)
            elif extra_check is not None:
                extra_check(item, path + (key,), out)
            else:
                close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
                hint = (
                    f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(allowed)}"
                )
                where = _subject(path) if path else "the spec file"
                out.append(
                    Violation(
                        path,
                        "additionalProperties",
                        f"unknown key {key!r} in {where} — {hint}",
                        key,
                    )
                )

    return check


def _property_names(compiler: _Compiler, names: Any, node: dict, message: str | None) -> Check:
    sub = compiler.compile(names)
    names_message = names.get("errorMessage") if isinstance(names, dict) else None
    if isinstance(names, dict) and "$ref" in names:
        target = compiler.resolve(names["$ref"])
        names_message = target.get("errorMessage", names_message)

    def check(value: Any, path: DocPath, out: list[Violation]) -> None:
        if not isinstance(value, dict):
            return
        for key in value:
            found: list[Violation] = []
            sub(key, path, found)
            if found:
                problem = names_message or "a key must be a string"
                text = f"key {key!r} in {_subject(path)}: {problem}"
                out.append(Violation(path, "propertyNames", text, key))

    return check


def _required(compiler: _Compiler, keys: list[str], node: dict, message: str | None) -> Check:
    def check(value: Any, path: DocPath, out: list[Violation]) -> None:
        if isinstance(value, dict):
            for key in keys:
                if key not in value:
                    text = f"{_subject(path)} is missing the required key '{key}'"
                    out.append(Violation(path, "required", text, key))

    return check


def _size(
    keyword: str, holds: Callable[[int, int], bool], words: str, kind: type[Sized]
) -> Callable[[_Compiler, int, dict, str | None], Check]:
    def build(compiler: _Compiler, limit: int, node: dict, message: str | None) -> Check:
        def check(value: Any, path: DocPath, out: list[Violation]) -> None:
            if isinstance(value, kind) and not holds(len(value), limit):
                text = message or f"{_subject(path)} must have {words} {limit}, found {len(value)}"
                out.append(Violation(path, keyword, text))

        return check

    return build


def _items(compiler: _Compiler, items: Any, node: dict, message: str | None) -> Check:
    if isinstance(items, list):
        raise SchemaCompileError("tuple-form items are not supported")
    sub = compiler.compile(items)

    def check(value: Any, path: DocPath, out: list[Violation]) -> None:
        if isinstance(value, list):
            for index, item in enumerate(value):
                sub(item, path + (index,), out)

    return check


# Keywords about the value itself (not its keys or size): anyOf's errorMessage explains those.
_VALUE_KEYWORDS = frozenset(
    {"type", "enum", "const", "pattern", "minimum", "maximum", "exclusiveMinimum"}
)


def _any_of(compiler: _Compiler, branches: list, node: dict, message: str | None) -> Check:
    """Valid when one branch is. Only the branches meant for the value's type are tried (the
    others fail on their ``type``); when they all fail and one was meant (a mapping → the
    mapping branch), its own violations are reported, so the message points inside it."""
    checks = [compiler.compile(branch) for branch in branches]
    types = [compiler.declared_types(branch) for branch in branches]

    def check(value: Any, path: DocPath, out: list[Violation]) -> None:
        has = json_types(value)
        meant = [i for i, t in enumerate(types) if t is None or not t.isdisjoint(has)]
        found: list[Violation] = []
        for index in meant:
            found = []
            checks[index](value, path, found)
            if not found:
                return
        if len(meant) == 1:
            for violation in found:
                if message and violation.path == path and violation.keyword in _VALUE_KEYWORDS:
                    violation = Violation(path, violation.keyword, message)
                out.append(violation)
            return
        text = message or f"{_subject(path)}: {_short(value)} is not valid here"
        if not message and not meant and all(t is not None for t in types):
            text = f"{_subject(path)} must be {_words(types)}, found {_type_name(value)}"
        out.append(Violation(path, "anyOf", text))

    return check


def _all_of(compiler: _Compiler, parts: list, node: dict, message: str | None) -> Check:
    checks = [compiler.compile(part) for part in parts]

    def check(value: Any, path: DocPath, out: list[Violation]) -> None:
        for sub in checks:
            sub(value, path, out)

    return check


def _not(compiler: _Compiler, negated: Any, node: dict, message: str | None) -> Check:
    """``not`` a combination of ``required`` lists ("at most one of json, data, form") points
    at the second of those keys present, where the loader points too."""
    holds = _fast_test(negated) or _slow_test(compiler.compile(negated))
    names = list(dict.fromkeys(_required_names(negated)))

    def check(value: Any, path: DocPath, out: list[Violation]) -> None:
        if holds(value, path):
            present = [name for name in names if isinstance(value, dict) and name in value]
            key = present[1] if len(present) > 1 else None
            text = message or f"{_subject(path)} is not allowed here"
            out.append(Violation(path, "not", text, key))

    return check


def _slow_test(check: Check) -> Callable[[Any, DocPath], bool]:
    def holds(value: Any, path: DocPath) -> bool:
        found: list[Violation] = []
        check(value, path, found)
        return not found

    return holds


def _fast_test(node: Any) -> Callable[[Any, DocPath], bool] | None:
    """Whether a value is valid, without building messages, for the two shapes ``not`` is
    given in the spec schema (a list of names; mappings with some keys together)."""
    if not isinstance(node, dict):
        return None
    if set(node) == {"enum"} and all(isinstance(item, str) for item in node["enum"]):
        words = frozenset(node["enum"])
        return lambda value, path: isinstance(value, str) and value in words
    branches = node.get("anyOf", ())
    if (
        set(node) == {"type", "anyOf"}
        and node["type"] == "object"
        and all(isinstance(b, dict) and set(b) == {"required"} for b in branches)
    ):
        lists = [tuple(b["required"]) for b in branches]
        return lambda value, path: (
            isinstance(value, dict) and any(all(key in value for key in keys) for keys in lists)
        )
    return None


def _required_names(node: Any) -> list[str]:
    if not isinstance(node, dict):
        return []
    names = list(node.get("required", ()))
    for branch in node.get("anyOf", ()):
        names += _required_names(branch)
    return names


def _ignore(compiler: _Compiler, value: Any, node: dict, message: str | None) -> None:
    return None


_BUILDERS: dict[str, Callable[[_Compiler, Any, dict, str | None], Check | None]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "pattern": _pattern,
    "minimum": _bound("minimum", lambda v, m: v >= m, "at least"),
    "maximum": _bound("maximum", lambda v, m: v <= m, "at most"),
    "exclusiveMinimum": _bound("exclusiveMinimum", lambda v, m: v > m, "more than"),
    "required": _required,
    "properties": _properties,
    "additionalProperties": _additional,
    "propertyNames": _property_names,
    "minProperties": _size("minProperties", lambda n, m: n >= m, "at least", dict),
    "maxProperties": _size("maxProperties", lambda n, m: n <= m, "at most", dict),
    "items": _items,
    "minItems": _size("minItems", lambda n, m: n >= m, "at least", list),
    "anyOf": _any_of,
    "allOf": _all_of,
    "not": _not,
    "errorMessage": _ignore,
}


def compile_schema(schema: dict[str, Any]) -> Check:
    """A check function for a schema that uses only the keywords in KEYWORDS."""
    return _Compiler(schema).compile(schema)
