"""Every request key, proved by what the server actually received."""

from __future__ import annotations

import socket
import textwrap

import pytest
from helpers import run_cli, write_spec


def run(capsys, tmp_path, srv, body: str, *args: str):
    spec = write_spec(tmp_path, f"base_url: {srv.url}\n" + textwrap.dedent(body).lstrip("\n"))
    return run_cli(capsys, *args, str(spec))


def test_method_defaults_to_get_and_is_case_insensitive(srv, capsys, tmp_path):
    result = run(
        capsys,
        tmp_path,
        srv,
        """
        steps:
          - name: default
            request: {url: /echo}
          - name: lower case
            request: {method: delete, url: /echo}
        """,
    )
    assert result.code == 0, result.text
    assert [r.method for r in srv.app.requests] == ["GET", "DELETE"]


@pytest.mark.parametrize(
    ("base", "url", "path"),
    [
        ("{url}/v3", "/echo/users", "/v3/echo/users"),  # never urljoin: the /v3 prefix stays
        ("{url}/v3/", "/echo/users", "/v3/echo/users"),
        ("{url}/v3", "echo/users", "/v3/echo/users"),
        ("{url}/v3/", "echo/users", "/v3/echo/users"),
        ("{url}/v2.1", "/echo", "/v2.1/echo"),
    ],
)
def test_url_is_appended_to_base_url_with_exactly_one_slash(srv, capsys, tmp_path, base, url, path):
    base_url = base.format(url=srv.url)
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {base_url}
        steps:
          - name: call
            request: {{url: "{url}"}}
            expect: {{status: 4xx}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    assert srv.app.last.path == path


def test_an_absolute_url_ignores_base_url(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: http://127.0.0.1:9/nowhere
        steps:
          - name: absolute
            request: {{url: "{srv.url}/echo/here"}}
        """,
    )
    assert run_cli(capsys, str(spec)).code == 0
    assert srv.app.last.path == "/echo/here"


def test_params_headers_and_defaults_headers(srv, capsys, tmp_path):
    result = run(
        capsys,
        tmp_path,
        srv,
        """
        defaults:
          headers: {Accept: application/json, X-Team: blue}
        vars: {limit: 5}
        steps:
          - name: call
            request:
              url: /echo?fixed=1
              params: {name: admin, limit: "{{ limit }}", tag: [a, b], flag: true}
              headers: {x-team: red, X-Request-Id: "req-{{ limit }}"}
        """,
    )
    assert result.code == 0, result.text
    got = srv.app.last
    assert got.query == {
        "fixed": ["1"],
        "name": ["admin"],
        "limit": ["5"],
        "tag": ["a", "b"],
        "flag": ["true"],
    }
    assert got.headers["Accept"] == "application/json"
    assert got.headers["X-Team"] == "red"  # the step's header wins, whatever its case
    assert got.headers["X-Request-Id"] == "req-5"


def test_json_body_keeps_the_types_of_single_expressions(srv, capsys, tmp_path):
    result = run(
        capsys,
        tmp_path,
        srv,
        """
        vars:
          count: 3
          enabled: false
          names: [a, b]
          ratio: 0.5
          nothing: null
          word: "007"
        steps:
          - name: post
            request:
              method: POST
              url: /echo
              json:
                count: "{{ count }}"
                enabled: "{{ enabled }}"
                names: "{{ names }}"
                ratio: "{{ ratio }}"
                nothing: "{{ nothing }}"
                word: "{{ word }}"
                text: "count={{ count }}"
                sum: "{{ count + 1 }}"
                nested: [{deep: "{{ names[0] }}"}]
        """,
    )
    assert result.code == 0, result.text
    got = srv.app.last
    assert got.headers["Content-Type"] == "application/json"
    assert got.json() == {
        "count": 3,
        "enabled": False,
        "names": ["a", "b"],
        "ratio": 0.5,
        "nothing": None,
        "word": "007",
        "text": "count=3",
        "sum": 4,
        "nested": [{"deep": "a"}],
    }


def test_data_is_sent_raw_as_utf8(srv, capsys, tmp_path):
    result = run(
        capsys,
        tmp_path,
        srv,
        """
        vars: {who: wörld}
        steps:
          - name: raw
            request:
              method: PUT
              url: /echo
              headers: {Content-Type: text/plain; charset=utf-8}
              data: "hello {{ who }}\\n"
        """,
    )
    assert result.code == 0, result.text
    assert srv.app.last.body == "hello wörld\n".encode()


def test_form_is_urlencoded(srv, capsys, tmp_path):
    result = run(
        capsys,
        tmp_path,
        srv,
        """
        steps:
          - name: form
            request:
              method: POST
              url: /echo
              form: {user: admin, "a b": "c&d", many: [1, 2]}
        """,
    )
    assert result.code == 0, result.text
    got = srv.app.last
    assert got.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert got.body == b"user=admin&a+b=c%26d&many=1&many=2"


def test_follow_redirects_false_lets_a_step_assert_on_the_3xx(srv, capsys, tmp_path):
    result = run(
        capsys,
        tmp_path,
        srv,
        """
        steps:
          - name: not followed
            request: {url: /redirect?to=/echo/target, follow_redirects: false}
            expect:
              status: 302
              headers: {Location: {matches: "/echo/target$"}}
          - name: followed by default
            request: {url: /redirect?to=/echo/target}
            expect:
              status: 200
              jsonpath: {$.path: /echo/target}
        """,
    )
    assert result.code == 0, result.text
    assert [r.path for r in srv.app.requests] == ["/redirect", "/redirect", "/echo/target"]


@pytest.mark.parametrize(
    ("where", "args"),
    [
        ("step", ()),
        ("defaults", ()),
        ("command line", ("--timeout", "0.3")),
    ],
)
def test_timeouts_fail_the_step_with_one_line(srv, capsys, tmp_path, where, args):
    step_timeout = "timeout: 0.3" if where == "step" else ""
    defaults = "defaults: {timeout: 0.3}" if where == "defaults" else ""
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        {defaults}
        steps:
          - name: slow
            request:
              url: /slow?seconds=2
              {step_timeout}
          - name: after
            request: {{url: /echo}}
        """,
    )
    result = run_cli(capsys, *args, str(spec))
    assert result.code == 1
    assert "ERROR" in result.out
    assert f"timed out: no response within 0.3 s from {srv.url}/slow?seconds=2" in result.out
    assert "Traceback" not in result.text
    assert "SKIP" in result.out


def test_a_step_timeout_beats_the_command_line(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: slow but allowed
            request: {{url: /slow?seconds=0.3, timeout: 5}}
        """,
    )
    assert run_cli(capsys, "--timeout", "0.1", str(spec)).code == 0


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_connection_fails_the_step_and_the_next_file_still_runs(srv, capsys, tmp_path):
    port = closed_port()
    first = write_spec(
        tmp_path,
        f"""
        steps:
          - name: nobody home
            request: {{url: "http://127.0.0.1:{port}/x"}}
        """,
        name="a.yaml",
    )
    second = write_spec(
        tmp_path,
        f"""
        steps:
          - name: fine
            request: {{url: "{srv.url}/echo"}}
        """,
        name="b.yaml",
    )
    result = run_cli(capsys, str(first), str(second))
    assert result.code == 1
    assert f"cannot connect to http://127.0.0.1:{port}/x: Connection refused" in result.out
    assert "Traceback" not in result.text
    assert "1 passed, 1 failed, 0 skipped (2 files" in result.out
    assert srv.app.last.path == "/echo"


def test_folders_run_their_yaml_files_sorted(srv, capsys, tmp_path):
    for name in ("b.yml", "a.yaml", "c.txt"):
        write_spec(
            tmp_path,
            f"""
            steps:
              - name: {name}
                request: {{url: "{srv.url}/echo/{name}"}}
            """,
            name=name,
        )
    result = run_cli(capsys, str(tmp_path))
    assert result.code == 0, result.text
    assert [r.path for r in srv.app.requests] == ["/echo/a.yaml", "/echo/b.yml"]


def test_cookies_persist_within_a_file_but_not_across_files(srv, capsys, tmp_path):
    spec = f"""
        base_url: {srv.url}
        steps:
          - name: set
            request: {{url: /cookies/set?session=abc}}
          - name: sent back
            request: {{url: /echo}}
            expect:
              jsonpath: {{$.cookies.session: abc}}
        """
    first = write_spec(tmp_path, spec, name="a.yaml")
    second = write_spec(
        tmp_path,
        f"""
        steps:
          - name: fresh session
            request: {{url: "{srv.url}/echo"}}
            expect:
              jsonpath: {{$.cookies: {{equals: {{}}}}}}
        """,
        name="b.yaml",
    )
    result = run_cli(capsys, str(first), str(second))
    assert result.code == 0, result.text


def test_the_failure_shows_the_request_as_sent(srv, capsys, tmp_path):
    result = run(
        capsys,
        tmp_path,
        srv,
        """
        vars: {who: admin}
        steps:
          - name: denied
            request:
              url: /status/403?user={{ who }}
              headers: {X-Trace: "t-{{ who }}"}
            expect: {status: 200}
        """,
    )
    assert result.code == 1
    assert f"GET {srv.url}/status/403?user=admin" in result.out
    assert "X-Trace: t-admin" in result.out
    assert "response: 403" in result.out
