"""The Python API: load a spec, run it, read the results as data."""

from __future__ import annotations

import pytest

import runner
from runner import Outcome, RunOptions, SpecError, load_text, run_spec


def test_load_run_and_read_results(srv):
    spec = load_text(
        f"""
base_url: {srv.url}
steps:
  - name: login
    request:
      method: POST
      url: /v3/auth/tokens
      json:
        auth:
          identity:
            methods: [password]
            password: {{user: {{name: admin, password: "{{{{ pw }}}}", domain: {{name: demo}}}}}}
    capture: {{token: {{header: X-Subject-Token}}, user: $.token.user.name}}
  - name: users
    request: {{url: /v3/users, headers: {{X-Auth-Token: "{{{{ token }}}}"}}}}
    expect:
      jsonpath:
        $.users[*].name: {{contains: "{{{{ user }}}}"}}
""",
        "inline.yaml",
    )
    result = run_spec(spec, RunOptions(variables={"pw": "000000"}))

    assert result.passed
    assert [s.outcome for s in result.steps] == [Outcome.PASSED, Outcome.PASSED]
    login, users = result.steps
    assert {c.name: c.value for c in login.captures}["user"] == "admin"
    assert users.response.status == 200
    assert users.request.headers.get("X-Auth-Token") in srv.app.tokens
    assert {c.name for c in login.captures} == {"token", "user"}
    (token,) = srv.app.tokens
    assert token in result.secrets  # what reporters mask


def test_spec_errors_are_data_with_positions():
    with pytest.raises(SpecError) as raised:
        load_text("steps:\n  - name: a\n    requests: {url: http://127.0.0.1:9/}\n", "bad.yaml")
    (first, second) = raised.value.diagnostics
    assert (first.source.file, first.source.line, first.source.column) == ("bad.yaml", 3, 5)
    assert "did you mean 'request'?" in first.message
    assert first.step == "a"
    assert "missing the required key 'request'" in second.message


def test_public_names_load_lazily():
    assert runner.__version__
    assert callable(runner.run_specs)
    with pytest.raises(AttributeError):
        runner.no_such_name  # noqa: B018
