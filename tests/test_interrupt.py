"""SIGINT, SIGTERM and SIGHUP during a run: the request in flight is cut, no step starts,
the finally steps of every started file run (a second signal skips them), the reports are
written, and the exit code says which signal — the real command, against tests/server.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import write_spec
from server import FakeKeystone, start_server

ROOT_DIR = Path(__file__).resolve().parent.parent  # so that the children import this runner


@pytest.fixture
def srv():
    """A server of this test's own: the requests these tests cut are still being answered
    (slowly) after the test, and must not count in other tests' server."""
    running = start_server(FakeKeystone())
    try:
        yield running
    finally:
        running.stop()


SPEC = """
name: {name}
base_url: {base}
steps:
  - name: create
    request: {{method: POST, url: /echo/{name}/create}}
  - name: slow
    request: {{url: "/slow?seconds={seconds}&file={name}"}}
  - name: after
    request: {{url: /echo/{name}/after}}
finally:
  - name: delete
    request: {{method: DELETE, url: /echo/{name}/delete}}
"""


def start(tmp_path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "runner", "--color", "never", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )


def wait_for(srv, path: str, count: int = 1) -> None:
    deadline = time.monotonic() + 10
    while len(srv.app.find(path=path)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(srv.app.find(path=path)) >= count, f"{path} never arrived"


def paths(srv) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in srv.app.requests]


@pytest.mark.parametrize(
    ("sig", "code", "name"),
    [
        (signal.SIGINT, 130, "SIGINT"),
        (signal.SIGTERM, 143, "SIGTERM"),
        (signal.SIGHUP, 129, "SIGHUP"),
    ],
)
def test_a_signal_cuts_the_step_runs_finally_and_writes_the_reports(srv, tmp_path, sig, code, name):
    spec = write_spec(tmp_path, SPEC.format(name="a", base=srv.url, seconds=20))
    child = start(tmp_path, "--junit", "junit.xml", "--report-json", "report.json", str(spec))
    try:
        wait_for(srv, "/slow")
        started = time.monotonic()
        child.send_signal(sig)
        out, err = child.communicate(timeout=10)
    finally:
        child.kill()
    assert time.monotonic() - started < 5  # the 20-second request was cut, not waited for
    assert child.returncode == code, err
    assert "Traceback" not in err
    assert err.splitlines() == [
        f"apirun: interrupted by {name}: 1 step and 0 files not run, finally steps ran; "
        "reports written: junit.xml, report.json"
    ]
    assert paths(srv) == [
        ("POST", "/echo/a/create"),
        ("GET", "/slow"),
        ("DELETE", "/echo/a/delete"),
    ]

    steps = json.loads((tmp_path / "report.json").read_text())["files"][0]["steps"]
    assert [(s["name"], s["outcome"]) for s in steps] == [
        ("create", "passed"),
        ("slow", "error"),
        ("after", "skipped"),
        ("delete", "passed"),
    ]
    assert steps[1]["error"]["kind"] == "interrupted"
    assert steps[2]["skip_reason"] == f"not run: interrupted by {name}"
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")}
    assert cases["slow"].find("error").get("type") == "interrupted"
    assert "PASS   delete" in out


def test_with_jobs_every_started_file_runs_its_finally_steps(srv, tmp_path):
    first = write_spec(tmp_path, SPEC.format(name="a", base=srv.url, seconds=1.5), "a.yaml")
    second = write_spec(tmp_path, SPEC.format(name="b", base=srv.url, seconds=1.5), "b.yaml")
    third = write_spec(tmp_path, SPEC.format(name="c", base=srv.url, seconds=1.5), "c.yaml")
    child = start(
        tmp_path, "--jobs", "2", "--junit", "junit.xml", first.name, second.name, third.name
    )
    try:
        wait_for(srv, "/slow", 2)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=20)
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert "Traceback" not in err
    assert err.splitlines() == [
        "apirun: interrupted by SIGINT: 2 steps and 1 file not run, finally steps ran; "
        "reports written: junit.xml"
    ]
    received = set(paths(srv))
    assert {("DELETE", "/echo/a/delete"), ("DELETE", "/echo/b/delete")} <= received
    assert ("GET", "/echo/a/after") not in received and ("GET", "/echo/b/after") not in received
    assert not any("/echo/c/" in path for _, path in received)  # never started
    suites = [s.get("name") for s in ET.parse(tmp_path / "junit.xml").getroot().iter("testsuite")]
    assert suites == ["a.yaml", "b.yaml"]


def test_a_second_signal_skips_the_finally_steps_and_says_so(srv, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: slow
            request: {{url: "/slow?seconds=20&n=1"}}
        finally:
          - name: slow cleanup
            request: {{url: "/slow?seconds=20&n=2"}}
          - name: delete
            request: {{method: DELETE, url: /echo/delete}}
        """,
    )
    child = start(tmp_path, "--report-json", "report.json", str(spec))
    try:
        wait_for(srv, "/slow")
        child.send_signal(signal.SIGINT)
        wait_for(srv, "/slow", 2)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=10)
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert "Traceback" not in err
    assert "the finally steps were skipped" in err and len(err.splitlines()) == 1
    assert ("DELETE", "/echo/delete") not in paths(srv)
    steps = json.loads((tmp_path / "report.json").read_text())["files"][0]["steps"]
    assert [(s["name"], s["outcome"]) for s in steps] == [
        ("slow", "error"),
        ("slow cleanup", "error"),
        ("delete", "skipped"),
    ]
    assert steps[2]["skip_reason"] == "not run: a second SIGINT skipped the finally steps"


# -- an unexpected exception is the step's error, never a lost report ------------------------------


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_exception_in_a_step_is_that_steps_internal_error(srv, tmp_path, jobs):
    from runner import RunOptions, load_file, run_specs
    from runner.report.json_report import json_report_bytes
    from runner.report.junit import junit_xml
    from runner.wire import network

    class Buggy:
        """Forwards to the network, but breaks on the slow step as a bug would."""

        def __init__(self, settings):
            self.inner = network(settings)

        def send(self, request):
            if "/slow" in request.url:
                raise ZeroDivisionError("division by zero\nin a bug")
            return self.inner.send(request)

        def close(self):
            self.inner.close()

    specs = [
        load_file(write_spec(tmp_path, SPEC.format(name=n, base=srv.url, seconds=0), f"{n}.yaml"))
        for n in ("a", "b")
    ]
    result = run_specs(specs, RunOptions(transport=Buggy), jobs=jobs)

    assert result.exit_code == 1
    for file in result.files:
        outcomes = [(s.name, s.outcome.value) for s in file.steps]
        assert outcomes == [
            ("create", "passed"),
            ("slow", "error"),
            ("after", "skipped"),
            ("delete", "passed"),
        ]
        error = file.steps[1].error
        assert error.kind == "internal"
        assert error.message == (
            "internal error: ZeroDivisionError: division by zero in a bug "
            "(a bug in apirun: please report it)"
        )
    assert ("DELETE", "/echo/a/delete") in paths(srv) and ("DELETE", "/echo/b/delete") in paths(srv)
    assert b'type="internal"' in junit_xml(result, set())
    assert json.loads(json_report_bytes(result, set()))["files"][1]["steps"][1]["error"][
        "kind"
    ] == ("internal")


WAITING = """
import sys
from runner.interrupt import Stop, handling_signals

stop = Stop()
with handling_signals(stop):
    print("ready", flush=True)
    while not stop.requested:  # as a step's delay or the watch's poll waits, only tighter
        stop.wait(0.00001)
sys.exit(stop.exit_code)
"""


def test_a_signal_that_lands_while_a_wait_holds_its_lock_still_stops_it(tmp_path):
    # The handler runs in the main thread between two bytecodes, sometimes while that
    # thread holds the lock of the Event it waits on: setting the Event there hung for good.
    script = tmp_path / "waiting.py"
    script.write_text(WAITING)
    children = [
        subprocess.Popen(
            [sys.executable, str(script)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT_DIR)},
        )
        for _ in range(40)
    ]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
        for number, child in enumerate(children):
            time.sleep(0.001 * (number % 5))  # land at different points of the wait
            child.send_signal(signal.SIGINT)
        codes = [child.wait(10) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert codes == [130] * len(children)
