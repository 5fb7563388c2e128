"""The loader's part for ``expect:`` and ``capture:`` — each a query of the registry
(operators/), with its operands checked now — into model.Expectation and model.Capture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .load_shape import Shape, _has_template, _suggest, _type_name
from .model import Capture, Expectation, Query
from .operators import BODY, JSONPATH, OPERATOR_NAMES, QUERIES, QueryKind, check_operand
from .operators.bodyschema import SCHEMA
from .source import Source
from .yamlsource import LocDict, LocList

EXPECT_KEYS = (*(kind.expect_key for kind in QUERIES.values()), SCHEMA)
CAPTURE_KINDS = tuple(QUERIES)
SECRET = "secret"  # capture: {NAME: {KIND: ..., secret: true}}; vars: {NAME: {secret: VALUE}}
EXPECTATION_OPERATORS = OPERATOR_NAMES


class CheckShapes(Shape):
    """Builds a step's expectations and captures; names what a broken capture would define
    (``unsure``), so the static check does not blame its later uses."""

    unsure: set[str]

    def expectations(self, step: LocDict) -> list[Expectation]:
        if "expect" not in step:
            return []
        data = self.mapping(step["expect"], "'expect'", self.source(step, "expect", value=True))
        if data is None:
            return []
        self.check_keys(data, EXPECT_KEYS, "'expect'")
        result: list[Expectation] = []
        for kind in QUERIES.values():
            key = kind.expect_key
            if key not in data:
                continue
            if not kind.takes_argument:
                result += self.checks(Query(kind.name), data, key, data[key], kind)
                continue
            where = self.source(data, key, value=True)
            checks = self.mapping(data[key], f"'expect.{key}'", where)
            if checks is None:
                continue
            for argument, value in checks.items():
                at = self.source(checks, argument)
                if not isinstance(argument, str):
                    self.error(f"a {kind.name} argument must be a string, found {argument!r}", at)
                    self.checks(Query(kind.name), checks, argument, value, kind)  # its problems too
                    continue
                # A templated argument ($.a["{{ env.ID }}"]) renders when the step runs,
                # as a capture's does; a plain one is checked now.
                prepared = self.prepare(argument, at)
                problem = kind.check_argument(argument) if isinstance(prepared, str) else None
                if problem:
                    self.error(problem, at)
                    continue
                number = isinstance(value, int | float) and not isinstance(value, bool)
                if kind.text_values and number:
                    value = str(value)  # header values are text: Content-Length: 42 is "42"
                result += self.checks(Query(kind.name, prepared), checks, argument, value, kind)
        if SCHEMA in data:
            at = self.source(data, SCHEMA, value=True)
            schema = self.body_schema(data[SCHEMA], at)
            if schema is not None:  # reported at the key: the value may be a whole schema
                result.append(Expectation(Query(BODY), SCHEMA, schema, self.source(data, SCHEMA)))
        return result

    def body_schema(self, value: Any, at: Source) -> Any:
        """expect.schema: a JSON Schema file (relative to the spec file) or an inline schema,
        read and checked now, so that a broken schema sends nothing. Not templated."""
        from .operators.bodyschema import SchemaProblem, compile_body_schema, read_schema_file
        from .schema import Violation, locate

        if not isinstance(value, str | dict):
            self.error(
                "'schema' takes the path of a JSON Schema file, or the schema itself (a "
                f"mapping), found {_type_name(value)}",
                at,
            )
            return None
        try:
            if isinstance(value, str):
                document = read_schema_file(Path(self.path).parent / value, value)
                return compile_body_schema(document, value)
            return compile_body_schema(value, "the inline schema")
        except SchemaProblem as exc:
            if isinstance(value, LocDict) and exc.path:  # point inside the inline schema
                position = locate(value, Violation(exc.path, "", ""))[0]
                at = Source(self.path, *position)
            self.error(exc.message, at)
            return None

    def checks(
        self,
        query: Query,
        parent: dict[Any, Any] | list[Any],
        key: Any,
        value: Any,
        kind: QueryKind,
    ) -> list[Expectation]:
        """A literal means the kind's literal operator (equals; status: its shorthand); a
        mapping is operators (use equals: {...} for an object); a list of mappings, for the
        kinds that take one (body), is several checks."""
        at = self.source(parent, key, value=True)
        if isinstance(value, list) and kind.check_list:
            if not value:
                self.error(f"'{key}' takes at least one check", at)
            result: list[Expectation] = []
            for index, item in enumerate(value):
                if self.mapping(item, f"check {index + 1} of '{key}'", self.source(value, index)):
                    result += self.checks(query, value, index, item, kind)
            return result
        if isinstance(value, dict):
            if not value:
                self.error("an empty mapping checks nothing", at)
                return []
            return self.operators(query, value)
        prepared = self.prepare(value, at)
        if not _has_template(value):
            problem = check_operand(kind.literal, value)
            if problem:
                self.error(problem, self.culprit(kind.literal, value, at))
        elif isinstance(value, LocList):  # the templated items are checked when they render
            for index, item in enumerate(value):
                problem = None if _has_template(item) else check_operand(kind.literal, [item])
                if problem:
                    self.error(problem, self.source(value, index))
                    break
        return [Expectation(query, kind.literal, prepared, at)]

    def culprit(self, operator: str, value: Any, at: Source) -> Source:
        """Where a refused list operand goes wrong: its first item refused on its own (the
        schema points there too), else the list."""
        if isinstance(value, LocList):
            for index, item in enumerate(value):
                if check_operand(operator, [item]):
                    return self.source(value, index)
        return at

    def operators(self, query: Query, data: dict[Any, Any]) -> list[Expectation]:
        result = []
        for operator, operand in data.items():
            at = self.source(data, operator)
            if operator not in EXPECTATION_OPERATORS:
                self.error(
                    f"unknown operator '{operator}'",
                    at,
                    _suggest(operator, EXPECTATION_OPERATORS)
                    or f"operators: {', '.join(EXPECTATION_OPERATORS)}",
                )
                continue
            prepared = self.prepare(operand, at)
            if not _has_template(operand):
                problem = check_operand(operator, operand)
                if problem:
                    self.error(problem, at)
                    continue
            result.append(Expectation(query, operator, prepared, at))
        return result

    def captures(self, step: LocDict) -> list[Capture]:
        if "capture" not in step:
            return []
        data = self.mapping(step["capture"], "'capture'", self.source(step, "capture", value=True))
        if data is None:
            return []
        result = []
        for name, spec in data.items():
            at = self.source(data, name)
            named = self.variable_name(name, at, "capture")
            secret = False
            if isinstance(spec, LocDict) and SECRET in spec:
                secret = self.flag(spec, SECRET, False)
            query = self.capture_query(spec, self.source(data, name, value=True))
            if named and query is not None:
                result.append(Capture(name, query, at, secret))
            elif isinstance(name, str):
                self.unsure.add(name)
        return result

    def capture_query(self, spec: Any, at: Source) -> Query | None:
        if isinstance(spec, str) and spec.startswith("$"):
            spec = {JSONPATH: spec}
        elif not isinstance(spec, dict):
            self.error(
                "a capture is a JSONPath starting with '$' or a mapping with one of "
                f"{', '.join(CAPTURE_KINDS)}",
                at,
            )
            return None
        kinds = [key for key in spec if key in CAPTURE_KINDS]
        unknown = [key for key in spec if key not in CAPTURE_KINDS and key != SECRET]
        for key in unknown:
            self.error(
                f"unknown capture kind '{key}'",
                self.source(spec, key),
                _suggest(key, (*CAPTURE_KINDS, SECRET))
                or f"kinds: {', '.join(CAPTURE_KINDS)} (and secret: true)",
            )
        if len(kinds) != 1:
            if not unknown:
                self.error(f"a capture takes exactly one of {', '.join(CAPTURE_KINDS)}", at)
            return None
        kind = QUERIES[kinds[0]]
        value = spec[kind.name]
        where = self.source(spec, kind.name, value=True) if isinstance(spec, LocDict) else at
        if not kind.takes_argument:
            if value is not True:
                self.error(f"'{kind.name}' capture takes true", where)
                return None
            return Query(kind.name)
        if not self.expect_type(value, str, f"'{kind.name}' capture takes a string", where):
            return None
        prepared = self.prepare(value, where)
        if isinstance(prepared, str):
            problem = kind.check_argument(prepared)
            if problem:
                self.error(problem, where)
                return None
        return Query(kind.name, prepared)
