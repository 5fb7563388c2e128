"""``--curl FILE`` and ``-v``: the requests as curl commands, replayed by real curl."""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess

import pytest
from helpers import run_cli, write_spec

from runner.messages import Headers, SentRequest
from runner.model import ClientCert
from runner.report.curl import curl_command, shell_quote
from runner.results import FileResult, Outcome, RunResult, StepResult
from runner.source import Source

CURL = shutil.which("curl")


def needs_curl(test):
    """Replays need the real curl: skipped without it, except under CI (.ci/run installs it)."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        if CURL is None:
            message = "curl is not installed (apt-get install curl)"
            if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
                pytest.fail(f"{message}; CI is set, so this test may not skip", pytrace=False)
            pytest.skip(message)
        return test(*args, **kwargs)

    return run


SPEC = """
name: replay
base_url: {base}
vars:
  password: "000000"
steps:
  - name: login
    request:
      method: POST
      url: /v3/auth/tokens
      json:
        auth:
          identity:
            methods: [password]
            password: {user: {name: admin, domain: {name: demo}, password: "{{ password }}"}}
    capture: {token: {header: X-Subject-Token}}
  - name: text body
    request:
      method: PUT
      url: "/echo/a b/ü?x=1&y=[2]"
      headers: {X-Auth-Token: "{{ token }}", Content-Type: text/plain; charset=utf-8}
      data: "it's \\"quoted\\" $HOME `date` \\\\ tab\\there\\nsecond line ✓\\r\\n"
  - name: form
    request:
      method: POST
      url: /echo/form
      form: {name: "a&b=c", list: [1, 2]}
  - name: query and header
    request:
      url: /echo/q
      params: {q: "ä b", empty: ""}
      headers: {X-Auth-Token: "{{ token }}", X-Empty: "", Accept: application/json}
  - name: delete
    request: {method: DELETE, url: /echo/gone, headers: {X-Auth-Token: "{{ token }}"}}
  - name: patch json
    request: {method: PATCH, url: /echo/p, json: [1, "two", null]}
  - name: head
    request: {method: HEAD, url: /echo/h}
  - name: file body
    request: {method: PUT, url: /echo/img, data: {file: blob.bin}}
  - name: bytes from a template
    request: {method: POST, url: /echo/b, data: "{{ 'AP8Aw7w=' | b64decode }}"}
  - name: multipart
    request:
      method: POST
      url: /echo/upload
      form: {owner: ada}
      files: {report: blob.bin}
"""
STEPS = 10


def _received(app) -> list[tuple]:
    return [(r.method, r.target, dict(r.headers), r.body) for r in app.requests]


def _bash(script, cwd):
    return subprocess.run(
        ["bash", str(script)],
        capture_output=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env={**os.environ, "http_proxy": "", "HTTP_PROXY": ""},
    )


@needs_curl
def test_the_script_replays_the_same_requests_byte_for_byte(srv, capsys, tmp_path):
    spec = write_spec(tmp_path, SPEC, base=srv.url)
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 3)
    script = tmp_path / "out.sh"
    result = run_cli(capsys, str(spec), "--curl", str(script), "--show-secrets")
    assert result.code == 0, result.text
    sent = _received(srv.app)
    assert len(sent) == STEPS
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "000000" in text
    assert stat.S_IMODE(script.stat().st_mode) == 0o700  # secrets in clear: the owner's only

    srv.app.requests.clear()
    done = _bash(script, tmp_path)
    assert done.returncode == 0, done.stderr
    replayed = _received(srv.app)
    assert len(replayed) == len(sent)
    for original, again in zip(sent, replayed, strict=True):
        assert again == original


@needs_curl
def test_secrets_are_masked_in_the_script_unless_asked(srv, capsys, tmp_path):
    spec = write_spec(tmp_path, SPEC, base=srv.url)
    (tmp_path / "blob.bin").write_bytes(b"x")
    script = tmp_path / "out.sh"
    assert run_cli(capsys, str(spec), "--curl", str(script)).code == 0
    text = script.read_text()
    tokens = srv.app.tokens
    assert tokens and not any(token in text for token in tokens)
    assert "000000" not in text
    assert "-H 'X-Auth-Token: ***'" in text and '"password": "***"' in text
    assert os.access(script, os.X_OK)


@needs_curl
def test_binary_and_multipart_bodies_replay_from_files(srv, tmp_path):
    from runner.cli import _write_curl
    from runner.loader import load_text

    boundary = "apirun-boundary-42"
    multipart = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + bytes(range(256))
        + f"\r\n--{boundary}--\r\n".encode()
    )
    requests = [
        ("/echo/bin", "application/octet-stream", b"\x00\xff\xfe binary \x00"),
        ("/echo/multi", f"multipart/form-data; boundary={boundary}", multipart),
    ]
    spec = load_text("steps: [{name: x, request: {url: 'http://127.0.0.1:9/'}}]", "spec.yaml")
    file = FileResult(spec)
    for path, content_type, body in requests:
        request = SentRequest(
            "POST",
            srv.url + path,
            Headers([("Content-Type", content_type), ("Content-Length", str(len(body)))]),
            body,
        )
        file.steps.append(StepResult(path, Source("spec.yaml", 1), Outcome.PASSED, request=request))
    script = tmp_path / "bin.sh"
    _write_curl(script, RunResult([file]), None)
    text = script.read_text()
    assert '--data-binary @"$here/bin.sh.d/001.body"' in text
    assert (tmp_path / "bin.sh.d" / "002.body").read_bytes() == multipart
    done = _bash(script, tmp_path)
    assert done.returncode == 0, done.stderr
    got = srv.app.requests
    assert [r.body for r in got] == [body for _, _, body in requests]
    assert got[1].headers["content-type"] == f"multipart/form-data; boundary={boundary}"
    assert got[0].headers["content-length"] == str(len(requests[0][2]))


def test_verbose_shows_each_request_as_a_curl_line(srv, capsys, tmp_path):
    spec = write_spec(tmp_path, SPEC, base=srv.url)
    (tmp_path / "blob.bin").write_bytes(b"x")
    result = run_cli(capsys, "-v", str(spec))
    assert result.code == 0
    lines = [line.strip() for line in result.out.splitlines() if line.strip().startswith("$ curl")]
    assert len(lines) == STEPS
    assert f"--data-binary @{tmp_path}/blob.bin" in lines[7]
    assert lines[4].startswith(f"$ curl -g -sS -i -X DELETE {srv.url}/echo/gone")
    assert "-H 'X-Auth-Token: ***'" in lines[4]
    assert lines[6].startswith("$ curl -g -sS -i -I ")
    assert not any(token in result.out for token in srv.app.tokens)


def test_tls_options():
    request = SentRequest("GET", "https://127.0.0.1:8443/", Headers([("Accept", "*/*")]), None)
    assert " -k " in curl_command(request, verify=False)
    assert "--cacert /etc/ca.pem" in curl_command(request, verify="/etc/ca.pem")
    assert "-H 'User-Agent:'" in curl_command(request)  # apirun sent none: curl must not
    both = ClientCert("/c/client.pem", "/c/client.key")
    assert "--cert /c/client.pem --key /c/client.key" in curl_command(request, cert=both)


def test_shell_quoting_is_exact():
    for text in ["plain", "it's", "a\nb", "tab\tx", "\x01\x7f", "$x `y` \\z", "ü✓"]:
        quoted = shell_quote(text)
        done = subprocess.run(
            ["bash", "-c", f"printf %s {quoted}"], capture_output=True, check=True, timeout=10
        )
        assert done.stdout == text.encode(), (text, quoted)


def test_curl_and_dry_run_do_not_go_together(capsys, tmp_path):
    spec = write_spec(tmp_path, "steps: [{name: x, request: {url: 'http://127.0.0.1:9/'}}]")
    result = run_cli(capsys, "--dry-run", "--curl", str(tmp_path / "o.sh"), str(spec))
    assert result.code == 2
    assert "--curl writes the requests a run sends" in result.err
