"""Broken specs: `apirun check` and `apirun` both exit 2, point at the file, line (and column),
name the step, print no traceback and send nothing to the server.

Spec texts use ``{base}`` for the test server's URL, so a request sent by mistake would be
recorded by the server (and the test would see it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

try:
    from .helpers import assert_points, line_of, run_cli, run_subprocess, write_spec
except ImportError:  # tests/ is a plain directory
    from helpers import assert_points, line_of, run_cli, run_subprocess, write_spec


@dataclass(frozen=True)
class Case:
    text: str | bytes
    where: tuple[tuple[int, int | None], ...]  # (line, column or None) of each error
    says: tuple[str, ...] = ()  # fragments the message must hold
    step: str | None = None  # the step the message must name


def bug(reason: str):
    return pytest.mark.xfail(reason=f"BUG: {reason}", strict=True)


ONE_STEP = 'name: t\nsteps:\n  - name: a\n    request: {url: "{base}/echo"}\n'

CASES = [
    # -- YAML itself ------------------------------------------------------------------------
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request:
                  url: "{base}/echo"
                 method: GET
            """,
            ((6, 6),),
            ("invalid YAML",),
        ),
        id="yaml-bad-indentation",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request:
                  url: "{base}/echo"
                  params: {a: [1, 2}
            """,
            ((6, 19),),
            ("invalid YAML",),
        ),
        id="yaml-mismatched-bracket",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request:
                  url: "{base}/echo"
                  headers: {X-A: b
              - name: b
                request: {url: "{base}/echo"}
            """,
            ((6, None),),
            ("invalid YAML",),
        ),
        id="yaml-unclosed-bracket",
    ),
    pytest.param(
        Case(
            'name: t\nsteps:\n  - name: a\n    request:\n      url: "{base}/echo"\n'
            "      headers: {X-A: b\n",
            ((6, None),),
            ("invalid YAML",),
        ),
        id="yaml-unclosed-bracket-at-end",
    ),
    pytest.param(
        Case(
            'name: t\nsteps:\n  - name: a\n    request:\n\turl: "{base}/echo"\n',
            ((5, 1),),
            ("invalid YAML",),
        ),
        id="yaml-tab",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request:
                  url: "{base}/echo"
                  url: "{base}/json"
            """,
            ((6, 7),),
            ("duplicate key 'url'", "line 5"),
        ),
        id="yaml-duplicate-key",
    ),
    pytest.param(
        Case(
            ONE_STEP.replace('"}\n', '", json: ' + "[" * 150 + "]" * 150 + "}\n"),
            ((4, 153),),
            ("invalid YAML", "nested more than 100 levels deep"),
        ),
        id="yaml-nested-too-deeply",
    ),
    pytest.param(Case("", ((1, None),), ("empty",)), id="empty-file"),
    pytest.param(Case("# only a comment\n", ((1, None),), ("empty",)), id="only-a-comment"),
    pytest.param(
        Case(
            b'name: t\nsteps:\n  - name: a\n    request: {url: "{base}/echo?q=caf\xe9"}\n',
            ((4, None),),
            ("UTF-8",),
        ),
        id="not-utf8",
    ),
    # -- the file -----------------------------------------------------------------------------
    pytest.param(
        Case('- name: a\n  request: {url: "{base}/echo"}\n', ((1, 1),), ("mapping", "list")),
        id="top-level-list",
    ),
    pytest.param(
        Case(
            'name: t\nstep:\n  - name: a\n    request: {url: "{base}/echo"}\n',
            ((2, 1),),
            ("unknown key 'step'", "did you mean 'steps'"),
        ),
        id="unknown-top-level-key",
    ),
    pytest.param(
        Case(
            "name: t\nzzz: 1\n" + ONE_STEP.removeprefix("name: t\n"),
            ((2, 1),),
            ("unknown key 'zzz'", "steps"),
        ),
        id="unknown-top-level-key-no-close-match",
    ),
    pytest.param(Case("name: t\n", ((1, None),), ("'steps'", "missing")), id="missing-steps"),
    pytest.param(Case("name: t\nsteps: []\n", ((2, 8),), ("empty",)), id="empty-steps"),
    pytest.param(
        Case("name: t\nsteps: [a]\n", ((2, 9),), ("step 1", "mapping")), id="step-not-a-mapping"
    ),
    pytest.param(
        Case(
            """
            name: t
            base_url: "{base}"
            vars:
              env: production
            steps:
              - name: a
                request: {url: /echo}
            """,
            ((4, 3),),
            ("'env'", "reserved"),
        ),
        id="reserved-variable-name",
    ),
    pytest.param(
        Case(
            """
            name: t
            base_url: "{base}"
            vars:
              greeting: "{{ foo "
            steps:
              - name: a
                request: {url: /echo}
            """,
            ((4, None),),
            ("template", "syntax"),
        ),
        id="jinja-syntax-error-in-vars",
    ),
    # -- steps --------------------------------------------------------------------------------
    pytest.param(
        Case(
            'name: t\nsteps:\n  - request: {url: "{base}/echo"}\n',
            ((3, 5),),
            ("'name'", "step 1"),
        ),
        id="missing-step-name",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: same
                request: {url: "{base}/echo"}
              - name: same
                request: {url: "{base}/json"}
            """,
            ((5, 11),),
            ("duplicate step name 'same'", "line 3"),
            "same",
        ),
        id="duplicate-step-names",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request: {url: "{base}/json"}
                captur:
                  x: $.int
            """,
            ((5, 5),),
            ("unknown key 'captur'", "did you mean 'capture'"),
            "a",
        ),
        id="unknown-step-key",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request:
                  url: "{base}/echo"
                  methd: POST
            """,
            ((6, 7),),
            ("unknown key 'methd'", "did you mean 'method'"),
            "a",
        ),
        id="unknown-request-key",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request: {url: "{base}/echo"}
                expect:
                  stauts: 200
            """,
            ((6, 7),),
            ("unknown key 'stauts'", "did you mean 'status'"),
            "a",
        ),
        id="unknown-expect-key",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request: {url: "{base}/json"}
                expect:
                  jsonpath:
                    $.int: {equls: 1}
            """,
            ((7, 17),),
            ("unknown operator 'equls'", "did you mean 'equals'"),
            "a",
        ),
        id="unknown-operator",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request: {url: "{base}/json"}
                expect:
                  headers:
                    X-A: {matchs: x}
            """,
            ((7, 15),),
            ("unknown operator 'matchs'", "did you mean 'matches'"),
            "a",
        ),
        id="unknown-operator-in-headers",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request: {url: "{base}/json"}
                capture:
                  x: {hedaer: X-A}
            """,
            ((6, 11),),
            ("unknown capture kind 'hedaer'", "did you mean 'header'"),
            "a",
        ),
        id="unknown-capture-kind",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request: {url: "{base}/json"}
                capture:
                  token: X-Subject-Token
            """,
            ((6, 14),),
            ("'$'", "header"),
            "a",
        ),
        id="capture-neither-jsonpath-nor-mapping",
    ),
    # -- request ------------------------------------------------------------------------------
    pytest.param(
        Case(
            "name: t\nsteps:\n  - name: a\n    request: {method: GET}\n",
            ((4, 14),),
            ("'url'",),
            "a",
        ),
        id="missing-url",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request:
                  url: "{base}/echo"
                  method: POST
                  json: {a: 1}
                  data: raw
            """,
            ((8, 7),),
            ("json", "data", "one body"),
            "a",
        ),
        id="two-bodies",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request:
                  url: "{base}/echo"
                  method: POST
                  json: {a: 1}
                  data: 42
            """,
            ((8, 7), (8, 13)),
            ("one body", "'data' is the raw body text or {file: PATH}, found a number"),
            "a",
        ),
        id="two-bodies-and-data-not-text",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request: {url: /echo}
            """,
            ((4, 20),),
            ("relative", "base_url"),
            "a",
        ),
        id="relative-url-without-base-url",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request:
                  url: "{base}/echo"
                  timeout: "5"
            """,
            ((6, 16),),
            ("timeout", "number"),
            "a",
        ),
        id="timeout-as-string",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request:
                  url: "{base}/echo"
                  timeout: -1
            """,
            ((6, 16),),
            ("timeout", "positive", "-1"),
            "a",
        ),
        id="negative-timeout",
    ),
    pytest.param(
        Case(
            """
            name: t
            defaults:
              timeout: 0
            steps:
              - name: a
                request: {url: "{base}/echo"}
            """,
            ((3, 12),),
            ("timeout", "positive"),
        ),
        id="zero-default-timeout",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request:
                  url: "{base}/echo"
                  follow_redirects: "no"
            """,
            ((6, 25),),
            ("follow_redirects", "true or false"),
            "a",
        ),
        id="follow-redirects-as-string",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request:
                  url: "{base}/echo"
                  headers: [X-A, b]
            """,
            ((6, 16),),
            ("headers", "mapping", "list"),
            "a",
        ),
        id="headers-as-a-list",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request:
                  url: "{base}/echo?q={{ foo "
            """,
            ((5, 12),),
            ("template", "syntax"),
            "a",
        ),
        id="jinja-syntax-error-in-url",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request:
                  url: "{base}/echo"
                  method: POST
                  json:
                    a: ["x", "{{ foo + }}"]
            """,
            ((8, 18),),
            ("template", "syntax"),
            "a",
        ),
        id="jinja-syntax-error-in-json-body",
    ),
    # -- expect -------------------------------------------------------------------------------
    pytest.param(
        Case(ONE_STEP + "    expect: {status: 999}\n", ((5, 22),), ("999",), "a"),
        id="status-999",
    ),
    pytest.param(
        Case(ONE_STEP + '    expect: {status: "abc"}\n', ((5, 22),), ("abc",), "a"),
        id="status-abc",
    ),
    pytest.param(
        Case(ONE_STEP + '    expect: {status: "999"}\n', ((5, 22),), ("999",), "a"),
        id="status-999-quoted",
    ),
    pytest.param(
        Case(ONE_STEP + "    expect: {status: []}\n", ((5, 22),), ("status",), "a"),
        id="status-empty-list",
    ),
    pytest.param(  # the templated item is checked when it renders, the plain one at load
        Case(
            'name: t\nvars: {code: 200}\nsteps:\n  - name: a\n    request: {url: "{base}/echo"}\n'
            '    expect: {status: ["{{ code }}", 999]}\n',
            ((6, 37),),
            ('status takes a code (201), a class ("2xx") or a list of them',),
            "a",
        ),
        id="status-list-with-a-template-and-999",
    ),
    pytest.param(
        Case(
            ONE_STEP + '    expect:\n      jsonpath:\n        "$.a[[": 1\n',
            ((7, 9),),
            ("invalid JSONPath", "$.a[["),
            "a",
        ),
        id="invalid-jsonpath-in-expect",
    ),
    pytest.param(
        Case(
            ONE_STEP + '    expect:\n      body: {matches: "(unclosed"}\n',
            ((6, 14),),
            ("invalid regular expression", "(unclosed"),
            "a",
        ),
        id="invalid-regex-in-matches",
    ),
    pytest.param(
        Case(
            ONE_STEP + '    expect:\n      jsonpath:\n        $.a: "{{ 1 + }}"\n',
            ((7, 14),),
            ("template", "syntax"),
            "a",
        ),
        id="jinja-syntax-error-in-expect",
    ),
    pytest.param(
        Case(
            ONE_STEP + "    expect:\n      schema: schemas/user.json\n",
            ((6, 15),),
            ("no schema file schemas/user.json",),
            "a",
        ),
        id="schema-file-missing",
    ),
    pytest.param(
        Case(
            ONE_STEP + "    expect:\n      schema:\n        type: object\n        required: id\n",
            ((8, 19),),
            ("invalid JSON Schema (draft 2020-12)", "'id' is not of type 'array'", "/required"),
            "a",
        ),
        id="schema-inline-invalid",
    ),
    pytest.param(
        Case(
            ONE_STEP + "    expect:\n      schema: 42\n",
            ((6, 15),),
            ("'schema' takes the path of a JSON Schema file",),
            "a",
        ),
        id="schema-neither-path-nor-mapping",
    ),
    # -- capture ------------------------------------------------------------------------------
    pytest.param(
        Case(
            ONE_STEP + '    capture:\n      x: {jsonpath: "$.a[["}\n',
            ((6, 21),),
            ("invalid JSONPath", "$.a[["),
            "a",
        ),
        id="invalid-jsonpath-in-capture",
    ),
    pytest.param(
        Case(
            ONE_STEP + '    capture:\n      x: "$.a[["\n',
            ((6, 10),),
            ("invalid JSONPath", "$.a[["),
            "a",
        ),
        id="invalid-jsonpath-in-capture-shorthand",
    ),
    pytest.param(
        Case(
            ONE_STEP + '    capture:\n      x: {regex: "(unclosed"}\n',
            ((6, 18),),
            ("invalid regular expression", "(unclosed"),
            "a",
        ),
        id="invalid-regex-in-capture",
    ),
    pytest.param(
        Case(
            ONE_STEP + "    capture:\n      1bad: $.a\n",
            ((6, 7),),
            ("'1bad'", "not a valid name"),
            "a",
        ),
        id="invalid-capture-name-digit",
    ),
    pytest.param(
        Case(
            ONE_STEP + "    capture:\n      my-var: $.a\n",
            ((6, 7),),
            ("'my-var'", "not a valid name"),
            "a",
        ),
        id="invalid-capture-name-dash",
    ),
    pytest.param(
        Case(ONE_STEP + "    capture:\n      env: $.a\n", ((6, 7),), ("'env'", "reserved"), "a"),
        id="reserved-capture-name",
    ),
    pytest.param(
        Case(
            ONE_STEP + "    capture:\n      env: {hedaer: X-A}\n",
            ((6, 7), (6, 13)),
            ("'env'", "reserved", "unknown capture kind 'hedaer'", "did you mean 'header'"),
            "a",
        ),
        id="reserved-capture-name-and-unknown-kind",
    ),
    # -- variables (the static check; more in tests/test_checker.py) --------------------------
    pytest.param(
        Case(
            "name: t\nvars: {token: abc}\nsteps:\n  - name: a\n"
            '    request: {url: "{base}/echo?t={{ tokn }}"}\n',
            ((5, 20),),
            ("undefined variable 'tokn'", "did you mean 'token'"),
            "a",
        ),
        id="undefined-variable-in-url",
    ),
    pytest.param(
        Case(
            """
            name: t
            vars: {username: admin}
            steps:
              - name: a
                request:
                  url: "{base}/echo"
                  method: POST
                  json:
                    user: {name: "{{ usernme }}", id: 1}
            """,
            ((9, 22),),
            ("undefined variable 'usernme'", "did you mean 'username'"),
            "a",
        ),
        id="undefined-variable-in-json-body",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request:
                  url: "{base}/echo"
                  headers: {X-Auth-Token: "{{ token }}"}
              - name: b
                request: {url: "{base}/echo"}
                capture:
                  token: $.headers.x
            """,
            ((6, 31),),
            ("undefined variable 'token'", "captured only later, by step 'b' (line 7)"),
            "a",
        ),
        id="capture-used-before-the-step-that-takes-it",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request: {url: "{base}/echo?id={{ id }}"}
                capture:
                  id: $.query.x
            """,
            ((4, 20),),
            ("undefined variable 'id'", "this step captures it"),
            "a",
        ),
        id="capture-used-in-its-own-request",
    ),
    pytest.param(
        Case(
            """
            name: t
            vars:
              url: "{{ base }}/echo"
              base: "{base}"
            steps:
              - name: a
                request: {url: "{{ url }}"}
            """,
            ((3, 8),),
            ("undefined variable 'base'", "defined below, at line 4"),
        ),
        id="variable-uses-one-defined-below",
    ),
    pytest.param(
        Case(
            ONE_STEP
            + '    expect:\n      jsonpath:\n        $.user: {contains: "{{ usr | lower }}"}\n',
            ((7, 18),),
            ("undefined variable 'usr'", "'{{ usr | lower }}'"),
            "a",
        ),
        id="undefined-variable-in-an-expectation-with-a-filter",
    ),
    pytest.param(
        Case(
            ONE_STEP
            + "    capture:\n      id: {jsonpath: \"$.users[?(@.name=='{{ who }}')].id\"}\n",
            ((6, 22),),
            ("undefined variable 'who'",),
            "a",
        ),
        id="undefined-variable-in-a-capture",
    ),
    pytest.param(
        Case(
            """
            name: t
            base_url: "{{ env.APIRUN_NOT_SET | default(bse) }}"
            steps:
              - name: a
                request: {url: "{base}/echo"}
            """,
            ((2, 11),),
            ("undefined variable 'bse'",),
        ),
        id="undefined-variable-as-a-default-in-base-url",
    ),
    pytest.param(
        Case(
            """
            name: t
            defaults:
              headers: {X-Auth-Token: "{{ tokn }}"}
            steps:
              - name: login
                request: {url: "{base}/echo"}
                capture: {token: $.query.t}
            """,
            ((3, 27),),
            ("undefined variable 'tokn'", "did you mean 'token'?"),
        ),
        # A default header may wait for a capture (it is left out until the variable
        # exists); a name that no step captures is still a typo.
        id="default-header-names-no-capture",
    ),
    pytest.param(
        Case(
            """
            name: t
            steps:
              - name: a
                request:
                  url: "{base}/echo"
                  data: "{% for u in userz %}{{ u }},{% endfor %}"
            """,
            ((6, 13),),
            ("undefined variable 'userz'",),
            "a",
        ),
        id="undefined-list-in-a-for-loop",
    ),
    # -- several at once ----------------------------------------------------------------------
    pytest.param(
        Case(
            """
            name: t
            defaults: {timeout: slow}
            steps:
              - name: a
                request:
                  url: "{base}/echo"
                  methd: POST
                expect:
                  status: 999
              - name: b
                request: {url: "{base}/echo"}
                capture:
                  x: {jsonpath: "$.a[["}
            """,
            ((2, 21), (7, 7), (9, 15), (13, 21)),
            (
                "timeout",
                "unknown key 'methd'",
                "999",
                "invalid JSONPath",
                "4 problems",
                "(step 'a')",
                "(step 'b')",
            ),
        ),
        id="several-errors-listed-at-once",
    ),
]


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize("case", CASES)
def test_broken_spec(srv, tmp_path, capsys, case: Case, command: str):
    text = case.text
    if isinstance(text, bytes):
        text = text.replace(b"{base}", srv.url.encode())
    path = write_spec(tmp_path, text, base=srv.url)
    args = ("check", str(path)) if command == "check" else (str(path),)
    result = run_cli(capsys, *args)
    assert result.code == 2, result.text
    assert "Traceback" not in result.text
    for line, column in case.where:
        assert_points(result.text, path, line, column)
    for fragment in case.says:
        assert fragment in result.text, result.text
    if case.step is not None:
        assert f"step '{case.step}'" in result.text, result.text
    assert "nothing was sent" in result.err
    assert not re.search(r"\b(PASS|FAIL|SKIP)\b", result.out), result.out
    assert srv.app.requests == []


def test_a_tab_is_named_in_the_message(srv, tmp_path, capsys):
    path = write_spec(tmp_path, 'name: t\nsteps:\n  - name: a\n    request:\n\turl: "{base}/x"\n')
    result = run_cli(capsys, "check", str(path))
    assert result.code == 2
    assert_points(result.text, path, 5, 1)
    message = next(line for line in result.err.splitlines() if line.startswith("error:"))
    assert re.search(r"\btab\b", message.lower()), message


@pytest.mark.parametrize("command", ["check", "run"])
def test_two_files_where_only_the_second_is_broken_send_nothing(srv, tmp_path, capsys, command):
    good = write_spec(tmp_path, ONE_STEP, name="a_good.yaml", base=srv.url)
    bad = write_spec(
        tmp_path, ONE_STEP + "    expect: {stauts: 200}\n", name="b_bad.yaml", base=srv.url
    )
    args = (str(good), str(bad))
    result = run_cli(capsys, *(("check", *args) if command == "check" else args))
    assert result.code == 2
    assert_points(result.text, bad, 5, 14)
    assert "did you mean 'status'" in result.text
    assert str(good) not in result.text  # the good file is neither blamed nor run
    assert not re.search(r"\b(PASS|FAIL)\b", result.out)
    assert srv.app.requests == []


def test_a_folder_with_one_broken_file_sends_nothing(srv, tmp_path, capsys):
    folder = tmp_path / "specs"
    folder.mkdir()
    write_spec(folder, ONE_STEP, name="a.yaml", base=srv.url)
    bad = write_spec(folder, "name: t\nstep: []\n", name="b.yml", base=srv.url)
    result = run_cli(capsys, str(folder))
    assert result.code == 2
    assert_points(result.text, bad, 2, 1)
    assert srv.app.requests == []


def test_check_passes_a_valid_file_and_sends_nothing(srv, tmp_path, capsys):
    # The counterpart of the table: the same shape, valid, is accepted by check (exit 0).
    path = write_spec(tmp_path, ONE_STEP + "    expect: {status: 200}\n", base=srv.url)
    result = run_cli(capsys, "check", str(path))
    assert result.code == 0, result.text
    assert srv.app.requests == []


# -- undefined variables: found before anything is sent (tests/test_checker.py has more) ----------


@pytest.mark.parametrize("command", [("check",), ()], ids=["check", "run"])
def test_undefined_variable_is_named_with_a_suggestion(srv, tmp_path, capsys, command):
    path = write_spec(
        tmp_path,
        """
        name: t
        base_url: "{base}"
        vars:
          token: abc123
        steps:
          - name: list users
            request:
              url: /echo
              headers:
                X-Auth-Token: "{{ tokn }}"
          - name: later
            request: {url: /echo}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, *command, str(path))
    assert result.code == 2, result.text
    assert "Traceback" not in result.text
    assert "undefined variable 'tokn'" in result.err
    assert "did you mean 'token'" in result.err
    assert "(step 'list users')" in result.err
    assert_points(result.err, path, line_of(path, "{{ tokn }}"), 23)
    assert "nothing was sent" in result.err
    assert not re.search(r"\b(PASS|FAIL|ERROR|SKIP)\b", result.out)
    assert srv.app.requests == []


@pytest.mark.parametrize("command", [("check",), ()], ids=["check", "run"])
def test_undefined_variable_after_a_capture_suggests_the_capture(srv, tmp_path, capsys, command):
    path = write_spec(
        tmp_path,
        """
        name: t
        base_url: "{base}"
        steps:
          - name: source
            request: {url: "/headers?X-Subject-Token=t0k"}
            capture:
              token: {header: X-Subject-Token}
          - name: use
            request:
              url: "/echo?t={{ tokn }}"
        """,
        base=srv.url,
    )
    result = run_cli(capsys, *command, str(path))
    assert result.code == 2, result.text
    assert "Traceback" not in result.text
    assert "tokn" in result.err and "did you mean 'token'" in result.err
    assert_points(result.err, path, line_of(path, "{{ tokn }}"))
    assert "(step 'use')" in result.err
    assert srv.app.requests == []  # not even the first step: the file is wrong as a whole


# -- errors found only at run time --------------------------------------------------------------


@pytest.mark.parametrize(
    "request_block",
    [
        pytest.param("url: \"/echo?x={{ ''.__class__.__mro__ }}\"", id="url"),
        pytest.param(
            "url: /echo\n      headers: {X-A: \"{{ ''.__class__.__mro__ }}\"}", id="header"
        ),
        pytest.param(
            "url: /echo\n      method: POST\n      json: {a: \"{{ ''.__class__.__mro__ }}\"}",
            id="json-body",
        ),
    ],
)
def test_sandbox_refuses_python_internals(srv, tmp_path, capsys, request_block):
    text = (
        f'name: t\nbase_url: "{srv.url}"\nsteps:\n  - name: sneaky\n    request:\n'
        f"      {request_block}\n"
    )
    path = write_spec(tmp_path, text)
    result = run_cli(capsys, str(path))
    assert result.code == 2, result.text
    assert "Traceback" not in result.text
    assert "unsafe" in result.text and "__class__" in result.text
    assert "<class" not in result.text  # no Python object leaked into the output
    assert_points(result.text, path, line_of(path, "__mro__"))
    assert re.search(r"ERROR\s+sneaky", result.out)
    assert srv.app.requests == []


# -- the real command ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", [("check",), ()], ids=["check", "run"])
def test_broken_yaml_through_the_real_command(srv, tmp_path, command):
    path = write_spec(
        tmp_path,
        'name: t\nsteps:\n  - name: a\n    request:\n      url: "{base}/echo"\n     method: GET\n',
        base=srv.url,
    )
    result = run_subprocess(*command, str(path), cwd=tmp_path)
    assert result.code == 2, result.text
    assert "Traceback" not in result.text
    assert_points(result.err, path, 6, 6)
    assert result.out == ""
    assert srv.app.requests == []


# -- every problem of a file in one round -------------------------------------------------------

ROUNDS = """
name: t
base_url: "{base}"
steps:
  - name: login
    request: {url: /echo, bogus: 1}
    capture:
      token: {header: X-Subject-Token}
      other: {jsonpth: $.x}
  - name: list
    request:
      url: /echo
      headers: {X-Auth-Token: "{{ tokn }}", X-Other: "{{ other }}"}
    expect:
      jsonpath:
        "$.users[": {equals: 1}
  - name: broken request
    request: {url: /echo, nope: 1}
    capture: {lost: {header: X-A}}
  - name: third
    request: {url: "/echo/{{ undefined_thing }}/{{ lost }}"}
    expect: {status: 200, frobnicate: 1}
"""


@pytest.mark.parametrize("command", [("check",), ()], ids=["check", "run"])
def test_shape_template_variable_and_jsonpath_problems_come_in_one_round(
    srv, tmp_path, capsys, command
):
    # Once three rounds of fix-and-rerun (5, 5, then 3 errors): the undefined variables were
    # found only after every shape problem was fixed.
    path = write_spec(tmp_path, ROUNDS, base=srv.url)
    result = run_cli(capsys, *command, str(path))
    assert result.code == 2, result.text
    assert "Traceback" not in result.text
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 7, result.err
    for fragment, at in [
        ("unknown key 'bogus'", "bogus"),
        ("unknown capture kind 'jsonpth'", "jsonpth"),
        ("undefined variable 'tokn'", "{{ tokn }}"),
        ("invalid JSONPath", "$.users["),
        ("unknown key 'nope'", "nope"),
        ("undefined variable 'undefined_thing'", "undefined_thing"),
        ("unknown key 'frobnicate'", "frobnicate"),
    ]:
        assert any(fragment in line for line in errors), (fragment, result.err)
        assert_points(result.err, path, line_of(path, at))
    # In line order, and what a broken capture or step would define is not blamed.
    assert [e.split(" ")[1] for e in errors][2:4] == ["undefined", "invalid"], errors
    assert "'other'" not in result.err and "'lost'" not in result.err
    assert "did you mean 'token'" in result.err
    assert "7 problems" in result.err
    assert srv.app.requests == []
