"""expect.schema: the response body against a JSON Schema, inline or from a file beside the spec;
draft 2020-12 by default, draft 4 (or another) when the schema's $schema says so."""

from __future__ import annotations

import json
import re

import pytest

try:
    from .helpers import assert_points, line_of, run_cli, run_subprocess, write_spec
except ImportError:  # tests/ is a plain directory
    from helpers import assert_points, line_of, run_cli, run_subprocess, write_spec

DRAFT_4 = "http://json-schema.org/draft-04/schema#"

# What /json answers (tests/server.py JSON_DOCUMENT), described truly.
TRUE_SCHEMA = {
    "type": "object",
    "required": ["string", "int", "users"],
    "properties": {
        "string": {"type": "string"},
        "int": {"type": "integer"},
        "users": {
            "type": "array",
            "items": {"type": "object", "required": ["id", "name"]},
        },
    },
}


def spec_with_schema(schema: str, url: str = "/json") -> str:
    return f"""
        base_url: "{{base}}"
        steps:
          - name: check the body
            request: {{url: "{url}"}}
            expect:
              schema: {schema}
          - name: after
            request: {{url: /echo}}
        """


def test_a_body_that_matches_a_schema_file_passes(srv, tmp_path, capsys):
    folder = tmp_path / "specs"
    (folder / "schemas").mkdir(parents=True)
    (folder / "schemas" / "doc.json").write_text(json.dumps(TRUE_SCHEMA), encoding="utf-8")
    spec = write_spec(folder, spec_with_schema("schemas/doc.json"), base=srv.url)
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    assert "2 passed" in result.out


def test_a_schema_path_is_relative_to_the_spec_file_not_the_working_folder(srv, tmp_path):
    folder = tmp_path / "specs"
    (folder / "schemas").mkdir(parents=True)
    (folder / "schemas" / "doc.yaml").write_text(json.dumps(TRUE_SCHEMA), encoding="utf-8")
    write_spec(folder, spec_with_schema("schemas/doc.yaml"), base=srv.url)
    result = run_subprocess("specs/spec.yaml", cwd=tmp_path)
    assert result.code == 0, result.text
    result = run_subprocess("spec.yaml", cwd=folder)
    assert result.code == 0, result.text


def test_every_violation_is_reported_with_its_json_path(srv, tmp_path, capsys):
    spec = write_spec(
        tmp_path,
        spec_with_schema(
            """
                type: object
                required: [string, missing]
                properties:
                  int: {type: string}
                  users:
                    type: array
                    items:
                      properties: {age: {maximum: 10}}
                  object:
                    additionalProperties: false
                    properties: {b: {}}"""
        ),
        base=srv.url,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 1, result.text
    assert "- schema the inline schema: 4 violations" in result.out
    for line in [
        "$: 'missing' is a required property",
        "$.int: 1 is not of type 'string'",
        "$.users[0].age: 42 is greater than the maximum of 10",
        "$.object: Additional properties are not allowed ('a' was unexpected)",
    ]:
        assert re.search(rf"^ {{12}}{re.escape(line)}$", result.out, re.MULTILINE), result.out
    assert_points(result.out, spec, line_of(spec, "schema:"))
    assert re.search(r"SKIP\s+after", result.out)


def test_draft_4_is_chosen_by_dollar_schema(srv, tmp_path, capsys):
    # exclusiveMaximum is a boolean in draft 4 and a number in 2020-12: each draft reads
    # its own form; and 2020-12's prefixItems means nothing to draft 4.
    def run(schema: dict) -> str:
        spec = write_spec(tmp_path, spec_with_schema(json.dumps(schema)), base=srv.url)
        return run_cli(capsys, str(spec))

    draft_4 = {
        "$schema": DRAFT_4,
        "properties": {"int": {"maximum": 1, "exclusiveMaximum": True}},
    }
    result = run(draft_4)
    assert result.code == 1, result.text
    assert "$.int: 1 is greater than or equal to the maximum of 1" in result.out

    result = run({"properties": {"int": {"exclusiveMaximum": 1}}})  # 2020-12
    assert result.code == 1, result.text
    assert "$.int: 1 is greater than or equal to the maximum of 1" in result.out

    result = run({k: v for k, v in draft_4.items() if k != "$schema"})
    assert result.code == 2, result.text
    assert "invalid JSON Schema (draft 2020-12)" in result.err
    assert "True is not of type 'number'" in result.err

    prefix = {"properties": {"list": {"prefixItems": [{"type": "string"}]}}}
    assert "$.list[0]: 1 is not of type 'string'" in run(prefix).out
    assert run({"$schema": DRAFT_4, **prefix}).code == 0


def test_a_body_that_is_not_json_fails_the_expectation(srv, tmp_path, capsys):
    spec = write_spec(tmp_path, spec_with_schema("{type: object}", url="/text"), base=srv.url)
    result = run_cli(capsys, str(spec))
    assert result.code == 1, result.text
    assert "- schema the inline schema: the response body is not JSON (text/plain" in result.out


def test_many_violations_are_cut_short(srv, tmp_path, capsys):
    # /echo?a=1&a=2… answers every query parameter: 30 strings that should be integers.
    query = "&".join(f"k{n}=v" for n in range(30))
    schema = "{properties: {query: {additionalProperties: {type: integer}}}}"
    spec = write_spec(tmp_path, spec_with_schema(schema, url=f"/echo?{query}"), base=srv.url)
    result = run_cli(capsys, str(spec))
    assert result.code == 1, result.text
    assert "20 or more violations" in result.out
    assert "… and more (the first 20 are shown)" in result.out
    assert len(re.findall(r"^ +\$\.query\.k\d+: ", result.out, re.MULTILINE)) == 20


def test_a_schema_never_fetches_a_reference_from_the_network(srv, tmp_path, capsys):
    schema = json.dumps({"$ref": f"{srv.url}/json"})
    spec = write_spec(tmp_path, spec_with_schema(schema), base=srv.url)
    result = run_cli(capsys, str(spec))
    assert result.code == 1, result.text
    assert "the schema cannot be applied" in result.out
    assert [r.path for r in srv.app.requests] == ["/json"]  # the step's own request only


@pytest.mark.parametrize(
    ("file_text", "name", "says"),
    [
        pytest.param(None, "missing.json", "no schema file missing.json", id="missing-file"),
        pytest.param(
            '{"type": "object",\n "properties": {}\n',
            "bad.json",
            "not valid JSON: Expecting ',' delimiter at line 3, column 1",
            id="invalid-json",
        ),
        pytest.param(
            "type: [object\n", "bad.yaml", "the schema file bad.yaml is not valid YAML", id="yaml"
        ),
        pytest.param(
            '{"type": "objekt"}',
            "wrong.json",
            "invalid JSON Schema (draft 2020-12) in wrong.json: 'objekt' is not valid",
            id="not-a-schema",
        ),
        pytest.param(b'{"type": "caf\xe9"}', "latin1.json", "is not UTF-8 text", id="not-utf8"),
    ],
)
@pytest.mark.parametrize("command", [("check",), ()], ids=["check", "run"])
def test_a_broken_schema_file_is_a_spec_error_at_its_line(
    srv, tmp_path, capsys, file_text, name, says, command
):
    if isinstance(file_text, bytes):
        (tmp_path / name).write_bytes(file_text)
    elif file_text is not None:
        (tmp_path / name).write_text(file_text, encoding="utf-8")
    spec = write_spec(tmp_path, spec_with_schema(name), base=srv.url)
    result = run_cli(capsys, *command, str(spec))
    assert result.code == 2, result.text
    assert says in result.err
    assert_points(result.err, spec, line_of(spec, "schema:"), 15)
    assert "(step 'check the body')" in result.err
    assert "Traceback" not in result.text
    assert srv.app.requests == []


def test_an_invalid_inline_schema_points_at_the_wrong_keyword(srv, tmp_path, capsys):
    spec = write_spec(
        tmp_path,
        spec_with_schema(
            """
                type: object
                properties:
                  name: {type: strin}"""
        ),
        base=srv.url,
    )
    result = run_cli(capsys, "check", str(spec))
    assert result.code == 2, result.text
    assert "invalid JSON Schema (draft 2020-12) in the inline schema" in result.err
    assert "at /properties/name/type" in result.err
    assert_points(result.err, spec, line_of(spec, "strin"), 24)
