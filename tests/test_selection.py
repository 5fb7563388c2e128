"""--tag and --step: which steps run, which earlier steps they pull in for their captures,
and the clear errors when a selection matches nothing."""

from __future__ import annotations

import pytest
from helpers import line_of, run_cli, write_spec

from runner import load_text
from runner.selection import Selection, dependencies

LOGIN = """
  - name: login
    request:
      method: POST
      url: /v3/auth/tokens
      json:
        auth:
          identity:
            methods: [password]
            password: {user: {name: admin, password: "000000", domain: {name: demo}}}
    capture: {token: {header: X-Subject-Token}}
"""


def flow(srv, tmp_path, name="flow.yaml", file_tags=""):
    return write_spec(
        tmp_path,
        f"base_url: {srv.url}\n{file_tags}steps:"
        + LOGIN
        + """
  - name: json
    request: {url: /json}
    capture: {n: $.int}
  - name: users
    tags: [smoke]
    request: {url: /v3/users, headers: {X-Auth-Token: "{{ token }}"}}
    capture: {first: "$.users[0].id"}
  - name: one user
    request:
      url: "/v3/users/{% if first %}{{ first }}{% endif %}"
      headers: {X-Auth-Token: "{{ token }}"}
  - name: arithmetic
    tags: [math]
    request: {url: "/echo?n={{ n + 1 }}"}
""",
        name,
    )


def paths(srv) -> list[str]:
    return [r.path for r in srv.app.requests]


def outcomes(out: str) -> dict[str, str]:
    marks = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] in ("PASS", "FAIL", "ERROR", "SKIP"):
            name = line.split(parts[0], 1)[1].strip().split("  ")[0]
            marks[name] = parts[0]
    return marks


def test_tags_are_read_from_files_and_steps():
    spec = load_text(
        "tags: [keystone, smoke]\nsteps:\n"
        "  - {name: a, tags: slow, request: {url: 'http://x/'}}\n"
        "  - {name: b, request: {url: 'http://x/'}}\n"
    )
    assert spec.tags == ("keystone", "smoke")
    assert [step.tags for step in spec.steps] == [("slow",), ()]


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ("'smoke, slow'", "tag 'smoke, slow' is not a word"),
        ("{a: 1}", "'tags' must be a list of words such as [smoke], found a mapping"),
        ("[ok, 3]", "tag 3 is not a word"),
    ],
)
def test_bad_tags_are_spec_errors_with_their_line(capsys, tmp_path, tags, message):
    spec = write_spec(
        tmp_path,
        f"steps:\n  - name: a\n    tags: {tags}\n    request: {{url: 'http://127.0.0.1:9/'}}\n",
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 2
    assert message in result.err
    assert f"{spec}:3:" in result.err


def test_a_tag_runs_its_steps_and_the_steps_they_need(srv, capsys, tmp_path):
    spec = flow(srv, tmp_path)
    result = run_cli(capsys, "--tag", "smoke", str(spec))
    assert result.code == 0, result.text
    # users reads {{ token }}: login runs first; nothing else is sent
    assert paths(srv) == ["/v3/auth/tokens", "/v3/users"]
    assert outcomes(result.out) == {
        "login": "PASS",
        "json": "SKIP",
        "users": "PASS",
        "one user": "SKIP",
        "arithmetic": "SKIP",
    }
    assert "(skipped: not selected by --tag smoke)" in result.out
    assert "2 passed, 0 failed, 3 skipped" in result.out


def test_a_file_tag_selects_all_its_steps_and_files_without_the_tag_do_not_run(
    srv, capsys, tmp_path
):
    tagged = flow(srv, tmp_path, "tagged.yaml", file_tags="tags: [keystone]\n")
    other = write_spec(
        tmp_path, f"steps:\n  - name: ping\n    request: {{url: '{srv.url}/text'}}\n", "other.yaml"
    )
    result = run_cli(capsys, "--tag", "keystone", str(tagged), str(other))
    assert result.code == 0, result.text
    assert "/text" not in paths(srv)
    assert str(other) not in result.out
    assert "5 passed, 0 failed, 0 skipped (1 file," in result.out


def test_several_tags_select_any_of_them(srv, capsys, tmp_path):
    spec = flow(srv, tmp_path)
    result = run_cli(capsys, "--tag", "smoke,math", str(spec))
    assert result.code == 0, result.text
    assert outcomes(result.out) == {
        "login": "PASS",
        "json": "PASS",  # arithmetic reads n, captured here
        "users": "PASS",
        "one user": "SKIP",
        "arithmetic": "PASS",
    }
    assert srv.app.requests[-1].query == {"n": ["2"]}  # n + 1 with the captured n = 1


def test_step_runs_one_step_after_the_chain_it_depends_on(srv, capsys, tmp_path):
    spec = flow(srv, tmp_path)
    result = run_cli(capsys, "--step", "one user", str(spec))
    assert result.code == 0, result.text
    # one user reads token (login) and first (users, which itself reads token)
    assert paths(srv)[:2] == ["/v3/auth/tokens", "/v3/users"]
    assert len(paths(srv)) == 3 and paths(srv)[2].startswith("/v3/users/")
    assert outcomes(result.out)["json"] == "SKIP"
    assert "(skipped: not selected by --step 'one user')" in result.out


def test_step_alone_when_it_needs_nothing(srv, capsys, tmp_path):
    spec = flow(srv, tmp_path)
    result = run_cli(capsys, "--step", "json", str(spec))
    assert result.code == 0, result.text
    assert paths(srv) == ["/json"]
    assert "1 passed, 0 failed, 4 skipped" in result.out


def test_an_unknown_step_is_a_usage_error_and_nothing_is_sent(srv, capsys, tmp_path):
    spec = flow(srv, tmp_path)
    result = run_cli(capsys, "--step", "user", str(spec))
    assert result.code == 2
    assert result.err.strip() == (
        "apirun: error: --step: no step is named 'user' (did you mean 'users'?)"
    )
    assert srv.app.requests == []


def test_a_tag_that_nothing_has_is_a_usage_error(srv, capsys, tmp_path):
    spec = flow(srv, tmp_path)
    result = run_cli(capsys, "--tag", "smok", str(spec))
    assert result.code == 2
    assert "--tag smok: no spec file or step has this tag (tags used: math, smoke)" in result.err
    assert srv.app.requests == []


def test_a_bad_tag_on_the_command_line(srv, capsys, tmp_path):
    result = run_cli(capsys, "--tag", "a b", str(flow(srv, tmp_path)))
    assert result.code == 2
    assert "--tag takes words such as smoke or smoke,slow, got 'a b'" in result.err
    assert srv.app.requests == []


def test_a_failed_dependency_skips_the_selected_step(srv, capsys, tmp_path):
    spec = flow(srv, tmp_path)
    text = spec.read_text().replace('password: "000000"', 'password: "wrong"')
    spec.write_text(text)
    result = run_cli(capsys, "--step", "users", str(spec))
    assert result.code == 1
    assert "status: expected 2xx, got 401" in result.out
    assert f"--> {spec}:{line_of(spec, '- name: login')}" in result.out
    assert outcomes(result.out)["users"] == "SKIP"
    assert "step 'login' failed" in result.out


# -- the static analysis itself ------------------------------------------------------------------


def needs(text: str) -> dict[str, set[str]]:
    spec = load_text(text, "deps.yaml")
    found = dependencies(spec)
    return {step.name: {spec.steps[i].name for i in found[n]} for n, step in enumerate(spec.steps)}


def test_dependencies_follow_the_last_capture_and_ignore_template_locals():
    result = needs(
        """
base_url: "http://h/{{ v }}"
vars: {v: x, items: [1]}
steps:
  - {name: a, request: {url: /a}, capture: {token: $.t, id: $.i}}
  - {name: b, request: {url: /b}, capture: {token: $.t}}
  - name: c
    request:
      url: "/c/{% for token in items %}{{ token }}{% endfor %}"
      headers: {X: "{{ id | default('none') }}"}
  - name: d
    request: {url: /d, json: {t: "{{ token }}"}}
  - name: e
    request: {url: /e}
    capture: {own: $.x}
    expect:
      jsonpath:
        $.x: "{{ own }}"
  - name: f
    request: {url: /f}
    expect:
      jsonpath:
        $.y: {contains: "{{ 'x' ~ token }}"}
"""
    )
    assert result == {
        "a": set(),
        "b": set(),
        "c": {"a"},  # id; 'token' there is the loop variable, not the capture
        "d": {"b"},  # the last step before d that captures token
        "e": set(),  # an expectation may read its own step's capture
        "f": {"b"},  # expectations count too
    }


def test_a_capture_argument_and_defaults_headers_count_as_reads():
    result = needs(
        """
defaults:
  headers: {X-Auth-Token: "{{ token | default('') }}"}
steps:
  - {name: login, request: {url: "http://h/l"}, capture: {token: $.t, name: $.n}}
  - name: find
    request: {url: "http://h/u"}
    capture:
      user_id: {jsonpath: "$.users[?(@.name=='{{ name }}')].id"}
"""
    )
    assert result == {"login": set(), "find": {"login"}}


def test_an_empty_selection_selects_everything():
    spec = load_text("steps:\n  - {name: a, request: {url: 'http://x/'}}\n")
    assert not Selection().active
    assert Selection().selects(spec)
    assert Selection().skipped(spec) == {}
