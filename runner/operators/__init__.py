"""The registry of the spec's checks, on Hurl's model: an expectation is query → predicate, a
capture is a query. ``QUERIES`` (queries.py) holds every query kind, ``PREDICATES``
(predicates.py) every operator; the loader, the spec schema, the engine and the reports are
driven by these two tables, so adding either is one entry in one file (docs/extending.md).
"""

from .jsonpath import JSONPath, JSONPathError, compile_jsonpath
from .predicates import (
    EQUALS,
    OPERATOR_NAMES,
    PREDICATES,
    Predicate,
    Verdict,
    check_operand,
    evaluate,
    failure_text,
    show,
    show_typed,
)
from .queries import BODY, JSONPATH, QUERIES, STATUS, QueryKind
from .values import JSON_TYPES, MISSING, NOT_FOUND, Mismatch, json_equal, json_type

__all__ = [
    "BODY",
    "EQUALS",
    "JSONPATH",
    "JSON_TYPES",
    "MISSING",
    "NOT_FOUND",
    "OPERATOR_NAMES",
    "PREDICATES",
    "QUERIES",
    "STATUS",
    "JSONPath",
    "JSONPathError",
    "Mismatch",
    "Predicate",
    "QueryKind",
    "Verdict",
    "check_operand",
    "compile_jsonpath",
    "evaluate",
    "failure_text",
    "json_equal",
    "json_type",
    "show",
    "show_typed",
]
