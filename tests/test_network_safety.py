"""Credentials and the network: redirects to other origins, the whole-response timeout,
and ``verify: false`` kept to its own spec.

Two real servers: the FakeKeystone on 127.0.0.1 redirects, and a second one (another
address, another port, or the same server under another host name) records what reached
it."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator

import pytest

from runner import load_file, run_spec
from runner.transport import Transport

try:
    from .faults import FaultServer, tls_context, tls_files
    from .helpers import run_cli, write_spec
    from .server import FakeKeystone, ServerThread, start_server
except ImportError:  # tests/ is a plain directory
    from faults import FaultServer, tls_context, tls_files
    from helpers import run_cli, write_spec
    from server import FakeKeystone, ServerThread, start_server

TOKEN = "gAAAAABk-secret-keystone-token-0123456789"


@pytest.fixture(scope="module")
def other() -> Iterator[ServerThread]:
    """A second server, on another loopback address: another origin."""
    running = start_server(FakeKeystone(), host="127.0.0.2")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def other_port() -> Iterator[ServerThread]:
    """A second server on 127.0.0.1 itself, on another port: another origin too."""
    running = start_server(FakeKeystone())
    try:
        yield running
    finally:
        running.stop()


def _targets(srv: ServerThread, other: ServerThread, other_port: ServerThread, kind: str):
    """(the URL to redirect to, the server that will receive it)."""
    if kind == "address":
        return f"{other.url}/echo/landed", other
    if kind == "port":
        return f"{other_port.url}/echo/landed", other_port
    return f"http://localhost:{srv.port}/echo/landed", srv  # same port, another host name


@pytest.mark.parametrize("kind", ["address", "port", "host name"])
@pytest.mark.parametrize("code", [301, 302, 303])
def test_a_redirect_to_another_origin_carries_no_header_credential_cookie_or_body(
    srv, other, other_port, capsys, tmp_path, kind, code
):
    other.app.reset()
    other_port.app.reset()
    target, receiver = _targets(srv, other, other_port, kind)
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        defaults:
          headers: {{X-Auth-Token: "{TOKEN}", X-Custom: spec-header}}
        steps:
          - name: a session cookie
            request: {{url: /cookies/set?session=cookie-secret-value}}
          - name: away
            request:
              method: POST
              url: /redirect
              params: {{to: "{target}", code: "{code}"}}
              headers:
                Authorization: Bearer {TOKEN}
                Proxy-Authorization: Basic c2VjcmV0OnNlY3JldA==
                X-Service-Token: service-secret
              json: {{password: body-secret}}
            expect: {{status: 200}}
        """,
    )
    result = run_cli(capsys, "-v", str(spec))
    assert result.code == 0, result.text
    landed = [r for r in receiver.app.requests if r.path == "/echo/landed"]
    assert len(landed) == 1, receiver.app.requests
    got = landed[0]
    assert got.method == "GET"
    assert got.body == b""
    sent = {name.lower() for name in got.headers}
    for name in ("x-auth-token", "x-custom", "authorization", "proxy-authorization"):
        assert name not in sent, got.headers
    assert "x-service-token" not in sent and "cookie" not in sent, got.headers
    assert got.headers["User-Agent"] == "apirun"
    # The console shows the hop and what was left out.
    assert f"redirect: {code} {srv.url}/redirect?" in result.out
    assert f"Location: {target}" in result.out
    assert "sent without the spec's headers, credentials, cookies or body" in result.out


def test_v_shows_every_hop_of_a_chain_and_the_other_origin_gets_no_token(
    srv, other, capsys, tmp_path
):
    other.app.reset()
    final = f"{other.url}/echo/landed"
    second = f"/redirect?to={final}&code=307"
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: two hops
            request:
              url: /redirect
              params: {{to: "{second}", code: "301"}}
              headers: {{X-Auth-Token: "{TOKEN}"}}
            expect: {{status: 200}}
        """,
    )
    result = run_cli(capsys, "-v", str(spec))
    assert result.code == 0, result.text
    hops = [line.strip() for line in result.out.splitlines() if "redirect: " in line]
    assert [hop.split()[:2] for hop in hops] == [["redirect:", "301"], ["redirect:", "307"]]
    assert f"Location: {second}" in result.out and f"Location: {final}" in result.out
    assert f"→ {final}" in result.out
    assert len(srv.app.find(path="/redirect")) == 2
    landed = other.app.find(path="/echo/landed")
    assert len(landed) == 1 and "x-auth-token" not in landed[0].headers
    assert srv.app.find(path="/redirect")[1].headers["X-Auth-Token"] == TOKEN  # same origin


def test_a_redirect_on_the_same_origin_keeps_the_headers_and_a_307_its_body(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: same origin
            request:
              method: POST
              url: /redirect
              params: {{to: /echo/landed, code: "307"}}
              headers: {{X-Auth-Token: "{TOKEN}", X-Custom: spec-header}}
              json: {{name: kept}}
            expect: {{status: 200, jsonpath: {{$.method: POST, $.json.name: kept}}}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    landed = srv.app.find(path="/echo/landed")[0]
    assert landed.headers["X-Auth-Token"] == TOKEN
    assert landed.headers["X-Custom"] == "spec-header"
    assert landed.json() == {"name": "kept"}
    assert f"→ {srv.url}/echo/landed" in result.out  # the step line names where it ended


@pytest.mark.parametrize("code", [307, 308])
def test_a_307_to_another_origin_with_a_body_is_not_followed(srv, other, capsys, tmp_path, code):
    other.app.reset()
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: login elsewhere
            request:
              method: POST
              url: /redirect
              params: {{to: "{other.url}/echo/landed", code: "{code}"}}
              json: {{auth: {{password: body-secret}}}}
            expect: {{status: 200}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 1, result.text
    assert other.app.requests == []
    assert f"- status: expected 200, got {code}" in result.out
    assert f"not followed: a {code} to another origin would re-send the request body" in (
        result.out
    )


def test_a_trickling_body_is_stopped_by_the_timeout_of_the_whole_response(capsys, tmp_path):
    with FaultServer() as server:
        spec = write_spec(
            tmp_path,
            f"""
            steps:
              - name: trickle
                request: {{url: "{server.url}/trickle"}}
            """,
        )
        started = time.monotonic()
        result = run_cli(capsys, "--timeout", "1", str(spec))
        elapsed = time.monotonic() - started
    assert result.code == 1, result.text
    assert (
        f"timed out: the response body from {server.url}/trickle was not complete within 1 s"
        in (result.out)
    )
    assert elapsed < 3, elapsed  # the server would have taken 5 s


def test_trickling_headers_are_stopped_by_the_timeout_too(capsys, tmp_path):
    with FaultServer() as server:
        spec = write_spec(
            tmp_path,
            f"""
            steps:
              - name: trickle
                request: {{url: "{server.url}/trickle-head", timeout: 1}}
            """,
        )
        started = time.monotonic()
        result = run_cli(capsys, str(spec))
        elapsed = time.monotonic() - started
    assert result.code == 1, result.text
    assert f"timed out: no response within 1 s from {server.url}/trickle-head" in result.out
    assert elapsed < 3, elapsed


def test_verify_false_silences_the_warning_for_its_own_spec_only(tmp_path):
    cert, key = tls_files(tmp_path)
    with FaultServer(tls=tls_context(cert, key)) as server:
        quiet = write_spec(
            tmp_path,
            f"""
            defaults: {{verify: false}}
            steps:
              - name: unverified
                request: {{url: "{server.url}/ok"}}
            """,
            name="quiet.yaml",
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = run_spec(load_file(quiet))
            assert result.passed, result.steps[0].error
            assert caught == []
            # Another session, unverified on purpose outside apirun's spec: still warned.
            import requests

            requests.get(f"{server.url}/ok", verify=False, timeout=5)
        assert any("Unverified HTTPS request" in str(w.message) for w in caught), caught


def test_transport_keeps_no_process_wide_warning_filter(tmp_path):
    before = list(warnings.filters)
    with Transport(verify=False):
        pass
    assert warnings.filters == before
