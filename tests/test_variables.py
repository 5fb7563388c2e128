"""Where variables come from, which one wins, and what happens when one is missing."""

from __future__ import annotations

import re

from helpers import line_of, run_cli, write_spec

SPEC = """
base_url: {url}
vars:
  who: from-file
  greeting: "hello {{{{ who }}}}"
steps:
  - name: send
    request:
      url: /echo
      params: {{who: "{{{{ who }}}}", greeting: "{{{{ greeting }}}}"}}
"""


def sent(srv) -> dict[str, list[str]]:
    return srv.app.last.query


def test_file_vars_render_in_order(srv, capsys, tmp_path):
    spec = write_spec(tmp_path, SPEC.format(url=srv.url))
    assert run_cli(capsys, str(spec)).code == 0
    assert sent(srv) == {"who": ["from-file"], "greeting": ["hello from-file"]}


def test_vars_file_beats_the_file_and_var_beats_both(srv, capsys, tmp_path):
    spec = write_spec(tmp_path, SPEC.format(url=srv.url))
    vars_file = write_spec(tmp_path, "who: from-vars-file\n", name="vars.yaml")

    assert run_cli(capsys, "--vars-file", str(vars_file), str(spec)).code == 0
    assert sent(srv)["who"] == ["from-vars-file"]
    assert sent(srv)["greeting"] == ["hello from-vars-file"]  # file vars see the override

    args = ["--vars-file", str(vars_file), "--var", "who=from-var", str(spec)]
    assert run_cli(capsys, *args).code == 0
    assert sent(srv)["who"] == ["from-var"]


def test_captures_beat_every_other_source(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        vars: {{who: from-file}}
        steps:
          - name: capture
            request: {{url: /echo?who=captured}}
            capture: {{who: $.query.who}}
          - name: use
            request: {{url: "/echo/{{{{ who }}}}"}}
        """,
    )
    assert run_cli(capsys, "--var", "who=from-var", str(spec)).code == 0
    assert srv.app.last.path == "/echo/captured"


def test_env_reads_the_environment_by_name(srv, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("APIRUN_TEST_BASE", srv.url)
    monkeypatch.delenv("APIRUN_TEST_MISSING", raising=False)
    spec = write_spec(
        tmp_path,
        """
        base_url: "{{ env.APIRUN_TEST_BASE }}"
        steps:
          - name: send
            request:
              url: /echo
              params: {fallback: "{{ env.APIRUN_TEST_MISSING | default('none') }}"}
        """,
    )
    assert run_cli(capsys, str(spec)).code == 0
    assert sent(srv) == {"fallback": ["none"]}


def test_an_undefined_variable_is_a_spec_error_with_a_suggestion(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: capture
            request: {{url: /echo?t=abc}}
            capture: {{token: $.query.t}}
          - name: typo
            request:
              url: /echo
              headers: {{X-Auth-Token: "{{{{ tokn }}}}"}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 2
    assert "undefined variable 'tokn'" in result.err
    assert "did you mean 'token'?" in result.err
    assert f"--> {spec}:{line_of(spec, 'tokn')}:" in result.err
    assert "(step 'typo')" in result.err
    assert srv.app.requests == []  # found before anything was sent, the capture step too


def test_the_sandbox_refuses_python_internals(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: escape
            request: {{url: "/echo/{{{{ ''.__class__.__mro__ }}}}"}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 2
    assert "unsafe template refused" in result.out
    assert "Traceback" not in result.text
    assert srv.app.requests == []


def test_var_must_be_name_equals_value(capsys, tmp_path):
    spec = write_spec(tmp_path, "steps: [{name: a, request: {url: 'http://127.0.0.1:9/'}}]\n")
    result = run_cli(capsys, "--var", "no-equals", str(spec))
    assert result.code == 2
    assert "--var takes NAME=VALUE" in result.err


def test_a_broken_vars_file_names_its_line(capsys, tmp_path):
    spec = write_spec(tmp_path, "steps: [{name: a, request: {url: 'http://127.0.0.1:9/'}}]\n")
    vars_file = write_spec(tmp_path, "a: 1\nb: [unclosed\n", name="vars.yaml")
    result = run_cli(capsys, "--vars-file", str(vars_file), str(spec))
    assert result.code == 2
    assert f"{vars_file}:3" in result.err or f"{vars_file}:2" in result.err
    assert "invalid YAML" in result.err


def test_a_variable_that_fails_to_render_stops_the_file_with_its_line(
    srv, capsys, tmp_path, monkeypatch
):
    # The environment is only known at run time: this one is not caught by the static check.
    monkeypatch.delenv("APIRUN_TEST_MISSING", raising=False)
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        vars:
          first: "{{{{ env.APIRUN_TEST_MISSING }}}}"
        steps:
          - name: never
            request: {{url: /echo}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 2
    assert "environment variable 'APIRUN_TEST_MISSING' is not set" in result.out
    assert f"--> {spec}:{line_of(spec, 'APIRUN_TEST_MISSING')}" in result.out
    assert srv.app.requests == []


def test_a_variable_that_uses_an_undefined_one_is_found_before_running(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        vars:
          first: "{{{{ missing_thing }}}}"
        steps:
          - name: never
            request: {{url: /echo}}
        """,
    )
    for command in (("check",), ()):
        result = run_cli(capsys, *command, str(spec))
        assert result.code == 2
        assert "undefined variable 'missing_thing'" in result.err
        assert f"--> {spec}:{line_of(spec, 'missing_thing')}:" in result.err
    assert srv.app.requests == []


def test_uuid4_is_a_fresh_canonical_uuid_and_vars_keep_one_per_run(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        vars: {{rp: "{{{{ uuid4() }}}}"}}
        steps:
          - name: twice the var, once a new one
            request:
              url: /echo
              params: {{a: "{{{{ rp }}}}", b: "{{{{ rp }}}}", c: "{{{{ uuid4() }}}}"}}
        """,
    )
    assert run_cli(capsys, str(spec)).code == 0
    query = sent(srv)
    (a,), (b,), (c,) = query["a"], query["b"], query["c"]
    canonical = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    assert re.fullmatch(canonical, a) and re.fullmatch(canonical, c), query
    assert a == b != c


def test_templates_see_plain_data_not_the_loaders_source_positions(srv, capsys, tmp_path):
    """The loader reads YAML into mappings and lists that remember their line and column; a
    template must see the data alone (``server.position`` is no key of ``server``), whether
    the value comes from the file's vars, a --vars-file, a loop's items or a nested mapping."""
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        vars:
          server: {{name: x}}
          wrapped: {{inner: {{name: "{{{{ server.name }}}}"}}, fixed: {{name: y}}}}
        steps:
          - name: send
            loop: [{{id: 1}}]
            request:
              method: POST
              url: /echo
              json:
                var: "{{{{ server.position | default('none') }}}}"
                fixed: "{{{{ wrapped.fixed.position | default('none') }}}}"
                item: "{{{{ item.position | default('none') }}}}"
                file: "{{{{ extra.position | default('none') }}}}"
                nested: "{{{{ extra.more.position | default('none') }}}}"
                name: "{{{{ server.name }}}} {{{{ wrapped.inner.name }}}} {{{{ item.id }}}}"
        """,
    )
    vars_file = write_spec(tmp_path, "extra:\n  more: {a: 1}\n", name="vars.yaml")

    result = run_cli(capsys, "--vars-file", str(vars_file), str(spec))

    assert result.code == 0, result.text
    assert srv.app.last.json() == {
        "var": "none",
        "fixed": "none",
        "item": "none",
        "file": "none",
        "nested": "none",
        "name": "x x 1",
    }
