"""The motivating case: log in to (an imitation of) Keystone, reuse the token, list users."""

from __future__ import annotations

from pathlib import Path

from helpers import line_of, run_cli, run_process

ROOT = Path(__file__).resolve().parent.parent
USERS_SPEC = ROOT / "specs" / "users.yaml"


def keystone_env(srv) -> dict[str, str]:
    return {"OS_AUTH_URL": f"{srv.url}/v3"}


def test_users_spec_passes_with_the_real_command(srv):
    result = run_process(str(USERS_SPEC), "--color", "never", env=keystone_env(srv))

    assert result.code == 0, result.text
    lines = result.out.splitlines()
    assert any(line.strip().startswith("PASS") and "get token" in line for line in lines)
    assert any(line.strip().startswith("PASS") and "list users" in line for line in lines)
    post = next(line for line in lines if "get token" in line)
    assert f"POST {srv.url}/v3/auth/tokens" in post and "201" in post and " ms" in post
    assert "2 passed, 0 failed, 0 skipped" in result.out


def test_the_captured_token_is_what_the_server_received(srv, capsys, monkeypatch):
    monkeypatch.setenv("OS_AUTH_URL", f"{srv.url}/v3")

    result = run_cli(capsys, str(USERS_SPEC))

    assert result.code == 0, result.text
    login, listing = srv.app.requests
    assert (login.method, login.path) == ("POST", "/v3/auth/tokens")
    sent = login.json()["auth"]["identity"]["password"]["user"]
    assert sent == {"domain": {"name": "demo"}, "name": "admin", "password": "000000"}
    assert (listing.method, listing.path) == ("GET", "/v3/users")
    assert listing.headers["X-Auth-Token"] in srv.app.tokens


def test_a_wrong_password_fails_the_login_step_and_skips_the_rest(srv, capsys, monkeypatch):
    monkeypatch.setenv("OS_AUTH_URL", f"{srv.url}/v3")

    result = run_cli(capsys, "--var", "password=wrong", str(USERS_SPEC))

    assert result.code == 1
    assert "FAIL" in result.out and "get token" in result.out
    assert "status: expected 201, got 401" in result.out
    assert f"--> {USERS_SPEC}:{line_of(USERS_SPEC, 'status: 201')}" in result.out
    assert "SKIP" in result.out and "step 'get token' failed" in result.out
    assert "0 passed, 1 failed, 1 skipped" in result.out
    assert [r.path for r in srv.app.requests] == ["/v3/auth/tokens"]  # nothing after the failure


def test_secrets_are_masked_even_in_verbose_output(srv, capsys, monkeypatch):
    monkeypatch.setenv("OS_AUTH_URL", f"{srv.url}/v3")

    result = run_cli(capsys, "-v", str(USERS_SPEC))

    assert result.code == 0, result.text
    (token,) = srv.app.tokens
    assert token not in result.text
    assert "000000" not in result.text
    assert "X-Subject-Token: ***" in result.out
    assert "X-Auth-Token: ***" in result.out
    assert '"password": "***"' in result.out  # the request body, masked by value


def test_show_secrets_prints_them_when_asked(srv, capsys, monkeypatch):
    monkeypatch.setenv("OS_AUTH_URL", f"{srv.url}/v3")

    result = run_cli(capsys, "-v", "--show-secrets", str(USERS_SPEC))

    (token,) = srv.app.tokens
    assert f"X-Subject-Token: {token}" in result.out
    assert '"password": "000000"' in result.out


def test_a_wrong_password_is_masked_in_the_failure_report(srv, capsys, monkeypatch):
    monkeypatch.setenv("OS_AUTH_URL", f"{srv.url}/v3")

    result = run_cli(capsys, "-v", "--var", "password=hunter22", str(USERS_SPEC))

    assert result.code == 1
    assert "hunter22" not in result.text
