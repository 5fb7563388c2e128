"""The spec format as a JSON Schema (``apirun.schema.json``), generated from the model and
the registry (build.py): the contract for editors and other tools.

One shape validator runs at load time: the loader's (it knows the step, and suggests the
nearest key). The schema is not applied a second time: two validators hid each other's
mistakes (a rule missing from one was covered by the other). Instead tests/test_schema.py
holds them to the same verdicts, on random documents and key table by key table, with a
small interpreter of the schema's keywords (``violations``; itself held to jsonschema's
verdicts) — so a rule missing from either one fails a test. ``check_document`` turns the
schema's violations into positioned diagnostics, for those tests and for tools.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import Diagnostic
from ..source import Source
from ..yamlsource import LocDict, LocList
from ._interpreter import Check, DocPath, SchemaCompileError, Violation, compile_schema

__all__ = [
    "SCHEMA_PATH",
    "Check",
    "DocPath",
    "SchemaCompileError",
    "Violation",
    "check_document",
    "compile_schema",
    "load_schema",
    "locate",
    "schema_text",
    "violations",
]

SCHEMA_PATH = Path(__file__).with_name("apirun.schema.json")


def load_schema() -> dict[str, Any]:
    """The schema as data (a fresh copy), built from the registry: the shipped file is this."""
    from .build import build_schema

    return build_schema()


def schema_text() -> str:
    """The schema as ``apirun schema`` prints it and ``apirun.schema.json`` holds it."""
    return json.dumps(load_schema(), indent=2, ensure_ascii=False) + "\n"


_spec_check: Check | None = None


def violations(document: Any) -> list[Violation]:
    """Every way a parsed spec document breaks the spec schema (compiled on first use)."""
    global _spec_check
    if _spec_check is None:
        _spec_check = compile_schema(load_schema())
    found: list[Violation] = []
    _spec_check(document, (), found)
    return found


# -- violations → diagnostics with positions ----------------------------------------------------


def check_document(document: Any, file: str, known: Iterable[Diagnostic] = ()) -> list[Diagnostic]:
    """The schema's diagnostics for a parsed spec, each at its line and column, leaving out
    those about a part of the file where the loader already reported a problem (``known``):
    one message per problem, and the loader's (with its did-you-mean) wins."""
    found = violations(document)
    if not found:
        return []
    lines = {d.source.line for d in known if d.source.file == file}
    result = []
    for violation in found:
        position, first, last = locate(document, violation)
        if any(first <= line <= last for line in lines):
            continue
        result.append(
            Diagnostic(violation.message, Source(file, *position), _step_name(document, violation))
        )
    return result


def locate(document: Any, violation: Violation) -> tuple[tuple[int, int], int, int]:
    """Where a violation points (line, column), and the first and last lines of the part of
    the file it is about, from its path: the key for unknown keys and names, the mapping for
    a missing key, else the value; the part is the whole ``key: value`` entry."""
    parent: Any = None
    node: Any = document
    for part in violation.path:
        parent = node
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return (1, 1), 1, _END
    keyed = ("additionalProperties", "propertyNames", "not")
    if violation.keyword in keyed and violation.key is not None and isinstance(node, LocDict):
        position = node.key_position(violation.key)
        last = _last_line(node.get(violation.key), node.value_position(violation.key)[0])
        return position, position[0], max(position[0], last)
    if not violation.path:  # about the whole file
        return (node.position if isinstance(node, LocDict | LocList) else (1, 1)), 1, _END
    key = violation.path[-1]
    position = _value_position(parent, key)
    first = parent.key_position(key)[0] if isinstance(parent, LocDict) else position[0]
    if violation.keyword == "required" and isinstance(node, LocDict):
        position = node.position
    last = _last_line(node, position[0])
    return position, min(first, position[0]), max(first, last)  # an alias's value is elsewhere


_END = 1 << 30  # past any line


def _value_position(parent: Any, key: Any) -> tuple[int, int]:
    if isinstance(parent, LocDict):
        return parent.value_position(key)
    if isinstance(parent, LocList):
        return parent.item_position(key)
    return (1, 1)


def _last_line(node: Any, start: int) -> int:
    """The last line a value spans (as far as the positions of its keys and items tell)."""
    last = start
    if isinstance(node, LocDict):
        for key, value in node.items():
            last = max(last, node.key_position(key)[0])
            last = max(last, _last_line(value, node.value_position(key)[0]))
    elif isinstance(node, LocList):
        for index, value in enumerate(node):
            last = max(last, _last_line(value, node.item_position(index)[0]))
    return last


def _step_name(document: Any, violation: Violation) -> str | None:
    path = violation.path
    if len(path) < 2 or path[0] != "steps" or not isinstance(path[1], int):
        return None
    try:
        name = document["steps"][path[1]].get("name")
    except (AttributeError, IndexError, KeyError, TypeError):
        return None
    return name if isinstance(name, str) and name.strip() else None
