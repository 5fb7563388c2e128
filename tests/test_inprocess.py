"""The in-process target (--app): a WSGI app answers without a socket, and the same specs
give the same results as over the network (tests/app.py served on 127.0.0.1)."""

from __future__ import annotations

import importlib
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from app import serve
from helpers import run_cli, write_spec

from runner import RunOptions, load_file, run_spec
from runner.wire import in_process as in_process_transport
from runner.wsgi import parse_target

SPECS = Path(__file__).resolve().parent / "app_specs"
# What only the way of serving changes: the host the app was reached as, and the headers
# wsgiref adds on its own.
_SERVER_HEADERS = {"date", "server"}


def _normalised_body(content: bytes) -> object:
    """/echo's answer without the host it was reached as. wsgiref alone fills an absent
    CONTENT_TYPE with text/plain (PEP 3333 lets it be empty, as the adapter leaves it)."""
    try:
        value = json.loads(content)
    except ValueError:
        return content
    if isinstance(value, dict) and "headers" in value:
        value.pop("SERVER_NAME", None)
        value.pop("SERVER_PORT", None)
        value["headers"].pop("host", None)
        value["CONTENT_TYPE"] = value["CONTENT_TYPE"] or "text/plain"
    return value


def _observed(spec_path: Path, options: RunOptions) -> list[tuple]:
    result = run_spec(load_file(spec_path), options)
    assert result.error is None, result.error
    seen = []
    for step in result.steps:
        response = step.response
        row: tuple = (step.name, step.outcome, [e.passed for e in step.expectations])
        if response is not None and response.status == 500:
            row += (response.status,)  # the body: wsgiref's apology, or the adapter's traceback
        elif response is not None:
            body = _normalised_body(response.content)
            left_out = _SERVER_HEADERS | ({"content-length"} if isinstance(body, dict) else set())
            headers = sorted(
                (k.lower(), v) for k, v in response.headers if k.lower() not in left_out
            )
            row += (
                response.status,
                response.reason,
                body,
                headers,
                response.cookies,
                tuple((hop.status, hop.location) for hop in response.history),
            )
        seen.append(row)
    return seen


@pytest.mark.parametrize("name", ["methods.yaml", "responses.yaml", "failing.yaml"])
def test_a_spec_gives_the_same_results_over_a_socket_and_in_process(name):
    with serve() as url:
        over_socket = _observed(SPECS / name, RunOptions({"base": url}))
    in_process = _observed(
        SPECS / name,
        RunOptions(transport=in_process_transport(parse_target("tests.app:make_app()"))),
    )
    assert in_process == over_socket
    assert in_process  # the spec ran


def test_the_app_specs_pass_in_process_with_no_socket_opened(capsys, monkeypatch):
    def no_socket(*args, **kwargs):
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket, "socket", no_socket)
    monkeypatch.setattr(socket, "create_connection", no_socket)
    result = run_cli(
        capsys,
        "--app",
        "tests.app:application",
        str(SPECS / "methods.yaml"),
        str(SPECS / "responses.yaml"),
    )
    assert result.code == 0, result.text
    assert "21 passed, 0 failed, 0 skipped" in result.out


def test_the_app_sees_the_environ_a_server_would_build(capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: https://api.example.test:8443
        steps:
          - name: echo
            request:
              method: post
              url: /echo/v1?x=1
              json: {a: 1}
            capture:
              seen: {jsonpath: $}
            expect:
              jsonpath:
                $.REQUEST_METHOD: POST
                $.SCRIPT_NAME: ""
                $.PATH_INFO: /echo/v1
                $.QUERY_STRING: x=1
                $.SERVER_NAME: api.example.test
                $.SERVER_PORT: "8443"
                $['wsgi.url_scheme']: https
                $.headers.host: api.example.test:8443
                $.CONTENT_TYPE: application/json
                $.CONTENT_LENGTH: "8"
                $.body: '{"a": 1}'
        """,
    )
    result = run_cli(capsys, "--app", "tests.app:application", str(spec))
    assert result.code == 0, result.text


def test_requests_to_other_hosts_still_go_over_the_network(capsys, tmp_path, srv):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: http://app.test
        steps:
          - name: in-process
            request: {{url: /status/201}}
            expect: {{status: 201}}
          - name: the real server
            request: {{url: "{srv.url}/v3"}}
            expect: {{status: 200}}
        """,
    )
    before = len(srv.app.requests)
    result = run_cli(capsys, "--app", "tests.app:application", str(spec))
    assert result.code == 0, result.text
    arrived = [r.path for r in srv.app.requests[before:]]
    assert arrived == ["/v3"]  # only the absolute URL reached the socket server


def test_a_factory_makes_a_fresh_app_per_file_and_a_callable_is_shared(capsys, tmp_path):
    spec_text = """
        base_url: http://app.test
        steps:
          - name: create
            request: {method: POST, url: /items, json: {name: a}}
            expect: {status: 201, jsonpath: {$.id: "1"}}
        """
    first = write_spec(tmp_path, spec_text, name="one.yaml")
    second = write_spec(tmp_path, spec_text, name="two.yaml")
    fresh = run_cli(capsys, "--app", "tests.app:make_app()", str(first), str(second))
    assert fresh.code == 0, fresh.text
    shared = run_cli(capsys, "--app", "tests.app:App()", str(first), str(second))
    assert shared.code == 0, shared.text  # App() is a class called as a factory
    importlib.import_module("tests.app").application.items.clear()
    once = run_cli(capsys, "--app", "tests.app:application", str(first), str(second))
    assert once.code == 1  # the second file sees the item the first created
    assert "two.yaml" in once.out and "$.id" in once.out


def test_a_streamed_body_is_read_as_it_is_produced_and_closed(capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: http://app.test
        defaults: {max_body_mb: 0.001}
        steps:
          - name: small enough
            request: {url: "/stream?n=3"}
            expect: {body: {equals: "chunk 0\\nchunk 1\\nchunk 2\\n"}}
          - name: larger than the limit
            request: {url: "/stream?n=100000"}
        """,
    )
    chunks = importlib.import_module("tests.app")._Chunks  # the module --app imports
    closed = chunks.closed
    result = run_cli(capsys, "--app", "tests.app:application", str(spec))
    assert result.code == 1
    assert "is larger than the 0.000999 MiB apirun reads" in result.out
    assert chunks.closed == closed + 2  # both iterables closed, the cut one included


def test_an_app_that_raises_mid_body_breaks_the_step_with_the_reason(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # --app finds modules from the current folder
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "brokenapp.py").write_text(
        textwrap.dedent(
            """
            def application(environ, start_response):
                start_response("200 OK", [("Content-Type", "text/plain")])
                yield b"first part"
                raise ValueError("the database went away")
            """
        )
    )
    spec = write_spec(
        tmp_path,
        """
        base_url: http://app.test
        steps:
          - name: broken
            request: {url: /}
        """,
    )
    result = run_cli(capsys, "--app", "brokenapp:application", str(spec))
    assert result.code == 1
    assert "the app raised ValueError: the database went away" in result.out
    assert "Traceback" not in result.text


def test_an_app_that_raises_is_a_500_with_its_traceback_as_the_body(capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: http://app.test
        steps:
          - name: crash
            request: {url: /crash}
            expect: {status: 200}
        """,
    )
    result = run_cli(capsys, "-v", "--app", "tests.app:application", str(spec))
    assert result.code == 1
    assert "500" in result.out
    assert "the app raised RuntimeError: the app crashed" in result.out


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tests.app", "--app takes MODULE:NAME or MODULE:NAME()"),
        ("no_such_module_here:app", "cannot import no_such_module_here"),
        ("tests.app:nothing", "tests.app has no nothing"),
    ],
)
def test_a_wrong_app_is_one_usage_error_before_anything_runs(capsys, tmp_path, target, message):
    spec = write_spec(
        tmp_path, "base_url: http://app.test\nsteps:\n  - name: get\n    request: {url: /}\n"
    )
    result = run_cli(capsys, "--app", target, str(spec))
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.text
    assert result.out == ""


def test_a_factory_that_raises_fails_the_file_with_its_message(capsys, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "badfactory.py").write_text(
        "def make():\n    raise LookupError('no config file')\n"
        "async def asgi(scope, receive, send):\n    pass\n"
    )
    spec = write_spec(
        tmp_path, "base_url: http://app.test\nsteps:\n  - name: get\n    request: {url: /}\n"
    )
    result = run_cli(capsys, "--app", "badfactory:make()", str(spec))
    assert result.code == 2
    assert "the factory raised LookupError: no config file" in result.out
    asgi = run_cli(capsys, "--app", "badfactory:asgi", str(spec))
    assert asgi.code == 2
    assert "is an ASGI app" in asgi.out and "a2wsgi.ASGIMiddleware" in asgi.out


def test_the_project_file_names_the_app(capsys, tmp_path, monkeypatch):
    (tmp_path / "apirun.yaml").write_text("app: tests.app:make_app()\n")
    spec = write_spec(
        tmp_path,
        """
        base_url: http://app.test
        steps:
          - name: get
            request: {url: /status/202}
            expect: {status: 202}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    (tmp_path / "apirun.yaml").write_text("app: [not, a, target]\n")
    wrong = run_cli(capsys, str(spec))
    assert wrong.code == 2
    assert "apirun.yaml:1: 'app' takes MODULE:NAME or MODULE:NAME()" in wrong.err


def test_the_pytest_plugin_runs_specs_in_process(tmp_path):
    """The ini option (and --apirun-app) of the plugin, in a real pytest run."""
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\napirun_files = *.yaml\napirun_app = tests.app:make_app()\n"
    )
    for name in ("methods.yaml", "responses.yaml"):
        (tmp_path / f"test_{name}").write_text((SPECS / name).read_text())
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = [sys.executable, "-m", "pytest", "-p", "runner.pytest_plugin", "-q", str(tmp_path)]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    wrong = subprocess.run(
        [*command, "--apirun-app", "tests.app:nothing"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wrong.returncode == 1
    assert "apirun: --app tests.app:nothing: tests.app has no nothing" in wrong.stdout
