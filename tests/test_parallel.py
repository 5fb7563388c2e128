"""--jobs and --fail-fast: files run concurrently with the same results as a serial run,
output grouped per file, and no new file after a failure.

Concurrency is proven on the server (how many requests it was answering at once), never by
timing the run.
"""

from __future__ import annotations

import json
import re

import pytest
from helpers import run_cli, write_spec
from server import FakeKeystone, start_server


@pytest.fixture
def own_srv():
    """A server of this test's own: requests that other tests left running on the session
    server (a cut /slow call is still being answered) would count as in flight here."""
    running = start_server(FakeKeystone())
    try:
        yield running
    finally:
        running.stop()


def files(srv, tmp_path, seconds=(0.4, 0.3, 0.2, 0.1)):
    """Four files; the first is the slowest, so files finish in the reverse order."""
    made = []
    for n, wait in enumerate(seconds):
        made.append(
            write_spec(
                tmp_path,
                f"""
name: file {n}
base_url: {srv.url}
steps:
  - name: slow {n}
    request: {{url: /slow, params: {{seconds: {wait}}}}}
    capture: {{slept: $.slept}}
  - name: echo {n}
    request: {{url: /echo, params: {{n: {n}, slept: "{{{{ slept }}}}"}}}}
    expect:
      jsonpath:
        $.query.n: "{n}"
""",
                f"f{n}.yaml",
            )
        )
    return [str(path) for path in made]


def comparable(report_path) -> dict:
    """A JSON report without what differs from run to run (durations)."""

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "duration_ms"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(json.loads(report_path.read_text(encoding="utf-8")))


def without_timings(text: str) -> str:
    return re.sub(r"\d+ ms|\d+\.\d+ s\)", "#", text)


def test_jobs_run_files_at_once_with_the_same_results_and_output(own_srv, capsys, tmp_path):
    srv = own_srv
    paths = files(srv, tmp_path)

    serial = run_cli(capsys, "--report-json", str(tmp_path / "serial.json"), *paths)
    assert serial.code == 0, serial.text
    assert srv.app.max_in_flight == 1
    serial_requests = sorted(r.target for r in srv.app.requests)

    srv.app.reset()
    parallel = run_cli(
        capsys, "--jobs", "4", "--report-json", str(tmp_path / "parallel.json"), *paths
    )
    assert parallel.code == 0, parallel.text
    assert srv.app.max_in_flight == 4  # the four slow requests were answered together
    assert sorted(r.target for r in srv.app.requests) == serial_requests
    assert comparable(tmp_path / "parallel.json") == comparable(tmp_path / "serial.json")
    # Files finished in reverse order, yet the output is the serial one: grouped, in order.
    assert without_timings(parallel.out) == without_timings(serial.out)


def test_each_file_keeps_its_order_and_its_own_session(srv, capsys, tmp_path):
    paths = files(srv, tmp_path)
    assert run_cli(capsys, "--jobs", "3", *paths).code == 0
    by_file: dict[str, list[str]] = {}
    for request in srv.app.requests:
        n = request.query.get("n", [None])[0]
        key = (
            n
            if n is not None
            else str([0.4, 0.3, 0.2, 0.1].index(float(request.query["seconds"][0])))
        )
        by_file.setdefault(key, []).append(request.path)
    assert by_file == {str(n): ["/slow", "/echo"] for n in range(4)}


def test_fail_fast_starts_no_file_after_a_failure(srv, capsys, tmp_path):
    failing = write_spec(
        tmp_path,
        f"steps:\n  - name: boom\n    request: {{url: '{srv.url}/status/500'}}\n",
        "a.yaml",
    )
    rest = files(srv, tmp_path)
    report = tmp_path / "r.json"
    result = run_cli(capsys, "--fail-fast", "--report-json", str(report), str(failing), *rest)
    assert result.code == 1
    assert [r.path for r in srv.app.requests] == ["/status/500"]
    assert result.out.rstrip().endswith("; --fail-fast: 4 files not run after a failure)")
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["not_run"] == rest
    assert data["summary"]["not_run"] == 4


def test_fail_fast_with_jobs_lets_running_files_finish(srv, capsys, tmp_path):
    # Fails after 0.2 s, when the other worker has surely started the slow file.
    failing = write_spec(
        tmp_path,
        f"steps:\n  - name: boom\n    request: {{url: '{srv.url}/slow?seconds=0.2'}}\n"
        "    expect: {status: 201}\n",
        "a.yaml",
    )
    slow, *never = files(srv, tmp_path, seconds=(0.5, 0.1, 0.1))
    result = run_cli(capsys, "-x", "-j", "2", str(failing), slow, *never)
    assert result.code == 1
    # The failing file and the slow one started together; the slow one finished, whole.
    slow_file = [r.target for r in srv.app.requests if r.target != "/slow?seconds=0.2"]
    assert slow_file == ["/slow?seconds=0.5", "/echo?n=0&slept=0.5"]
    assert "PASS   echo 0" in result.out
    assert "file 1" not in result.out and "file 2" not in result.out
    assert "2 files not run" in result.out


def test_without_fail_fast_every_file_runs_after_a_failure(srv, capsys, tmp_path):
    failing = write_spec(
        tmp_path,
        f"steps:\n  - name: boom\n    request: {{url: '{srv.url}/status/500'}}\n",
        "a.yaml",
    )
    rest = files(srv, tmp_path, seconds=(0.01, 0.01))
    result = run_cli(capsys, "--jobs", "2", str(failing), *rest)
    assert result.code == 1
    assert len(srv.app.find(path="/echo")) == 2
    assert "not run" not in result.out


@pytest.mark.parametrize(
    ("value", "message"), [("0", "must be 1 or more"), ("two", "not a whole number: 'two'")]
)
def test_jobs_must_be_a_positive_number(capsys, tmp_path, value, message):
    with pytest.raises(SystemExit) as done:
        run_cli(capsys, "--jobs", value, str(tmp_path))
    assert done.value.code == 2
    assert f"apirun: error: argument -j/--jobs: {message}" in capsys.readouterr().err
