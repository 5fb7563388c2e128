"""JSON Schema assertions on response bodies (``expect: {schema: ...}``), with jsonschema.

Draft 2020-12 unless the schema's ``$schema`` names another draft that jsonschema knows
(draft 4, as OpenStack's API schemas are written; 6, 7, 2019-09). Schemas are read and
checked against their draft's meta-schema when the spec loads, so a broken schema is a spec
error with its position, not a failure found halfway through a run. jsonschema is imported
only by specs that use ``schema`` (it costs ~55 ms).

References: ``#/...`` within the schema resolve; other documents are never fetched (left to
itself, jsonschema would download a URL named in a ``$ref``). ``format`` is an annotation,
as draft 2020-12 says, and is not checked.
"""

from __future__ import annotations

import json
from dataclasses import field
from itertools import islice
from pathlib import Path
from typing import Any

from ..files import read_bounded
from ..record import Record, record

SCHEMA = "schema"  # the expect key, and the operator name in results and reports
DEFAULT_DRAFT = "https://json-schema.org/draft/2020-12/schema"
SHOWN = 20  # violations listed for one response; the rest are counted as "more"
MESSAGE_LIMIT = 200  # characters of one violation's message (they quote the value)


class SchemaProblem(ValueError):
    """The schema cannot be read or is not a valid JSON Schema. ``path``: where inside it."""

    def __init__(self, message: str, path: tuple[Any, ...] = ()):
        super().__init__(message)
        self.message = message
        self.path = path


@record
class BodySchema(Record):
    """A checked, compiled schema; ``label`` names it in reports (its path, or "inline")."""

    label: str
    draft: str
    validator: Any = field(repr=False, compare=False)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its schema and its draft's validator class: the compiled validator
        holds local functions (referencing's), and pytest-xdist's workers share loaded
        specs as pickles (runner/shared_loads.py)."""
        return (
            _validator_again,
            (self.label, self.draft, type(self.validator), self.validator.schema),
        )

    def violations(self, document: Any) -> list[str]:
        """Each way the document breaks the schema, as ``$.json.path: message``; the list
        ends with a count line when there are more than SHOWN. Raises SchemaProblem when the
        schema cannot be applied (a ``$ref`` that does not resolve)."""
        try:
            errors = list(islice(self.validator.iter_errors(document), SHOWN + 1))
        except RecursionError:
            raise SchemaProblem("the schema refers to itself without end") from None
        except Exception as exc:  # referencing's Unresolvable and its kin: the schema's fault
            raise SchemaProblem(f"the schema cannot be applied: {_exception_text(exc)}") from None
        found = [_describe(error) for error in errors[:SHOWN]]
        if len(errors) > SHOWN:
            found.append(f"… and more (the first {SHOWN} are shown)")
        return found


def _validator_again(label: str, draft: str, cls: Any, schema: Any) -> BodySchema:
    """A BodySchema unpickled: its schema was checked when the spec was loaded."""
    return BodySchema(label, draft, _validator(cls, schema))


def _validator(cls: Any, schema: Any) -> Any:
    """The draft's validator of a checked schema; ``$ref`` resolves within the schema only."""
    from referencing import Registry

    return cls(schema, registry=Registry())


def read_schema_file(path: Path, label: str) -> Any:
    """A schema file: JSON if it ends in .json, else YAML (safe, as specs are)."""
    try:
        text = read_bounded(path).decode("utf-8-sig")
    except FileNotFoundError:
        raise SchemaProblem(f"no schema file {label} (looked for {path})") from None
    except OSError as exc:
        raise SchemaProblem(f"cannot read the schema file {label}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SchemaProblem(f"the schema file {label} is not UTF-8 text") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaProblem(
                f"the schema file {label} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                f"column {exc.colno}"
            ) from None
    from ..yamlsource import YAMLSyntaxError, parse_yaml

    try:
        return parse_yaml(text)
    except YAMLSyntaxError as exc:
        line, column = exc.position
        raise SchemaProblem(
            f"the schema file {label} is not valid YAML: {exc.message} at line {line}, "
            f"column {column}"
        ) from None


_compiled: dict[str, BodySchema] = {}
_DRAFTS = {
    "Draft202012Validator": "draft 2020-12",
    "Draft201909Validator": "draft 2019-09",
    "Draft7Validator": "draft 7",
    "Draft6Validator": "draft 6",
    "Draft4Validator": "draft 4",
    "Draft3Validator": "draft 3",
}


def compile_body_schema(schema: Any, label: str) -> BodySchema:
    """Check a schema against its draft's meta-schema and compile it (once per content)."""
    if not isinstance(schema, dict | bool):
        raise SchemaProblem(f"a JSON Schema is a mapping (or true/false), found {schema!r}")
    try:
        key = json.dumps(schema, sort_keys=True)
    except (TypeError, ValueError):
        raise SchemaProblem("a JSON Schema has text keys only (as JSON does)") from None
    known = _compiled.get(key)
    if known is not None:
        return BodySchema(label, known.draft, known.validator)

    from jsonschema import validators
    from jsonschema.exceptions import SchemaError

    uri = schema.get("$schema", DEFAULT_DRAFT) if isinstance(schema, dict) else DEFAULT_DRAFT
    if not isinstance(uri, str):
        raise SchemaProblem(f"'$schema' names a draft by its URI, found {uri!r}", ("$schema",))
    # The stubs allow only a class as default; jsonschema returns whatever default is given.
    known_draft = validators.validator_for({"$schema": uri}, default=None)  # type: ignore[arg-type]
    cls = known_draft if uri else None
    if cls is None:
        raise SchemaProblem(
            f"unknown '$schema' {uri!r}: use {DEFAULT_DRAFT} (the default) or "
            "http://json-schema.org/draft-04/schema# (or another draft: 6, 7, 2019-09)",
            ("$schema",),
        )
    draft = _DRAFTS.get(cls.__name__, cls.__name__)
    try:
        if isinstance(schema, dict):  # true and false are valid schemas of every draft
            cls.check_schema(schema)
    except SchemaError as exc:
        where = _pointer(exc.absolute_path)
        raise SchemaProblem(
            f"invalid JSON Schema ({draft}) in {label}: {_short(exc.message)}"
            + (f" at {where}" if where else ""),
            tuple(exc.absolute_path),
        ) from None
    compiled = BodySchema(label, draft, _validator(cls, schema))
    _compiled[key] = compiled
    return compiled


def _describe(error: Any) -> str:
    """``$.users[0].id: 1 is not of type 'string'``; for anyOf/oneOf, the likeliest cause."""
    if error.context:
        from jsonschema.exceptions import best_match

        error = best_match(error.context) or error
    return f"{json_path(error.absolute_path)}: {_short(error.message)}"


def json_path(parts: Any) -> str:
    """A JSONPath for a place in a document: $, $.name, $.list[0], $['a key']."""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            text += f".{part}"
        else:
            text += "[" + json.dumps(str(part), ensure_ascii=False).replace('"', "'") + "]"
    return text


def _pointer(parts: Any) -> str:
    return "".join(f"/{part}" for part in parts)


def _short(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def _exception_text(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return _short(text[0] if text else type(exc).__name__)
