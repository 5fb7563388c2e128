"""capture: every kind, and captured values arriving at the server with their type.

Each test runs the real ``apirun`` command against the in-repo test server and proves a capture
by what a later request carried (``srv.app.requests``), not by apirun's own report.
"""

from __future__ import annotations

import re

import pytest

try:
    from .helpers import failure_lines, line_of, run_cli, write_spec
    from .server import ADMIN_ID, JSON_DOCUMENT, TEXT_BODY
except ImportError:  # tests/ is a plain directory
    from helpers import failure_lines, line_of, run_cli, write_spec
    from server import ADMIN_ID, JSON_DOCUMENT, TEXT_BODY


def run_ok(capsys, path) -> str:
    result = run_cli(capsys, str(path))
    assert result.code == 0, result.text
    assert "Traceback" not in result.text
    return result.out


def sent_json(srv, path: str = "/echo"):
    """The JSON body of the last request the server received on ``path``."""
    received = [r for r in srv.app.requests if r.path == path]
    assert received, [r.path for r in srv.app.requests]
    return received[-1].json()


# -- header -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["X-Request-Id", "x-request-id", "X-REQUEST-ID", "x-Request-ID"])
def test_header_capture_ignores_case(srv, tmp_path, capsys, name):
    path = write_spec(
        tmp_path,
        f"""
        base_url: "{{base}}"
        steps:
          - name: source
            request: {{url: "/headers?X-Request-Id=req-42"}}
            capture:
              rid: {{header: {name}}}
          - name: use
            request:
              method: POST
              url: /echo
              headers: {{X-Got: "{{{{ rid }}}}"}}
              json: {{rid: "{{{{ rid }}}}"}}
        """,
        base=srv.url,
    )
    run_ok(capsys, path)
    assert srv.app.last.headers["x-got"] == "req-42"
    assert sent_json(srv) == {"rid": "req-42"}


# -- jsonpath -----------------------------------------------------------------------------------


def test_jsonpath_captures_keep_json_types_in_a_json_body(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: source
            request: {url: /json}
            capture:
              text: $.string
              number: $.int
              decimal: {jsonpath: $.float}
              flag: $.bool
              nothing: {jsonpath: $.null}
              items: $.list
              mapping: $.object
              names: $.users[*].name
              admin_id: "$.users[?(@.name=='admin')].id"
              young: {jsonpath: "$.users[?(@.age < 10)].name"}
          - name: use
            request:
              method: POST
              url: /echo
              json:
                text: "{{ text }}"
                number: "{{ number }}"
                decimal: "{{ decimal }}"
                flag: "{{ flag }}"
                nothing: "{{ nothing }}"
                items: "{{ items }}"
                mapping: "{{ mapping }}"
                names: "{{ names }}"
                admin_id: "{{ admin_id }}"
                young: "{{ young }}"
                nested: {deep: ["{{ number }}", "{{ flag }}"]}
        """,
        base=srv.url,
    )
    run_ok(capsys, path)
    body = sent_json(srv)
    assert body == {
        "text": "text",
        "number": 1,
        "decimal": 1.5,
        "flag": True,
        "nothing": None,
        "items": [1, 2, 3],
        "mapping": {"a": 1},
        "names": ["admin", "demo"],  # a wildcard: the list
        "admin_id": ["u1"],  # a filter: a list too, with one match as with several
        "young": ["demo"],
        "nested": {"deep": [1, True]},
    }
    # == would let 1 pass for 1.0 or True: check the JSON types themselves.
    assert type(body["number"]) is int
    assert type(body["decimal"]) is float
    assert body["flag"] is True
    assert type(body["nested"]["deep"][0]) is int and body["nested"]["deep"][1] is True
    assert body["mapping"] == JSON_DOCUMENT["object"]


def test_captures_arrive_in_url_path_query_and_headers(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: source
            request: {url: /json}
            capture:
              number: $.int
              decimal: $.float
              word: $.string
              uid: "$.users[1].id"
          - name: use
            request:
              url: "/echo/{{ uid }}?n={{ number }}&d={{ decimal }}"
              params: {w: "{{ word }}", n2: "{{ number }}"}
              headers:
                X-Number: "{{ number }}"
                X-Mixed: "n={{ number }}; w={{ word }}"
        """,
        base=srv.url,
    )
    run_ok(capsys, path)
    received = srv.app.last
    assert received.path == "/echo/u2"
    assert received.query == {"n": ["1"], "d": ["1.5"], "w": ["text"], "n2": ["1"]}
    assert received.headers["x-number"] == "1"
    assert received.headers["x-mixed"] == "n=1; w=text"


def test_non_string_captures_inside_text_are_spelled_as_json(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: source
            request: {url: /json}
            capture:
              flag: $.bool
              nothing: $.null
              names: $.users[*].name
          - name: use
            request:
              url: "/echo?b={{ flag }}&n={{ nothing }}&names={{ names }}"
              headers: {X-Flag: "flag={{ flag }}"}
        """,
        base=srv.url,
    )
    run_ok(capsys, path)
    received = srv.app.last
    assert received.query["b"] == ["true"]
    assert received.query["n"] == [""]
    assert received.query["names"] == ['["admin", "demo"]']
    assert received.headers["x-flag"] == "flag=true"


def test_jsonpath_capture_with_a_templated_expression(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        vars:
          who: demo
        steps:
          - name: source
            request: {url: /json}
            capture:
              age: {jsonpath: "$.users[?(@.name=='{{ who }}')].age"}
          - name: use
            request:
              method: POST
              url: /echo
              json: {age: "{{ age[0] }}", ages: "{{ age }}"}
        """,
        base=srv.url,
    )
    run_ok(capsys, path)
    assert sent_json(srv) == {"age": 7, "ages": [7]}  # a filter gives a list


# -- regex, status, cookie, body ----------------------------------------------------------------


def test_regex_capture_takes_the_first_group_else_the_whole_match(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        r"""
        base_url: "{base}"
        steps:
          - name: source
            request: {url: /text}
            capture:
              grouped: {regex: "from the (\\w+) (\\w+)"}
              whole: {regex: "line \\w+"}
              optional: {regex: "(?:nothing)?hello"}
          - name: use
            request:
              method: POST
              url: /echo
              json: {grouped: "{{ grouped }}", whole: "{{ whole }}", optional: "{{ optional }}"}
        """,
        base=srv.url,
    )
    run_ok(capsys, path)
    assert sent_json(srv) == {"grouped": "test", "whole": "line two", "optional": "hello"}


def test_regex_capture_reads_the_body_of_a_json_response_too(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        r"""
        base_url: "{base}"
        steps:
          - name: source
            request: {url: /json}
            capture:
              age: {regex: '"age": (\d+)'}
          - name: use
            request:
              url: "/echo?age={{ age }}"
        """,
        base=srv.url,
    )
    run_ok(capsys, path)
    assert srv.app.last.query == {"age": ["42"]}


def test_status_capture_is_an_integer(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: source
            request: {url: /status/201}
            expect: {status: 201}
            capture:
              code: {status: true}
          - name: use
            request:
              method: POST
              url: "/echo?code={{ code }}"
              json: {code: "{{ code }}"}
            expect:
              jsonpath:
                $.json.code: "{{ code }}"
        """,
        base=srv.url,
    )
    run_ok(capsys, path)
    body = sent_json(srv)
    assert body == {"code": 201} and type(body["code"]) is int
    assert srv.app.last.query == {"code": ["201"]}


def test_cookie_capture(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: source
            request:
              url: /cookies/set
              params: {sid: abc123, other: zzz}
            capture:
              sid: {cookie: sid}
          - name: use
            request:
              method: POST
              url: /echo
              headers: {X-Sid: "{{ sid }}"}
              json: {sid: "{{ sid }}"}
        """,
        base=srv.url,
    )
    run_ok(capsys, path)
    received = srv.app.last
    assert received.headers["x-sid"] == "abc123"
    assert received.json() == {"sid": "abc123"}


def test_a_cookie_set_without_a_value_is_found_and_empty(srv, tmp_path, capsys):
    """``Set-Cookie: flag`` (no ``=``): the cookie is there, its value is "" (docs/format.md)."""
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: source
            request: {url: /cookies/set-bare, params: {flag: ""}}
            expect:
              cookies: {flag: ""}
            capture:
              flag: {cookie: flag}
          - name: use
            request: {method: POST, url: /echo, json: {flag: "{{ flag }}"}}
        """,
        base=srv.url,
    )
    run_ok(capsys, path)
    assert srv.app.requests[0].target == "/cookies/set-bare?flag="
    assert srv.app.last.json() == {"flag": ""}


def test_body_capture_is_the_whole_text(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: source
            request: {url: /text}
            capture:
              page: {body: true}
          - name: use
            request:
              method: POST
              url: /echo
              json: {page: "{{ page }}"}
          - name: raw
            request:
              method: POST
              url: /echo/raw
              data: "{{ page }}"
        """,
        base=srv.url,
    )
    run_ok(capsys, path)
    assert sent_json(srv) == {"page": TEXT_BODY}
    assert srv.app.last.path == "/echo/raw"
    assert srv.app.last.body == TEXT_BODY.encode("utf-8")


# -- the Keystone flow, and precedence ----------------------------------------------------------


def test_captured_token_and_user_id_flow_into_keystone_calls(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}/v3"
        steps:
          - name: get token
            request:
              method: POST
              url: /auth/tokens
              json:
                auth:
                  identity:
                    methods: [password]
                    password:
                      user: {domain: {name: demo}, name: admin, password: "000000"}
                  scope:
                    project: {domain: {name: demo}, name: admin}
            expect: {status: 201}
            capture:
              token: {header: x-subject-token}
              user_id: $.token.user.id
          - name: get user
            request:
              url: "/users/{{ user_id }}"
              headers: {X-Auth-Token: "{{ token }}"}
            expect:
              status: 200
              jsonpath:
                $.user.name: admin
        """,
        base=srv.url,
    )
    out = run_ok(capsys, path)
    issued = srv.app.tokens
    assert len(issued) == 1
    last = srv.app.last
    assert last.path == f"/v3/users/{ADMIN_ID}"
    assert last.headers["x-auth-token"] == issued[0]
    assert issued[0] not in out  # a captured token is a secret in the report


def test_a_capture_overrides_a_variable_of_the_same_name(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        vars:
          number: 99
        steps:
          - name: before
            request:
              url: "/echo?n={{ number }}"
          - name: source
            request: {url: /json}
            capture:
              number: $.int
          - name: after
            request:
              url: "/echo?n={{ number }}"
        """,
        base=srv.url,
    )
    run_ok(capsys, path)
    assert [r.query.get("n") for r in srv.app.requests] == [["99"], None, ["1"]]


@pytest.mark.parametrize(
    ("set_cookie", "why"),
    [
        pytest.param(
            "sid=s3cr3tvalue; Domain=example.com; Path=/",
            "its Domain=example.com does not match the host 127.0.0.1",
            id="other-domain",
        ),
        pytest.param("sid=s3cr3tvalue; Max-Age=0", "Max-Age=0, which deletes it", id="max-age"),
        pytest.param(
            "sid=s3cr3tvalue; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            "(in the past), which deletes it",
            id="expired",
        ),
    ],
)
def test_a_cookie_the_jar_refused_says_why(srv, tmp_path, capsys, set_cookie, why):
    # Once "no cookie 'sid' was set by the response", with the Set-Cookie right there.
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: login
            request:
              url: /headers
              params: {Set-Cookie: "SET_COOKIE"}
            capture:
              sid: {cookie: sid}
        """.replace("SET_COOKIE", set_cookie),
        base=srv.url,
    )
    result = run_cli(capsys, str(path))
    assert result.code == 1, result.text
    assert srv.app.last.query["Set-Cookie"] == [set_cookie]  # the server did set it
    assert "the response set cookie 'sid'" in result.out, result.out
    assert why in result.out, result.out
    assert "no cookie 'sid' was set" not in result.out
    said = next(line for line in result.out.splitlines() if "set cookie 'sid'" in line)
    assert "s3cr3tvalue" not in said  # a session cookie is a credential: no value shown
    assert "Traceback" not in result.text


# -- a capture that finds nothing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "capture", "fragments"),
    [
        pytest.param("/json", "$.missing", ["$.missing", "nothing"], id="jsonpath-shorthand"),
        pytest.param(
            "/json", '{jsonpath: "$.users[5].id"}', ["$.users[5].id", "nothing"], id="jsonpath"
        ),
        pytest.param("/json", "{header: X-Nope}", ["X-Nope"], id="header"),
        pytest.param("/json", "{cookie: sid}", ["sid", "cookie"], id="cookie"),
        pytest.param("/text", '{regex: "bye (\\\\w+)"}', ["regex", "bye"], id="regex"),
        pytest.param("/text", "$.token", ["not JSON", "text/plain"], id="jsonpath-not-json"),
    ],
)
def test_a_capture_that_finds_nothing_fails_the_step_and_skips_the_rest(
    srv, tmp_path, capsys, url, capture, fragments
):
    path = write_spec(
        tmp_path,
        f"""
        base_url: "{{base}}"
        steps:
          - name: source
            request: {{url: "{url}"}}
            capture:
              wanted: {capture}
          - name: second
            request: {{url: "/echo?w={{{{ wanted }}}}"}}
          - name: third
            request: {{url: /echo}}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(path))
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    out = result.out
    assert re.search(r"FAIL\s+source\b", out)
    assert re.search(r"SKIP\s+second\b", out) and re.search(r"SKIP\s+third\b", out)
    assert "0 passed, 1 failed, 2 skipped" in out
    failures = failure_lines(out, path)
    assert len(failures) == 1, out
    message, line = failures[0]
    assert message.startswith("capture wanted"), message
    for fragment in fragments:
        assert fragment in message, message
    assert line == line_of(path, "wanted: ")
    # Only the first step was sent: the skipped ones never reached the server.
    assert [r.path for r in srv.app.requests] == [url.split("?")[0]]


@pytest.mark.parametrize(
    "expression", ["$.users[?(@.name=='root')].id", "$.empty[*].id", "$..nowhere", "$.list[5:]"]
)
def test_a_path_that_gives_a_list_captures_an_empty_one_when_nothing_matches(
    srv, tmp_path, capsys, expression
):
    """The path decides the shape (issue #10): an empty cloud is [], not a failed step."""
    path = write_spec(
        tmp_path,
        f"""
        base_url: "{{base}}"
        steps:
          - name: source
            request: {{url: /json}}
            capture:
              ids: {{jsonpath: "{expression}"}}
            expect:
              jsonpath:
                "{expression}": {{length: 0}}
          - name: use
            request: {{method: POST, url: /echo, json: {{ids: "{{{{ ids }}}}"}}}}
        """,
        base=srv.url,
    )
    run_ok(capsys, path)
    assert sent_json(srv) == {"ids": []}


def test_every_missing_capture_of_a_step_is_reported(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: source
            request: {url: /json}
            capture:
              found: $.int
              first: $.nope
              second: {header: X-Nope}
          - name: later
            request: {url: /echo}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(path))
    assert result.code == 1
    reported = [(m.split(":")[0], line) for m, line in failure_lines(result.out, path)]
    assert reported == [
        ("capture first", line_of(path, "first: $.nope")),
        ("capture second", line_of(path, "second:")),
    ]
    assert [r.path for r in srv.app.requests] == ["/json"]


def test_a_failed_capture_does_not_stop_the_next_file(srv, tmp_path, capsys):
    first = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: source
            request: {url: /json}
            capture: {x: $.nope}
          - name: skipped
            request: {url: "/echo?x={{ x }}"}
        """,
        name="a.yaml",
        base=srv.url,
    )
    second = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: other
            request: {url: /echo/other}
        """,
        name="b.yaml",
        base=srv.url,
    )
    result = run_cli(capsys, str(first), str(second))
    assert result.code == 1
    assert re.search(r"PASS\s+other", result.out)
    assert "1 passed, 1 failed, 1 skipped" in result.out
    assert [r.path for r in srv.app.requests] == ["/json", "/echo/other"]
