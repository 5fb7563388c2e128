"""Flow control: include, setup, retry, when, loop, finally, delay, continue_on_failure.

Each test proves what happened on the server, not only what was printed.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

from helpers import line_of, run_cli, write_spec

ROOT = Path(__file__).resolve().parent.parent
LOGIN = """
steps:
  - name: get token
    request:
      method: POST
      url: /v3/auth/tokens
      json:
        auth:
          identity:
            methods: [password]
            password:
              user:
                name: "{{{{ username }}}}"
                password: "{{{{ password }}}}"
                domain: {{name: demo}}
          scope: {{project: {{name: admin, domain: {{name: demo}}}}}}
    expect: {{status: 201}}
    capture:
      token: {{header: X-Subject-Token}}
      catalog: $.token.catalog
vars:
  username: admin
  password: "000000"
"""


def login_posts(srv) -> int:
    return sum(1 for r in srv.app.requests if r.path == "/v3/auth/tokens")


# -- retry -------------------------------------------------------------------------------------


def polling_spec(tmp_path, srv, times: int, until: str = "response.json.server.status == 'ACTIVE'"):
    (tmp_path / "login.yaml").write_text(LOGIN.format(), encoding="utf-8")
    return write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: log in
            include: login.yaml
          - name: create
            request:
              method: POST
              url: "{{{{ catalog | endpoint('compute') }}}}/servers"
              headers: {{X-Auth-Token: "{{{{ token }}}}"}}
              json: {{server: {{name: web}}}}
            expect: {{status: 202}}
            capture: {{server_id: $.server.id}}
          - name: wait
            request:
              url: "{{{{ catalog | endpoint('compute') }}}}/servers/{{{{ server_id }}}}"
              headers: {{X-Auth-Token: "{{{{ token }}}}"}}
            retry: {{times: {times}, delay: 0.01, until: "{until}"}}
            expect:
              jsonpath: {{$.server.status: ACTIVE}}
        """,
    )


def test_retry_polls_until_ready_and_reports_the_attempts(srv, capsys, tmp_path):
    srv.app.ready_after = 4
    result = run_cli(capsys, str(polling_spec(tmp_path, srv, times=10)))
    assert result.code == 0, result.text
    (server,) = srv.app.servers.values()
    assert server["polls"] == 4  # stopped as soon as it was ACTIVE
    assert "(4 attempts)" in result.out


def test_retry_without_until_repeats_until_the_expectations_pass(srv, capsys, tmp_path):
    srv.app.ready_after = 3
    spec = (
        polling_spec(tmp_path, srv, times=5)
        .read_text()
        .replace(""", until: "response.json.server.status == 'ACTIVE'\"""", "")
    )
    path = write_spec(tmp_path, spec, name="no-until.yaml")
    result = run_cli(capsys, str(path))
    assert result.code == 0, result.text
    assert next(iter(srv.app.servers.values()))["polls"] == 3


def test_a_retry_that_never_succeeds_fails_clearly_in_bounded_time(srv, capsys, tmp_path):
    srv.app.ready_after = 1000
    spec = polling_spec(tmp_path, srv, times=3)
    started = time.monotonic()
    result = run_cli(capsys, str(spec))
    assert time.monotonic() - started < 5
    assert result.code == 1
    assert next(iter(srv.app.servers.values()))["polls"] == 3
    assert "(3 attempts)" in result.out
    assert "retry until: still false after 3 attempts" in result.out
    assert 'jsonpath $.server.status: expected "ACTIVE", got "BUILD"' in result.out
    assert f"--> {spec}:{line_of(spec, 'retry:')}" in result.out


# -- include -----------------------------------------------------------------------------------


def test_an_include_used_by_two_files(srv, capsys, tmp_path):
    (tmp_path / "common").mkdir()
    write_spec(tmp_path / "common", LOGIN.format(), name="login.yaml")
    files = []
    for name, user in (("a.yaml", "admin"), ("b.yaml", "demo")):
        files.append(
            write_spec(
                tmp_path,
                f"""
                base_url: {srv.url}
                steps:
                  - name: log in
                    include: common/login.yaml
                  - name: use the token
                    request:
                      url: /v3/users
                      params: {{name: {user}}}
                      headers: {{X-Auth-Token: "{{{{ token }}}}"}}
                    expect:
                      jsonpath: {{"$.users[0].name": {user}}}
                """,
                name=name,
            )
        )
    result = run_cli(capsys, *map(str, files))
    assert result.code == 0, result.text
    assert "log in › get token" in result.out
    assert login_posts(srv) == 2
    listings = [r for r in srv.app.requests if r.path == "/v3/users"]
    assert [r.headers["X-Auth-Token"] in srv.app.tokens for r in listings] == [True, True]


def test_include_vars_beat_the_included_files_vars(srv, capsys, tmp_path):
    write_spec(tmp_path, LOGIN.format(), name="login.yaml")
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: log in
            include: login.yaml
            vars: {{password: wrong}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 1
    assert "log in › get token" in result.out and "expected 201, got 401" in result.out
    assert srv.app.requests[0].json()["auth"]["identity"]["password"]["user"]["password"] == (
        "wrong"
    )


def test_an_include_cycle_is_a_spec_error_naming_the_chain(srv, capsys, tmp_path):
    a = write_spec(tmp_path, "steps:\n  - name: to b\n    include: b.yaml\n", name="a.yaml")
    write_spec(tmp_path, "steps:\n  - name: to a\n    include: a.yaml\n", name="b.yaml")
    result = run_cli(capsys, "check", str(a))
    assert result.code == 2
    assert f"include cycle: {a} → {tmp_path / 'b.yaml'} → {a}" in result.err
    assert f"--> {tmp_path / 'b.yaml'}:3:14" in result.err
    assert srv.app.requests == []


def test_an_error_inside_an_included_file_points_into_it(srv, capsys, tmp_path):
    write_spec(tmp_path, "steps:\n  - name: x\n    reqest: {url: /}\n", name="inc.yaml")
    spec = write_spec(tmp_path, "steps:\n  - name: go\n    include: inc.yaml\n")
    result = run_cli(capsys, "check", str(spec))
    assert result.code == 2
    assert f"--> {tmp_path / 'inc.yaml'}:3:5" in result.err
    assert "did you mean 'request'?" in result.err
    assert "3 |     reqest: {url: /}" in result.err  # the included file's line is quoted


# -- setup -------------------------------------------------------------------------------------


def two_files_using_the_token(tmp_path, srv) -> list[Path]:
    return [
        write_spec(
            tmp_path,
            f"""
            base_url: {srv.url}
            steps:
              - name: list
                request: {{url: /v3/users, headers: {{X-Auth-Token: "{{{{ token }}}}"}}}}
            """,
            name=name,
        )
        for name in ("one.yaml", "two.yaml")
    ]


def test_setup_runs_once_and_its_captures_reach_every_file(srv, capsys, tmp_path):
    setup = write_spec(tmp_path, f"base_url: {srv.url}\n" + LOGIN.format(), name="login.yml")
    specs = two_files_using_the_token(tmp_path / ".." / tmp_path.name, srv)
    result = run_cli(capsys, "--setup", str(setup), *map(str, specs))
    assert result.code == 0, result.text
    assert login_posts(srv) == 1
    (token,) = srv.app.tokens
    assert [r.headers["X-Auth-Token"] for r in srv.app.requests[1:]] == [token, token]


def test_the_project_file_names_the_setup(srv, capsys, tmp_path):
    folder = tmp_path / "specs"
    folder.mkdir()
    (tmp_path / "common").mkdir()
    write_spec(tmp_path / "common", f"base_url: {srv.url}\n" + LOGIN.format(), name="login.yaml")
    write_spec(folder, "setup: ../common/login.yaml\n", name="apirun.yaml")
    two_files_using_the_token(folder, srv)
    result = run_cli(capsys, str(folder))
    assert result.code == 0, result.text
    assert login_posts(srv) == 1
    assert len(srv.app.requests) == 3  # apirun.yaml itself is not run as a spec


def test_a_failed_setup_runs_no_file(srv, capsys, tmp_path):
    setup = write_spec(tmp_path, f"base_url: {srv.url}\n" + LOGIN.format(), name="login.yml")
    specs = two_files_using_the_token(tmp_path, srv)
    result = run_cli(capsys, "--setup", str(setup), "--var", "password=nope", *map(str, specs))
    assert result.code == 1
    assert result.out.count("the setup") == 2
    assert [r.path for r in srv.app.requests] == ["/v3/auth/tokens"]


# -- loop, when, finally, continue_on_failure, delay ----------------------------------------


def crud_spec(tmp_path, srv, middle: str) -> Path:
    """Log in, create three users in a loop, MIDDLE steps, and a finally deleting them."""
    (tmp_path / "login.yaml").write_text(LOGIN.format(), encoding="utf-8")
    head = f"""\
base_url: {srv.url}
defaults:
  headers: {{X-Auth-Token: "{{{{ token }}}}"}}
steps:
  - name: log in
    include: login.yaml
  - name: create
    loop: [alpha, beta, gamma]
    request:
      method: POST
      url: /v3/users
      json: {{user: {{name: "flow-{{{{ item }}}}-{{{{ index }}}}"}}}}
    expect: {{status: 201}}
    capture: {{ids: $.user.id}}
  - name: never runs
    when: false
    request: {{url: /echo}}
    capture: {{ghost: $.path}}
"""
    tail = """\
finally:
  - name: delete
    loop: "{{ ids }}"
    request: {method: DELETE, url: "/v3/users/{{ item }}"}
    expect: {status: 204}
  - name: not captured
    request: {url: "/v3/users/{{ ghost }}"}
"""
    path = tmp_path / "spec.yaml"
    path.write_text(
        head + textwrap.indent(textwrap.dedent(middle).strip("\n"), "  ") + "\n" + tail,
        encoding="utf-8",
    )
    return path


def flow_users(srv) -> list[str]:
    return sorted(u["name"] for u in srv.app._users.values() if u["name"].startswith("flow-"))


def test_a_loop_creates_each_item_and_collects_its_captures(srv, capsys, tmp_path):
    spec = crud_spec(
        tmp_path,
        srv,
        """
          - name: check
            request: {url: "/v3/users/{{ ids[1] }}"}
            expect:
              jsonpath: {$.user.name: flow-beta-1}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    for index in range(3):
        assert f"create [{index}]" in result.out
        assert f"delete [{index}]" in result.out
    created = [r.json()["user"]["name"] for r in srv.app.requests if r.path == "/v3/users"]
    assert created == ["flow-alpha-0", "flow-beta-1", "flow-gamma-2"]
    assert flow_users(srv) == []  # finally deleted all three
    assert "not run: undefined variable: 'ghost'" in result.out  # skipped, not an error


def test_finally_cleans_up_after_a_failure_without_hiding_it(srv, capsys, tmp_path):
    spec = crud_spec(
        tmp_path,
        srv,
        """
          - name: breaks
            request: {url: /status/500}
          - name: never reached
            request: {url: /echo}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 1
    assert "FAIL" in result.out and "breaks" in result.out
    assert "status: expected 2xx, got 500" in result.out
    assert "(skipped: step 'breaks' failed)" in result.out
    assert flow_users(srv) == []  # the server really is clean
    assert [r.method for r in srv.app.requests].count("DELETE") == 3


def test_when_skips_with_the_reason_and_can_read_the_last_response(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        vars: {{flag: false}}
        steps:
          - name: probe
            request: {{url: /status/404}}
            expect: {{status: 404}}
          - name: only when found
            when: response.status == 200
            request: {{url: /echo/found}}
          - name: only when missing
            when: "{{{{ response.status == 404 and not flag }}}}"
            request: {{url: /echo/missing}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    assert "(skipped: when: response.status == 200 is false)" in result.out
    assert [r.path for r in srv.app.requests] == ["/status/404", "/echo/missing"]


def test_continue_on_failure_runs_the_next_steps_but_fails_the_file(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: may fail
            continue_on_failure: true
            request: {{url: /status/503}}
          - name: still runs
            request: {{url: /echo/after}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 1
    assert srv.app.last.path == "/echo/after"
    assert "1 passed, 1 failed, 0 skipped" in result.out


def test_delay_waits_before_the_step(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: first
            request: {{url: /echo/1}}
          - name: later
            delay: 0.3
            request: {{url: /echo/2}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0
    first, second = srv.app.requests
    assert second.received - first.received >= 0.3


def test_loop_over_something_not_a_list_is_an_error(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        vars: {{n: 3}}
        steps:
          - name: bad loop
            loop: "{{{{ n }}}}"
            request: {{url: /echo}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 2
    assert "'loop' needs a list, got int: 3" in result.out
    assert srv.app.requests == []


def test_the_flow_examples_pass_and_leave_nothing_behind(srv, capsys, monkeypatch):
    monkeypatch.setenv("OS_AUTH_URL", f"{srv.url}/v3")
    result = run_cli(capsys, str(ROOT / "specs" / "flow"))
    assert result.code == 0, result.text
    assert login_posts(srv) == 1  # the setup of specs/flow/apirun.yaml, once
    assert srv.app.servers == {}
    assert not [u for u in srv.app._users.values() if u["name"].startswith("apirun-")]


def test_setup_runs_once_with_jobs_and_whole_under_step_selection(srv, capsys, tmp_path):
    setup = write_spec(tmp_path, f"base_url: {srv.url}\n" + LOGIN.format(), name="login.yml")
    specs = two_files_using_the_token(tmp_path, srv)
    args = ["--setup", str(setup), "--jobs", "2", "--step", "list"]
    result = run_cli(capsys, *args, *map(str, specs))
    assert result.code == 0, result.text
    assert login_posts(srv) == 1  # the setup ran, once, though --step names another step
    (token,) = srv.app.tokens
    assert [r.headers["X-Auth-Token"] for r in srv.app.requests[1:]] == [token, token]


def test_step_selection_pulls_in_an_included_step_it_needs(srv, capsys, tmp_path):
    write_spec(tmp_path, LOGIN.format(), name="login.yaml")
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: log in
            include: login.yaml
          - name: unrelated
            request: {{url: /echo/unrelated}}
          - name: users
            request: {{url: /v3/users, headers: {{X-Auth-Token: "{{{{ token }}}}"}}}}
        """,
    )
    result = run_cli(capsys, "--step", "users", str(spec))
    assert result.code == 0, result.text
    assert [r.path for r in srv.app.requests] == ["/v3/auth/tokens", "/v3/users"]
    assert "(skipped: not selected by --step 'users')" in result.out
