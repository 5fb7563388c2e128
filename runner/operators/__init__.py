"""What can be read from a response (queries) and how it can be checked (predicates).

Captures and expectations share the queries; adding an operator means adding one function
to one registry here.
"""

from .predicates import OPERATORS, PredicateTypeError, check_operand, json_type, matches_status
from .queries import MISSING, QUERY_KINDS, QueryError, compile_jsonpath, compile_regex, run_query

__all__ = [
    "MISSING",
    "OPERATORS",
    "QUERY_KINDS",
    "PredicateTypeError",
    "QueryError",
    "check_operand",
    "compile_jsonpath",
    "compile_regex",
    "json_type",
    "matches_status",
    "run_query",
]
