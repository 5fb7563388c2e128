"""Proxies, NO_PROXY and .netrc keep requests' meaning though apirun resolves them once."""

from __future__ import annotations

import base64
import socket

from helpers import run_cli, write_spec


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spec(tmp_path, url: str, headers: str = "{}", status: str = "2xx"):
    return write_spec(
        tmp_path,
        f"""
        steps:
          - name: one
            request: {{url: "{url}", headers: {headers}}}
            expect: {{status: {status}}}
          - name: two
            request: {{url: "{url}", headers: {headers}}}
            expect: {{status: {status}}}
        """,
    )


def clear_proxy_env(monkeypatch):
    for name in (
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


def test_http_proxy_is_used(srv, capsys, tmp_path, monkeypatch):
    clear_proxy_env(monkeypatch)
    target = f"http://127.0.0.1:{closed_port()}/echo/via-proxy"  # nothing listens there
    monkeypatch.setenv("HTTP_PROXY", srv.url)  # the test server plays the proxy

    # The test server is no real proxy: it answers 404 to an absolute-form request line.
    result = run_cli(capsys, str(spec(tmp_path, target, status="404")))

    assert result.code == 0, result.text
    assert [r.target for r in srv.app.requests] == [target, target]  # absolute-form: proxied


def test_no_proxy_bypasses_the_proxy(srv, capsys, tmp_path, monkeypatch):
    clear_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")  # a dead proxy
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")

    result = run_cli(capsys, str(spec(tmp_path, f"{srv.url}/echo")))

    assert result.code == 0, result.text
    assert [r.target for r in srv.app.requests] == ["/echo", "/echo"]


def test_netrc_credentials_are_sent_unless_the_spec_sets_authorization(
    srv, capsys, tmp_path, monkeypatch
):
    clear_proxy_env(monkeypatch)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1\n  login alice\n  password wonderland\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    expected = "Basic " + base64.b64encode(b"alice:wonderland").decode()

    assert run_cli(capsys, str(spec(tmp_path, f"{srv.url}/echo"))).code == 0
    assert [r.headers.get("Authorization") for r in srv.app.requests] == [expected, expected]

    srv.app.reset()
    own = spec(tmp_path, f"{srv.url}/echo", headers="{Authorization: Bearer mine}")
    assert run_cli(capsys, str(own)).code == 0
    assert [r.headers.get("Authorization") for r in srv.app.requests] == ["Bearer mine"] * 2
