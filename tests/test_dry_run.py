"""``apirun run --dry-run``: every request rendered and printed, none sent."""

from __future__ import annotations

import json

from helpers import line_of, run_cli, write_spec

LOGIN_THEN_USE = """
name: dry
base_url: {base}
vars:
  password: s3cret-pass
  names: [ada, grace]
steps:
  - name: get token
    request:
      method: POST
      url: /v3/auth/tokens
      json: {auth: {user: admin, password: "{{ password }}"}}
    capture:
      token: {header: X-Subject-Token}
      user: $.token.user
  - name: create
    loop: "{{ names }}"
    request:
      method: POST
      url: /echo/users
      headers: {X-Auth-Token: "{{ token }}"}
      json: {name: "{{ item }}", owner: "{{ user.id }}"}
  - name: only if admin
    when: "{{ user.name == 'admin' }}"
    request: {url: "/echo/{{ user.id }}", params: {q: "{{ token }}"}}
  - name: never
    when: "{{ names | length > 5 }}"
    request: {url: /echo/never}
"""


def test_dry_run_prints_every_request_and_sends_none(srv, capsys, tmp_path):
    spec = write_spec(tmp_path, LOGIN_THEN_USE, base=srv.url)
    result = run_cli(capsys, "--dry-run", str(spec))
    assert result.code == 0, result.text
    assert srv.app.requests == []  # the counting server received nothing
    out = result.out
    assert f"POST {srv.url}/v3/auth/tokens" in out
    assert "s3cret-pass" not in out and '"password": "***"' in out
    assert "X-Auth-Token: <capture token from step 'get token'>" in out
    assert "create [0]" in out and "create [1]" in out
    assert '"name": "grace"' in out
    assert '"owner": "<capture user.id from step \'get token\'>"' in out
    # an unknown in a URL reads as itself, not percent-encoded
    assert f"GET {srv.url}/echo/<capture user.id from step 'get token'>?q=" in out
    assert "(when: {{ user.name == 'admin' }} (decided when it runs))" in out
    assert "(would be skipped: when: {{ names | length > 5 }} is false)" in out
    assert out.rstrip().endswith("dry run: 4 requests, nothing was sent")


def test_show_secrets_prints_them(srv, capsys, tmp_path):
    spec = write_spec(tmp_path, LOGIN_THEN_USE, base=srv.url)
    result = run_cli(capsys, "--dry-run", "--show-secrets", str(spec))
    assert result.code == 0
    assert '"password": "s3cret-pass"' in result.out
    assert srv.app.requests == []


def test_the_dry_run_shows_what_the_run_sends(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        vars: {n: 3}
        steps:
          - name: post
            request:
              method: PUT
              url: /echo/x
              params: {a: "{{ n }}"}
              json: {n: "{{ n }}", list: [1, "two"]}
        """,
        base=srv.url,
    )
    planned = run_cli(capsys, "--dry-run", str(spec)).out
    assert srv.app.requests == []
    assert run_cli(capsys, str(spec)).code == 0
    received = srv.app.last
    assert f"PUT {srv.url}{received.target}" in planned
    body = planned.split("Content-Type: application/json\n", 1)[1].split("\n\n")[0]
    assert json.loads(body) == json.loads(received.body)
    assert f"Content-Length: {len(received.body)}" in planned


def test_a_spec_error_exits_2_and_sends_nothing(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: typo
            request: {url: "/echo/{{ tokn }}"}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, "--dry-run", str(spec))
    assert result.code == 2
    assert "undefined variable 'tokn'" in result.err
    assert srv.app.requests == []


def test_a_request_that_cannot_render_exits_2(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        vars: {n: 3}
        steps:
          - name: bad loop
            loop: "{{ n }}"
            request: {url: /echo}
          - name: fine
            request: {url: /echo}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, "--dry-run", str(spec))
    assert result.code == 2, result.text
    assert "cannot render: 'loop' needs a list, got int: 3" in result.out
    assert f"--> {spec}:{line_of(spec, 'name: bad loop')}" in result.out
    assert "dry run: 1 problem, 1 request" in result.out
    assert srv.app.requests == []


def test_the_setup_captures_are_unknown_in_the_files(srv, capsys, tmp_path):
    setup = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: login
            request: {method: POST, url: /v3/auth/tokens, json: {}}
            capture: {token: {header: X-Subject-Token}}
        """,
        name="login.yaml",
        base=srv.url,
    )
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: use
            request: {url: /echo, headers: {X-Auth-Token: "{{ token }}"}}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, "--dry-run", "--setup", str(setup), str(spec))
    assert result.code == 0, result.text
    assert "X-Auth-Token: <capture token from step 'login'>" in result.out
    assert result.out.index("login") < result.out.index("use")
    assert srv.app.requests == []


def test_step_selection_applies(srv, capsys, tmp_path):
    spec = write_spec(tmp_path, LOGIN_THEN_USE, base=srv.url)
    result = run_cli(capsys, "--dry-run", "--step", "only if admin", str(spec))
    assert result.code == 0, result.text
    assert "get token" in result.out and "only if admin" in result.out
    assert "create [0]" not in result.out
    assert srv.app.requests == []
