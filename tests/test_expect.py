"""expect: status, headers, jsonpath (every operator) and body, as a user sees them.

Every test runs the real ``apirun`` command against the in-repo test server and checks the
exit code, the failure text (expected and actual values, their types where they differ) and
the ``--> file:line`` that points back into the spec.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

try:
    from .helpers import assert_points, failure_lines, line_of, run_cli, run_subprocess, write_spec
except ImportError:  # tests/ is a plain directory
    from helpers import assert_points, failure_lines, line_of, run_cli, run_subprocess, write_spec


def expect_spec(tmp_path: Path, srv, expect: str | None, url: str = "/json") -> Path:
    """A one-step spec ("check": GET url) with ``expect`` as the step's expect block."""
    text = f'base_url: "{srv.url}"\nsteps:\n  - name: check\n    request:\n      url: "{url}"\n'
    if expect is not None:
        block = textwrap.indent(textwrap.dedent(expect).strip("\n"), " " * 6)
        text += f"    expect:\n{block}\n"
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run_passing(capsys, path: Path) -> None:
    result = run_cli(capsys, str(path))
    assert result.code == 0, result.text
    assert re.search(r"PASS\s+check\b", result.out), result.out
    assert "1 passed, 0 failed, 0 skipped" in result.out
    assert "Traceback" not in result.text


def run_failing(capsys, path: Path) -> tuple[str, list[tuple[str, int]]]:
    """Run a spec whose only step must fail; return the output and its reported failures."""
    result = run_cli(capsys, str(path))
    assert result.code == 1, result.text
    assert re.search(r"FAIL\s+check\b", result.out), result.out
    assert "0 passed, 1 failed, 0 skipped" in result.out
    assert "Traceback" not in result.text
    return result.out, failure_lines(result.out, path)


def only_failure(capsys, path: Path, subject: str, spec_fragment: str) -> str:
    """The single failure reported, checked to name ``subject`` and point at its spec line."""
    _, failures = run_failing(capsys, path)
    assert len(failures) == 1, failures
    message, line = failures[0]
    assert message.startswith(subject), message
    assert line == line_of(path, spec_fragment), (message, line)
    return message


# -- status -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expect"),
    [
        pytest.param("/status/201", "status: 201", id="int"),
        pytest.param("/status/204", "status: [200, 204]", id="list"),
        pytest.param("/status/404", 'status: "4xx"', id="class-4xx"),
        pytest.param("/status/201", 'status: "2xx"', id="class-2xx"),
        pytest.param("/status/503", 'status: [200, "5xx"]', id="list-with-class"),
        pytest.param("/status/201", None, id="default-2xx"),
    ],
)
def test_status_passes(srv, tmp_path, capsys, url, expect):
    run_passing(capsys, expect_spec(tmp_path, srv, expect, url=url))
    assert srv.app.last.path == url


@pytest.mark.parametrize(
    ("url", "expect", "fragments"),
    [
        pytest.param("/status/404", "status: 200", ["expected 200", "got 404"], id="int"),
        pytest.param("/status/201", "status: 200", ["expected 200", "got 201"], id="int-2xx"),
        pytest.param(
            "/status/500",
            "status: [200, 204]",
            ["expected 200 or 204", "got 500"],
            id="list-of-ints",
        ),
        pytest.param("/status/503", 'status: "2xx"', ["expected 2xx, got 503"], id="class"),
        pytest.param("/status/200", 'status: "4xx"', ["expected 4xx, got 200"], id="class-4xx"),
    ],
)
def test_status_fails_with_expected_and_actual(srv, tmp_path, capsys, url, expect, fragments):
    path = expect_spec(tmp_path, srv, expect, url=url)
    message = only_failure(capsys, path, "status", "status:")
    for fragment in fragments:
        assert fragment in message


def test_status_defaults_to_2xx_and_points_at_the_step(srv, tmp_path, capsys):
    path = expect_spec(tmp_path, srv, None, url="/status/404")
    message = only_failure(capsys, path, "status", "- name: check")
    assert "2xx" in message
    assert "404" in message


def test_explicit_status_replaces_the_default(srv, tmp_path, capsys):
    # expect.status 404 alone decides: the implicit 2xx does not also apply.
    run_passing(capsys, expect_spec(tmp_path, srv, "status: 404", url="/status/404"))


def test_status_class_failure_has_no_misleading_type_note(srv, tmp_path, capsys):
    path = expect_spec(tmp_path, srv, 'status: "2xx"', url="/status/503")
    message = only_failure(capsys, path, "status", "status:")
    assert "503" in message
    assert "(integer)" not in message and "(string)" not in message


# -- headers ------------------------------------------------------------------------------------

HEADERS_URL = "/headers?X-Color=blue&X-Count=5"


@pytest.mark.parametrize(
    "expect",
    [
        pytest.param("headers:\n  X-Color: blue", id="exact"),
        pytest.param("headers:\n  x-color: blue", id="exact-lowercase-name"),
        pytest.param("headers:\n  X-COLOR: blue", id="exact-uppercase-name"),
        pytest.param('headers:\n  X-Count: "5"', id="exact-number-as-text"),
        pytest.param("headers:\n  Content-Type: application/json", id="exact-content-type"),
        pytest.param('headers:\n  x-COLOR: {matches: "^bl.e$"}', id="matches"),
        pytest.param("headers:\n  content-type: {exists: true}", id="exists-true"),
        pytest.param("headers:\n  X-Missing: {exists: false}", id="exists-false"),
        pytest.param(
            "headers:\n  X-Color: {matches: ^b, not_equals: red, exists: true}",
            id="several-operators",
        ),
    ],
)
def test_headers_pass(srv, tmp_path, capsys, expect):
    run_passing(capsys, expect_spec(tmp_path, srv, expect, url=HEADERS_URL))


@pytest.mark.parametrize(
    ("expect", "subject", "fragments"),
    [
        pytest.param(
            "headers:\n  X-Color: red",
            "header X-Color",
            ['expected "red"', 'got "blue"'],
            id="exact",
        ),
        pytest.param(
            "headers:\n  x-color: red",
            "header x-color",
            ['expected "red"', 'got "blue"'],
            id="exact-lowercase-name",
        ),
        pytest.param(
            'headers:\n  X-Color: {matches: "^r"}',
            "header X-Color",
            ['"^r"', 'got "blue"'],
            id="matches",
        ),
        pytest.param(
            "headers:\n  X-Missing: {exists: true}",
            "header X-Missing",
            ["exist", "nothing"],
            id="exists-true",
        ),
        pytest.param(
            "headers:\n  X-Color: {exists: false}",
            "header X-Color",
            ['"blue"'],
            id="exists-false",
        ),
        pytest.param(
            "headers:\n  X-Missing: blue",
            "header X-Missing",
            ["X-Missing", '"blue"'],
            id="exact-but-absent",
        ),
    ],
)
def test_headers_fail_with_expected_and_actual(srv, tmp_path, capsys, expect, subject, fragments):
    path = expect_spec(tmp_path, srv, expect, url=HEADERS_URL)
    spec_line = expect.splitlines()[1].strip().split(":")[0] + ":"
    message = only_failure(capsys, path, subject, spec_line)
    for fragment in fragments:
        assert fragment in message


def test_header_expected_as_a_number_compares_as_text(srv, tmp_path, capsys):
    # A header is text: `X-Count: 5` means "5" (it must not be a check that can never pass).
    run_passing(capsys, expect_spec(tmp_path, srv, "headers:\n  X-Count: 5", url=HEADERS_URL))


def test_header_expected_as_a_number_fails_with_both_values(srv, tmp_path, capsys):
    path = expect_spec(tmp_path, srv, "headers:\n  X-Count: 6", url=HEADERS_URL)
    message = only_failure(capsys, path, "header X-Count", "X-Count: 6")
    assert '"6"' in message and 'got "5"' in message


# -- jsonpath: every operator -------------------------------------------------------------------
# /json answers: {"string": "text", "int": 1, "float": 1.5, "bool": true, "null": null,
#   "list": [1, 2, 3], "empty": [], "object": {"a": 1},
#   "users": [{"id": "u1", "name": "admin", "age": 42}, {"id": "u2", "name": "demo", "age": 7}]}

JSONPATH_PASSES = [
    ("equals-shorthand-string", "$.string: text"),
    ("equals-shorthand-null", "$.null: null"),
    ("equals-shorthand-bool", "$.bool: true"),
    ("equals-shorthand-list", "$.list: [1, 2, 3]"),
    ("equals-explicit-object", "$.object: {equals: {a: 1}}"),
    ("equals-int-is-float", "$.int: 1.0"),
    ("equals-float", "$.float: {equals: 1.5}"),
    ("not_equals", "$.string: {not_equals: other}"),
    ("not_equals-string-vs-int", '$.int: {not_equals: "1"}'),
    ("not_equals-bool-vs-int", "$.bool: {not_equals: 1}"),
    ("contains-substring", "$.string: {contains: ex}"),
    ("contains-list-item", "$.list: {contains: 2}"),
    ("contains-list-item-float", "$.list: {contains: 2.0}"),
    ("contains-object-key", "$.object: {contains: a}"),
    ("matches", '$.string: {matches: "^t.xt$"}'),
    ("matches-search", "$.string: {matches: ex}"),
    ("exists-true", "$.int: {exists: true}"),
    ("exists-true-on-null", "$.null: {exists: true}"),
    ("exists-false", "$.nope: {exists: false}"),
    ("length-list", "$.list: {length: 3}"),
    ("length-string", "$.string: {length: 4}"),
    ("length-empty", "$.empty: {length: 0}"),
    ("type-string", "$.string: {type: string}"),
    ("type-integer", "$.int: {type: integer}"),
    ("type-number-of-int", "$.int: {type: number}"),
    ("type-number-of-float", "$.float: {type: number}"),
    ("type-boolean", "$.bool: {type: boolean}"),
    ("type-null", '$.null: {type: "null"}'),
    ("type-array", "$.list: {type: array}"),
    ("type-object", "$.object: {type: object}"),
    ("gt", "$.int: {gt: 0}"),
    ("gt-float", "$.float: {gt: 1}"),
    ("gte", "$.int: {gte: 1}"),
    ("lt", "$.float: {lt: 2}"),
    ("lte", "$.float: {lte: 1.5}"),
    ("gt-strings", "$.string: {gt: abc}"),
    ("one_of", "$.string: {one_of: [x, text]}"),
    ("one_of-int-is-float", "$.int: {one_of: [0, 1.0]}"),
    ("several-operators", "$.int: {gte: 1, lt: 2, type: integer, not_equals: 2}"),
    ("filter", "$.users[?(@.name=='admin')].id: [u1]"),  # a filter always gives a list
    ("filter-quoted-key", "\"$.users[?(@.name=='demo')].age\": {equals: [7]}"),
    ("filter-comparison-several", "$.users[?(@.age > 1)].name: [admin, demo]"),
    ("filter-no-match-is-an-empty-list", "$.users[?(@.name=='root')].id: {length: 0}"),
    ("wildcard-no-match-is-an-empty-list", "$.empty[*].id: []"),
    ("several-matches-compare-list", "$.users[*].age: [42, 7]"),
    ("several-matches-contains", "$.users[*].name: {contains: demo}"),
    ("several-matches-length", "$.users[*].name: {length: 2}"),
    ("one-match-compares-value", "$.users[0].name: admin"),
]


@pytest.mark.parametrize("check", [pytest.param(check, id=name) for name, check in JSONPATH_PASSES])
def test_jsonpath_passes(srv, tmp_path, capsys, check):
    run_passing(capsys, expect_spec(tmp_path, srv, f"jsonpath:\n  {check}"))


JSONPATH_FAILURES = [
    # (id, check, subject, fragments of the failure line)
    ("equals-shorthand", "$.string: other", "jsonpath $.string", ['"other"', 'got "text"']),
    (
        "equals-explicit-object",
        "$.object: {equals: {a: 2}}",
        "jsonpath $.object",
        ['{"a": 2}', 'got {"a": 1}'],
    ),
    (
        "equals-string-is-not-int",
        '$.int: "1"',
        "jsonpath $.int",
        ['"1" (string)', "got 1 (integer)"],
    ),
    (
        "equals-int-is-not-bool",
        "$.bool: 1",
        "jsonpath $.bool",
        ["1 (integer)", "got true (boolean)"],
    ),
    (
        "equals-bool-is-not-int",
        "$.int: true",
        "jsonpath $.int",
        ["true (boolean)", "got 1 (integer)"],
    ),
    (
        "equals-string-is-not-null",
        '$.null: "null"',
        "jsonpath $.null",
        ['"null" (string)', "got null (null)"],
    ),
    ("not_equals", "$.int: {not_equals: 1.0}", "jsonpath $.int not_equals", ["1.0", "got 1"]),
    (
        "contains-substring",
        "$.string: {contains: zz}",
        "jsonpath $.string contains",
        ['"zz"', 'got "text"'],
    ),
    (
        "contains-string-is-not-int",
        '$.list: {contains: "1"}',
        "jsonpath $.list contains",
        ['"1"', "got [1, 2, 3]"],
    ),
    ("matches", '$.string: {matches: "^x"}', "jsonpath $.string matches", ['"^x"', 'got "text"']),
    ("exists-true", "$.nope: {exists: true}", "jsonpath $.nope exists", ["exist", "nothing"]),
    ("exists-false", "$.int: {exists: false}", "jsonpath $.int exists", ["nothing, got 1"]),
    ("length", "$.list: {length: 2}", "jsonpath $.list length", ["length 2", "got 3"]),
    ("type", "$.string: {type: number}", "jsonpath $.string type", ["number", "got string"]),
    (
        "type-bool-is-not-integer",
        "$.bool: {type: integer}",
        "jsonpath $.bool type",
        ["integer", "got boolean"],
    ),
    ("gt", "$.int: {gt: 1}", "jsonpath $.int gt", ["> 1", "got 1"]),
    ("gte", "$.int: {gte: 2}", "jsonpath $.int gte", [">= 2", "got 1"]),
    ("lt", "$.float: {lt: 1.5}", "jsonpath $.float lt", ["< 1.5", "got 1.5"]),
    ("lte", "$.float: {lte: 1.4}", "jsonpath $.float lte", ["<= 1.4", "got 1.5"]),
    (
        "one_of",
        "$.string: {one_of: [a, b]}",
        "jsonpath $.string one_of",
        ['["a", "b"]', '"text"'],
    ),
    (
        "one_of-strict-types",
        '$.int: {one_of: ["1", true]}',
        "jsonpath $.int one_of",
        ['["1", true]', "got 1"],
    ),
    ("no-match-fails", "$.nope: 1", "jsonpath $.nope", ["nothing"]),
    ("no-match-fails-operator", "$.nope: {gt: 1}", "jsonpath $.nope", ["nothing"]),
    (
        "several-matches-compare-the-list",
        "$.users[*].name: admin",
        "jsonpath $.users[*].name",
        ['"admin"', 'got ["admin", "demo"]'],
    ),
    (
        "filter",
        "$.users[?(@.name=='admin')].age: 7",
        "jsonpath $.users[?(@.name=='admin')].age",
        ["7", "got [42]"],
    ),
    (
        "filter-no-match",
        "$.users[?(@.name=='root')].id: u9",
        "jsonpath $.users[?(@.name=='root')].id",
        ['"u9" (string)', "got [] (array)"],
    ),
]


@pytest.mark.parametrize(
    ("check", "subject", "fragments"),
    [pytest.param(c, s, f, id=name) for name, c, s, f in JSONPATH_FAILURES],
)
def test_jsonpath_fails_with_expected_and_actual(srv, tmp_path, capsys, check, subject, fragments):
    path = expect_spec(tmp_path, srv, f"jsonpath:\n  {check}")
    message = only_failure(capsys, path, subject, check.split(": ")[0])
    for fragment in fragments:
        assert fragment in message, message


def test_types_are_noted_only_where_they_differ(srv, tmp_path, capsys):
    path = expect_spec(
        tmp_path, srv, 'jsonpath:\n  $.string: other\n  $.int: 2.0\n  $.float: "1.5"'
    )
    _, failures = run_failing(capsys, path)
    messages = {message.split(":")[0]: message for message, _ in failures}
    assert set(messages) == {"jsonpath $.string", "jsonpath $.int", "jsonpath $.float"}
    assert "(" not in messages["jsonpath $.string"]  # string vs string: no note
    assert "(" not in messages["jsonpath $.int"]  # 2.0 vs 1: both numbers, no note
    assert '"1.5" (string)' in messages["jsonpath $.float"]
    assert "1.5 (number)" in messages["jsonpath $.float"]


def test_expected_values_are_templated_and_keep_their_type(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        vars:
          word: text
          one: 1
          one_text: "1"
          names: [admin, demo]
        steps:
          - name: check
            request: {url: /json}
            expect:
              jsonpath:
                $.string: "{{ word }}"
                $.int: "{{ one }}"
                $.users[*].name: "{{ names }}"
                $.list: {contains: "{{ one }}"}
                $.float: "{{ one_text }}"
        """,
        base=srv.url,
    )
    _, failures = run_failing(capsys, path)
    # Only the string "1" compared with 1.5 fails; the typed ones pass.
    assert len(failures) == 1, failures
    message, line = failures[0]
    assert message.startswith("jsonpath $.float")
    assert '"1" (string)' in message and "1.5" in message
    assert line == line_of(path, '$.float: "{{ one_text }}"')


def test_uncomparable_failure_still_shows_the_actual_value(srv, tmp_path, capsys):
    path = expect_spec(tmp_path, srv, 'jsonpath:\n  $.users[0].age: {gt: "1"}')
    message = only_failure(capsys, path, "jsonpath $.users[0].age", "$.users[0].age")
    assert '"1"' in message
    assert "42" in message


def test_type_null_written_as_yaml_null(srv, tmp_path, capsys):
    path = expect_spec(tmp_path, srv, "jsonpath:\n  $.null: {type: null}")
    result = run_cli(capsys, str(path))
    assert result.code == 0 or '"null"' in result.text or "quote" in result.text, result.text


# -- body ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expect",
    [
        pytest.param('body: {contains: "line two"}', id="contains"),
        pytest.param('body: {matches: "^hello from"}', id="matches"),
        pytest.param('body: {matches: "line \\\\w+"}', id="matches-class"),
        pytest.param('body: {contains: "test server", matches: "two\\\\n$"}', id="both"),
    ],
)
def test_body_passes(srv, tmp_path, capsys, expect):
    run_passing(capsys, expect_spec(tmp_path, srv, expect, url="/text"))


@pytest.mark.parametrize(
    ("expect", "subject", "fragments"),
    [
        pytest.param(
            "body: {contains: goodbye}",
            "body contains",
            ['"goodbye"', "hello from the test server"],
            id="contains",
        ),
        pytest.param(
            'body: {matches: "^bye"}',
            "body matches",
            ['"^bye"', "hello from the test server"],
            id="matches",
        ),
    ],
)
def test_body_fails_with_expected_and_actual(srv, tmp_path, capsys, expect, subject, fragments):
    path = expect_spec(tmp_path, srv, expect, url="/text")
    message = only_failure(capsys, path, subject, "body:")
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("url", "fragments"),
    [
        pytest.param("/text", ["not JSON", "text/plain"], id="text"),
        pytest.param("/html", ["not JSON", "text/html"], id="html"),
        pytest.param("/status/204", ["empty"], id="empty-body"),
    ],
)
def test_jsonpath_on_a_non_json_body_is_a_clear_failure(srv, tmp_path, capsys, url, fragments):
    path = write_spec(
        tmp_path,
        f"""
        base_url: "{{base}}"
        steps:
          - name: check
            request: {{url: "{url}"}}
            expect:
              jsonpath:
                $.a: 1
          - name: later
            request: {{url: /json}}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(path))
    assert result.code == 1
    assert "Traceback" not in result.text
    failures = failure_lines(result.out, path)
    assert len(failures) == 1, result.out
    message, line = failures[0]
    assert message.startswith("jsonpath $.a")
    for fragment in fragments:
        assert fragment in message
    assert line == line_of(path, "$.a: 1")
    assert re.search(r"SKIP\s+later", result.out)
    assert [r.path for r in srv.app.requests] == [url]


# -- every failure of a step, each at its line ---------------------------------------------------


def test_every_failed_expectation_is_reported_at_its_line(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: check
            request:
              url: /headers?X-Color=blue
            expect:
              status: 201
              headers:
                X-Color: red
                content-type: application/json
                X-Missing: {exists: true}
              jsonpath:
                $:
                  type: array
                  length: 0
                $.nope: 1
                $.also:
                  gt: 5
              body:
                contains: hello
                matches: "^[{]"
        """,
        base=srv.url,
    )
    out, failures = run_failing(capsys, path)
    reported = [(message.split(":")[0], line) for message, line in failures]
    assert reported == [
        ("status", line_of(path, "status: 201")),
        ("header X-Color", line_of(path, "X-Color: red")),
        ("header X-Missing exists", line_of(path, "X-Missing:")),
        ("jsonpath $ type", line_of(path, "type: array")),
        ("jsonpath $.nope", line_of(path, "$.nope: 1")),
        ("jsonpath $.also gt", line_of(path, "gt: 5")),
        ("body contains", line_of(path, "contains: hello")),
    ]
    messages = dict(failures)
    by_subject = {message.split(":")[0]: message for message in messages}
    assert "201" in by_subject["status"] and "200" in by_subject["status"]
    assert '"red"' in by_subject["header X-Color"] and '"blue"' in by_subject["header X-Color"]
    assert "array" in by_subject["jsonpath $ type"] and "object" in by_subject["jsonpath $ type"]
    assert '"hello"' in by_subject["body contains"] and '"{}"' in by_subject["body contains"]
    # The passing ones (content-type, length 0, matches) are not reported: `reported` is all.
    assert_points(out, path, line_of(path, "status: 201"))


def test_a_failure_does_not_hide_the_next_file(srv, tmp_path, capsys):
    bad = write_spec(
        tmp_path,
        'base_url: "{base}"\nsteps:\n  - name: check\n    request: {url: /json}\n'
        "    expect: {status: 201}\n",
        name="a.yaml",
        base=srv.url,
    )
    good = write_spec(
        tmp_path,
        'base_url: "{base}"\nsteps:\n  - name: other\n    request: {url: /echo}\n',
        name="b.yaml",
        base=srv.url,
    )
    result = run_cli(capsys, str(bad), str(good))
    assert result.code == 1
    assert re.search(r"FAIL\s+check", result.out) and re.search(r"PASS\s+other", result.out)
    assert "1 passed, 1 failed, 0 skipped" in result.out
    assert [r.path for r in srv.app.requests] == ["/json", "/echo"]


def test_failed_expectation_through_the_real_command(srv, tmp_path):
    path = expect_spec(tmp_path, srv, 'status: 201\njsonpath:\n  $.int: "1"')
    result = run_subprocess(str(path), cwd=tmp_path)
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    assert "expected 201, got 200" in result.out
    assert '"1" (string)' in result.out and "1 (integer)" in result.out
    assert_points(result.out, path, line_of(path, "status: 201"))
    assert_points(result.out, path, line_of(path, '$.int: "1"'))
    assert "\033[" not in result.out  # NO_COLOR


# -- the registry's additions: not, starts_with, ends_with, regex, cookies, duration, body lists --

REGISTRY_PASSES = [
    ("starts_with", "/json", "jsonpath:\n  $.string: {starts_with: te}"),
    ("ends_with", "/json", "jsonpath:\n  $.string: {ends_with: xt}"),
    ("not-contains", "/text", "body: {not: {contains: Traceback}}"),
    ("not-equals-on-jsonpath", "/json", "jsonpath:\n  $.int: {not: {equals: 2}}"),
    ("not-exists", "/json", "jsonpath:\n  $.nope: {not: {exists: true}}"),
    ("body-list", "/text", "body:\n  - contains: hello\n  - {not: {contains: Traceback}}"),
    ("body-literal", "/text", 'body: "hello from the test server\\nline two\\n"'),
    ("regex", "/text", 'regex:\n  "hello from the (\\\\w+)": test\n  "x{3}": {exists: false}'),
    ("cookies", "/cookies/set?sid=abc", "cookies:\n  sid: abc\n  other: {exists: false}"),
    ("duration", "/slow?seconds=0.2", "duration: {gte: 150, lt: 5000}"),
    ("status-operators", "/status/204", "status: {gte: 200, lt: 300}"),
    ("header-starts-with", "/json", "headers:\n  Content-Type: {starts_with: application/json}"),
]


@pytest.mark.parametrize(
    ("url", "check"), [pytest.param(u, c, id=name) for name, u, c in REGISTRY_PASSES]
)
def test_registry_checks_pass(srv, tmp_path, capsys, url, check):
    run_passing(capsys, expect_spec(tmp_path, srv, check, url=url))


REGISTRY_FAILURES = [
    # (id, url, check, subject, fragments)
    (
        "starts_with",
        "/json",
        "jsonpath:\n  $.string: {starts_with: ex}",
        "jsonpath $.string starts_with",
        ['expected to start with "ex", got "text"'],
    ),
    (
        "ends_with",
        "/json",
        "jsonpath:\n  $.string: {ends_with: te}",
        "jsonpath $.string ends_with",
        ['expected to end with "te", got "text"'],
    ),
    (
        "not",
        "/text",
        "body: {not: {contains: hello}}",
        "body not",
        ['expected not to contain "hello", got "hello from'],
    ),
    (
        "body-list-second",
        "/text",
        "body:\n  - contains: hello\n  - {contains: goodbye}",
        "body contains",
        ['expected to contain "goodbye"'],
    ),
    (
        "regex",
        "/text",
        'regex:\n  "hello from the (\\\\w+)": prod',
        "regex hello from the (\\w+)",
        ['expected "prod", got "test"'],
    ),
    (
        "regex-no-match",
        "/text",
        'regex:\n  "bye (\\\\w+)": x',
        "regex bye (\\w+)",
        ["did not match the response body"],
    ),
    (
        "cookie",  # a cookie's value is a credential: masked like a token
        "/cookies/set?sid=abc",
        "cookies:\n  sid: xyz",
        "cookie sid",
        ['expected "xyz", got "***"'],
    ),
    (
        "cookie-missing",
        "/json",
        "cookies:\n  sid: xyz",
        "cookie sid",
        ["no cookie 'sid' was set by the response"],
    ),
    (
        "duration",
        "/slow?seconds=0.2",
        "duration: {lt: 100}",
        "duration lt",
        ["expected < 100, got 2"],
    ),
    (
        "contains-list-in-an-object",  # a traceback before the registry (issue #11)
        "/json",
        "jsonpath:\n  $.object: {contains: [1]}",
        "jsonpath $.object contains",
        ["object and array"],
    ),
    (
        "gt-on-a-string",
        "/json",
        "jsonpath:\n  $.string: {gt: 1}",
        "jsonpath $.string gt",
        ["string and integer"],
    ),
    (
        "length-of-a-number",
        "/json",
        "jsonpath:\n  $.int: {length: 1}",
        "jsonpath $.int length",
        ["integer and integer"],
    ),
]


@pytest.mark.parametrize(
    ("url", "check", "subject", "fragments"),
    [pytest.param(u, c, s, f, id=name) for name, u, c, s, f in REGISTRY_FAILURES],
)
def test_registry_checks_fail_with_expected_and_actual(
    srv, tmp_path, capsys, url, check, subject, fragments
):
    path = expect_spec(tmp_path, srv, check, url=url)
    _, failures = run_failing(capsys, path)
    assert len(failures) == 1, failures
    message = failures[0][0]
    assert message.startswith(subject + ":"), message
    for fragment in fragments:
        assert fragment in message, message


def test_a_type_mismatch_is_a_failure_with_reports_under_jobs(srv, tmp_path, capsys):
    """contains [1] on an object ended in a traceback and no JUnit report (issue #11)."""
    path = expect_spec(tmp_path, srv, "jsonpath:\n  $.object: {contains: [1]}")
    (tmp_path / "b").mkdir()
    other = expect_spec(tmp_path / "b", srv, None)
    junit = tmp_path / "junit.xml"
    result = run_cli(capsys, "--jobs", "2", "--junit", str(junit), str(path), str(other))
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    report = junit.read_text(encoding="utf-8")
    assert "<failure" in report and "object and array" in report


@pytest.mark.parametrize(
    ("check", "fragment"),
    [
        ("jsonpath:\n  $.string: {starts_with: 3}", "starts_with takes a string"),
        ("body: {not: {contains: a, equals: b}}", "not takes exactly one operator"),
        ("body: {not: {length: two}}", "length takes a whole number"),
        ("body: {not: {contians: a}}", "did you mean 'contains'"),
        ('regex:\n  "(": x', "regular expression"),
        ("body: []", "body"),
    ],
)
def test_registry_operands_are_checked_before_anything_is_sent(
    srv, tmp_path, capsys, check, fragment
):
    path = expect_spec(tmp_path, srv, check)
    result = run_cli(capsys, str(path))
    assert result.code == 2, result.text
    assert fragment in result.out + result.err, result.text
    assert srv.app.requests == []


def test_duration_is_a_capture_too(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: slow
            request: {url: "/slow?seconds=0.2"}
            capture:
              took: {duration: true}
          - name: report
            request: {method: POST, url: /echo, json: {took: "{{ took }}"}}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(path))
    assert result.code == 0, result.text
    took = srv.app.last.json()["took"]
    assert isinstance(took, float) and 150 <= took < 5000
