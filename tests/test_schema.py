"""The spec schema (runner/schema/apirun.schema.json) against the loader and against jsonschema.

- it is a valid draft-07 schema, shipped with the package, and the example specs pass it;
- it names exactly the keys the loader accepts (a new key in one and not the other fails here);
- apirun's interpreter of it gives jsonschema's verdicts (random documents);
- on documents whose problems are all of shape, the loader reports a problem exactly when the
  schema does, and always at a line the schema's own message would cover: so the schema never
  has to speak twice, and never stays silent about a shape the loader refuses.
"""

from __future__ import annotations

import json
import keyword
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from runner import loader
from runner.errors import SpecError
from runner.loader import load_text
from runner.schema import SCHEMA_PATH, check_document, load_schema, locate, violations
from runner.yamlsource import parse_yaml

REPO = Path(__file__).resolve().parent.parent
SCHEMA = load_schema()
DEFS = SCHEMA["definitions"]
JSONSCHEMA = jsonschema.Draft7Validator(SCHEMA)


def test_the_schema_is_a_valid_draft_07_schema_shipped_in_the_package():
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert SCHEMA_PATH.parent.name == "schema" and SCHEMA_PATH.parent.parent.name == "runner"
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"schema/*.json"' in pyproject  # package data: installed with apirun


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (REPO / "specs").rglob("*.yaml") if p.name != "apirun.yaml"),
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_every_example_spec_passes_the_schema(path):
    document = parse_yaml(path.read_text(encoding="utf-8"))
    assert list(JSONSCHEMA.iter_errors(document)) == []
    assert violations(document) == []
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=" + _relative_schema(path)


def _relative_schema(spec: Path) -> str:
    up = len(spec.relative_to(REPO).parts) - 1
    return "../" * up + "runner/schema/apirun.schema.json"


# -- the schema and the loader name the same keys -----------------------------------------------


def _object_keys(node: dict) -> set[str]:
    node = _resolve(node)
    for part in node.get("allOf", ()):
        if "$ref" in part:
            return _object_keys(part)
    return set(node["properties"])


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        node = DEFS[node["$ref"].rsplit("/", 1)[1]]
    return node


def _capture_kinds() -> set[str]:
    mappings = [b for b in DEFS["captureSpec"]["anyOf"] if b.get("type") == "object"]
    return {key for mapping in mappings for key in mapping["properties"]}


def _body_keys() -> set[str]:
    return {key for branch in DEFS["request"]["not"]["anyOf"] for key in branch["required"]}


# Every table of keys in runner/loader.py, and where the schema lists the same names.
KEY_TABLES = {
    "FILE_KEYS": lambda: set(SCHEMA["properties"]),
    "DEFAULTS_KEYS": lambda: _object_keys(DEFS["defaults"]),
    "STEP_KEYS": lambda: _object_keys(DEFS["step"]) - {"include", "vars"},
    "INCLUDE_KEYS": lambda: {"name"} | (_object_keys(DEFS["step"]) & {"include", "vars"}),
    "INCLUDED_FILE_KEYS": lambda: {"name", "base_url", "vars", "steps"} & set(SCHEMA["properties"]),
    "RETRY_KEYS": lambda: _object_keys(DEFS["retry"]),
    "REQUEST_KEYS": lambda: _object_keys(DEFS["request"]),
    "BODY_KEYS": _body_keys,
    "EXPECT_KEYS": lambda: _object_keys(DEFS["expect"]),
    "CAPTURE_KINDS": lambda: _capture_kinds() - {loader.SECRET},  # beside the kind: an option
    "LOOP_FILE_KEYS": lambda: _object_keys(DEFS["step"]["properties"]["loop"]["anyOf"][2]),
    "EXPECTATION_OPERATORS": lambda: _object_keys(DEFS["operators"]),
    "FILE_BODY_KEYS": lambda: _object_keys(DEFS["request"]["properties"]["data"]["anyOf"][1]),
    "UPLOAD_KEYS": lambda: _object_keys(
        DEFS["request"]["properties"]["files"]["additionalProperties"]["anyOf"][1]
    ),
    "CERT_KEYS": lambda: _object_keys(DEFS["cert"]["anyOf"][1]),
}


@pytest.mark.parametrize("table", sorted(KEY_TABLES))
def test_the_schema_and_the_loader_accept_the_same_keys(table):
    in_loader = set(getattr(loader, table))
    in_schema = KEY_TABLES[table]()
    assert in_loader - in_schema == set(), f"loader.{table} has keys the schema lacks"
    assert in_schema - in_loader == set(), f"the schema has keys loader.{table} lacks"


def test_every_key_table_of_the_loader_is_compared_with_the_schema():
    tables = {
        name
        for name, value in vars(loader).items()
        if name.isupper() and (name.endswith("_KEYS") or name.endswith("_KINDS"))
        if isinstance(value, tuple)
    }
    tables.add("EXPECTATION_OPERATORS")
    missing = tables - set(KEY_TABLES)
    assert not missing, (
        f"loader tables {sorted(missing)} are not compared with the schema: add their keys to "
        "runner/schema/apirun.schema.json and a line to KEY_TABLES here"
    )


def test_the_schema_refuses_the_same_variable_names_as_the_loader():
    refused = set(DEFS["variableName"]["not"]["enum"])
    expected = set(loader.RESERVED_NAMES) | set(loader._JINJA_WORDS) | set(keyword.kwlist)
    assert refused == expected


def test_the_required_keys_agree():
    assert SCHEMA["required"] == ["steps"]
    assert DEFS["step"]["required"] == ["name"]
    assert DEFS["step"]["anyOf"] == [{"required": ["request"]}, {"required": ["include"]}]
    assert DEFS["request"]["required"] == ["url"]
    for text, missing in [
        ("name: t\n", "'steps'"),
        ("steps:\n  - request: {url: 'http://h/'}\n", "'name'"),
        ("steps:\n  - name: a\n", "'request'"),
        ("steps:\n  - name: a\n    request: {}\n", "'url'"),
    ]:
        with pytest.raises(SpecError) as error:
            load_text(text, "t.yaml")
        assert any(missing in d.message for d in error.value.diagnostics)
        # a step without request: the anyOf that asks for request or include
        assert any(v.keyword in ("required", "anyOf") for v in violations(parse_yaml(text)))


# -- random documents -------------------------------------------------------------------------

TEXT = st.sampled_from(["a", "b c", "http://127.0.0.1:9/a", "$.a", "2xx", "get", "string", "x_1"])
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 700),
    st.sampled_from([0.5, -1.5, 0.0]),
    TEXT,
    st.just([]),
    st.just({}),
    st.lists(st.integers(100, 600) | TEXT, min_size=1, max_size=2),
    st.just({"bogus": 1}),
)


# One value in about 30 is junk, so that many documents are valid and many are not. (Not
# st.one_of: hypothesis favours the rarer branches. Its integers favour the ends of a range,
# so the junk is drawn from the middle.)
RARELY = st.integers(0, 99).map(lambda n: 40 <= n < 43)


def maybe(good: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly a right value, rarely anything."""
    return RARELY.flatmap(lambda junk: JUNK if junk else good)


def mapping(required: dict, optional: dict, typos: tuple[str, ...] = ()) -> st.SearchStrategy:
    """A mapping with these keys, rarely one that is not (a typo or an unknown key)."""
    wrong = st.sampled_from(typos).map(lambda typo: {typo: 1}) if typos else st.just({})
    extra = RARELY.flatmap(lambda junk: wrong if junk else st.just({}))
    return st.tuples(st.fixed_dictionaries(required, optional=optional), extra).map(
        lambda parts: {**parts[0], **parts[1]}
    )


NAMES = st.sampled_from(["a", "token", "user_id", "env", "1x", "x-y", "None", "item"])
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), TEXT)
PAIRS = st.dictionaries(TEXT, maybe(SCALAR | st.lists(SCALAR, max_size=2)), max_size=2)
HEADERS = st.dictionaries(TEXT | st.integers(1, 2), maybe(TEXT | st.integers(0, 9)), max_size=2)
OPERATORS = mapping(
    {},
    {
        "equals": JUNK,
        "contains": JUNK,
        "matches": maybe(st.just("a+")),
        "exists": maybe(st.booleans()),
        "length": maybe(st.integers(0, 3)),
        "type": maybe(st.sampled_from(["string", "array", None])),
        "gt": maybe(st.integers(0, 3)),
        "one_of": maybe(st.lists(SCALAR, max_size=2)),
    },
    ("equls", "matchs"),
)
CHECK = maybe(SCALAR | OPERATORS)
STATUS = maybe(st.sampled_from([200, 404, "2xx", "5XX", "201", [200, "3xx"], 99, 600, "abc", []]))
REQUEST = mapping(
    {"url": maybe(st.just("http://127.0.0.1:9/x"))},
    {
        "method": maybe(st.sampled_from(["GET", "post", "G T"])),
        "params": maybe(PAIRS),
        "headers": maybe(HEADERS),
        "json": JUNK,
        "data": maybe(TEXT),
        "form": maybe(PAIRS),
        "timeout": maybe(st.sampled_from([1, 0.5, 30])),
        "follow_redirects": maybe(st.booleans()),
    },
    ("methd", "header"),
)
EXPECT = mapping(
    {},
    {
        "status": STATUS,
        "headers": maybe(st.dictionaries(TEXT, CHECK, max_size=2)),
        "jsonpath": maybe(st.dictionaries(st.just("$.a") | st.integers(1, 2), CHECK, max_size=2)),
        "body": maybe(OPERATORS),
        "schema": maybe(st.just({"type": "object"})),
    },
    ("stauts",),
)
CAPTURE_SPEC = maybe(
    st.sampled_from(["$.a", {"header": "X-A"}, {"status": True}, {"body": True}, {"regex": "a"}])
    | st.just({"header": "X", "cookie": "c"})
    | st.just({"hedaer": "X"})
)
CAPTURE = st.dictionaries(NAMES, CAPTURE_SPEC, max_size=2)
STEP = mapping(
    {"name": maybe(st.sampled_from(["s1", "s2", "s3", " "])), "request": maybe(REQUEST)},
    {
        "expect": maybe(EXPECT),
        "capture": maybe(CAPTURE),
        "xfail": maybe(st.booleans() | TEXT),
        "skip": maybe(st.booleans() | TEXT | st.just("  ")),
    },
    ("captur", "xfial"),
)
DOCUMENT = maybe(
    mapping(
        {"steps": maybe(st.lists(maybe(STEP), max_size=2))},
        {
            "name": maybe(TEXT),
            "base_url": maybe(st.just("http://127.0.0.1:9")),
            "skip": maybe(TEXT | st.booleans()),
            "when": maybe(st.sampled_from(["a == 1", True, "{{ b }}"])),
            "vars": maybe(st.dictionaries(NAMES, JUNK, max_size=2)),
            "defaults": maybe(
                mapping(
                    {},
                    {
                        "headers": maybe(HEADERS),
                        "timeout": maybe(st.sampled_from([1, 2.5])),
                        "verify": maybe(st.booleans()),
                        "max_body_mb": maybe(st.sampled_from([1, 0.5])),
                        "continue_on_failure": maybe(st.booleans()),
                    },
                    ("timout",),
                )
            ),
        },
        ("step",),
    )
)

# What only the loader can see: not a matter of shape.
SEMANTIC = (
    "duplicate step name",
    "is relative",
    "JSONPath",
    "regular expression",
    "template",
    "schema file",
    "JSON Schema",
    "CA bundle",
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(document=DOCUMENT)
def test_apirun_gives_jsonschemas_verdict(document):
    ours = violations(document)
    theirs = list(JSONSCHEMA.iter_errors(document))
    assert bool(ours) == bool(theirs), (ours, [e.message for e in theirs])
    # …at the same places: each of ours lies in (or is) the value one of theirs is about.
    for violation in ours:
        assert any(tuple(e.absolute_path) == violation.path[: len(e.path)] for e in theirs)
    for error in theirs:
        assert any(v.path[: len(error.path)] == tuple(error.absolute_path) for v in ours)


@SETTINGS
@given(document=DOCUMENT)
@example(  # the loader pointed at the status list, the schema at its bad item 'a'
    document={
        "steps": [
            {"name": "s1", "request": {"url": "http://127.0.0.1:9/x"}},
            {"name": "s2", "request": None, "expect": {"status": [100, "a"]}},
        ]
    }
)
@example(  # two kinds: the schema accepted it once secret: made room for a second key
    document={
        "steps": [
            {
                "name": "s1",
                "request": {"url": "http://127.0.0.1:9/x"},
                "capture": {"a": {"header": "X", "cookie": "c"}},
            }
        ]
    }
)
def test_the_loader_refuses_exactly_what_the_schema_refuses(document):
    text = yaml.safe_dump(document, sort_keys=False)
    parsed = parse_yaml(text)
    builder = loader._Builder("random.yaml")
    builder.spec(parsed, text)
    shape = [d for d in builder.diagnostics if not any(s in d.message for s in SEMANTIC)]
    assume(len(shape) == len(builder.diagnostics))  # only shape problems, or none
    found = violations(parsed)
    assert bool(shape) == bool(found), ([d.message for d in shape], found)
    # The loader reported every problem the schema found, on its lines: nothing left to add.
    assert check_document(parsed, "random.yaml", builder.diagnostics) == []


def test_schema_violations_point_where_the_loader_points():
    text = (
        "name: t\n"
        "stepz: []\n"
        "steps:\n"
        "  - name: a\n"
        "    request:\n"
        "      url: http://h/x\n"
        "      json: {}\n"
        "      data: raw\n"
        "      timeout: -1\n"
        "    expect: {status: 999, stauts: 1}\n"
        "    capture:\n"
        "      1x: $.a\n"
    )
    parsed = parse_yaml(text)
    builder = loader._Builder("t.yaml")
    builder.spec(parsed, text)
    by_loader = {(d.source.line, d.source.column) for d in builder.diagnostics}
    by_schema = {locate(parsed, v)[0] for v in violations(parsed)}
    assert by_schema == by_loader == {(2, 1), (8, 7), (9, 16), (10, 22), (10, 27), (12, 7)}


def test_apirun_schema_prints_the_shipped_schema(capsys):
    from runner.cli import main

    capsys.readouterr()
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed) == SCHEMA
    assert printed == SCHEMA_PATH.read_text(encoding="utf-8")


def test_the_shipped_schema_is_the_generated_one():
    """runner/schema/apirun.schema.json is built from the registry; regenerate it with
    ``python -m runner.schema --write`` after changing an operator, a query kind or a key."""
    from runner.schema import schema_text

    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "apirun.schema.json is stale: run python -m runner.schema --write"
    )
