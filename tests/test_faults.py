"""Server faults are failures, never crashes: each leaves its step failed with one readable line,
skips the rest of its file, and the next file still runs (issue 4).

The faults come from tests/faults.py, a raw-socket server on 127.0.0.1 that breaks HTTP the
ways real servers and networks do; the next file talks to the ordinary test server.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    from .faults import FaultServer, tls_context, tls_files
    from .helpers import assert_points, line_of, run_cli, run_subprocess, write_spec
except ImportError:  # tests/ is a plain directory
    from faults import FaultServer, tls_context, tls_files
    from helpers import assert_points, line_of, run_cli, run_subprocess, write_spec


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    return tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_faults(certificate) -> Iterator[FaultServer]:
    with FaultServer(tls_context(*certificate)) as server:
        yield server


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def two_files(tmp_path: Path, srv, url: str, step: str = "", defaults: str = "") -> list[str]:
    """A file whose first step meets the fault (and a second step, to be skipped), then a
    good file against the ordinary test server."""
    faulty = write_spec(
        tmp_path,
        f"""
        {defaults}
        steps:
          - name: faulty
            request:
              url: "{url}"
            {step}
          - name: after
            request: {{url: "{srv.url}/echo"}}
        """,
        name="a_faulty.yaml",
    )
    good = write_spec(
        tmp_path,
        f"""
        steps:
          - name: next file
            request: {{url: "{srv.url}/echo"}}
        """,
        name="b_good.yaml",
    )
    return [str(faulty), str(good)]


def assert_one_clear_line(result, mark: str, line: str) -> None:
    """The faulty step failed with ``line`` right under it, its file stopped, the next ran."""
    assert "Traceback" not in result.text
    assert result.code == 1, result.text
    lines = result.out.splitlines()
    index = next(i for i, text in enumerate(lines) if re.match(rf"\s+{mark}\s+faulty\b", text))
    assert re.fullmatch(line, lines[index + 1].strip()), lines[index + 1]
    assert re.search(r"SKIP\s+after\s+\(skipped: step 'faulty' failed\)", result.out)
    assert re.search(r"PASS\s+next file", result.out), result.out
    assert "1 passed, 1 failed, 1 skipped (2 files" in result.out


FAULTS = [
    # (id, path on the fault server, step lines, defaults, mark, the line under the step)
    ("close-before-response", "/close-before-response", "", "", "ERROR",
     r"the server closed the connection without answering: {url}"),
    ("not-http", "/garbage", "", "", "ERROR",
     r"the answer from {url} is not HTTP: it starts 'THIS IS NOT HTTP'"),
    ("reset-mid-body", "/reset-mid-body", "", "", "ERROR",
     r"the connection broke while reading the response body from {url}: "
     r"Connection reset by peer"),
    ("closed-mid-body", "/close-mid-body", "", "", "ERROR",
     r"the connection broke while reading the response body from {url}: "
     r"it ended after 11 bytes, 99989 more were announced"),
    ("timeout-mid-body", "/stall-mid-body?seconds=3", "  timeout: 0.3", "", "ERROR",
     r"timed out: the response body from {url} was not complete within 0.3 s"),
    ("truncated-json", "/truncated-json", "expect: {jsonpath: {$.users: {exists: true}}}", "",
     "FAIL", r"- jsonpath \$.users exists: the response body is not JSON \(application/json\): "
     r"Unterminated string .*"),
    ("invalid-json", "/invalid-json", "capture: {users: $.users}", "", "FAIL",
     r"- capture users: the response body is not JSON \(application/json\): Expecting value.*"),
    ("deeply-nested-json", "/deep-json", 'expect: {jsonpath: {"$[0]": {exists: true}}}', "",
     "FAIL", r"- jsonpath \$\[0\] exists: the response body is JSON nested too deeply to read.*"),
    ("huge-body-declared", "/huge?mb=2", "", "defaults: {max_body_mb: 1}", "ERROR",
     r"the response from {url} has a body of 2 MiB, more than the 1 MiB apirun reads "
     r"\(defaults.max_body_mb\); not read"),
    ("redirect-loop", "/redirect-loop", "", "", "ERROR",
     r"too many redirects from {url} \(more than 30\)"),
    ("non-utf8-json", "/non-utf8", "expect: {jsonpath: {$.a: 1}}", "", "FAIL",
     r"- jsonpath \$.a: the response body is not JSON \(text/plain; charset=utf-8\): "
     r"'utf-8' codec can't decode byte 0xe9 .*"),
    ("undecodable-gzip", "/gzip-garbage", "", "", "ERROR",
     r"cannot decode the compressed response body from {url}: .*incorrect header check"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "step", "defaults", "mark", "line"),
    [pytest.param(*fault[1:], id=fault[0]) for fault in FAULTS],
)
def test_a_server_fault_fails_its_step_with_one_line(
    srv, faults, tmp_path, capsys, path, step, defaults, mark, line
):
    url = faults.url + path
    result = run_cli(capsys, *two_files(tmp_path, srv, url, step, defaults))
    assert_one_clear_line(result, mark, line.format(url=re.escape(url)))


def test_a_refused_connection(srv, tmp_path, capsys):
    url = f"http://127.0.0.1:{closed_port()}/x"
    result = run_cli(capsys, *two_files(tmp_path, srv, url))
    assert_one_clear_line(
        result, "ERROR", rf"cannot connect to {re.escape(url)}: Connection refused"
    )


def test_a_server_that_never_answers_times_out(srv, tmp_path, capsys):
    url = f"{srv.url}/slow?seconds=3"
    result = run_cli(capsys, *two_files(tmp_path, srv, url, "  timeout: 0.3"))
    line = rf"timed out: no response within 0.3 s from {re.escape(url)}"
    assert_one_clear_line(result, "ERROR", line)


def test_a_huge_body_is_not_read_past_the_limit(srv, faults, tmp_path, capsys):
    # Chunked, so its size is unknown in advance: apirun reads up to the limit and hangs up.
    url = faults.url + "/huge?mb=64&chunked=1"
    result = run_cli(capsys, *two_files(tmp_path, srv, url, "", "defaults: {max_body_mb: 1}"))
    line = (
        rf"the response body from {re.escape(url)} is larger than the 1 MiB apirun reads "
        r"\(defaults.max_body_mb\); stopped reading"
    )
    assert_one_clear_line(result, "ERROR", line)
    # Memory stayed bounded: the server could not send much past 1 MiB (socket buffers).
    assert faults.body_bytes_sent["/huge?mb=64&chunked=1"] < 16 * 1024 * 1024


def test_a_large_body_under_the_limit_is_read_and_its_output_cut_short(faults, tmp_path, capsys):
    spec = write_spec(
        tmp_path,
        f"""
        steps:
          - name: half a MiB
            request: {{url: "{faults.url}/huge?mb=0.5"}}
            expect: {{body: {{contains: "not there"}}}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 1, result.text
    assert "response: 200 Fault (524288 bytes)" in result.out
    assert "… (523788 more characters)" in result.out  # the first 500 are shown
    assert len(result.out) < 4000


def test_a_body_that_is_not_utf8_is_still_read_as_text(faults, tmp_path, capsys):
    spec = write_spec(
        tmp_path,
        f"""
        steps:
          - name: latin-1
            request: {{url: "{faults.url}/non-utf8"}}
            expect: {{body: {{contains: "au lait", matches: "^caf. au lait"}}}}
            capture: {{text: {{regex: "(lait)"}}}}
          - name: it fails readably
            request: {{url: "{faults.url}/non-utf8"}}
            expect: {{body: {{contains: "espresso"}}}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert "Traceback" not in result.text
    assert result.code == 1
    assert re.search(r"PASS\s+latin-1", result.out)
    assert '- body contains: expected to contain "espresso", got "caf\ufffd au lait' in result.out


def test_a_header_value_http_cannot_carry_fails_the_step(srv, tmp_path, capsys):
    result = run_cli(
        capsys,
        *two_files(tmp_path, srv, f"{srv.url}/echo", '  headers: {X-Name: "日本"}'),
    )
    line = (
        rf"cannot send the request to {re.escape(srv.url)}/echo: '日本' cannot be sent in a "
        r"header \(HTTP headers carry Latin-1 text only\)"
    )
    assert_one_clear_line(result, "ERROR", line)


# -- TLS: a self-signed certificate ------------------------------------------------------------


def test_a_self_signed_certificate_fails_the_step(srv, tls_faults, tmp_path, capsys):
    url = tls_faults.url + "/ok"
    result = run_cli(capsys, *two_files(tmp_path, srv, url))
    line = (
        rf"TLS error with {re.escape(url)}: \[SSL: CERTIFICATE_VERIFY_FAILED\] certificate "
        r"verify failed: self-signed certificate"
    )
    assert_one_clear_line(result, "ERROR", line)


def test_verify_false_accepts_it_quietly(tls_faults, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        defaults: {{verify: false}}
        steps:
          - name: unverified
            request: {{url: "{tls_faults.url}/ok"}}
            expect: {{jsonpath: {{$.ok: true}}}}
        """,
    )
    result = run_subprocess(str(spec))  # a real process: warnings would show on stderr
    assert result.code == 0, result.text
    assert result.err == ""  # no InsecureRequestWarning: the spec asked for it


def test_a_ca_bundle_relative_to_the_spec_file_is_trusted(tls_faults, certificate, tmp_path):
    folder = tmp_path / "specs"
    (folder / "certs").mkdir(parents=True)
    (folder / "certs" / "ca.pem").write_bytes(certificate[0].read_bytes())
    write_spec(
        folder,
        f"""
        defaults: {{verify: certs/ca.pem}}
        steps:
          - name: verified
            request: {{url: "{tls_faults.url}/ok"}}
        """,
    )
    result = run_subprocess("specs/spec.yaml", cwd=tmp_path)
    assert result.code == 0, result.text


@pytest.mark.parametrize("command", [("check",), ()], ids=["check", "run"])
def test_a_missing_ca_bundle_is_a_spec_error(tls_faults, tmp_path, capsys, command):
    spec = write_spec(
        tmp_path,
        f"""
        defaults: {{verify: certs/ca.pem}}
        steps:
          - name: verified
            request: {{url: "{tls_faults.url}/ok"}}
        """,
    )
    sent = len(tls_faults.paths)
    result = run_cli(capsys, *command, str(spec))
    assert result.code == 2, result.text
    assert f"no CA bundle certs/ca.pem (looked for {tmp_path}/certs/ca.pem)" in result.err
    assert_points(result.err, spec, line_of(spec, "verify"), 20)
    assert len(tls_faults.paths) == sent


def test_verify_can_come_from_the_os_variables(tls_faults, certificate, tmp_path, capsys):
    """--os-cloud's cacert (here OS_CACERT) reaches verify through a template."""
    spec = write_spec(
        tmp_path,
        f"""
        defaults: {{verify: "{{{{ os.cacert | default(true) }}}}"}}
        steps:
          - name: verified
            request: {{url: "{tls_faults.url}/ok"}}
        """,
    )
    without = run_cli(capsys, str(spec))  # default(true): the self-signed certificate fails
    assert without.code == 1
    assert "certificate" in without.out
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OS_CACERT", str(certificate[0]))
        trusted = run_cli(capsys, str(spec))
    assert trusted.code == 0, trusted.text
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OS_CACERT", str(tmp_path / "missing.pem"))
        missing = run_cli(capsys, str(spec))
    assert missing.code == 2
    assert "no CA bundle" in missing.out and "missing.pem" in missing.out
